"""The directory that holds one emulator run (default ``./.emu``; the CLI's ``--run-dir``).

Layout::

    RUN_DIR/
      lock                 flock()ed by the supervisor for as long as it lives
      config.json          what ``up`` asked for (written before the supervisor starts)
      state.json           what is running: pids, console/link/control ports, images, mode
      link.json            the link faults in force (rewritten on every change)
      link.log             link events: connects, disconnects (with the reason), fault changes
      supervisor.log       the supervisor's stderr
      NAME.img             the board's SD-card image (kept across runs and power cycles)
      NAME/                the board's flash: the VM's cwd, where ``mpremote fs cp`` lands
      NAME.console.log     everything the board's console printed, plus ``[emu]`` events

Concurrency: the lock is an ``flock`` on ``RUN_DIR/lock`` taken by ``up`` *before* it starts
the supervisor and inherited by it, so two ``up`` in one directory cannot both start, and the
lock vanishes with the supervisor however it dies (a stale ``state.json`` is then recognised
by the free lock). Runs in different directories share nothing: every port is picked free by
the OS at bind time. Every process of a run (supervisor and VMs) carries
``SDMIRROR_EMU_RUN_DIR=<realpath of RUN_DIR>`` in its environment; ``processes()`` finds them
through ``/proc`` so ``down`` can prove that nothing of the run is left.
"""
import fcntl
import json
import os
import signal
import time

DEFAULT_RUN_DIR = ".emu"
ENV_KEY = "SDMIRROR_EMU_RUN_DIR"
LOCK_FD_ENV = "SDMIRROR_EMU_LOCK_FD"


class RunDir:
    def __init__(self, path=None):
        self.path = os.path.realpath(os.path.abspath(path or DEFAULT_RUN_DIR))
        self.lock_path = os.path.join(self.path, "lock")
        self.config_path = os.path.join(self.path, "config.json")
        self.state_path = os.path.join(self.path, "state.json")
        self.link_path = os.path.join(self.path, "link.json")
        self.supervisor_log = os.path.join(self.path, "supervisor.log")

    def __repr__(self):
        return "RunDir(%r)" % self.path

    # ------------------------------------------------------------------ files
    def ensure(self):
        os.makedirs(self.path, exist_ok=True)
        return self

    def image_path(self, board):
        return os.path.join(self.path, "%s.img" % board)

    def fs_dir(self, board):
        return os.path.join(self.path, board)

    def console_log(self, board):
        return os.path.join(self.path, "%s.console.log" % board)

    def read_json(self, path):
        try:
            with open(path) as f:
                data = json.load(f)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def write_json(self, path, data):
        tmp = "%s.tmp%d" % (path, os.getpid())
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)

    def read_state(self):
        return self.read_json(self.state_path)

    def write_state(self, data):
        self.write_json(self.state_path, data)

    def update_state(self, **kw):
        st = self.read_state()
        st.update(kw)
        self.write_state(st)
        return st

    def read_config(self):
        return self.read_json(self.config_path)

    def write_config(self, data):
        self.write_json(self.config_path, data)

    # ------------------------------------------------------------------ lock
    def try_lock(self):
        """Take the run lock; returns the open fd (keep it to hold the lock) or None if held."""
        self.ensure()
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return fd

    def is_running(self):
        """True while a supervisor holds the run lock."""
        if not os.path.exists(self.lock_path):
            return False
        try:
            fd = os.open(self.lock_path, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)   # closing releases a lock we may just have taken
        return False

    # ------------------------------------------------------------------ processes
    def processes(self):
        """Pids of live processes (not zombies) that belong to this run, other than ourselves."""
        want = ("%s=%s" % (ENV_KEY, self.path)).encode()
        me = os.getpid()
        found = []
        try:
            names = os.listdir("/proc")
        except OSError:
            return found
        for name in names:
            if not name.isdigit():
                continue
            pid = int(name)
            if pid == me:
                continue
            try:
                with open("/proc/%d/environ" % pid, "rb") as f:
                    env = f.read(1 << 20)
            except OSError:
                continue
            if want in env.split(b"\0") and pid_alive(pid):
                found.append(pid)
        return sorted(found)

    def kill_processes(self, timeout=3.0):
        """SIGKILL every process of this run (and its process group); returns the pids killed.

        Waits (bounded) until they are gone; whatever is left shows up in ``processes()``.
        """
        killed = []
        deadline = time.monotonic() + timeout
        for _ in range(20):
            pids = self.processes()
            if not pids:
                break
            for pid in pids:
                if pid not in killed:
                    killed.append(pid)
                kill_tree(pid)
            while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
                time.sleep(0.02)
            if time.monotonic() >= deadline:
                break
        return killed


def pid_alive(pid):
    """True if pid runs and is not a zombie (reaping it first if it is our own child)."""
    if not pid or pid <= 0:
        return False
    try:
        wpid, _ = os.waitpid(pid, os.WNOHANG)
        if wpid == pid:
            return False
    except ChildProcessError:
        pass
    except OSError:
        pass
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[:1]
    if state and state[0] not in ("Z", "X"):
        return True
    # a zombie thread-group leader whose other threads are still exiting is not gone yet
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return False
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                st = f.read().rsplit(")", 1)[-1].split()[:1]
        except OSError:
            continue
        if st and st[0] not in ("Z", "X"):
            return True
    return False


def kill_tree(pid, sig=signal.SIGKILL):
    """Signal pid's process group if pid leads one, else pid alone."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
            return
    except OSError:
        pass
    try:
        os.kill(pid, sig)
    except OSError:
        pass
