# A card that has failed (issue 12, detach.py): the primary detaches its card after
# card_errors failures in a row and serves the application from the secondary; a card that
# returns gets what it lacks from the secondary. Runs under CPython and MicroPython.
from pairkit import block, raises_oserror, read_blocks, synced_pair

from mirror import meta as metadata
from mirror.config import Config
from mirror.node import META_BLOCKS
from mirror.volume import MemBlockDevice


def _dead_pair(**kw):
    """A synced pair whose primary's card has just died, detached by failing writes.
    (actlog=0 unless given: so each failing write is one card error; with the log, the
    record before the first write fails first, and its retries count as errors too.)"""
    kw.setdefault("actlog", 0)
    pair = synced_pair(nblocks=256, region_blocks=8, **kw)
    vol = pair.volume()
    pair.p.dead = True
    fails = 0
    while raises_oserror(lambda: vol.writeblocks(200, block(200, 9))):
        fails += 1
        assert fails < 50 and pair.primary.detached is None
    assert pair.primary.detached is not None  # the write that detached it was served
    return pair, vol, fails


def _sec(pair, b):
    return bytes(pair.s.card.data[b * 512:(b + 1) * 512])


def test_card_errors_is_a_validated_setting():
    assert Config().card_errors == 8
    for bad in (-1, 1001, "8"):
        try:
            Config(card_errors=bad)
        except ValueError as e:
            assert "card_errors" in str(e) and "\n" not in str(e)
        else:
            raise AssertionError("card_errors=%r accepted" % (bad,))


def test_repeated_errors_detach_the_card_and_say_so():
    pair, vol, fails = _dead_pair()
    p = pair.primary
    assert fails == p.cfg.card_errors - 1
    st = p.status()
    assert st["detached"] and st["card"].startswith("failed (detached)")
    assert p.counters["card_failures"] == 1
    assert "card_failed" in pair.p.event_names()
    assert _sec(pair, 200) == block(200, 9)


def test_a_bad_sector_alone_does_not_detach():
    pair = synced_pair(nblocks=256)
    pair.p.bad.add(9)
    vol = pair.volume()
    for _ in range(20):
        assert read_blocks(vol, 9) == _sec(pair, 9)  # healed each time, never 8 in a row
        pair.p.bad.add(9)
    assert pair.primary.detached is None and pair.primary.status()["card"] == "ok"


def test_card_errors_zero_never_detaches():
    # actlog=0: each write fails at the card (with the log it would wait for a record that
    # cannot land, the metadata write retried every tick, until the volume's timeout)
    pair = synced_pair(nblocks=128, card_errors=0, actlog=0)
    vol = pair.volume()
    pair.p.dead = True
    for _ in range(30):
        assert raises_oserror(lambda: vol.writeblocks(1, block(1)))
    assert pair.primary.detached is None


def test_reads_and_writes_are_served_from_the_secondary_while_detached():
    pair, vol, _ = _dead_pair()  # async mode: detached writes wait for the secondary still
    p = pair.primary
    vol.writeblocks(10, block(10, 1) + block(11, 1))
    assert _sec(pair, 10) == block(10, 1) and _sec(pair, 11) == block(11, 1)
    assert p.durable(p.last_token())
    assert read_blocks(vol, 10, 2) == block(10, 1) + block(11, 1)
    # a read longer than a frame comes in pieces
    many = read_blocks(vol, 0, 20)
    assert many == bytes(pair.s.card.data[:20 * 512])
    assert p.counters["detached_reads"] == 2 and p.counters["detached_writes"] == 2
    assert vol.ioctl(3, 0) == 0  # sync: the last write is on the secondary
    assert pair.p.card.data[10 * 512] != block(10, 1)[0]  # our card was not touched


def test_detaching_starts_a_generation_the_secondary_records():
    pair, vol, _ = _dead_pair()
    p = pair.primary
    assert p.meta.parent == p.detached.card_gen and p.meta.gen != p.meta.parent
    pair.run(20000, until=lambda: pair.secondary.meta.gen == p.meta.gen)
    assert pair.secondary.status()["consistent"]


def test_a_reset_while_detached_with_the_card_working_again_is_refused_not_copied_over():
    pair, vol, _ = _dead_pair()
    pair.run(20000, until=lambda: pair.secondary.meta.gen == pair.primary.meta.gen)
    vol.writeblocks(10, block(10, 1))  # on the secondary's card only
    pair.disconnect()
    pair.p.dead = False
    p = pair.p.switch("primary", pair.now, False)  # its card, with the older generation
    assert p.detached is None
    pair.connect()
    pair.run(3000)
    # refused (the secondary's record of the new generation has no parent: "diverged")
    assert not p.paired and "diverged" in p.refusal and p.split
    assert _sec(pair, 10) == block(10, 1)  # the detached write survives


