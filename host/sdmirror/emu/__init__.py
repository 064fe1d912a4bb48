"""The sdmirror emulator: boards as MicroPython Unix VMs, consoles on TCP, a fault proxy link.

Public API::

    from sdmirror.emu import Emulator, BoardProcess, LinkProxy, ProxyClient, EmuError
    from sdmirror.emu import main          # CLI: python -m sdmirror.emu up|down|status|link|power-cycle

Modules: ``board_process`` (one VM on a pty relayed to TCP), ``linkproxy`` (uart/eth link with
faults), ``control`` (JSON-lines control port), ``rundir`` (run directory, lock, process
discovery), ``launcher`` (Emulator: up/down/status/power_cycle/link), ``supervisor`` (the
detached process that owns a run), ``cli`` (argparse front end).
"""
from .board_process import BoardProcess, vm_argv_factory
from .control import ControlClient, ControlError, ControlServer
from .launcher import EmuError, Emulator, find_micropython
from .linkproxy import LinkError, LinkProxy, ProxyClient
from .rundir import RunDir


def main(argv=None, prog=None):
    from .cli import main as _main
    return _main(argv, prog=prog)


__all__ = ["BoardProcess", "vm_argv_factory", "ControlClient", "ControlError", "ControlServer",
           "EmuError", "Emulator", "find_micropython", "LinkError", "LinkProxy", "ProxyClient",
           "RunDir", "main"]
