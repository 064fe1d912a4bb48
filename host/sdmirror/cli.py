"""The `sdmirror` command: one subcommand per module (sdmirror.commands, and the cli of the demo, emu and sim packages), each with its own --help.

Every subcommand module has main(argv) -> exit status. Errors the user can fix are one
line on stderr and a non-zero status, never a traceback.
"""
import importlib
import sys

from sdmirror import __version__

COMMANDS = (
    # name, module, one-line help
    ("boards", "sdmirror.commands.boards", "the board profiles: MicroPython build, link, heap"),
    ("flash", "sdmirror.commands.flash", "put the firmware on a board (mpy-cross + mpremote)"),
    ("console", "sdmirror.commands.console", "terminal on a board's console (serial or socket://); Ctrl-] quits"),
    ("status", "sdmirror.commands.status", "one board's role, link, generation, dirty regions, scan, counters"),
    ("monitor", "sdmirror.commands.monitor", "live view of both boards: link, bitmap, resync and scan progress"),
    ("inject", "sdmirror.commands.inject", "inject a fault: in the firmware, or on an emulated link/board"),
    ("promote", "sdmirror.commands.promote", "make a secondary whose primary is gone the primary"),
    ("demote", "sdmirror.commands.demote", "make an old primary, back after a failover, follow the new one"),
    ("settle", "sdmirror.commands.settle", "settle a split: drop this side's changes (--discard-this-side)"),
    ("attach", "sdmirror.commands.attach", "give a primary whose card was detached its card again"),
    ("demo", "sdmirror.demo.cli", "the emulated pair tells its story; report in demo-report/"),
    ("verify", "sdmirror.commands.verify", "compare two card images block by block"),
    ("emu", "sdmirror.emu.cli", "run the emulated pair (MicroPython VMs, card models, link)"),
    ("sim", "sdmirror.sim.cli", "deterministic simulation: fault campaigns, power-loss sweep"),
    ("bench", "sdmirror.commands.bench", "benchmarks (resync link bytes against baselines)"),
    ("renode-files", "sdmirror.commands.renode_files", "flash filesystem and card images for the Renode pair (boards/renode)"),
)

USAGE = """usage: sdmirror COMMAND [ARGS...]

A mirrored SD-card volume on two MicroPython boards.

commands:
%s

`sdmirror COMMAND --help` shows a command's options and an example.
"""


def usage():
    width = max(len(c[0]) for c in COMMANDS)
    lines = "\n".join("  %-*s  %s" % (width, name, text) for name, _, text in COMMANDS)
    return USAGE % lines


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage(), end="")
        return 0
    if argv[0] == "--version":
        print("sdmirror " + __version__)
        return 0
    for name, module, _ in COMMANDS:
        if argv[0] == name:
            break
    else:
        print("sdmirror: unknown command '%s'; see `sdmirror --help`" % argv[0], file=sys.stderr)
        return 2
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        print("sdmirror: '%s' is not available in this installation (%s)" % (name, e),
              file=sys.stderr)
        return 2
    try:
        if name == "emu":
            return mod.main(argv[1:], prog="sdmirror emu") or 0
        return mod.main(argv[1:]) or 0
    except KeyboardInterrupt:
        print("sdmirror: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
