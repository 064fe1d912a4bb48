# Regressions found by the deterministic simulator (host/sdmirror/sim): each test is the
# smallest pair-level reproduction of a bug a seeded scenario hit, and fails without its
# fix. Dual-run: plain functions, pairkit and fwtest only (CPython and the MicroPython VM).
from fwtest import randbytes, rng
from pairkit import Pair, Side, fill, synced_pair

from mirror.config import Config
from mirror.node import A_READ, META_BLOCKS
from mirror.primary import Primary
from mirror.secondary import Secondary
from mirror.volume import MemBlockDevice


def _fail_reads(side, pick):
    """Make side's card fail the reads pick(block) says True for (once per True); a failed
    read leaves the buffer as it was, as an SPI driver that times out does."""
    emit = side.node.emit

    def failing(kind, a, b):
        if kind == A_READ and pick(a):
            side.done.append(False)
            return
        emit(kind, a, b)
    side.node.emit = failing


def test_a_failed_background_read_never_sends_stale_bytes():
    # sim: a read error while pushing a dirty region sent the read buffer's older bytes
    # as that block's contents; the secondary kept them and the epoch was confirmed.
    pair = synced_pair(64, region_blocks=1, whole_run=1)
    pair.disconnect()
    rng(21)
    new = bytes(randbytes(512))
    pair.write(10, new)
    armed = [1]

    def pick(block):
        if block == 10 and armed[0]:
            armed[0] = 0
            return True
        return False
    _fail_reads(pair.p, pick)
    pair.connect()
    pair.run(50000, until=pair.synced)
    assert armed[0] == 0  # the fault struck
    assert pair.coherent(), pair.differing()


def test_a_larger_secondary_card_pairs_and_converges():
    # sim: with a secondary card larger than the primary's, comparisons ran past the end
    # of the primary's volume; the blocks it asked for never came and the scan never ended.
    # spans of 16 blocks: the primary's last span ends at its block 60, the secondary's
    # did not (it went on to 64), so even a coherent pair compared different digests
    cards = (MemBlockDevice(60 + META_BLOCKS), MemBlockDevice(70))
    pair = Pair(nblocks=60, seed=2, cards=cards, cache_bytes=16)
    fill(pair, 2, both=False)
    pair.connect()
    pair.run(50000, until=pair.synced)
    assert pair.coherent(), pair.differing()


def test_a_failed_metadata_read_at_boot_is_retried():
    # sim: one read error on the metadata block at boot was taken for a blank card: the
    # primary started a new history and the pair refused to resync ("diverged").
    pair = synced_pair(64)
    gen = pair.primary.meta.gen
    side = Side(Primary, Config(role="primary"), 64, b"reboot", pair.p.card)
    armed = [1]

    def pick(block):
        if block == 64 and armed[0]:
            armed[0] = 0
            return True
        return False
    _fail_reads(side, pick)
    side.node.start(0)
    while side.done:
        side.node.io_done(side.done.pop(0), 0)
    assert armed[0] == 0
    assert side.node.ready and side.node.meta.gen == gen


def test_a_write_overtaking_a_resync_frame_is_not_undone_by_it():
    # sim: a resync push read block B, waited for window room, and the application's newer
    # write of B took that room first; the push then went out and put the older B back on
    # the secondary (and a sync-mode acknowledgement claimed the newer one was there).
    pair = synced_pair(64, mode="sync", window=1, frame_blocks=1, region_blocks=1, whole_run=1)
    p = pair.primary
    pair.disconnect()
    rng(22)
    pair.write(10, bytes(randbytes(512)))
    pair.write(11, bytes(randbytes(512)))
    pair.connect()
    # the push of 10-11 sends block 10, reads block 11 and waits for the window
    pair.run(20000, until=lambda: p.counters["blocks_copied"] == 1)
    new = bytes(randbytes(512))
    pair.p.card.writeblocks(11, new)
    token = -1
    for _ in range(2000):
        # like pair.step(), but the application gets the window before background work
        pair.now += 1
        pair.settle_io()
        pair._carry(pair.p, pair.s)
        pair._carry(pair.s, pair.p)
        pair.s.node.tick(pair.now)
        pair.settle_io()
        token = p.app_write(11, new, pair.now)
        if token >= 0:
            break
        p.tick(pair.now)
    assert token >= 0
    for _ in range(20000):
        pair.step()
        if p.durable(token):
            assert pair.s.card.data[11 * 512:12 * 512] == new
        if pair.synced():
            break
    assert pair.coherent(), pair.differing()


