# The controller pair, end to end in one process: each numbered behaviour of the core
# (DESIGN.md, claims in shared/seeds) has a test here that fails if it is removed.
import struct

from fwtest import randbytes, rng
from pairkit import Pair, fill, synced_pair

from mirror import actlog, checksum
from mirror import proto as P
from mirror.meta import CONSISTENT

KEY = b"sdmirror-test-key-0123456789abcd"


def block(i, salt=0):
    return bytes([(i * 7 + salt) & 0xFF]) * 512


def test_first_pairing_scans_and_confirms_a_coherent_pair_cheaply():
    pair = synced_pair(nblocks=2048, key=KEY)
    assert pair.coherent()
    assert pair.primary.counters["scans"] == 1 and pair.secondary.counters["mismatches"] == 0
    # 2048 blocks confirmed coherent without sending a digest per block (8 KiB)
    assert pair.link_bytes < 1200, pair.link_bytes


def test_application_writes_are_mirrored():
    pair = synced_pair()
    for i in range(40):
        pair.write((i * 37) % pair.nblocks, block(i))
        pair.run(50)
    pair.run(5000, until=pair.synced)
    assert pair.coherent()
    assert pair.primary.counters["writes_forwarded"] > 0


def test_sync_mode_acks_only_once_the_secondary_holds_the_write():
    pair = synced_pair(mode="sync")
    token = pair.write(5, block(5, 1))
    assert token > 0 and not pair.primary.durable(token)
    assert pair.s.card.data[5 * 512] != block(5, 1)[0]
    pair.run(500, until=lambda: pair.primary.durable(token))
    assert pair.s.card.data[5 * 512:6 * 512] == block(5, 1)


def test_sync_mode_refuses_writes_when_the_window_is_full():
    pair = synced_pair(mode="sync", window=2, frame_blocks=1)
    tokens = [pair.write(i, block(i, 2)) for i in range(3)]
    assert tokens[0] > 0 and tokens[1] > 0 and tokens[2] == -1


def test_async_mode_pulls_ahead_into_the_bitmap_when_congested():
    pair = synced_pair(window=2, frame_blocks=1)
    for i in range(6):
        pair.write(i * 64, block(i, 3))
    p = pair.primary
    assert p.counters["pull_ahead"] >= 1 and p.bitmap.count() >= 1
    pair.run(5000, until=pair.synced)
    assert pair.coherent() and p.bitmap.count() == 0


def test_outage_writes_go_to_the_bitmap_and_only_dirty_regions_are_resynced():
    pair = synced_pair(nblocks=4096, region_blocks=4)
    pair.disconnect()
    for b in (10, 11, 700, 2000, 4095):
        pair.write(b, block(b, 4))
    p = pair.primary
    assert p.bitmap.count() == 4 and p.bitmap.valid
    scans = p.counters["scans"]
    pair.link_bytes = 0
    pair.connect()
    pair.run(20000, until=pair.synced)
    assert pair.coherent()
    assert p.counters["scans"] == scans  # no full scan: the bitmap was enough
    # only the 5 changed blocks travel, not the 16 blocks of the 4 dirty regions
    assert p.counters["blocks_copied"] == 5
    assert pair.link_bytes < 5 * 512 + 1500, pair.link_bytes


def test_a_sequential_run_of_dirty_regions_is_sent_whole():
    pair = synced_pair(nblocks=1024, region_blocks=4)
    pair.disconnect()
    for b in range(100, 164, 8):
        pair.write(b, bytes(randbytes(8 * 512)))
    pair.connect()
    pair.run(20000, until=pair.synced)
    assert pair.coherent()
    assert pair.primary.counters["blocks_copied"] == 64
    assert pair.secondary.counters["resync_blocks"] == 0  # no per-block comparison needed


def _damage_activity_logs(card, nblocks):
    """Flip a byte of the activity log in both metadata slots (the record stays intact)."""
    for slot in range(2):
        card.data[(nblocks + slot) * 512 + actlog.LOG_OFFSET + 12] ^= 0x40


