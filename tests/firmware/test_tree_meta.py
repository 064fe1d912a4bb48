# Hash-tree spans, the write log, metadata blocks and generation relations, config checks.
from fwtest import raises, randbytes, rng

from mirror import checksum
from mirror.config import Config
from mirror.meta import ZERO, Meta, relation
from mirror.tree import SpanHasher, height_of, span_for
from mirror.writelog import WriteLog

CRC = checksum.get("crc32")


def blocks(n, seed=1):
    rng(seed)
    return [bytes(randbytes(512)) for _ in range(n)]


def span_digest(hasher, blks, span):
    hasher.begin(span)
    for b in blks:
        hasher.add(b)
    out = bytearray(hasher.size)
    hasher.finish_into(out, 0)
    return bytes(out)


def test_span_of_one_block_is_the_block_checksum():
    h = SpanHasher(CRC, 256)
    b = blocks(1)
    assert span_digest(h, b, 1) == checksum.digest("crc32", b[0])


def test_span_of_16_is_the_checksum_of_the_16_block_checksums():
    h = SpanHasher(CRC, 256)
    b = blocks(16)
    leaves = b"".join(checksum.digest("crc32", x) for x in b)
    assert span_digest(h, b, 16) == checksum.digest("crc32", leaves)


def test_span_of_256_is_a_two_level_tree():
    h = SpanHasher(checksum.get("sha256"), 256)
    b = blocks(256)
    mids = b"".join(checksum.digest("sha256", b"".join(
        checksum.digest("sha256", x) for x in b[i:i + 16])) for i in range(0, 256, 16))
    assert span_digest(h, b, 256) == checksum.digest("sha256", mids)


def test_partial_span_hashes_the_children_it_has():
    h = SpanHasher(CRC, 256)
    b = blocks(20)
    first = checksum.digest("crc32", b"".join(checksum.digest("crc32", x) for x in b[:16]))
    rest = checksum.digest("crc32", b"".join(checksum.digest("crc32", x) for x in b[16:]))
    assert span_digest(h, b, 256) == checksum.digest("crc32", first + rest)


def test_one_changed_byte_changes_the_span_digest():
    h = SpanHasher(CRC, 256)
    b = blocks(256)
    d1 = span_digest(h, b, 256)
    x = bytearray(b[200])
    x[17] ^= 1
    b[200] = bytes(x)
    assert span_digest(h, b, 256) != d1


def test_spans_must_be_powers_of_16():
    assert height_of(1) == 0 and height_of(4096) == 3
    raises(ValueError, height_of, 32)
    raises(ValueError, SpanHasher(CRC, 16).begin, 256)


def test_span_for_keeps_the_group_count_within_the_cache():
    assert span_for(131072, 512) == 256
    assert span_for(131072, 64) == 4096
    assert span_for(100, 512) == 1


def test_write_log_tells_which_blocks_were_written_since():
    log = WriteLog(4)
    log.add(10, 2)
    since = log.seq
    assert not log.touched_since(since, 10)
    log.add(100, 8)
    assert log.touched_since(since, 107) and not log.touched_since(since, 108)
    assert not log.touched_since(since, 10)
    for i in range(5):
        log.add(1000 + i, 1)
    assert log.touched_since(since, 5)  # forgotten that far back: cannot rule it out


def test_meta_round_trip_and_damage():
    m = Meta()
    m.role, m.flags, m.gen, m.parent = 1, 3, b"G" * 8, b"P" * 8
    buf = bytearray(512)
    m.pack_into(buf)
    n = Meta()
    assert n.unpack(buf) and (n.role, n.flags, n.gen, n.parent) == (1, 3, b"G" * 8, b"P" * 8)
    buf[20] ^= 1
    assert not n.unpack(buf) and n.gen == ZERO
    assert not n.unpack(bytearray(512))


def test_generation_relations():
    g1, g2, g3 = b"1" * 8, b"2" * 8, b"3" * 8
    assert relation(g1, ZERO, g1, ZERO) == "same"
    assert relation(g2, g1, g1, ZERO) == "behind"
    assert relation(g1, ZERO, ZERO, ZERO) == "blank"
    assert relation(g1, ZERO, g3, g1) == "newer"
    assert relation(g2, g1, g3, g1) == "diverged"


def test_config_rejects_bad_settings_with_a_clear_message():
    assert "unknown setting 'windw'" in str(raises(ValueError, Config, windw=3))
    assert "role" in str(raises(ValueError, Config, role="tertiary"))
    assert "key" in str(raises(ValueError, Config, key=b"short"))
    assert "window" in str(raises(ValueError, Config, window=0))
    assert Config(frame_blocks=2).max_payload == 2 * 512 + 64


