# The periodic scan's pace (mirror/sched.py ScanPace, cfg.scan_rate): while the pair is
# coherent each side reads at most scan_rate blocks per second, waiting through
# next_deadline() (no spinning); a resync reads at full speed. Issue 9's write p99 goal
# rests on this (tools/bench: host/sdmirror/benchmarks/resync.py scan_latency).
from pairkit import Pair, fill, synced_pair

from mirror.config import Config
from mirror.node import A_READ
from mirror.sched import ScanPace


def scanning_pair(rate):
    """A synced pair whose periodic scans now run back to back (scan_period_ms=1)."""
    pair = synced_pair(nblocks=1024, scan_rate=rate)
    pair.primary.cfg.scan_period_ms = 1
    pair.primary._schedule_scan()
    return pair


def count_reads(side):
    """Blocks the node asks its card for, counted in side.read_blocks."""
    side.read_blocks = 0
    emit = side.node.emit

    def counting(kind, a, b):
        if kind == A_READ:
            side.read_blocks += len(b) // 512
        emit(kind, a, b)
    side.node.emit = counting


def test_the_pace_reads_exactly_the_rate_in_whole_ms():
    for rate in (1, 7, 50, 300, 999, 1000, 4000):
        pace = ScanPace(rate)
        now = 0
        reads = 0
        while now < 1000:
            if pace.due(now):
                pace.took(now, 1)
                reads += 1
            now += 1
        # 1,000 ms hold `rate` reads (whole ms between them: at most one per ms)
        assert reads == min(rate, 1000), (rate, reads)
    pace = ScanPace(3)
    pace.took(0, 1)
    assert pace.at == 333 and not pace.due(332) and pace.due(333)
    pace.took(333, 1)
    pace.took(666, 1)
    assert pace.at == 1000  # the carried thirds of a ms add up


def test_a_periodic_scan_reads_at_the_rate_on_both_sides():
    rate = 100
    pair = scanning_pair(rate)
    for side in (pair.p, pair.s):
        count_reads(side)
    pair.run(3000)
    for side in (pair.p, pair.s):
        # 3 s at 100 blocks/s: 300 reads at most (+1: the first is due at once), and the
        # scan keeps its pace (a few reads are late behind its own frames)
        assert 270 <= side.read_blocks <= 301, (side.node.role, side.read_blocks)
    assert pair.primary.scan["progress"] > 0 and pair.coherent()


def test_a_paced_read_waits_by_its_deadline_not_by_spinning():
    pair = scanning_pair(20)
    waited = 0
    for _ in range(500):
        pair.step()
        for node in (pair.primary, pair.secondary):
            at = node.pace.at
            if node._jstate == 3 and at is not None and at > pair.now:  # _J_PACE
                assert node.next_deadline() <= at
                assert not node.idle(pair.now)  # nothing to do before its turn
                waited += 1
    assert waited > 400


def test_a_paced_periodic_scan_finds_and_repairs_a_flip_in_its_time():
    for mode in ("tree", "flat"):
        pair = synced_pair(nblocks=256, scan_period_ms=500, scan_rate=100, scan_mode=mode)
        bad = bytearray(pair.s.card.data[77 * 512:78 * 512])
        bad[100] ^= 0x40
        pair.s.card.writeblocks(77, bad)
        # 256 blocks at 100 blocks/s: 2.6 s a pass; found in the first after 500 ms
        steps = pair.run(10000, until=lambda: pair.coherent() and pair.synced())
        assert 2560 < steps < 6000, (mode, steps)
        assert pair.secondary.counters["mismatches"] + pair.primary.counters["mismatches"] == 1


def test_a_resync_is_not_paced():
    rate = 10
    pair = Pair(nblocks=1024, seed=3, scan_rate=rate)
    fill(pair, 3, both=False)  # unequal cards: a full scan finds them apart, copies blocks
    for side in (pair.p, pair.s):
        count_reads(side)
    pair.connect()
    steps = pair.run(50000, until=pair.synced)
    assert pair.coherent()
    # every block read once on each side, far faster than the pace would allow
    # (1,024 blocks at 10 blocks/s: 102 s)
    assert pair.p.read_blocks >= 1024 and pair.s.read_blocks >= 1024
    assert steps < 1024 * 1000 // rate // 10, steps


def test_writes_pulled_ahead_are_caught_up_at_full_speed():
    # async, a window of one frame: a burst of writes outruns the link, the bitmap takes
    # them (pull ahead) and bitmap epochs resync them while the pair stays coherent
    pair = synced_pair(nblocks=1024, mode="async", window=1, scan_rate=1, scan_period_ms=0)
    for side in (pair.p, pair.s):
        count_reads(side)
    for i in range(64):
        pair.write(i * 16, bytes([i + 1]) * 512)
    assert pair.primary.counters["pull_ahead"] > 0
    steps = pair.run(20000, until=lambda: pair.coherent() and pair.synced())
    # at the pace (1 block/s) the regions' blocks would take minutes
    assert steps < 5000 and pair.p.read_blocks > 30, (steps, pair.p.read_blocks)


def test_scan_rate_bounds():
    for bad in (-1, 100001, 1.5, "50"):
        try:
            Config(scan_rate=bad)
        except ValueError as e:
            assert "scan_rate" in str(e), e
        else:
            raise AssertionError("scan_rate=%r accepted" % (bad,))
    assert Config(scan_rate=0).scan_rate == 0 and Config().scan_rate == 20