def test_a_region_taken_by_two_epochs_stays_pending_until_both_are_confirmed():
    # sim: a region written again (pulled ahead) while its resync epoch was open was taken
    # by a second epoch; the first epoch's confirmation cleared it from `pending`, a link
    # loss then did not mark it dirty again, and its newest contents were never resent.
    pair = synced_pair(64, window=1, frame_blocks=1, region_blocks=1, whole_run=1, max_epochs=4)
    p = pair.primary
    pair.disconnect()
    rng(23)
    pair.write(5, bytes(randbytes(512)))
    pair.connect()
    pair.run(20000, until=lambda: p.counters["blocks_copied"] == 1)
    first = [t for t in p._epochs if p._epochs[t]["first"] <= 5 <= p._epochs[t]["last"]]
    assert len(first) == 1
    pair.write(5, bytes(randbytes(512)))  # window full: pulled ahead into the bitmap
    assert p.counters["pull_ahead"] == 1
    pair.run(20000, until=lambda: first[0] not in p._epochs)
    again = [t for t in p._epochs if p._epochs[t]["first"] <= 5 <= p._epochs[t]["last"]]
    if again:  # the second epoch took region 5 and is not confirmed yet
        assert p.pending.is_dirty(5)
    pair.disconnect()
    pair.connect()
    pair.run(50000, until=pair.synced)
    assert pair.coherent(), pair.differing()


def test_a_rebooted_primary_gets_no_acknowledgement_from_the_last_session():
    # sim: writes of the old session still on their way to the secondary's card completed
    # after a primary reboot; their T_WACK (old, high write ids) reached the new primary,
    # which numbers from 1 again: writes it had just sent counted as durable, and its
    # in-flight list never drained (the resync stalled).
    pair = synced_pair(64, mode="sync")
    for i in range(12):
        pair.write(i, bytes([i + 1]) * 512)
        pair.run(200, until=lambda: pair.primary.durable(pair.primary.last_token()))
    # one more write reaches the secondary, which has not finished writing it...
    pair.p.card.writeblocks(20, bytes([99]) * 512)
    pair.primary.app_write(20, bytes([99]) * 512, pair.now)
    pair._carry(pair.p, pair.s)
    # ...when the primary loses power and boots again; its hello reaches the secondary
    # before that write is done
    pair.p = Side(Primary, Config(role="primary", mode="sync"), 64, b"P-again", pair.p.card)
    p = pair.primary
    p.start(pair.now)
    while pair.p.done:
        p.io_done(pair.p.done.pop(0), pair.now)
    p.transport_up(pair.now)
    pair._carry(pair.p, pair.s)
    assert pair.s.done  # (the write is still in the secondary's card queue)
    for _ in range(50000):
        pair.step()
        assert p.acked_wid <= p.last_token(), (p.acked_wid, p.last_token())
        if pair.synced():
            break
    assert pair.synced() and pair.coherent()


def test_a_secondary_cut_off_before_storing_synced_is_not_counted_as_synced():
    # sim: the primary marked the secondary synced when it sent T_SYNCED; the secondary lost
    # power before storing it, the primary's next write apart started a new generation
    # from there, and on reconnecting the histories looked diverged: refused for good.
    pair = synced_pair(64, seed=4)
    p = pair.primary
    pair.disconnect()
    pair.write(2, bytes([6]) * 512)  # a new generation; the secondary holds the one before
    pair.connect()
    pair.run(50000, until=lambda: p.paired and not p._syncing)
    # T_SYNCED is in the primary's transmit buffer; the secondary's power goes now
    pair.disconnect()
    pair.s = Side(Secondary, Config(role="secondary"), 64, b"S-again", pair.s.card)
    pair.s.node.start(pair.now)
    pair.settle_io()
    pair.write(3, bytes([7]) * 512)  # a write apart
    pair.connect()
    pair.run(50000, until=pair.synced)
    assert not p.counters["refused"]
    assert pair.coherent(), pair.differing()



def test_a_dirty_region_larger_than_a_frame_of_digests_resyncs():
    # issue 9: at 32 GiB (a region is 2,048 blocks) the digests of one dirty region did
    # not fit the frame buffer: struct.error in the simulator, and on the emulated pair
    # the viper CRC wrote past the buffer. Here 512-block regions, 141 digests per frame.
    for comparer in ("secondary", "primary"):
        pair = synced_pair(1024, seed=9, region_blocks=512, frame_blocks=1, whole_run=4,
                           comparer=comparer)
        pair.disconnect()
        rng(9)
        pair.write(700, bytes(randbytes(512)))
        pair.connect()
        pair.run(50000, until=pair.synced)
        assert pair.coherent(), (comparer, pair.differing())
