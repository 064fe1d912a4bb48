"""Emulator infrastructure end to end: two VMs talk over the link proxy while their consoles
take line commands — the shape the real firmware has (stdin commands + link socket, polled).

The stand-in firmware: the secondary echoes every link byte back; the primary's console takes
``send N`` (send N bytes over the link) and ``count`` (print how many echoed bytes came back).
Either side reconnects to its link port when the connection closes.
"""
import os
import time

import pytest


from sdmirror.emu import Emulator, RunDir

from emupair import MICROPYTHON, NEEDS_VM, RawConsole

pytestmark = NEEDS_VM

STUB = r'''
import os, sys, socket, select, time
role = os.getenv("SDMIRROR_ROLE")
host, port = os.getenv("SDMIRROR_LINK").split(":")
addr = socket.getaddrinfo(host, int(port))[0][-1]

def connect():
    for _ in range(200):
        s = socket.socket()
        try:
            s.connect(addr)
            return s
        except OSError as e:
            print("connect failed", repr(e))
            s.close()
            time.sleep_ms(50)
    raise OSError("no link")

link = connect()
poller = select.poll()
poller.register(sys.stdin, select.POLLIN)
poller.register(link, select.POLLIN)
echoed = 0
line = ""
print(role, "ready")
while True:
    for obj, ev in poller.poll(200):
        if obj is link:
            data = link.recv(512)
            if not data:
                poller.unregister(link)
                link.close()
                link = connect()
                poller.register(link, select.POLLIN)
                print(role, "relinked")
            elif role == "secondary":
                link.write(data)
            else:
                echoed += len(data)
        else:
            c = sys.stdin.read(1)
            if c not in "\r\n":
                line += c
                continue
            cmd, line = line.split(), ""
            if cmd and cmd[0] == "send":
                link.write(b"x" * int(cmd[1]))
                print("sent", cmd[1])
            elif cmd and cmd[0] == "count":
                print("echoed=%d" % echoed)
'''


class Console(RawConsole):
    def count(self):
        self.sock.sendall(b"count\r")
        self.read_until(b"echoed=")
        return int(self.read_until(b"\r\n").strip())

    def wait_count(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        got = self.count()
        while got != n and time.monotonic() < deadline:
            time.sleep(0.1)
            got = self.count()
        return got


def wait_linked(emu, timeout=10.0):
    """Both boards connected to the proxy, and no (re)connection for 0.2 s."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        stats = emu.link("stats")["stats"]
        now = (all(stats["connected"].values()), stats["connects"])
        if now != last:
            last, since = now, time.monotonic()
        elif now[0] and time.monotonic() - since > 0.2:
            return
        time.sleep(0.05)
    raise AssertionError("link not up: " + diagnostics(emu))


def diagnostics(emu):
    out = []
    for name in ("link.log", "primary.console.log", "secondary.console.log"):
        try:
            with open(os.path.join(emu.run_dir, name), "rb") as f:
                out.append("--- %s\n%s" % (name, f.read()[-1500:].decode("utf-8", "replace")))
        except OSError:
            pass
    return "\n".join(out)


@pytest.fixture
def emulators(tmp_path):
    made = []

    def make(mode, **kw):
        entry = tmp_path / "stub.py"
        entry.write_text(STUB)
        emu = Emulator(str(tmp_path / ("run-" + mode)), entry=str(entry), mode=mode, heap="96K",
                       image_size="64K", micropython=MICROPYTHON, **kw)
        made.append(emu)
        emu.up()
        return emu
    yield make
    for emu in made:
        try:
            emu.down()
        finally:
            RunDir(emu.run_dir).kill_processes()
        assert RunDir(emu.run_dir).processes() == []


@pytest.mark.parametrize("mode", ["uart", "eth"])
def test_two_vms_echo_over_the_link(emulators, mode):
    emu = emulators(mode, baud=1_000_000, seed=1)
    st = emu.status()
    logs = [os.path.join(emu.run_dir, "%s.console.log" % b) for b in ("primary", "secondary")]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(b"ready" in open(p, "rb").read() for p in logs):
        time.sleep(0.05)
    wait_linked(emu)
    con = Console(st["boards"]["primary"]["port"])
    try:
        con.sock.sendall(b"send 3000\r")
        con.read_until(b"sent 3000")
        assert con.wait_count(3000) == 3000, diagnostics(emu)
        # cut the cable: nothing comes back; restore it: traffic flows again
        emu.link("down")
        con.sock.sendall(b"send 100\r")
        time.sleep(0.3)
        assert con.count() == 3000
        emu.link("up")
        con.sock.sendall(b"send 100\r")
        assert con.wait_count(3100) == 3100, diagnostics(emu)
        stats = emu.link("stats")["stats"]
        assert stats["primary_to_secondary"]["lost"] == 100
        # power-cycle the secondary: it boots, reconnects, echoes again
        emu.power_cycle("secondary")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and \
                emu.status()["link"]["stats"]["connects"]["secondary"] < 2:
            time.sleep(0.05)
        if mode == "eth":        # the primary's session was reset with the peer's
            con.read_until(b"relinked")
        time.sleep(0.2)
        wait_linked(emu)
        con.sock.sendall(b"send 50\r")
        assert con.wait_count(3150) == 3150, diagnostics(emu)
    finally:
        con.sock.close()
