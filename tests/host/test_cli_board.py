"""The board-facing commands against one emulated pair running the real firmware (shared by
the whole module to keep time down): status, console (piped, --command, interactive on a
pty), monitor --once, inject (firmware and emulator faults) and flash.
"""
import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

HOST_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "host")
if HOST_DIR not in sys.path:
    sys.path.insert(0, HOST_DIR)

from sdmirror import __version__  # noqa: E402
from sdmirror.console_client import Board, synced  # noqa: E402
from sdmirror.emu import Emulator, EmuError, RunDir, find_micropython  # noqa: E402
from sdmirror.verify import compare  # noqa: E402

try:
    find_micropython()
    HAVE_VM = True
except EmuError:
    HAVE_VM = False
pytestmark = [pytest.mark.system, pytest.mark.skipif(not HAVE_VM, reason="micropython not installed")]

ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(
    [HOST_DIR] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("emu"))
    emu = Emulator(run_dir, mode="eth", image_size="4M",
                   settings={"dead_ms": 2000, "keepalive_ms": 500,
                             "scan_rate": 0})  # the console's scan of 4 MiB ends in seconds
    try:
        st = emu.up(timeout=30)
        urls = {name: b["url"] for name, b in st["boards"].items()}
        with Board(urls["primary"], timeout=10) as p:
            p.wait(synced, 30, what="the first pairing")
        yield emu, urls
    finally:
        try:
            emu.down()
        finally:
            RunDir(run_dir).kill_processes()
        assert RunDir(run_dir).processes() == []


def sdm_process(*argv, input=None, timeout=30):
    return subprocess.run([sys.executable, "-m", "sdmirror.cli"] + list(argv), input=input,
                          capture_output=True, timeout=timeout, env=ENV)


def wait_synced(url, timeout=30):
    with Board(url, timeout=10) as b:
        return b.wait(synced, timeout, what="coherence")


def test_status_text_and_json(pair, run_cli):
    emu, urls = pair
    status, out, err = run_cli("status", urls["primary"])
    assert status == 0, err
    assert "role primary" in out and "link        paired" in out
    assert "checksum    crc32" in out and "dirty       0 regions" in out
    assert "promise     async" in out and "heal        0 reads healed" in out
    status, out, err = run_cli("status", urls["secondary"], "--json")
    assert status == 0, err
    st = json.loads(out)
    assert st["role"] == "secondary" and st["version"] == __version__
    assert st["link"] == "paired" and "counters" in st and "mem_free" in st["stats"]


def test_console_piped_and_commands(pair):
    emu, urls = pair
    r = sdm_process("console", urls["primary"], "--wait", "0.5", input=b"version\nbitmap 16\n")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(ln) for ln in r.stdout.decode().splitlines() if ln.startswith("{")]
    replies = {ln["cmd"]: ln for ln in lines if "cmd" in ln}
    assert replies["version"]["version"] == __version__
    assert len(replies["bitmap"]["strip"]) == 16
    r = sdm_process("console", urls["secondary"], "-c", "version", "-c", "frobnicate")
    assert r.returncode == 1          # an error reply
    out = [json.loads(ln) for ln in r.stdout.decode().splitlines()]
    assert out[0]["cmd"] == "version" and "error" in out[1]


def test_console_interactive_on_a_terminal(pair):
    """On a tty the keys go through raw: Ctrl-C reaches the firmware (REPL), Ctrl-D at the
    REPL reboots it, Ctrl-] quits."""
    emu, urls = pair
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "sdmirror.cli", "console", urls["secondary"]],
                            stdin=slave, stdout=slave, stderr=slave, env=ENV, close_fds=True)
    os.close(slave)
    buf = bytearray()

    def read_until(marker, timeout=10):
        deadline = time.monotonic() + timeout
        while marker not in buf and time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    buf.extend(os.read(master, 4096))
                except OSError:
                    break
        assert marker in buf, bytes(buf[-500:])
    try:
        read_until(b"Ctrl-] quits")
        os.write(master, b"version\r")
        read_until(b'"cmd": "version"')
        os.write(master, b"\x03")                 # stop the firmware
        read_until(b">>> ")
        os.write(master, b"print(6*7)\r")
        read_until(b"42")
        os.write(master, b"\x04")                 # soft reset: the firmware boots again
        read_until(b'"event": "boot"')
        os.write(master, b"\x1d")                 # Ctrl-] quits
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(master)
    wait_synced(urls["primary"])