def test_secondary_gone_while_detached_is_an_error_never_invented_data():
    pair, vol, _ = _dead_pair(degraded_ms=300)
    p = pair.primary
    pair.disconnect()
    assert raises_oserror(lambda: read_blocks(vol, 5))
    assert raises_oserror(lambda: vol.writeblocks(5, block(5, 3)))
    assert _sec(pair, 5) != block(5, 3)
    # a write waiting for the secondary when the session is lost fails, it is not acked
    pair.connect()
    pair.run(20000, until=lambda: p.paired)
    token = p.app_write(6, block(6, 4), pair.now)
    pair.disconnect()
    pair.connect()
    assert p.never(token) and not p.durable(token)
    pair.run(20000, until=lambda: p.paired)
    vol.writeblocks(7, block(7, 4))  # paired again: served
    assert _sec(pair, 7) == block(7, 4)


def _reattach(pair):
    p = pair.primary
    assert p.attach(pair.p.card.nblocks, pair.now) is None
    pair.run(50000, until=lambda: p.detached is None)
    pair.run(50000, until=pair.synced)


def _card_meta(pair):
    card = pair.p.card
    slots = []
    for slot in range(metadata.SLOTS):
        buf = bytearray(512)
        card.readblocks(pair.primary.nblocks + slot, buf)
        slots.append((True, buf))
    return metadata.load(slots)


def test_the_same_card_back_gets_only_the_blocks_written_meanwhile():
    pair, vol, _ = _dead_pair()
    p = pair.primary
    for b in (30, 31, 100):
        vol.writeblocks(b, block(b, 5))
    # attached while it still answers nothing: its record cannot be read, it stays out
    assert p.attach(pair.p.card.nblocks, pair.now) is None
    pair.settle_io()
    assert "metadata blocks cannot be read" in p.status()["card"] and p.detached is not None
    pair.p.dead = False
    _reattach(pair)
    assert pair.coherent() and p.status()["card"] == "ok"
    # regions of 8 blocks: 200's (the write that detached), 30/31's and 100's
    assert p.counters["copied_back"] == 3 * 8
    names = pair.p.event_names()
    assert "card_probe" in names and "card_back" in names
    m, state = _card_meta(pair)
    assert state == "ok" and m.gen == p.meta.gen
    vol.writeblocks(40, block(40, 6))  # the card is in use again
    assert bytes(pair.p.card.data[40 * 512:41 * 512]) == block(40, 6)
    assert read_blocks(vol, 100) == block(100, 5)


def test_a_replaced_card_gets_every_block():
    pair, vol, _ = _dead_pair()
    p = pair.primary
    vol.writeblocks(12, block(12, 7))
    pair.p.card = MemBlockDevice(pair.nblocks + META_BLOCKS)  # a blank card
    pair.p.dead = False
    _reattach(pair)
    assert pair.coherent() and p.counters["copied_back"] == pair.nblocks
    assert "another card" in [d for n, d in pair.p.events if n == "card_back"][0]
    m, state = _card_meta(pair)
    assert state == "ok" and m.gen == p.meta.gen


def test_attach_refuses_wrong_uses_and_changes_nothing():
    pair = synced_pair(nblocks=128)
    p = pair.primary
    assert "not detached" in p.attach(pair.p.card.nblocks, pair.now)
    pair, vol, _ = _dead_pair()
    p = pair.primary
    problem = p.attach(pair.p.card.nblocks * 2, pair.now)
    assert "blocks" in problem and "same size" in problem and p.detached is not None
    assert not pair.p.done  # nothing was read or written


def test_a_returned_card_that_fails_again_stays_detached():
    pair, vol, _ = _dead_pair()
    p = pair.primary
    pair.p.dead = False
    pair.p.fail_writes = 1  # the copy's first write fails
    assert p.attach(pair.p.card.nblocks, pair.now) is None
    pair.run(5000, until=lambda: "returned card failed" in p.status()["card"])
    assert p.detached is not None
    vol.writeblocks(50, block(50, 8))  # still served from the secondary
    _reattach(pair)  # a second attach completes
    assert pair.coherent()


def test_writes_during_the_copy_are_copied_again():
    pair, vol, _ = _dead_pair()
    p = pair.primary
    pair.p.card = MemBlockDevice(pair.nblocks + META_BLOCKS)
    pair.p.dead = False
    assert p.attach(pair.p.card.nblocks, pair.now) is None
    pair.run(50000, until=lambda: p.detached.copied >= 64)  # part of the copy
    assert p.detached is not None
    for b in (0, 255):  # a region already copied and one still to come
        vol.writeblocks(b, block(b, 11))
    pair.run(50000, until=lambda: p.detached is None)
    pair.run(50000, until=pair.synced)
    assert pair.coherent() and read_blocks(vol, 0) == block(0, 11)


