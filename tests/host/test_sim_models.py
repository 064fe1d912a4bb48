"""The simulator's models, one at a time: SD card, link, event heap, the speed-ups."""
import random

from hypothesis import given, settings, strategies as st

from sdmirror.sim import fast
from sdmirror.sim.card import BLOCK, Card
from sdmirror.sim.link import Link
from sdmirror.sim.world import World


def world(seed=1):
    return World(random.Random(seed))


# -- event heap ------------------------------------------------------------------------
def test_events_run_in_time_order_and_ties_in_scheduling_order():
    w = world()
    seen = []
    for t, tag in ((5, "c"), (1, "a"), (5, "d"), (3, "b")):
        w.at(t, seen.append, tag)
    w.after(-10, seen.append, "now")  # never in the past
    w.run_until(10)
    assert seen == ["now", "a", "b", "c", "d"] and w.now == 10


def test_run_until_stops_early_when_asked():
    w = world()
    box = []
    for t in range(1, 6):
        w.at(t, box.append, t)
    assert w.run_until(100, stop=lambda: len(box) == 3)
    assert box == [1, 2, 3] and w.now == 3


# -- SD card ---------------------------------------------------------------------------
def card(w, blocks=8, **kw):
    image = bytes(range(256)) * 2 * blocks
    timing = dict(read_ms=1.0, xfer_ms=0.0, write_ms=1.0, busy_ms=2.0)
    timing.update(kw)
    return Card(w, "c", blocks, image, **timing)


def test_card_runs_requests_fifo_with_application_requests_first():
    w = world()
    c = card(w)
    done = []
    for name in ("bg1", "bg2", "bg3"):
        c.submit("r", 0, bytearray(BLOCK), lambda ok, n=name: done.append(n))
    c.submit("w", 1, b"\x01" * BLOCK, lambda ok: done.append("app-w"), fg=True)
    c.submit("r", 2, bytearray(BLOCK), lambda ok: done.append("app-r"), fg=True)
    w.run_until(100)
    # bg1 had started; the application's requests overtake the queued controller ones,
    # which still complete in the order they were issued
    assert done == ["bg1", "app-w", "app-r", "bg2", "bg3"]


def test_card_timing_read_write_and_programming():
    w = world()
    c = card(w, read_ms=0.5, xfer_ms=0.25, write_ms=1.0, busy_ms=2.0)
    t = {}
    c.submit("r", 0, bytearray(2 * BLOCK), lambda ok: t.setdefault("r", w.now))
    c.submit("w", 0, bytes(3 * BLOCK), lambda ok: t.setdefault("w", w.now))
    w.run_until(100)
    assert t["r"] == 0.5 + 2 * 0.25
    assert t["w"] == t["r"] + 1.0 + 3 * 2.0


def test_a_torn_write_leaves_exactly_k_new_bytes():
    for k in (0, 1, 100, 511, 512):
        w = world()
        c = card(w, write_ms=1.0, busy_ms=2.0)
        old = c.block(3) + c.block(4)
        new = b"\xaa" * BLOCK + b"\xbb" * BLOCK
        c.submit("w", 3, new, lambda ok: None)
        w.run_until(1.0 + 2.0 * 1.5)  # block 3 programmed, block 4 half way
        assert c.power_loss(k) == (4, k)
        assert c.block(3) == new[:BLOCK]
        b4 = c.block(4)
        assert b4[:k] == new[BLOCK:BLOCK + k] and b4[k:] == old[BLOCK + k:]
        assert w.faults["torn_write"] == 1


def test_power_loss_before_programming_lands_nothing_and_drops_the_queue():
    w = world()
    c = card(w)
    before = bytes(c.data)
    done = []
    c.submit("w", 0, b"\x11" * BLOCK, done.append)
    c.submit("w", 1, b"\x22" * BLOCK, done.append)
    w.run_until(0.5)  # still in the command phase
    assert c.power_loss() is None
    w.run_until(100)
    assert bytes(c.data) == before and done == [] and not c.pending()


def test_error_bursts_fail_requests_and_are_counted():
    w = world()
    c = card(w)
    res = []
    c.error_burst(reads=1, writes=2, ms=50)
    c.submit("r", 0, bytearray(b"\x07" * BLOCK), res.append)
    c.submit("w", 1, b"\x55" * BLOCK, res.append)
    c.submit("w", 2, b"\x55" * BLOCK, res.append)
    c.submit("w", 3, b"\x55" * BLOCK, res.append)
    w.run_until(100)
    assert res == [False, False, False, True]
    assert c.block(1) != b"\x55" * BLOCK and c.block(3) == b"\x55" * BLOCK
    assert w.faults == {"read_error": 1, "write_error": 2}


def test_an_error_burst_expires():
    w = world()
    c = card(w)
    c.error_burst(reads=3, writes=0, ms=2)
    res = []
    w.at(5, c.submit, "r", 0, bytearray(BLOCK), res.append)
    w.run_until(100)
    assert res == [True] and "read_error" not in w.faults


def test_a_request_outside_the_card_is_a_violation_and_fails():
    w = world()
    c = card(w, blocks=4)
    res = []
    c.submit("w", 3, bytes(2 * BLOCK), res.append)  # blocks 3..4 of a 4-block card
    w.run_until(100)
    assert res == [False] and "outside_writes" in w.violations


def test_bit_flip_changes_one_bit_silently():
    w = world()
    c = card(w)
    before = c.block(2)
    c.flip(2, 9)
    after = c.block(2)
    assert sum(bin(a ^ b).count("1") for a, b in zip(before, after)) == 1
    assert after[1] == before[1] ^ 2 and c.flipped[2] == 0


