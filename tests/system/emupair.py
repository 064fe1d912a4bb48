"""A running emulated pair for system tests: the emulator, a console client per board,
and helpers to compare the cards. Every wait is bounded."""
import os
import shutil

import pytest

from sdmirror.console_client import Board, synced
from sdmirror.emu.launcher import Emulator
from sdmirror.verify import compare


class EmuPair:
    def __init__(self, run_dir, **kw):
        if not shutil.which("micropython") and not os.path.exists(
                os.path.join(os.path.dirname(os.sys.executable), "micropython")):
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


def block_hex(seed, n=512):
    import random
    return random.Random(seed).randbytes(n).hex()
