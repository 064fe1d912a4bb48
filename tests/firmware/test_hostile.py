# Hostile input (issue 11): every item a tester reproduced, as the smallest pair-level or
# console-level reproduction; each fails without its fix. Dual-run (CPython and the
# MicroPython VM): plain functions, pairkit and fwtest only.
import json
import struct

from fwtest import randbytes, rng
from pairkit import Pair, Side, synced_pair

from mirror import proto as P
from mirror.config import Config
from mirror.meta import Meta, load
from mirror.node import A_READ, A_WRITE, META_BLOCKS
from mirror.secondary import Secondary


def test_a_slot_that_could_not_be_read_is_not_an_absent_slot():
    # seed 7015136: the read of the newest slot failed, load() took the older one
    old, new = Meta(), Meta()
    old.gen, old.seq = b"old-gen!", 6
    new.gen, new.seq = b"new-gen!", 7
    so, sn = bytearray(512), bytearray(512)
    old.pack_into(so)
    new.pack_into(sn)
    assert load([(True, so), (False, sn)])[1] == "unreadable"
    assert load([(False, so), (True, sn)])[1] == "unreadable"


def test_a_secondary_whose_newest_slot_fails_once_at_boot_keeps_the_newest_generation():
    pair = synced_pair(64)
    gen = pair.secondary.meta.gen
    seq = pair.secondary.meta.seq
    newest = pair.secondary.nblocks + (seq & 1)
    side = Side(Secondary, Config(role="secondary"), 64, b"reboot", pair.s.card)
    emit = side.node.emit
    armed = [1]

    def failing(kind, a, b):
        if kind == A_READ and a == newest and armed[0]:
            armed[0] = 0
            side.done.append(False)
            return
        emit(kind, a, b)
    side.node.emit = failing
    side.node.start(0)
    while side.done:
        side.node.io_done(side.done.pop(0), 0)
    assert armed[0] == 0
    assert side.node.ready and side.node.meta.gen == gen and side.node.meta.seq >= seq


def _card_writes(side):
    """Record the block of every card write the node asks for."""
    seen = []
    emit = side.node.emit

    def watch(kind, a, b):
        if kind == A_WRITE:
            seen.append((a, len(b)))
        emit(kind, a, b)
    side.node.emit = watch
    return seen


def test_the_secondary_checks_every_write_against_its_volume_before_the_card():
    pair = synced_pair(64)
    s = pair.secondary
    seen = _card_writes(pair.s)
    for block, size in ((3, 0), (3, 100), (3, 700), (63, 1024), (64, 512), (65, 512)):
        before = s.counters["bad_messages"]
        s.paired = True
        s.on_message(P.T_WRITE, struct.pack("<II", 1, block) + bytes(size))
        assert s.counters["bad_messages"] == before + 1, (block, size)
    for block, count, size in ((3, 1, 100), (3, 0, 0), (63, 2, 1024), (64, 1, 512)):
        s.paired = True
        s.on_message(P.T_DATA, struct.pack("<BBIIH", 0, 0, 1, block, count) + bytes(size))
    assert seen == [], seen  # metadata blocks 64, 65 above all: never touched


def _hostile_messages(dsize):
    """Messages of every type, malformed: empty, short, spans that are not powers of 16,
    spans beyond any cache, entries running past the end, non-UTF-8 text."""
    out = []
    for t in (P.T_START, P.T_REFUSE, P.T_SYNCED, P.T_WRITE, P.T_WACK, P.T_SUMS, P.T_SUMREQ,
              P.T_BREQ, P.T_DATA, P.T_SCAN, P.T_ROOT, P.T_BARRIER, P.T_DONE, 0x7F):
        for p in (b"", b"\x00", b"\xff" * 3, b"\x01" * 7):
            out.append((t, p))
    for span in (0, 2, 17, 1 << 24, 0xFFFFFFFF):
        out.append((P.T_SUMS, struct.pack("<BBIIH", 0, 0, span, 0, 1) + bytes(dsize)))
        out.append((P.T_SUMREQ, struct.pack("<BBIIH", 0, 0, span, 0, 1)))
        out.append((P.T_SCAN, struct.pack("<BIII", 0, 0, 64, span)))
    out.append((P.T_SUMS, struct.pack("<BBIIH", 0, 0, 1, 0, 40) + bytes(dsize)))
    out.append((P.T_SCAN, struct.pack("<BIII", 0, 0, 1 << 20, 1)))
    out.append((P.T_SCAN, struct.pack("<BIII", 0, 60, 64, 1)))
    out.append((P.T_BREQ, b"\x00" + struct.pack("<IH", 0, 0)))
    out.append((P.T_REFUSE, b"\xff\xfe not text"))
    out.append((P.T_WACK, struct.pack("<I", 0x7FFFFFFF)))
    return out


