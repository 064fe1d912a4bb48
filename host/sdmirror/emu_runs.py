"""Which emulator run serves a console URL: host tools given only PORT (a socket:// URL)
find the run, so they can reach its link proxy and power switch too.

A run's processes carry SDMIRROR_EMU_RUN_DIR in their environment (see emu/rundir.py), so
/proc lists every live run of this user without knowing where it was started; each run's
state.json names its boards' console URLs.
"""
import os
from urllib.parse import urlsplit

from sdmirror.emu.launcher import EmuError, Emulator
from sdmirror.emu.rundir import DEFAULT_RUN_DIR, ENV_KEY, RunDir

LOCAL = ("127.0.0.1", "localhost", "::1")


def _endpoint(url):
    """socket://HOST:PORT -> (host, port) with local names folded; None for a device path."""
    if not url.startswith("socket://"):
        return None
    u = urlsplit(url)
    host = u.hostname or ""
    try:
        port = u.port
    except ValueError:
        return None
    return ("local" if host in LOCAL else host, port)


def live_run_dirs():
    """Run directories that have live processes (readable /proc entries only: our own)."""
    found = set()
    prefix = (ENV_KEY + "=").encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                env = f.read(1 << 20)
        except OSError:
            continue
        for item in env.split(b"\0"):
            if item.startswith(prefix):
                found.add(item[len(prefix):].decode("utf-8", "replace"))
    for d in (DEFAULT_RUN_DIR, os.path.join("demo-report", "emu")):
        if os.path.isdir(d):
            found.add(os.path.realpath(d))
    return sorted(found)


def board_in_run(run_dir, url):
    """The name of the board of run_dir whose console is url, or None."""
    want = _endpoint(url)
    if want is None:
        return None
    st = RunDir(run_dir).read_state()
    for name, b in (st.get("boards") or {}).items():
        if _endpoint(b.get("url") or "") == want:
            return name
    return None


def find(url, run_dir=None):
    """(Emulator, board name) for the running emulator whose board has console url.

    With run_dir, only that run is considered (its board at url, else the error says so)."""
    candidates = [run_dir] if run_dir else live_run_dirs()
    for d in candidates:
        rd = RunDir(d)
        if not rd.is_running():
            continue
        name = board_in_run(rd.path, url)
        if name:
            return Emulator(rd.path), name
    if run_dir:
        if not RunDir(run_dir).is_running():
            raise EmuError("no emulator running in %s" % run_dir)
        raise EmuError("the emulator in %s has no board with console %s" % (run_dir, url))
    raise EmuError("%s is not the console of a running emulated board (emulator faults need "
                   "one; pass --run-dir DIR if its run is elsewhere)" % url)