def test_primary_power_loss_compares_only_the_extents_of_its_activity_log():
    # extents of 256 blocks (4 regions of 64), at most 2 kept once confirmed
    kw = {"region_blocks": 64, "actlog": 1, "al_extent_blocks": 256, "al_extents": 2}
    pair = synced_pair(nblocks=2048, **kw)
    for b in (1000, 1500):  # confirmed, but the last two extents used: kept (LRU)
        pair.write(b, block(b, 4))
    pair.run(20000, until=pair.synced)
    p = pair.primary
    assert sorted(p.actlog.extents()) == [3, 5]
    pair.disconnect()
    for b in (3, 900, 2047):
        pair.write(b, block(b, 5))
    assert sorted(p.actlog.extents()) == [0, 3, 7]  # 5 went: confirmed, least recent
    # power loss on the primary: RAM (the bitmap) is gone, the card and its log stay
    pair2 = Pair(nblocks=2048, seed=2, cards=(pair.p.card, pair.s.card), **kw)
    p = pair2.primary
    assert p.bitmap.valid and p.bitmap.count() == 12  # the regions of extents 0, 3 and 7
    pair2.connect()
    pair2.run(50000, until=pair2.synced)
    assert pair2.coherent()
    # no full scan: a scan of each extent's range (0, 3, 7: not consecutive), 256 blocks
    assert p.counters["scans"] == 3 and p.scan["count"] == 256
    assert pair2.secondary.counters["mismatches"] == 3


def test_primary_reboot_with_a_damaged_activity_log_falls_back_to_a_full_scan():
    pair = synced_pair(nblocks=2048, actlog=1)
    pair.disconnect()
    for b in (3, 900, 2047):
        pair.write(b, block(b, 5))
    # power loss on the primary: RAM (the bitmap) is gone, the card's log is damaged
    _damage_activity_logs(pair.p.card, 2048)
    pair2 = Pair(nblocks=2048, seed=2, cards=(pair.p.card, pair.s.card), actlog=1)
    p = pair2.primary
    assert not p.bitmap.valid
    pair2.connect()
    pair2.run(50000, until=pair2.synced)
    assert pair2.coherent()
    assert p.counters["scans"] == 1
    assert pair2.secondary.counters["mismatches"] == 3
    assert p.counters["blocks_copied"] == 3


def test_by_default_a_primary_power_loss_compares_the_logs_extents_and_actlog_0_scans_all():
    for setting, scans, log_scans in ((1, 1, 1), (0, 1, 0)):
        kw = {} if setting else {"actlog": 0}  # on by default: 4 extents of 16 MiB kept
        pair = synced_pair(nblocks=2048, **kw)
        pair.disconnect()
        for b in (3, 900, 2047):
            pair.write(b, block(b, 5))
        pair2 = Pair(nblocks=2048, seed=2, cards=(pair.p.card, pair.s.card), **kw)
        p = pair2.primary
        assert p.bitmap.valid == bool(setting)  # the log: the card's one extent
        pair2.connect()
        pair2.run(50000, until=pair2.synced)
        assert pair2.coherent()
        # one scan either way here (the card is one extent), but one of the log's range
        assert p.counters["scans"] == scans and p.counters["log_scans"] == log_scans
        assert (pair.primary.counters["actlog_records"] > 0) == bool(setting)
        assert p.counters["blocks_copied"] == 3


def test_a_damaged_bitmap_is_detected_and_treated_as_lost():
    pair = synced_pair(nblocks=1024)
    pair.disconnect()
    pair.write(7, block(7, 6))
    p = pair.primary
    p.bitmap.bits[40] ^= 0x08  # a stray write into RAM
    scans = p.counters["scans"]
    pair.connect()
    pair.run(50000, until=pair.synced)
    assert p.counters["scans"] == scans + 1  # full scan instead of trusting the bitmap
    assert pair.coherent()


def test_hash_tree_finds_scattered_differences_with_few_bytes():
    pair = Pair(nblocks=4096, seed=3)
    fill(pair, 3)
    rng(9)
    diffs = sorted(set(rng(9).randrange(4096) for _ in range(10)))
    for b in diffs:
        pair.s.card.writeblocks(b, bytes(512))
    pair.connect()
    pair.run(50000, until=pair.synced)
    assert pair.coherent()
    assert pair.secondary.counters["mismatches"] == len(diffs)
    flat = 4096 * 4  # the flat per-block CRC list alone
    assert pair.link_bytes < len(diffs) * 512 + flat // 2, pair.link_bytes