def test_no_malformed_message_raises_out_of_a_node():
    # 376 of 3,000 structured inputs raised out of node.receive (IndexError, struct.error,
    # ValueError, UnicodeDecodeError)
    for role in ("primary", "secondary"):
        pair = synced_pair(64)
        node = pair.primary if role == "primary" else pair.secondary
        for ftype, p in _hostile_messages(node.dsize):
            node.paired = True
            node.on_message(ftype, p)
            pair.run(3)
        assert node.counters["bad_messages"] > 0
        pair.run(50000, until=pair.synced)  # and the pair recovers
        assert pair.coherent()


def test_a_confirmation_of_a_write_never_sent_is_refused():
    pair = synced_pair(64)
    pair.disconnect()
    pair.connect()
    pair.run(50000, until=pair.synced)
    p = pair.primary
    p.on_message(P.T_WACK, struct.pack("<I", p.last_token() + 5))
    assert p.acked_wid < p.last_token() + 5
    assert p.counters["bad_messages"] == 1


def test_a_refusal_that_is_not_text_is_logged_in_hex():
    pair = synced_pair(64)
    s = pair.secondary
    s.on_message(P.T_REFUSE, b"\xff\xfe")
    assert "fffe" in s.refusal


def test_a_periodic_flat_scan_runs_once_per_period():
    # scan_mode=flat with a periodic scan ran scans back to back (4,506 in 20 s, not 10)
    pair = synced_pair(256, scan_mode="flat", scan_period_ms=2000, scan_rate=0)  # unpaced
    first = pair.primary.counters["scans"]
    pair.run(10000)  # 10 s of virtual time: about 5 periods
    n = pair.primary.counters["scans"] - first
    assert 3 <= n <= 6, n


def _a_scan_reports_what_it_repairs(mode, comparer):
    # a silent flip on the primary's card: the periodic scan copies the primary's block
    # over (the primary's card is the truth) and must say so with a `mismatch` event.
    # A flat scan runs as bitmap epochs and said nothing (sim seed 313)
    pair = synced_pair(256, scan_mode=mode, scan_period_ms=2000, comparer=comparer,
                       scan_rate=0)  # unpaced (test_scan_pace.py repairs at a pace)
    bad = bytearray(pair.p.card.data[77 * 512:78 * 512])
    bad[100] ^= 0x40
    pair.p.card.writeblocks(77, bad)
    pair.run(20000, until=lambda: pair.coherent() and pair.synced())
    assert pair.coherent() and bytes(pair.s.card.data[77 * 512:78 * 512]) == bad
    events = pair.p.events + pair.s.events
    assert ("mismatch", 77) in events, (mode, comparer)


# One test per case: each run's garbage must be freed before the next on the WebAssembly
# VM, which collects only between tests (tools/wasmtest.mjs)
def test_a_flat_scan_reports_what_it_repairs_when_the_secondary_compares():
    _a_scan_reports_what_it_repairs("flat", "secondary")


def test_a_flat_scan_reports_what_it_repairs_when_the_primary_compares():
    _a_scan_reports_what_it_repairs("flat", "primary")


def test_a_tree_scan_reports_what_it_repairs_when_the_secondary_compares():
    _a_scan_reports_what_it_repairs("tree", "secondary")


def test_a_tree_scan_reports_what_it_repairs_when_the_primary_compares():
    _a_scan_reports_what_it_repairs("tree", "primary")


