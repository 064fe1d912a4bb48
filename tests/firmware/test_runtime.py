# The board runtime and its console, on both Pythons: two runtimes with RAM cards joined
# by a real TCP connection on loopback (the link drivers' own code path), and the console's
# commands with their one-line errors.
import json
import random

from fwtest import rng, skip

from console import Console
from drivers.link import TcpLink, TcpListenLink
from mirror.config import Config
from mirror.node import META_BLOCKS
from mirror.primary import Primary
from mirror.secondary import Secondary
from mirror.volume import MemBlockDevice, MirroredVolume
from runtime import Runtime

NBLOCKS = 512


class Out:
    def __init__(self):
        self.lines = []

    def write(self, s):
        if s != "\n":
            self.lines.append(s)

    def replies(self):
        return [json.loads(x) for x in self.lines]


class Board:
    NAME = "test"

    def reset(self):
        raise SystemExit


def pair_over_tcp():
    for _ in range(20):
        port = 40000 + random.getrandbits(13)
        try:
            server = TcpListenLink(port)
            break
        except OSError:
            continue
    client = TcpLink("127.0.0.1", port, retry_ms=20)
    rp = Runtime(Primary, Config(role="primary"), MemBlockDevice(NBLOCKS + META_BLOCKS), client, b"p")
    rs = Runtime(Secondary, Config(role="secondary"), MemBlockDevice(NBLOCKS + META_BLOCKS), server, b"s")
    rp.start()
    rs.start()
    return rp, rs


def pump_until(rp, rs, cond, rounds=20000):
    for _ in range(rounds):
        if cond():
            return
        rp.pump(1)
        rs.pump(1)
    raise AssertionError("runtimes did not get there")


def settled(rp, rs):
    p = rp.node
    return p.paired and not p.busy() and not rs.node.busy() and not p._inflight and \
        rs.node.meta.gen == p.meta.gen


def test_two_runtimes_pair_over_tcp_and_mirror_writes():
    rp, rs = pair_over_tcp()
    pump_until(rp, rs, lambda: settled(rp, rs))
    vol = MirroredVolume(rp.node, rp)
    rng(3)
    data = bytearray(4096)
    for i in range(len(data)):
        data[i] = random.getrandbits(8)
    vol.writeblocks(40, data)
    pump_until(rp, rs, lambda: settled(rp, rs))
    out = bytearray(4096)
    rs.card.readblocks(40, out)
    assert out == data
    rp.link.close(rp.now())
    rs.link.close(rs.now())


def console(role="primary"):
    cls = Primary if role == "primary" else Secondary
    rt = Runtime(cls, Config(role=role), MemBlockDevice(NBLOCKS + META_BLOCKS),
                 TcpLink("127.0.0.1", 9, retry_ms=10 ** 9), b"c")
    rt.start()
    vol = MirroredVolume(rt.node, rt) if role == "primary" else rt.card
    out = Out()
    return Console(rt, Board(), vol, None, out), out


def test_console_status_and_help_are_json():
    con, out = console()
    con.command("status")
    con.command("help")
    st, hp = out.replies()
    assert st["cmd"] == "status" and st["role"] == "primary" and st["link"] == "down"
    for key in ("generation", "dirty_regions", "scan", "counters"):
        assert key in st
    assert "inject FAULT" in hp["commands"]


def test_console_heap_finds_the_largest_block_one_allocation_gets():
    import gc
    import sys
    if sys.implementation.name != "micropython":
        # CPython has no GC heap to measure (and tools/fuzz/harness.py, which pytest may
        # have imported, gives its gc a stand-in mem_free that says 0)
        skip("CPython has no GC heap to measure")
    con, out = console()
    con.command("heap")
    h = out.replies()[0]
    assert h["cmd"] == "heap" and 0 < h["largest"] <= h["mem_free"]
    gc.collect()
    bytearray(h["largest"] - 16 * 64)  # (the reply itself took some since) it fits...
    try:
        bytearray(h["mem_free"] + 16 * 64)  # ...more than is free does not
        raise AssertionError("allocated more than the heap had free")
    except MemoryError:
        pass


def test_console_writes_and_reads_blocks_on_the_primary():
    con, out = console()
    con.command("write 7 00ff10")
    con.command("read 7")
    w, r = out.replies()
    assert w["ok"] and r["hex"].startswith("00ff10000000")
    assert con.rt.node.bitmap.is_dirty(con.rt.node.bitmap.region_of(7))  # link is down


def test_console_errors_are_one_line_and_say_what_to_do():
    con, out = console("secondary")
    for line in ("frobnicate", "read x", "write 1 00", "read", "inject nothing",
                 "read 99999", "scan"):
        con.command(line)
    replies = out.replies()
    assert len(replies) == 7
    for r in replies:
        assert "error" in r and "\n" not in r["error"]
    assert "try help" in replies[0]["error"]
    assert "number" in replies[1]["error"]
    assert "read-only" in replies[2]["error"]
    assert "usage" in replies[3]["error"]


def test_console_fault_injection():
    con, out = console()
    con.command("unlock")  # a board profile without DIAGNOSTICS: locked until then
    con.command("inject drop-bitmap")
    con.command("inject corrupt-block 5")
    con.command("inject link-down")
    assert [r.get("ok") for r in out.replies()] == [True, True, True, True]
    assert not con.rt.node.bitmap.valid
    assert con.rt.card.data[5 * 512:6 * 512] != bytes(512)
    assert not con.rt.link.enabled


class _DeadCard(MemBlockDevice):
    """A card that does not answer: init_card fails as drivers/sdcard.py's does."""

    def init_card(self):
        raise OSError(110, "no SD card")


def test_console_attach_errors_are_one_line_and_change_nothing():
    con, out = console("secondary")
    con.command("attach")
    con, out2 = console()
    con.command("attach")  # the card is in use
    node = con.rt.node
    node.detach("test")
    con.command("attach now")
    real = con.rt.card
    con.rt.card = _DeadCard(NBLOCKS + META_BLOCKS)
    con.command("attach")
    replies = out.replies() + out2.replies()
    assert [r["cmd"] for r in replies] == ["attach"] * 4
    for r in replies:
        assert "error" in r and "\n" not in r["error"]
    assert "for the primary" in replies[0]["error"]
    assert "in use" in replies[1]["error"]
    assert "usage" in replies[2]["error"]
    assert "still does not answer (no SD card)" in replies[3]["error"]
    assert node.detached is not None and node.status()["card"].startswith("failed")
    con.rt.card = real  # answers again: attached (the copy waits for the secondary)
    con.command("attach")
    r = out2.replies()[-1]
    assert r["ok"] and r["card"].startswith("returned: copying the blocks written")


def test_the_loop_reports_an_exception_and_goes_on():
    # Runtime.run caught only MemoryError: one exception out of a pass stopped the board
    con, out = console()
    rt = con.rt
    events = []
    rt.on_event = lambda name, detail: events.append(name)
    passes = [0]

    def pump(timeout_ms, with_console=True):
        passes[0] += 1
        if passes[0] <= 2:
            raise IndexError("a bug")
        raise KeyboardInterrupt
    rt.pump = pump
    try:
        rt.run()
    except KeyboardInterrupt:
        pass
    assert passes[0] == 3 and events.count("error") == 2 and rt.errors == 2