# -- link ------------------------------------------------------------------------------
class FakeNode:
    def __init__(self):
        self.buf = bytearray()

    def tx_view(self):
        return memoryview(self.buf)

    def tx_done(self, n):
        del self.buf[:n]


class FakeBoard:
    def __init__(self, w, name):
        self.w = w
        self.name = name
        self.node = FakeNode()
        self.got = []
        self.transports = []

    def receive(self, data):
        self.got.append((self.w.now, bytes(data)))

    def wire_free(self):
        pass

    def transport(self, up):
        self.transports.append(up)

    def send(self, data):
        self.node.buf += data
        self.link.kick(self)


def pair_link(w, **kw):
    a, b = FakeBoard(w, "primary"), FakeBoard(w, "secondary")
    return a, b, Link(w, a, b, **kw)


def test_link_paces_frames_at_the_bandwidth_and_adds_latency():
    w = world()
    a, b, link = pair_link(w, bandwidth=1000, latency_ms=5.0)
    a.send(b"x" * 99 + b"\x00" + b"y" * 49 + b"\x00")  # two frames: 100 and 50 bytes
    w.run_until(10000)
    assert [t for t, _ in b.got] == [100.0 + 5.0, 150.0 + 5.0]
    assert b"".join(d for _, d in b.got) == b"x" * 99 + b"\x00" + b"y" * 49 + b"\x00"
    assert link.bytes_sent == 150 and link.ab.frames_sent == 2


def test_uart_default_is_115200_8n1():
    w = world()
    a, b, link = pair_link(w, latency_ms=0.0)
    a.send(b"z" * 1151 + b"\x00")
    w.run_until(10000)
    assert abs(b.got[0][0] - 100.0) < 1e-9  # 1152 bytes at 11,520 B/s


def test_a_cut_cable_loses_bytes_but_counts_them_and_keeps_transports_up():
    w = world()
    a, b, link = pair_link(w, bandwidth=1000, latency_ms=1.0)
    a.send(b"\x01" * 9 + b"\x00")
    link.set_cut(True)  # the frame on the wire is lost too
    a.send(b"\x02" * 9 + b"\x00")
    w.run_until(1000)
    link.set_cut(False)
    a.send(b"\x03" * 9 + b"\x00")
    w.run_until(2000)
    assert [d[:1] for _, d in b.got] == [b"\x03"]
    assert link.bytes_sent == 30 and a.transports == [] and b.transports == []
    assert w.faults["link_cut"] == 1


def test_a_reset_tells_both_nodes():
    w = world()
    a, b, link = pair_link(w)
    link.set_transport(False)
    link.set_transport(True)
    assert a.transports == [False, True] == b.transports and w.faults["link_reset"] == 1


def test_noise_faults_are_applied_and_counted():
    w = world(7)
    a, b, link = pair_link(w, bandwidth=100000, latency_ms=1.0)
    link.set_noise({"drop": 0.2, "corrupt": 0.2, "dup": 0.2, "delay": 0.2, "spike_ms": 100,
                    "split": 0.3})
    frames = [bytes([i % 255 + 1]) * 30 + b"\x00" for i in range(300)]
    for f in frames:
        a.send(f)
    w.run_until(100000)
    f = w.faults
    assert all(f.get(k, 0) > 10 for k in ("drop", "corrupt", "duplicate", "delay", "split")), f
    got = b"".join(d for _, d in b.got)
    sent = b"".join(frames)
    # every frame is 31 bytes: a drop loses one, a duplicate adds one, the rest arrive
    assert len(got) == len(sent) + 31 * (f["duplicate"] - f["drop"])
    times = [t for t, _ in b.got]
    assert times == sorted(times)  # a byte stream stays in order, spikes and all


def test_split_delivers_a_frame_in_pieces_at_different_times():
    w = world(3)
    a, b, link = pair_link(w, bandwidth=100000, latency_ms=1.0)
    link.set_noise({"drop": 0, "corrupt": 0, "dup": 0, "delay": 0, "spike_ms": 10, "split": 1.0})
    a.send(b"\x05" * 99 + b"\x00")
    w.run_until(1000)
    assert len(b.got) >= 2 and b"".join(d for _, d in b.got) == b"\x05" * 99 + b"\x00"


# -- speed-ups: byte-identical to the firmware's own code --------------------------------
@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=1200) | st.lists(st.sampled_from([0, 1, 255]), max_size=600).map(bytes))
def test_fast_cobs_encodes_exactly_as_the_firmware(data):
    ref = fast.ORIGINAL["encode_into"]
    a = bytearray(len(data) + len(data) // 254 + 8)
    b = bytearray(len(a))
    assert ref(data, a, 2) == fast.encode_into(data, b, 2)
    assert a == b


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=800), st.integers(0, 900))
def test_fast_cobs_decodes_exactly_as_the_firmware_even_garbage(src, cap):
    ref = fast.ORIGINAL["decode_into"]
    a = bytearray(cap)
    b = bytearray(cap)
    n = ref(src, a)
    assert n == fast.decode_into(src, b)
    if n >= 0:
        assert a[:n] == b[:n]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=1024))
def test_fast_crc32_mpeg2_matches_the_software_engine(data):
    a = bytearray(6)
    b = bytearray(6)
    fast.ORIGINAL["crc32-mpeg2"].digest_into(data, a, 1)
    fast.Crc32Mpeg2().digest_into(memoryview(data), b, 1)
    assert a == b