def test_primary_can_be_the_comparing_side():
    pair = Pair(nblocks=1024, seed=4, comparer="primary")
    fill(pair, 4)
    for b in (0, 500, 1023):
        pair.s.card.writeblocks(b, bytes(512))
    pair.connect()
    pair.run(50000, until=pair.synced)
    assert pair.coherent()
    assert pair.primary.counters["mismatches"] == 3
    assert pair.secondary.counters["mismatches"] == 0


def test_periodic_scan_repairs_silent_corruption_on_the_secondary():
    pair = synced_pair(nblocks=1024, scan_period_ms=2000, scan_rate=0)  # unpaced: 20 ms a scan
    bad = bytearray(pair.s.card.data[77 * 512:78 * 512])
    bad[100] ^= 0x40
    pair.s.card.writeblocks(77, bad)
    assert not pair.coherent()
    pair.run(20000, until=lambda: pair.coherent() and pair.synced())
    assert pair.primary.counters["scans"] >= 2
    assert pair.secondary.counters["mismatches"] == 1


def test_scan_only_advances_in_idle_time():
    pair = synced_pair(nblocks=1024, scan_period_ms=500, scan_rate=0)  # unpaced
    p = pair.primary
    pair.run(5000, until=lambda: p.counters["scans"] == 2 and p.scan["progress"] > 0)
    progress = p.scan["progress"]
    assert progress < 1024
    # with no idle time (foreground busy) the pass does not move, however long it waits
    for _ in range(200):
        pair.now += 10
        p.tick(pair.now)
        pair.settle_io()
    assert p.scan["progress"] == progress
    pair.run(5000, until=lambda: p.scan["done"])


def test_a_block_written_during_a_comparison_is_rechecked_not_copied():
    pair = synced_pair(nblocks=64, comparer="primary")
    p = pair.primary
    # The primary asked the secondary for a digest of block 9 (since = the write log's
    # position then); before the answer came back, the application rewrote block 9, and
    # that write is still on its way. The mismatch is expected: re-check, don't copy.
    since = p.log.seq
    p._since_q.append(since)
    pair.p.card.writeblocks(9, block(9, 7))
    p.log.add(9, 1)
    tag = p._new_epoch("bitmap")
    p._work_add(tag, 1)
    digest = checksum.digest("crc32", bytes(pair.s.card.data[9 * 512:10 * 512]))
    p.on_message(P.T_SUMS, struct.pack("<BBIIH", tag, P.F_REPLY, 1, 9, 1) + digest)
    pair.run(200, until=lambda: p.counters["rechecks"] == 1)
    assert p.counters["resync_blocks"] == 0 and p.counters["blocks_copied"] == 0
    # the re-check finds the difference is real (this write was never forwarded) and copies
    pair.run(2000, until=lambda: p.counters["resync_blocks"] == 1)
    pair.run(2000, until=pair.coherent)
    assert p.counters["blocks_copied"] == 1


def test_a_newer_secondary_is_never_overwritten():
    pair = synced_pair(nblocks=256)
    pair.disconnect()
    # the secondary was promoted elsewhere and written: its history moved on
    s = pair.secondary
    s.meta.parent = s.meta.gen
    s.meta.gen = b"promoted"
    before = bytes(pair.s.card.data)
    pair2 = Pair(nblocks=256, seed=5, cards=(pair.p.card, pair.s.card))
    pair2.secondary.meta.gen, pair2.secondary.meta.parent = s.meta.gen, s.meta.parent
    pair2.connect()
    pair2.run(2000)
    assert "refused" in pair2.p.event_names()
    assert not pair2.primary.paired
    assert bytes(pair2.s.card.data) == before


