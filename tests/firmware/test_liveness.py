# Session liveness (session.py, top): keepalives only when nothing else went out, probes
# when an idle peer's keepalive is overdue, and dead-peer detection with and without frames
# in flight. Issue 9's goal: <= 2 B per second of an idle (long-scanning) keyed pair.
from test_session import Link, send_all


def _up(link):
    assert link.run(100, lambda: link.a.established and link.b.established)


def _idle_bytes(framing):
    link = Link(framing=framing)
    _up(link)
    out0 = link.a.stats["bytes_out"] + link.b.stats["bytes_out"]
    ka0 = link.a.stats["keepalive_bytes"] + link.b.stats["keepalive_bytes"]
    steps = 60000  # 300 s of an idle, keyed pair (5 ms a step)
    link.run(steps, lambda: False)
    out = link.a.stats["bytes_out"] + link.b.stats["bytes_out"] - out0
    ka = link.a.stats["keepalive_bytes"] + link.b.stats["keepalive_bytes"] - ka0
    assert not link.ua.lost and not link.ub.lost
    return out, ka, steps * 5 / 1000.0


def test_an_idle_keyed_pair_sends_at_most_2_bytes_a_second():
    for framing in ("cobs", "length"):
        out, ka, secs = _idle_bytes(framing)
        assert ka == out and out > 0  # only keepalives went out, and some did
        assert out / secs <= 2.0, (framing, out / secs)


def test_no_keepalive_while_frames_go_out():
    link = Link()
    _up(link)
    ka0 = link.a.stats["keepalive_bytes"] + link.b.stats["keepalive_bytes"]
    for i in range(200):  # a message every second for 200 s: each one proves both alive
        assert send_all(link, [b"m%d" % i])
        link.run(200, lambda: False)
    assert link.a.stats["keepalive_bytes"] + link.b.stats["keepalive_bytes"] == ka0


def test_a_lost_keepalive_is_made_good_by_a_probe():
    link = Link()
    _up(link)
    drop = [0]

    def fault(data):  # b's next keepalive is lost on the way
        if drop[0] == 0 and link.b.stats["keepalive_bytes"]:
            drop[0] = 1
            return b""
        return data
    link.fault = fault
    link.run(20000, lambda: False)  # 100 s
    assert drop[0] == 1 and not link.ua.lost and not link.ub.lost
    assert send_all(link, [b"still up"])


def test_a_cut_with_frames_in_flight_is_noticed_within_dead_ms():
    link = Link()
    _up(link)
    link.run(2000, lambda: False)  # 10 s idle: the last frame from b is old
    link.cut = True
    t0 = link.now
    assert link.a.send(0x20, b"into the void", link.now)
    assert link.run(3000, lambda: link.ua.lost)
    assert link.now - t0 <= link.a.cfg.dead_ms + 10


def test_a_probe_is_answered_at_once_and_an_answer_is_no_probe():
    link = Link()
    _up(link)
    a, b = link.a, link.b
    a._ack_due = link.now
    a._keepalive = a._probe = True
    sent = b.stats["frames_out"]
    link.step()  # a's probe reaches b; b answers on its next tick
    link.step()
    assert b.stats["frames_out"] == sent + 1
    link.run(20, lambda: False)
    assert b.stats["frames_out"] == sent + 1  # a did not answer the answer
