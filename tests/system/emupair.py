"""A running emulated pair for system tests: the emulator, a console client per board,
and helpers to compare the cards. Every wait is bounded."""
import os
import socket
import time

import pytest

from sdmirror.console_client import Board, synced
from sdmirror.emu.launcher import EmuError, Emulator, find_micropython
from sdmirror.verify import compare

try:
    MICROPYTHON = find_micropython()
except EmuError:
    MICROPYTHON = None
# for modules that start VMs: `pytestmark = NEEDS_VM`
NEEDS_VM = [pytest.mark.system,
            pytest.mark.skipif(MICROPYTHON is None, reason="micropython (Unix VM) not installed")]


class RawConsole:
    """A bare console client for emulator tests: a TCP socket with read-until."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.settimeout(0.05)
        self.buf = b""

    def write(self, data):
        self.sock.sendall(data)

    def read_until(self, marker, timeout=5.0):
        deadline = time.monotonic() + timeout
        while marker not in self.buf and time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                break
            self.buf += chunk
        if marker not in self.buf:
            raise AssertionError("%r not seen; got %r" % (marker, self.buf[-400:]))
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def close(self):
        self.sock.close()


class EmuPair:
    def __init__(self, run_dir, **kw):
        if MICROPYTHON is None:
            pytest.skip("the micropython VM is not installed")
        self.run_dir = str(run_dir)
        self.emu = Emulator(self.run_dir, **kw)
        self.emu.up(timeout=60)
        st = self.emu.status()["boards"]
        self.p = Board(st["primary"]["url"], timeout=15)
        self.s = Board(st["secondary"]["url"], timeout=15)

    def close(self):
        for b in (self.p, self.s):
            b.close()
        self.emu.down()

    def image(self, name):
        return os.path.join(self.run_dir, name + ".img")

    def differing(self):
        return compare(self.image("primary"), self.image("secondary"))[0]

    def wait_synced(self, timeout=120):
        return self.p.wait(synced, timeout, what="the pair to be coherent and idle")

    def link_bytes(self):
        stats = self.emu.link("stats")["stats"]
        return sum(v["bytes_out"] for v in stats.values()
                   if isinstance(v, dict) and "bytes_out" in v)


def synced_eth_pair(tmp_path_factory, settings, name="emu", timeout=60):
    """For a module fixture (`yield from`): an emulated pair over Ethernet on 4 MiB cards,
    coherent and idle, taken down when the module is done."""
    pair = EmuPair(tmp_path_factory.mktemp(name), mode="eth", image_size="4M",
                   settings=settings)
    try:
        pair.wait_synced(timeout)
        yield pair
    finally:
        pair.close()


def block_hex(seed, n=512):
    import random
    return random.Random(seed).randbytes(n).hex()