def test_diverged_histories_refuse_to_resync():
    pair = synced_pair(nblocks=256)
    pair.disconnect()
    pair.write(1, block(1, 8))  # the primary moves on: new generation
    s = pair.secondary
    s.meta.parent = s.meta.gen
    s.meta.gen = b"elsewher"  # ...and so did the secondary
    pair.connect()
    pair.run(2000)
    names = pair.p.event_names()
    assert "refused" in names and "diverged" in pair.primary.refusal
    assert pair.s.card.data[512] != block(1, 8)[0]


def test_generation_moves_on_once_per_outage_and_the_secondary_follows():
    pair = synced_pair(nblocks=256)
    p, s = pair.primary, pair.secondary
    g1 = p.meta.gen
    assert s.meta.gen == g1 and s.meta.flags & CONSISTENT
    pair.disconnect()
    pair.write(1, block(1, 9))
    g2 = p.meta.gen
    pair.write(2, block(2, 9))
    assert g2 != g1 and p.meta.gen == g2 and p.meta.parent == g1
    pair.connect()
    pair.run(20000, until=lambda: pair.synced() and s.meta.gen == g2)
    assert pair.coherent()


def test_secondary_storage_error_is_never_acknowledged():
    pair = synced_pair(nblocks=256, mode="sync")
    pair.s.fail_writes = 10 ** 6  # the secondary's card rejects every write
    token = pair.write(4, block(4, 10))
    pair.run(500)
    p = pair.primary
    # never confirmed by the secondary: the session dropped, the write completed degraded
    # and its region waits in the bitmap for the resync
    assert p.counters["degraded_acks"] >= 1
    assert p.bitmap.is_dirty(p.bitmap.region_of(4)) or p.pending.is_dirty(p.bitmap.region_of(4))
    assert pair.s.card.data[4 * 512] != block(4, 10)[0]
    pair.s.fail_writes = 0  # card works again: the region is resynced, then confirmed
    pair.run(20000, until=lambda: pair.synced() and pair.coherent() and p.durable(token))


def test_lossy_link_still_converges():
    pair = synced_pair(nblocks=512, key=KEY)
    r = rng(11)

    def fault(data):
        if r.random() < 0.1:
            return b""
        if r.random() < 0.1:
            data = bytearray(data)
            data[r.randrange(len(data))] ^= 0x20
            return bytes(data)
        return data
    pair.filter = fault
    pair.disconnect()
    for i in range(30):
        pair.write((i * 13) % 512, block(i, 11))
    pair.connect()
    for i in range(30):
        pair.write((i * 29) % 512, block(i, 12))
        pair.run(20)
    pair.run(100000, until=lambda: pair.synced() and pair.coherent())
    assert pair.primary.session.stats["retransmits"] > 0


def test_flat_scan_mode_sends_a_checksum_per_block():
    # the claims' literal method, kept as the baseline the hash tree is measured against
    tree = Pair(nblocks=2048, seed=3)
    flat = Pair(nblocks=2048, seed=3, scan_mode="flat")
    for pair in (tree, flat):
        fill(pair, 3)
        for b in (5, 700, 2047):
            pair.s.card.writeblocks(b, bytes(512))
        pair.connect()
        pair.run(50000, until=pair.synced)
        assert pair.coherent()
        assert pair.primary.counters["blocks_copied"] == 3
    assert flat.link_bytes > 2048 * 4 > tree.link_bytes


def test_a_large_dirty_region_with_one_changed_block_costs_a_few_digests():
    # issue 9: a 32 GiB card's region is 2,048 blocks; the pair descends a hash tree over
    # the region (here 512 blocks: spans of 256, 16, 1) instead of sending a digest per
    # block (2 KiB here, 8 KiB at 32 GiB)
    for comparer in ("secondary", "primary"):
        # listed_max=0: no list of the outage's writes (listed.py), so the region is compared
        pair = synced_pair(nblocks=1024, region_blocks=512, comparer=comparer, listed_max=0)
        pair.disconnect()
        pair.write(700, block(700, 7))
        pair.link_bytes = 0
        pair.connect()
        pair.run(50000, until=pair.synced)
        assert pair.coherent()
        assert pair.primary.counters["blocks_copied"] == 1
        assert pair.link_bytes < 512 + 1000, (comparer, pair.link_bytes)