# -- a card that fails at boot ------------------------------------------------------------
def _boot_dead(pair):
    """The primary resets with a card that answers nothing (boardkit's FailedCard)."""
    pair.disconnect()
    pair.p.dead = True
    p = pair.p.switch("primary", pair.now, False)
    assert p.ready and p.detached is not None and p.detached.boot
    assert "failed at boot" in p.status()["card"]
    assert "fatal" not in pair.p.event_names()
    return p


def test_a_card_dead_at_boot_serves_from_a_consistent_secondary():
    pair = synced_pair(nblocks=256, region_blocks=8)
    gen = pair.primary.meta.gen
    p = _boot_dead(pair)
    pair.connect()
    pair.run(20000, until=lambda: p.paired)
    # the secondary's history, then a new generation of its own: our card is older
    assert p.meta.parent == gen and "adopted" in pair.p.event_names()
    pair.run(20000, until=lambda: pair.secondary.meta.gen == p.meta.gen)
    vol = pair.volume()
    assert read_blocks(vol, 17) == _sec(pair, 17)
    vol.writeblocks(17, block(17, 2))
    assert _sec(pair, 17) == block(17, 2)
    pair.p.dead = False  # the same card answers again: its contents are unknown, copied whole
    _reattach(pair)
    assert pair.coherent() and p.counters["copied_back"] == pair.nblocks
    m, state = _card_meta(pair)
    assert state == "ok" and m.gen == p.meta.gen


def test_a_card_dead_at_boot_with_no_complete_copy_is_refused():
    from pairkit import Pair
    pair = Pair(nblocks=64)  # the secondary never finished a resync
    p = _boot_dead(pair)
    pair.connect()
    pair.run(2000)
    assert not p.paired and "no complete copy" in p.refusal and "\n" not in p.refusal
    assert raises_oserror(lambda: read_blocks(pair.volume(), 1))


def test_without_card_errors_a_card_dead_at_boot_is_fatal_as_before():
    pair = synced_pair(nblocks=64, card_errors=0)
    pair.disconnect()
    pair.p.dead = True
    p = pair.p.switch("primary", pair.now, False)
    assert not p.ready and p.detached is None and "fatal" in pair.p.event_names()


def test_detached_while_the_secondary_is_behind_serves_what_it_holds_and_refuses_writes():
    pair = synced_pair(nblocks=256, region_blocks=8)
    vol = pair.volume()
    pair.disconnect()
    vol.writeblocks(5, block(5, 1))  # on our card only: a new generation, region 0 dirty
    gen = pair.primary.meta.gen
    pair.p.dead = True
    for _ in range(20):  # (unpaired: a detached write fails too)
        assert raises_oserror(lambda: vol.writeblocks(100, block(100, 2)))
        if pair.primary.detached is not None:
            break
    p = pair.primary
    assert "writes fail" in p.status()["card"] and p.meta.gen == gen  # no new generation
    pair.connect()
    pair.run(20000, until=lambda: p.paired)
    assert raises_oserror(lambda: read_blocks(vol, 5))  # its newest data is on our card alone
    assert read_blocks(vol, 200) == _sec(pair, 200)  # a clean region: the secondary holds it
    assert raises_oserror(lambda: vol.writeblocks(200, block(200, 3)))
    assert _sec(pair, 200) != block(200, 3)
    pair.p.dead = False
    _reattach(pair)  # the same card: the resync it owed then carries block 5
    assert pair.coherent() and _sec(pair, 5) == block(5, 1)


def test_a_region_with_unconfirmed_writes_on_the_failed_card_is_not_written_over():
    pair = synced_pair(nblocks=256, region_blocks=8)
    vol = pair.volume()
    p = pair.primary
    pair.per_step = 0  # the link carries nothing for now: the write stays unconfirmed
    vol.writeblocks(4, block(4, 1))  # async: on our card, on its way
    pair.p.dead = True
    for _ in range(20):
        if raises_oserror(lambda: vol.writeblocks(100, block(100, 2))) is False:
            break
    assert p.detached is not None
    pair.per_step = 1 << 30
    pair.disconnect()  # the write to block 4 was never confirmed: its region goes dirty
    pair.connect()
    pair.run(20000, until=lambda: p.paired)
    assert p.bitmap.is_dirty(p.bitmap.region_of(4))
    # its region's newest data is on the failed card alone: no reads, no writes there
    assert raises_oserror(lambda: read_blocks(vol, 5))
    assert raises_oserror(lambda: vol.writeblocks(5, block(5, 3)))
    vol.writeblocks(100, block(100, 4))  # another region: served
    pair.p.dead = False
    _reattach(pair)  # the same card: block 4 reaches the secondary by the bitmap
    assert pair.coherent() and _sec(pair, 4) == block(4, 1) and _sec(pair, 100) == block(100, 4)


def test_with_the_activity_log_a_dead_card_detaches_on_the_records_failures():
    pair, vol, fails = _dead_pair(actlog=1)
    assert fails == 0  # the first write's log record failed card_errors times: detached
    assert pair.primary.counters["detached_writes"] == 1
    assert _sec(pair, 200) == block(200, 9)
