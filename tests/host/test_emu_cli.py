"""``python -m sdmirror.emu up|status|link|power-cycle|down`` against a stand-in entry script."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest


from sdmirror.emu import Emulator, RunDir
from sdmirror.emu.rundir import pid_alive

from emupair import MICROPYTHON, NEEDS_VM

pytestmark = NEEDS_VM

# The stand-in firmware: record what the emulator told it, connect to its side of the link,
# and echo what the peer sends (the primary says hello first); then leave the REPL free.
STUB = r'''
import os, socket, select
env = {}
for k in ("SDMIRROR_BOARD", "SDMIRROR_ROLE", "SDMIRROR_PEER", "SDMIRROR_IMAGE",
          "SDMIRROR_IMAGE_SIZE", "SDMIRROR_LINK", "SDMIRROR_LINK_MODE", "SDMIRROR_BAUD",
          "SDMIRROR_HEAP"):
    env[k] = os.getenv(k)
f = open("env.txt", "w")
for k in sorted(env):
    f.write("%s=%s\n" % (k, env[k]))
f.close()
host, port = env["SDMIRROR_LINK"].split(":")
s = socket.socket()
s.connect(socket.getaddrinfo(host, int(port))[0][-1])
print("stub", env["SDMIRROR_BOARD"], "linked")
'''


def emu_cli(*args, timeout=40):
    env = dict(os.environ)  # (the sdmirror package is installed in the venv)
    env["SDMIRROR_MICROPYTHON"] = MICROPYTHON
    return subprocess.run([sys.executable, "-m", "sdmirror.emu"] + list(args), capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture
def run_dirs(tmp_path):
    """Run directories; every run in them is brought down (verified) at the end, even on failure."""
    made = []

    def make(name="run"):
        d = tmp_path / name
        made.append(d)
        return d
    yield make
    for d in made:
        try:
            Emulator(str(d)).down()
        finally:
            RunDir(str(d)).kill_processes()
        assert RunDir(str(d)).processes() == []


@pytest.fixture
def stub(tmp_path):
    p = tmp_path / "stub.py"
    p.write_text(STUB)
    return p


def up_json(run_dir, stub, *extra):
    r = emu_cli("up", "--run-dir", str(run_dir), "--entry", str(stub), "--heap", "96K",
                "--image-size", "64K", "--json", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def wait_for(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_up_status_link_power_cycle_down(run_dirs, stub):
    d = run_dirs()
    st = up_json(d, stub, "--mode", "uart", "--baud", "230400", "--seed", "4")
    assert st["running"] and st["mode"] == "uart"
    boards = st["boards"]
    assert set(boards) == {"primary", "secondary"}
    pids = [b["pid"] for b in boards.values()] + [st["supervisor_pid"]]
    assert all(pid_alive(p) for p in pids)
    # what the VM saw
    for name, b in boards.items():
        assert wait_for(lambda: os.path.exists(os.path.join(str(d), name, "env.txt")))
        assert wait_for(lambda: b"linked" in open(os.path.join(str(d), "%s.console.log" % name), "rb").read())
        env = dict(line.split("=", 1) for line in open(os.path.join(str(d), name, "env.txt")).read().splitlines())
        assert env["SDMIRROR_BOARD"] == name and env["SDMIRROR_ROLE"] == b["role"]
        assert env["SDMIRROR_LINK"] == b["link"] and env["SDMIRROR_LINK_MODE"] == "uart"
        assert env["SDMIRROR_BAUD"] == "230400" and env["SDMIRROR_HEAP"] == "96K"
        assert env["SDMIRROR_IMAGE"] == os.path.join(str(d), name + ".img")
        assert os.path.getsize(env["SDMIRROR_IMAGE"]) == 64 * 1024
    assert boards["primary"]["role"] == "primary" and boards["secondary"]["role"] == "secondary"
    assert wait_for(lambda: all(Emulator(str(d)).status()["link"]["stats"]["connected"].values()))
    # the console answers
    port = boards["primary"]["port"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.settimeout(5)
        s.sendall(b"\rprint(1000+337)\r")
        buf = b""
        deadline = time.monotonic() + 5
        while b"1337" not in buf and time.monotonic() < deadline:
            buf += s.recv(4096)
        assert b"1337" in buf
    # human status
    r = emu_cli("status", "--run-dir", str(d))
    assert r.returncode == 0 and "emulator running" in r.stdout and "socket://127.0.0.1:" in r.stdout
    # link faults through the CLI, visible in status
    assert emu_cli("link", "drop", "0.2", "--run-dir", str(d)).returncode == 0
    assert emu_cli("link", "delay", "15", "--run-dir", str(d)).returncode == 0
    r = emu_cli("link", "down", "--run-dir", str(d))
    assert r.returncode == 0 and "DOWN" in r.stdout
    faults = json.loads(emu_cli("status", "--json", "--run-dir", str(d)).stdout)["link"]["faults"]
    assert faults["drop"] == 0.2 and faults["delay_ms"] == 15 and faults["down"] is True
    assert json.loads(open(os.path.join(str(d), "link.json")).read())["faults"]["down"] is True
    r = emu_cli("link", "clear", "--json", "--run-dir", str(d))
    assert r.returncode == 0 and json.loads(r.stdout)["faults"]["drop"] == 0
    # power cycle the secondary
    old = boards["secondary"]["pid"]
    r = emu_cli("power-cycle", "secondary", "--json", "--run-dir", str(d))
    assert r.returncode == 0, r.stderr
    new = json.loads(r.stdout)["pid"]
    assert new != old and pid_alive(new) and not pid_alive(old)
    # down
    r = emu_cli("down", "--run-dir", str(d))
    assert r.returncode == 0 and "stopped" in r.stdout
    for p in pids + [new]:
        assert not pid_alive(p)
    assert RunDir(str(d)).processes() == []
    r = emu_cli("status", "--run-dir", str(d), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["running"] is False


def test_two_run_dirs_side_by_side(run_dirs, stub):
    d1, d2 = run_dirs("one"), run_dirs("two")
    s1 = up_json(d1, stub, "--mode", "eth")
    s2 = up_json(d2, stub, "--mode", "uart")
    ports1 = {s1["control_port"]} | {b["port"] for b in s1["boards"].values()} | set(s1["link"]["ports"].values())
    ports2 = {s2["control_port"]} | {b["port"] for b in s2["boards"].values()} | set(s2["link"]["ports"].values())
    assert len(ports1) == 5 and len(ports2) == 5 and not ports1 & ports2
    assert set(RunDir(str(d1)).processes()).isdisjoint(RunDir(str(d2)).processes())
    assert len(RunDir(str(d1)).processes()) == 3       # supervisor + two VMs
    r = emu_cli("down", "--run-dir", str(d1))
    assert r.returncode == 0
    assert RunDir(str(d1)).processes() == []
    assert json.loads(emu_cli("status", "--json", "--run-dir", str(d2)).stdout)["running"] is True
    assert len(RunDir(str(d2)).processes()) == 3


def test_up_twice_is_a_one_line_error(run_dirs, stub):
    d = run_dirs()
    up_json(d, stub)
    r = emu_cli("up", "--run-dir", str(d), "--entry", str(stub))
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "already running" in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_bad_input_one_line_errors(run_dirs, stub, tmp_path):
    d = run_dirs()
    cases = [
        ("up", "--run-dir", str(d), "--entry", str(tmp_path / "missing.py")),
        ("up", "--run-dir", str(d), "--entry", str(stub), "--heap", "lots"),
        ("up", "--run-dir", str(d), "--entry", str(stub), "--mode", "wifi"),
        ("up", "--run-dir", str(d), "--entry", str(stub), "--image-size", "1000"),
        # within the rules, not within the profile's board (heap; hashlib of its port)
        ("up", "--run-dir", str(d), "--profile", "rp2040", "--set", "window=64"),
        ("up", "--run-dir", str(d), "--profile", "stm32f4", "--set", "alg=md5"),
        ("link", "drop", "--run-dir", str(d)),          # not running
        ("link", "teleport", "--run-dir", str(d)),
        ("power-cycle", "primary", "--run-dir", str(d)),
        ("frobnicate",),
    ]
    for args in cases:
        r = emu_cli(*args)
        assert r.returncode != 0, args
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "error" in lines[0], (args, r.stderr)
    assert RunDir(str(d)).processes() == []
    for setting, words in (("window=64", ("window=64", "rp2040", "at most")),
                           ("alg=md5", ("alg", "stm32f4", "hashlib.md5"))):
        r = emu_cli("up", "--run-dir", str(d), "--profile", words[1], "--set", setting)
        assert all(w in r.stderr for w in words), r.stderr
    r = emu_cli("--help")
    assert r.returncode == 0 and "examples:" in r.stdout and "power-cycle" in r.stdout
    up_json(d, stub)
    for args in (("link", "drop", "--run-dir", str(d)), ("link", "drop", "2", "--run-dir", str(d)),
                 ("link", "up", "3", "--run-dir", str(d)), ("power-cycle", "tertiary", "--run-dir", str(d))):
        r = emu_cli(*args)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1 and "error" in lines[0], (args, r.stderr)


def test_down_after_supervisor_killed_leaves_nothing(run_dirs, stub):
    d = run_dirs()
    st = up_json(d, stub)
    os.kill(st["supervisor_pid"], signal.SIGKILL)
    assert wait_for(lambda: not pid_alive(st["supervisor_pid"]))
    assert wait_for(lambda: not RunDir(str(d)).is_running())    # the lock died with it
    s = Emulator(str(d)).status()
    # the VMs lose their pty master with the supervisor and get SIGHUP; whichever is not gone
    # yet is reported as a stray
    assert s["running"] is False and s["status"] == "stale" and len(s["strays"]) <= 2
    r = emu_cli("down", "--run-dir", str(d))
    assert r.returncode == 0, r.stderr
    assert "was not running" in r.stdout
    assert RunDir(str(d)).processes() == []
    # and the directory can be used again
    st2 = up_json(d, stub)
    assert st2["running"]
    assert emu_cli("down", "--run-dir", str(d)).returncode == 0
    assert RunDir(str(d)).processes() == []