def test_monitor_once(pair, run_cli):
    emu, urls = pair
    # secondary first: the monitor orders the boards by role itself
    status, out, err = run_cli("monitor", urls["secondary"], urls["primary"], "--once",
                           "--interval", "0.2")
    assert status == 0, err
    assert out.index("primary") < out.index("secondary")
    assert "bitmap" in out and "regions dirty" in out and "errors" in out
    assert "card" in out and "in use" in out and "promise" in out  # issue 12's state
    assert "emulated link (eth)" in out
    status, _, err = run_cli("monitor", urls["primary"], urls["primary"], "--once")
    assert status == 1 and "two boards of a pair" in err


def test_inject_firmware_faults(pair, run_cli):
    emu, urls = pair
    status, out, err = run_cli("inject", urls["primary"], "drop-bitmap")
    assert status == 0 and "drop-bitmap" in out, err
    with Board(urls["primary"]) as p:
        assert p.status()["bitmap_valid"] is False
    status, out, err = run_cli("inject", urls["primary"], "link-down")
    assert status == 0, err
    with Board(urls["primary"]) as p:
        p.wait(lambda st: st["link"] != "paired", 10, what="link down")
    status, out, err = run_cli("inject", urls["primary"], "link-up", "--json")
    assert status == 0 and json.loads(out)["ok"] is True
    st = wait_synced(urls["primary"])     # the lost bitmap meant a full scan
    assert st["bitmap_valid"] and st["counters"]["scans"] >= 2
    status, out, err = run_cli("inject", urls["secondary"], "drop-bitmap")
    assert status == 1 and "bitmap lives on the primary" in err


def test_inject_emulator_faults(pair, run_cli):
    emu, urls = pair
    status, out, err = run_cli("inject", urls["primary"], "wire-down")
    assert status == 0 and "down=True" in out, err
    assert emu.status()["link"]["faults"]["down"] is True
    status, out, err = run_cli("inject", urls["primary"], "wire-clear")
    assert status == 0 and "faults now none" in out, err
    # silent corruption of the secondary's card, found by a scan the console starts
    run_dir = emu.run_dir
    status, out, err = run_cli("inject", urls["secondary"], "card-corrupt", "100", "2000",
                           "--run-dir", run_dir)
    assert status == 0, err
    img = [os.path.join(run_dir, n + ".img") for n in ("primary", "secondary")]
    assert compare(*img)[0] == [100, 2000]
    with Board(urls["primary"]) as p:
        scans = p.status()["counters"]["scans"]
        p.checked("scan")
        p.wait(lambda st: st["counters"]["scans"] > scans and synced(st), 30, what="the scan")
    assert compare(*img)[0] == []
    # power: the secondary's VM is killed and started again
    pid = emu.status()["boards"]["secondary"]["pid"]
    status, out, err = run_cli("inject", urls["secondary"], "power-cycle")
    assert status == 0 and "power-cycled secondary" in out, err
    assert emu.status()["boards"]["secondary"]["pid"] != pid
    wait_synced(urls["primary"])


def test_flash_an_emulated_board(pair, run_cli):
    """flash compiles, copies with mpremote, writes sdmirror.json, soft-resets, and the new
    firmware answers version and status."""
    emu, urls = pair
    fs_dir = os.path.join(emu.run_dir, "secondary")
    stale = os.path.join(fs_dir, "mirror", "tree.py")
    with open(stale, "w") as f:        # a left-over source would shadow the fresh .mpy
        f.write("raise ImportError('stale')\n")
    # the pair fixture runs unkeyed: this board must stay so to pair with its primary
    status, out, err = run_cli("flash", urls["secondary"], "--board", "emu", "--role",
                               "secondary", "--set", "scan_period_ms=600000", "--timeout", "20",
                               "--no-key")
    assert status == 0, err
    assert "running as secondary" in out
    assert "no link key" in out and "forge" in out  # what --no-key gives up
    assert not os.path.exists(stale)
    with open(os.path.join(fs_dir, "sdmirror.json")) as f:
        assert json.load(f) == {"role": "secondary", "settings": {"scan_period_ms": 600000}}
    with Board(urls["secondary"]) as s:
        assert s.check_version()["version"] == __version__
        assert s.status()["role"] == "secondary"
    wait_synced(urls["primary"])
