# The activity log's back-pressure (Primary._backlogged): a writer faster than the link
# waits for confirmations rather than push the log past al_backlog extents.
from pairkit import block, synced_pair


_EXT = 64  # blocks per extent here


def _pair(**kw):
    cfg = dict(actlog=1, al_extent_blocks=_EXT, region_blocks=4, mode="async", window=2)
    cfg.update(kw)
    return synced_pair(nblocks=64 * _EXT, **cfg)


def _admit(pair, b):
    """admit() a one-block write at b, letting metadata writes land (not the link)."""
    p = pair.primary
    for _ in range(20):
        if p.admit(b, 1, pair.now):
            return True
        pair.settle_io()
    return False


def test_a_writer_that_outruns_the_link_waits_for_its_backlog_to_be_confirmed():
    pair = _pair(al_backlog=3)
    p = pair.primary
    pair.link_up = False  # frames are lost on the wire: nothing is confirmed
    for e in range(3):
        assert _admit(pair, e * _EXT)
        pair.p.card.writeblocks(e * _EXT, block(e))
        p.app_write(e * _EXT, block(e), pair.now)
    assert not _admit(pair, 3 * _EXT)  # a fourth extent: the write waits
    assert p.counters["log_waits"] == 1 and p.next_deadline() is not None
    pair.link_up = True
    pair.run(20000, until=lambda: _admit(pair, 3 * _EXT))
    assert p.paired and not p.actlog.dur_full


def test_the_wait_is_bounded_and_an_unpaired_primary_never_waits():
    pair = _pair(al_backlog=1)
    p = pair.primary
    pair.link_up = False
    assert _admit(pair, 0)
    pair.p.card.writeblocks(0, block(0))
    p.app_write(0, block(0), pair.now)
    assert not _admit(pair, _EXT)
    pair.now += 5000  # the longest wait: then the write goes on
    assert _admit(pair, _EXT)
    pair.disconnect()
    for e in range(2, 6):
        assert _admit(pair, e * _EXT)  # unpaired: the log records the outage
