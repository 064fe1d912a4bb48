# The primary's list of the blocks written while its bitmap records (listed.py): runs kept
# per region, overflow spoils the list, sorting in place; and the resync it drives: the
# listed blocks are sent with no comparison, and whatever the list cannot vouch for is
# compared as before.
from fwtest import heap_locked, rng
from pairkit import synced_pair

from mirror.listed import ListedWrites


def block(i, salt):
    return bytes(((i * 7 + salt + k) & 0xFF) for k in range(512))


def _runs(wl):
    return [wl.run(i) for i in range(wl.n)]


def test_runs_merge_within_a_region_and_split_at_its_edge():
    wl = ListedWrites(8, 16)
    wl.add(3, 2)
    wl.add(5, 1)  # the next block: the same run
    wl.add(14, 4)  # crosses into region 1: two runs
    wl.add(40, 1)
    assert _runs(wl) == [(3, 3), (14, 2), (16, 2), (40, 1)] and wl.ok


def test_a_full_list_is_spoilt_and_reset_makes_it_usable_again():
    wl = ListedWrites(3, 16)
    for b in (1, 20, 40):
        wl.add(b, 1)
    assert wl.ok
    wl.add(60, 1)
    assert not wl.ok
    wl.reset()
    assert wl.ok and wl.n == 0
    wl.spoil()
    assert not wl.ok
    assert not ListedWrites(0, 16).ok  # capacity 0: never used
    assert synced_pair(nblocks=256).primary.listed.ok  # on by default (1,024 runs)
    pair = synced_pair(nblocks=256, listed_max=0)  # off: the primary does without it
    assert not pair.primary.listed.ok and type(pair.primary.listed).__name__ == "_Unlisted"


def test_sort_and_find_without_allocating():
    r = rng(5)
    wl = ListedWrites(200, 64)
    starts = [r.randrange(100000) for _ in range(150)]
    for b in starts:
        wl.add(b, 1)
    heap_locked(wl.sort)
    got = [wl.run(i)[0] for i in range(wl.sorted_count())]
    assert got == sorted(got) and sorted(got) == sorted(starts)
    key = sorted(starts)[70]
    i = heap_locked(lambda: wl.find(key))
    assert wl.run(i)[0] == key and (i == 0 or wl.run(i - 1)[0] < key)
    assert heap_locked(lambda: wl.find(10 ** 6)) == wl.sorted_count()
    heap_locked(lambda: wl.add(123456, 3))  # adding allocates nothing either


def _comparisons(node):
    """Count the regions the primary compares (Primary._check_regions) from now on."""
    calls = []
    orig = node._check_regions

    def check(tag, regions):
        calls.append(len(regions))
        yield from orig(tag, regions)
    node._check_regions = check
    return calls


def _outage(pair, blocks, seed):
    pair.disconnect()
    for b in blocks:
        pair.write(b, block(b, seed))
    pair.link_bytes = 0
    pair.connect()
    assert pair.run(100000, until=pair.synced)
    assert pair.coherent()


def test_listed_writes_go_over_with_no_comparison():
    # 512-block regions, one scattered write in each of 3: the blocks and little else
    for comparer in ("secondary", "primary"):
        pair = synced_pair(nblocks=2048, region_blocks=512, comparer=comparer, listed_max=1024)
        compared = _comparisons(pair.primary)
        _outage(pair, (10, 700, 1500), 3)
        assert pair.primary.counters["blocks_copied"] == 3
        assert compared == []
        # compared (listed_max=0) the same resync costs 2,634 B
        assert pair.link_bytes < 3 * 512 + 700, (comparer, pair.link_bytes)


def test_an_overflowing_list_falls_back_to_comparing_regions():
    pair = synced_pair(nblocks=2048, region_blocks=64, listed_max=4)
    compared = _comparisons(pair.primary)
    _outage(pair, (5, 100, 300, 700, 900, 1500), 4)  # 6 writes, room for 4
    assert pair.primary.counters["blocks_copied"] == 6 and sum(compared) == 6
    assert pair.primary.listed.ok and pair.primary.listed.n == 0  # reset once coherent


def test_a_dirty_region_the_list_does_not_name_is_compared():
    # the list should always name every dirty region's blocks; if it ever did not, the
    # resync must still make the copies equal (a comparison), never skip the region
    pair = synced_pair(nblocks=2048, region_blocks=64, listed_max=1024)
    pair.disconnect()
    pair.write(100, block(100, 9))
    pair.p.card.writeblocks(1000, block(1000, 9))  # a change the list never heard of:
    pair.primary.bitmap.mark(1000)  # our card and the bitmap only
    compared = _comparisons(pair.primary)
    pair.connect()
    assert pair.run(100000, until=pair.synced)
    assert pair.coherent() and compared == [1]  # region 1 sent from the list, 15 compared


def test_a_link_lost_mid_resync_keeps_the_listed_blocks():
    pair = synced_pair(nblocks=4096, region_blocks=256, epoch_bytes=512, listed_max=1024)
    compared = _comparisons(pair.primary)
    blocks = list(range(3, 4096, 97))
    pair.disconnect()
    for b in blocks:
        pair.write(b, block(b, 5))
    pair.connect()
    p = pair.primary
    # part of the resync: regions sent and unconfirmed, others still to come
    assert pair.run(1000, until=lambda: p.pending.count() and p.bitmap.count() and
                    p.counters["blocks_copied"] >= 10)
    pair.disconnect()
    pair.run(50)
    pair.connect()
    assert pair.run(200000, until=pair.synced)
    assert pair.coherent() and compared == []


def test_a_region_taken_after_the_sort_takes_its_newer_runs_too():
    # sim seed 123794547: runs are sorted when an epoch starts; a write pulled ahead into
    # a region the walk had not reached went past the sorted ones, the walk took the region
    # (its bit cleared) with only its older runs, and the newer write never went over
    pair = synced_pair(nblocks=2048, region_blocks=64, listed_max=1024)
    p = pair.primary
    for b in (10, 700):
        p.bitmap.mark(b)
        p.listed.add(b, 1)
    walk = p.listed.walk(p.bitmap, p.pending, {"first": -1, "last": -1}, 1 << 20)
    assert tuple(next(walk)) == (10, 1)  # sorted; region 0 taken
    p.bitmap.mark(690)  # a write pulled ahead into region 10 meanwhile
    p.listed.add(690, 1)
    assert sorted(tuple(r) for r in walk) == [(690, 1), (700, 1)]
    assert not p.bitmap.count()


def test_a_walk_stops_when_a_write_meanwhile_overflows_the_list():
    # sim seed 461704306: the list overflowed while a walk was under way; the walk went on
    # taking regions, one of them holding the write that could not be listed (lost)
    pair = synced_pair(nblocks=2048, region_blocks=64, listed_max=3)
    p = pair.primary
    for b in (10, 700, 1500):
        p.bitmap.mark(b)
        p.listed.add(b, 1)
    walk = p.listed.walk(p.bitmap, p.pending, {"first": -1, "last": -1}, 1 << 20)
    assert tuple(next(walk)) == (10, 1)
    p.bitmap.mark(1510)  # pulled ahead into region 23: no room in the list
    p.listed.add(1510, 1)
    assert not p.listed.ok
    assert list(walk) == []  # regions 10 and 23 stay dirty, to be compared
    assert p.bitmap.is_dirty(700 // 64) and p.bitmap.is_dirty(1500 // 64)