def test_idle_policy_keeps_background_work_off_a_busy_card():
    from mirror.sched import IdlePolicy
    pol = IdlePolicy(quiet_ms=5)
    assert pol.may_idle(0)
    pol.foreground(100)
    assert not pol.may_idle(101) and not pol.may_idle(104)
    assert pol.may_idle(105) and pol.next_chance() == 105


def test_add_chunk_equals_adding_block_by_block():
    h = SpanHasher(CRC, 256)
    b = blocks(40, seed=4)
    chunk = bytearray(b"".join(b))
    h.begin(256)
    h.add_chunk(memoryview(chunk)[:24 * 512], 24)
    h.add_chunk(memoryview(chunk)[24 * 512:], 16)
    out = bytearray(4)
    h.finish_into(out, 0)
    assert bytes(out) == span_digest(h, b, 256)


def test_the_newest_valid_metadata_slot_wins_and_a_torn_one_is_passed_over():
    from mirror.meta import load
    a, b = Meta(), Meta()
    a.gen, a.seq = b"old-gen!", 6
    b.gen, b.seq = b"new-gen!", 7
    sa, sb = bytearray(512), bytearray(512)
    a.pack_into(sa)
    b.pack_into(sb)
    m, state = load([(True, sa), (True, sb)])
    assert state == "ok" and m.gen == b"new-gen!" and m.seq == 7
    sb[10:200] = bytes(190)  # record 7 torn by a power cut: record 6 still stands
    m, state = load([(True, sa), (True, sb)])
    assert state == "ok" and m.gen == b"old-gen!"
    assert load([(True, bytearray(512)), (True, bytearray(512))])[1] == "blank"
    assert load([(False, bytearray(512)), (True, bytearray(512))])[1] == "unreadable"


def test_the_activity_log_and_the_metadata_share_a_block_without_overlap():
    # meta.py: record + lost blocks (up to LOST_MAX) first; actlog.py: the log after them
    from mirror import actlog
    from mirror.meta import LOST_MAX, Meta
    m = Meta()
    m.lost = list(range(1000, 1000 + LOST_MAX))
    buf = bytearray(512)
    m.pack_into(buf)
    log = actlog.ActivityLog(64)
    log.restore(64, list(range(actlog.CAPACITY)))
    log.pack_into(buf, m.seq)  # a full log right after a full lost list
    back = Meta()
    assert back.unpack(buf) and back.lost == m.lost
    assert actlog.load(buf, m.seq) == (64, list(range(actlog.CAPACITY)))


def test_a_torn_write_cannot_pair_a_new_record_with_the_slots_older_lost_list():
    # as for the activity log (test_actlog): the record can land whole over an older
    # list whose own CRC still checks; the list's CRC takes in the record's seq
    from mirror.meta import Meta
    m = Meta()
    m.seq = 3
    m.lost = [7, 9]
    old = bytearray(512)
    m.pack_into(old)
    m.seq = 5
    m.lost = []
    new = bytearray(512)
    m.pack_into(new)
    back = Meta()
    assert back.unpack(bytearray(new[:40]) + old[40:]) and back.seq == 5
    assert back.lost == []  # not the older record's 7 and 9
    assert back.unpack(old) and back.lost == [7, 9]


def test_after_a_failed_metadata_write_the_next_one_takes_the_same_slot():
    # sim seed 122295230: writes failed on both slots in turn (each retry took the other
    # slot, over the only good record); then a power cut tore the next record: no slot
    # held a record, the card read as blank and started a new history. A failed slot is
    # written again until it takes, the other keeping the newest record.
    from pairkit import synced_pair
    pair = synced_pair(nblocks=64)
    p, card = pair.primary, pair.p.card

    def slot(i):
        return bytes(card.data[(64 + i) * 512:(65 + i) * 512])
    good = p.meta.seq & 1
    kept = slot(good)
    pair.p.dead = True  # a write error
    p._write_meta()
    pair.settle_io()
    pair.p.dead = False
    p._write_meta()  # the next record (before the retry's tick)
    pair.settle_io()
    assert slot(good) == kept and p.meta.seq & 1 == 1 - good  # in the failed slot
    back = Meta()
    assert back.unpack(slot(1 - good)) and back.seq == p.meta.seq
    p._write_meta()
    pair.settle_io()
    assert slot(good) != kept  # then they alternate again
