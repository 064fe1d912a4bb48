# The activity log (mirror/actlog.py): what it admits, what it writes, what a boot reads.
# Extents of 64 blocks here: extent e holds blocks 64 * e .. 64 * e + 63.
from mirror import actlog


def _card(log, seq=1):
    buf = bytearray(512)
    log.pack_into(buf, seq)
    return buf


def _write(log, e):
    """admit() a one-block write in extent e, writing the records it asks for."""
    n = 0
    while not log.admit(64 * e, 1):
        log.begin_record([])
        log.landed(True)
        n += 1
    return n


def test_an_extent_is_admitted_only_once_a_record_naming_it_has_landed():
    log = actlog.ActivityLog(64)
    log.restore(64, [])  # the card's log: empty, not FULL
    assert not log.admit(3 * 64 + 5, 1) and log.needs_write()
    log.begin_record([])
    assert not log.admit(3 * 64, 64)  # being written: a power cut may leave the old record
    assert actlog.load(_card(log), 1) == (64, [3])  # the record written names it
    log.landed(False)
    assert not log.admit(3 * 64, 1)  # failed: written again
    log.landed(True)
    assert log.admit(3 * 64 + 63, 1)


def test_a_writer_within_its_hot_extents_writes_no_record_and_the_oldest_goes_first():
    log = actlog.ActivityLog(64, hot=3)
    log.restore(64, [])
    assert [_write(log, e) for e in (1, 2, 3)] == [1, 1, 1]
    assert sorted(log.extents()) == [1, 2, 3]
    assert [_write(log, e) for e in (2, 1, 3, 1, 2)] == [0] * 5  # no record: all hot
    assert _write(log, 9) == 1  # a new extent: 3 was used least recently and goes
    assert sorted(log.extents()) == [1, 2, 9]
    assert not log.admit(3 * 64, 1)


def test_unconfirmed_extents_stay_whatever_the_hot_bound():
    log = actlog.ActivityLog(64, hot=1)
    log.restore(64, [1, 2])
    assert log.admit(64, 128)
    assert not log.admit(9 * 64, 1)
    log.begin_record([2, 5])  # 2 and 5 not confirmed: both stay, beside the wanted 9
    log.landed(True)
    assert log.extents() == [9, 2, 5]
    assert not log.admit(64, 1)


def test_more_unconfirmed_extents_than_it_holds_make_it_full():
    log = actlog.ActivityLog(64)
    log.restore(64, [])
    log.admit(0, 1)
    log.begin_record(range(1, actlog.CAPACITY + 1))
    log.landed(True)
    assert log.extents() is None and actlog.load(_card(log), 1) is None
    assert log.admit(5000 * 64, 128)  # FULL on the card: the next boot scans everything


def test_unknown_state_and_unadmitted_writes_are_full():
    log = actlog.ActivityLog(64)
    log.restore(64, [])
    log.admit(4 * 64, 1)
    log.begin_record(None)  # the bitmap is lost: nothing can be listed
    log.landed(True)
    assert log.extents() is None
    log.restore(64, [])
    log.want_full()
    assert log.needs_write()
    log.begin_record([])
    log.landed(True)
    assert log.extents() is None


def test_a_damaged_missing_or_foreign_log_reads_as_none():
    log = actlog.ActivityLog(64)
    log.restore(64, [0, 5])
    buf = _card(log)
    assert actlog.load(buf, 1) == (64, [0, 5])
    assert actlog.load(buf, 2) is None  # another record's log
    buf[actlog.LOG_OFFSET + 15] ^= 1
    assert actlog.load(buf, 1) is None
    assert actlog.load(bytearray(512), 1) is None  # older firmware wrote no log


def test_a_log_of_another_extent_size_names_nothing_in_the_new_one():
    log = actlog.ActivityLog(128)
    log.restore(64, [0, 5])  # the caller marks their blocks in the bitmap instead
    assert log.extents() == [] and not log.admit(0, 1)


def test_a_write_across_two_extents_gets_both_in_one_record():
    # sim seed 0: a write over regions 5 and 6 while a record naming only 5 was on its way;
    # the next record named 6 and dropped 5 (confirmed), the next 5 and dropped 6, forever
    log = actlog.ActivityLog(64, hot=1)
    log.restore(64, [])
    assert not log.admit(5 * 64, 1)
    log.begin_record([])
    assert not log.admit(5 * 64 + 63, 2)
    log.landed(True)
    assert log.needs_write()
    log.begin_record([])  # 5 is confirmed by now: only the wanted extents keep it
    log.landed(True)
    assert log.admit(5 * 64 + 63, 2)


def test_a_torn_write_cannot_pair_a_new_record_with_the_slots_older_log():
    # sim seeds 785727097, 785727688, 785731516: a power cut 48 bytes into a metadata
    # write left record n + 2 (complete, its CRC right) over record n's log, which named
    # another region. A CRC over a record and its own CRC is one constant for every
    # record, so no CRC of the block can see it: the log names the record it goes with.
    from mirror.meta import Meta, load
    m = Meta()
    m.role = 1
    log = actlog.ActivityLog(1)
    log.restore(1, [0])
    old = bytearray(512)
    m.seq = 4
    m.pack_into(old)
    log.pack_into(old, m.seq)
    assert actlog.load(old, 4) == (1, [0])
    log.restore(1, [2, 3, 1])
    new = bytearray(512)
    m.seq = 6
    m.pack_into(new)
    log.pack_into(new, m.seq)
    torn = bytearray(new[:48]) + old[48:]  # the cut: only the first 48 bytes landed
    rec, state = load([(True, torn)])
    assert state == "ok" and rec.seq == 6  # the record itself is whole
    assert actlog.load(torn, rec.seq) is None  # and the log behind it is not its own
    assert actlog.load(new, 6) == (1, [2, 3, 1])


def test_exceeds_counts_wanted_and_unconfirmed_extents_once_each():
    log = actlog.ActivityLog(64)
    log.restore(64, [])
    assert not log.admit(5 * 64, 1)  # extent 5 wanted
    assert not log.exceeds([1, 2, 1, 5], 3)  # {5, 1, 2}
    assert log.exceeds([1, 2, 3], 3)
    assert not log.exceeds(range(6, 52), actlog.CAPACITY)  # 47 with extent 5
    assert log.exceeds(range(6, 53), actlog.CAPACITY)