# -- the console -----------------------------------------------------------------------
class _Board:
    NAME = "test"


class _Out:
    def __init__(self):
        self.lines = []

    def write(self, s):
        if s != "\n":
            self.lines.append(json.loads(s))


class _Stream:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def read(self, n):
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b


class _Rt:
    """What the console uses of a runtime: the node (a primary of a pair), its card."""

    def __init__(self, side):
        self.node = side.node
        self.card = side.card


def _console(role="primary", board=None):
    from console import Console
    from mirror.volume import MirroredVolume
    pair = synced_pair(64)
    pair.disconnect()
    pair.write(3, bytes(512))  # a dirty region
    side = pair.p if role == "primary" else pair.s
    rt = _Rt(side)
    out = _Out()
    con = Console(rt, board or _Board(), side.card, None, out)
    return con, out


def test_no_console_line_stops_the_console():
    con, out = _console()
    lines = [b"x" * 300, b"\xff\xfe status", b"bitmap 0", b"bitmap -3", b"bitmap 999999",
             b"write 7 00 extra", b"fs write /x -5", b"read -1", b"read 99999999999",
             b"write 7 0", b"help me please", b"z" * 5000, b"inject corrupt-block 5"]
    con.stream = _Stream(b"\n".join(lines) + b"\n")
    for _ in range(len(con.stream.data) + 1):
        con.feed()
    assert len(out.lines) == len(lines), out.lines
    for r in out.lines[:-1]:
        assert "error" in r, r
    assert "locked" in out.lines[-1]["error"]
    assert con.internal_errors == 0
    assert "usage" in out.lines[5]["error"]   # write 7 00 extra
    assert "BYTES" in out.lines[6]["error"]   # fs write /x -5


def test_fault_injection_needs_unlock_unless_the_profile_allows_diagnostics():
    con, out = _console()
    con.command("inject drop-bitmap")
    assert "unlock" in out.lines[-1]["error"] and con.rt.node.bitmap.valid
    con.command("unlock")
    con.command("inject drop-bitmap")
    assert out.lines[-1].get("ok") and not con.rt.node.bitmap.valid

    class Bench:
        NAME = "bench"
        DIAGNOSTICS = True
    con, out = _console(board=Bench())
    con.command("inject drop-bitmap")
    assert out.lines[-1].get("ok")


def test_a_pair_with_different_frame_blocks_is_refused_and_the_setting_named():
    # an rp2040 primary with 8, an stm32f4 secondary with 4: the first multi-block write
    # was retransmitted forever and both said "paired"
    pair = Pair(nblocks=64, seed=4, cfg_p={"frame_blocks": 8}, cfg_s={"frame_blocks": 4})
    pair.connect()
    pair.run(2000)
    for node in (pair.primary, pair.secondary):
        assert not node.paired
        assert "frame_blocks" in node.refusal, node.refusal


def test_a_pair_with_different_scan_caches_is_refused():
    # sim: a secondary with 4 times the primary's cache had a smaller largest span and
    # refused every scan (before the shape checks: its hasher raised)
    for cp, cs in ((64, 16), (16, 64)):
        pair = Pair(nblocks=64, seed=4, cfg_p={"cache_bytes": cp}, cfg_s={"cache_bytes": cs})
        pair.connect()
        pair.run(2000)
        assert not pair.primary.paired and "cache_bytes" in pair.primary.refusal


def test_settings_that_cannot_work_are_refused_naming_the_setting():
    from fwtest import raises
    for name, value in (("alg", "nosuch"), ("region_blocks", 3), ("frame_blocks", 100000),
                        ("dead_ms", -1), ("scan_period_ms", -5), ("keepalive_ms", -1),
                        ("window", "8"), ("window", True), ("keepalive_ms", 0),
                        ("rto_init_ms", 10), ("mode", "fast")):
        e = raises(ValueError, Config, **{name: value})
        assert name in str(e) and "\n" not in str(e), (name, str(e))
    Config(region_blocks=64, scan_period_ms=0, ack_delay_ms=0)  # and good ones pass
