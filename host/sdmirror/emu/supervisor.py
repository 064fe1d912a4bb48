"""The detached supervisor of one emulator run: ``python -m sdmirror.emu.supervisor RUN_DIR``.

Started by ``Emulator.up()`` in a new session with the run lock inherited (fd number in
``SDMIRROR_EMU_LOCK_FD``). It reads ``RUN_DIR/config.json``, starts the link proxy, the
control server and one BoardProcess per board, writes ``state.json`` (status ``running``) and
then lives until SIGTERM/SIGINT or a ``shutdown`` command, stopping everything it started.

Control commands (JSON lines on ``state.json``'s ``control_port``):
``ping``, ``status``, ``power_cycle`` {board}, ``shutdown``, and the link proxy's commands
prefixed ``link.`` (``link.drop`` {p}, ``link.down`` {how}, ``link.stats`` ...).
"""
import os
import signal
import sys
import threading
import time
import traceback

from .board_process import BoardProcess, vm_argv_factory
from .control import ControlServer
from .linkproxy import LinkProxy
from .rundir import ENV_KEY, LOCK_FD_ENV, RunDir

STATE_REFRESH = 0.5


class Supervisor:
    def __init__(self, run_dir):
        self.rd = RunDir(run_dir)
        self.cfg = self.rd.read_config()
        self.stop_evt = threading.Event()
        self.proxy = None
        self.control = None
        self.boards = {}
        self.started = time.time()

    # ------------------------------------------------------------------ status
    def board_status(self, name):
        b = self.boards[name]
        info = b.info()
        bc = self.cfg["boards"][name]
        info.update(role=bc["role"], image=bc["image"], link=bc.get("link"),
                    console_log=b.log_path, fs_dir=b.cwd)
        return info

    def status(self, live=True):
        cfg = self.cfg
        link = {"mode": cfg["mode"], "baud": cfg["baud"], "seed": cfg.get("seed")}
        if self.proxy is not None:
            link["ports"] = {n: self.cfg["boards"][n]["link_port"] for n in self.boards}
            link["faults"] = self.proxy.faults()
            if live:
                link["stats"] = self.proxy.stats()
        return {
            "running": True,
            "status": "running",
            "run_dir": self.rd.path,
            "supervisor_pid": os.getpid(),
            "started": self.started,
            "mode": cfg["mode"],
            "heap": cfg.get("heap"),
            "entry": cfg.get("entry"),
            "micropython": cfg.get("micropython"),
            "image_size": cfg.get("image_size"),
            "control_port": self.control.port if self.control else None,
            "boards": {n: self.board_status(n) for n in self.boards},
            "link": link,
        }

    # ------------------------------------------------------------------ commands
    def handlers(self):
        def _status():
            return {"status": self.status()}

        def _power_cycle(board):
            if board not in self.boards:
                raise ValueError("no board %r (boards: %s)" % (board, ", ".join(self.boards)))
            self.boards[board].power_cycle()
            return {"board": self.board_status(board)}

        def _shutdown():
            self.stop_evt.set()
            return {"stopping": True}

        h = {"ping": lambda: {"pid": os.getpid()}, "status": _status,
             "power_cycle": _power_cycle, "shutdown": _shutdown}
        for name, fn in self.proxy.handlers().items():
            h["link." + name] = fn
        return h

    # ------------------------------------------------------------------ life cycle
    def start(self):
        cfg = self.cfg
        names = list(cfg["boards"])
        self.proxy = LinkProxy(mode=cfg["mode"], baud=cfg["baud"], seed=cfg.get("seed"),
                               names=(names[0], names[1]) if len(names) > 1 else (names[0], "peer"),
                               state_path=self.rd.link_path,
                               log_path=os.path.join(self.rd.path, "link.log")).start()
        ports = (self.proxy.port_a, self.proxy.port_b)
        for i, name in enumerate(names):
            self.cfg["boards"][name]["link_port"] = ports[i] if i < 2 else None
            self.cfg["boards"][name]["link"] = "127.0.0.1:%d" % ports[i] if i < 2 else ""
        self.control = ControlServer(name="emu").start()
        self.control.add_handlers(self.handlers())
        for name in names:
            bc = cfg["boards"][name]
            env = dict(os.environ)
            env.pop(LOCK_FD_ENV, None)
            env.update(cfg.get("env") or {})
            env.update({
                ENV_KEY: self.rd.path,
                "MICROPYPATH": os.pathsep.join(cfg["micropypath"]),
                "SDMIRROR_BOARD": name,
                "SDMIRROR_ROLE": bc["role"],
                "SDMIRROR_PEER": bc.get("peer", ""),
                "SDMIRROR_IMAGE": bc["image"],
                "SDMIRROR_IMAGE_SIZE": str(cfg["image_size"]),
                "SDMIRROR_LINK": bc["link"],
                "SDMIRROR_LINK_MODE": cfg["mode"],
                "SDMIRROR_BAUD": str(cfg["baud"]),
                "SDMIRROR_HEAP": str(cfg["heap"]),
                "SDMIRROR_ENTRY": bc.get("entry") or cfg["entry"],
            })
            factory = vm_argv_factory(cfg["micropython"], bc.get("entry") or cfg["entry"], cfg["heap"],
                                      exit_is_reset=cfg.get("exit_is_reset", True))
            bp = BoardProcess(name, factory, self.rd.path, env=env, cwd=self.rd.fs_dir(name),
                              restart_limit=cfg.get("restart_limit", 5))
            self.boards[name] = bp
            bp.start()
        self.rd.write_state(self.status(live=False))

    def run(self):
        last = None
        while not self.stop_evt.wait(STATE_REFRESH):
            st = self.status(live=False)
            st.pop("started", None)
            if st != last:
                st["started"] = self.started
                try:
                    self.rd.write_state(st)
                except OSError:
                    pass
                st.pop("started", None)
                last = st

    def stop(self):
        for b in self.boards.values():
            try:
                b.stop()
            except Exception:
                traceback.print_exc()
        if self.control is not None:
            self.control.stop()
        if self.proxy is not None:
            self.proxy.stop()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m sdmirror.emu.supervisor RUN_DIR", file=sys.stderr)
        return 2
    sup = Supervisor(argv[0])
    rd = sup.rd

    def _on_signal(signum, frame):
        sup.stop_evt.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    rc = 0
    try:
        rd.write_state({"status": "starting", "supervisor_pid": os.getpid(), "run_dir": rd.path})
        sup.start()
        print("supervisor %d: running" % os.getpid(), file=sys.stderr, flush=True)
        sup.run()
    except Exception as e:
        traceback.print_exc()
        print("supervisor error: %s" % e, file=sys.stderr, flush=True)
        rd.update_state(status="failed", error=str(e), supervisor_pid=os.getpid())
        rc = 1
    finally:
        sup.stop()
        if rc == 0:
            st = rd.read_state()
            st.update(status="stopped", running=False, stopped=time.time())
            for b in (st.get("boards") or {}).values():
                b["pid"] = None
                b["state"] = "stopped"
            rd.write_state(st)
        print("supervisor %d: stopped" % os.getpid(), file=sys.stderr, flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
