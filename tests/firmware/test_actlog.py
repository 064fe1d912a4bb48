# The activity log (mirror/actlog.py): what it admits, what it writes, what a boot reads.
from mirror import actlog


def _card(log, seq=1):
    buf = bytearray(512)
    log.pack_into(buf, seq)
    return buf


def test_a_region_is_admitted_only_once_a_record_naming_it_has_landed():
    log = actlog.ActivityLog(64)
    log.restore([])  # the card's log: empty, not FULL
    assert not log.admit(3, 3) and log.needs_write()
    log.begin_record([])
    assert not log.admit(3, 3)  # being written: a power cut may leave the old record
    assert actlog.load(_card(log), 64, 1) == [3]  # the record written names it
    log.landed(False)
    assert not log.admit(3, 3)  # failed: written again
    log.landed(True)
    assert log.admit(3, 3)  # (asked for again meanwhile: one more record, harmless)


def test_confirmed_regions_leave_the_log_at_the_next_record():
    log = actlog.ActivityLog(64)
    log.restore([1, 2])
    assert log.admit(1, 2)
    assert not log.admit(9, 9)
    log.begin_record([2])  # region 1 confirmed since, region 2 not
    log.landed(True)
    assert log.regions() == [9, 2]
    assert not log.admit(1, 1)


def test_more_unconfirmed_regions_than_it_holds_make_it_full():
    log = actlog.ActivityLog(64)
    log.restore([])
    log.admit(0, 0)
    log.begin_record(range(1, actlog.CAPACITY + 1))
    log.landed(True)
    assert log.regions() is None and actlog.load(_card(log), 64, 1) is None
    assert log.admit(5000, 5001)  # FULL on the card: the next boot scans everything


def test_unknown_state_and_unadmitted_writes_are_full():
    log = actlog.ActivityLog(64)
    log.restore([])
    log.admit(4, 4)
    log.begin_record(None)  # the bitmap is lost: nothing can be listed
    log.landed(True)
    assert log.regions() is None
    log.restore([])
    log.want_full()
    assert log.needs_write()
    log.begin_record([])
    log.landed(True)
    assert log.regions() is None


def test_a_damaged_or_missing_log_reads_as_none_and_other_region_sizes_convert():
    log = actlog.ActivityLog(64)
    log.restore([0, 5])
    buf = _card(log)
    assert actlog.load(buf, 64, 1) == [0, 5]
    assert actlog.load(buf, 32, 1) == [0, 1, 10, 11]  # each old region as the new ones it spans
    assert actlog.load(buf, 128, 1) == [0, 2]
    buf[actlog.LOG_OFFSET + 11] ^= 1
    assert actlog.load(buf, 64, 1) is None
    assert actlog.load(bytearray(512), 64, 1) is None  # older firmware wrote no log


def test_a_write_across_two_regions_gets_both_in_one_record():
    # sim seed 0: a write over regions 5 and 6 while a record naming only 5 was on its way;
    # the next record named 6 and dropped 5 (confirmed), the next 5 and dropped 6, forever
    log = actlog.ActivityLog(64)
    log.restore([])
    assert not log.admit(5, 5)
    log.begin_record([])
    assert not log.admit(5, 6)
    log.landed(True)
    assert log.needs_write()
    log.begin_record([])  # 5 is confirmed by now: only the wanted regions keep it
    log.landed(True)
    assert log.admit(5, 6)


def test_a_torn_write_cannot_pair_a_new_record_with_the_slots_older_log():
    # sim seeds 785727097, 785727688, 785731516: a power cut 48 bytes into a metadata
    # write left record n + 2 (complete, its CRC right) over record n's log, which named
    # another region. A CRC over a record and its own CRC is one constant for every
    # record, so no CRC of the block can see it: the log names the record it goes with.
    from mirror.meta import Meta, load
    m = Meta()
    m.role = 1
    log = actlog.ActivityLog(1)
    log.restore([0])
    old = bytearray(512)
    m.seq = 4
    m.pack_into(old)
    log.pack_into(old, m.seq)
    assert actlog.load(old, 1, 4) == [0]
    log.restore([2, 3, 1])
    new = bytearray(512)
    m.seq = 6
    m.pack_into(new)
    log.pack_into(new, m.seq)
    torn = bytearray(new[:48]) + old[48:]  # the cut: only the first 48 bytes landed
    rec, state = load([(True, torn)])
    assert state == "ok" and rec.seq == 6  # the record itself is whole
    assert actlog.load(torn, 1, rec.seq) is None  # and the log behind it is not its own
    assert actlog.load(new, 1, 6) == [2, 3, 1]
