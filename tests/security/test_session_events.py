"""Hypothesis over the session: two ends under a random sequence of events (open, close,
restart, ticks, sends, bytes dropped/corrupted/duplicated/replayed, garbage injected)
never raise, keep their window invariants, and whatever is delivered is delivered in order
and exactly once, and only what was sent."""
from hypothesis import HealthCheck, given, settings, strategies as st

from mirror.config import Config
from mirror.session import Session

KEY = b"0123456789abcdef0123456789abcdef"


class Upper:
    def __init__(self):
        self.got = []

    def on_message(self, ftype, payload):
        self.got.append(bytes(payload))

    def on_established(self, info):
        pass

    def on_lost(self, reason):
        pass

    def on_window(self):
        pass

    def hello_info(self):
        return b"i"


EVENTS = st.one_of(
    st.tuples(st.just("send"), st.integers(0, 200)),
    st.tuples(st.just("step"), st.integers(1, 400)),
    st.tuples(st.just("drop"), st.integers(0, 1)),
    st.tuples(st.just("corrupt"), st.integers(0, 1000)),
    st.tuples(st.just("dup"), st.integers(0, 1)),
    st.tuples(st.just("replay"), st.integers(0, 50)),
    st.tuples(st.just("garbage"), st.binary(max_size=80)),
    st.tuples(st.just("restart"), st.integers(0, 1)),
    st.tuples(st.just("close"), st.integers(0, 1)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.booleans(), st.integers(1, 7), st.lists(EVENTS, max_size=80))
def test_random_event_sequences(keyed, window, events):
    key = KEY if keyed else None
    ua, ub = Upper(), Upper()
    a = Session(Config(key=key, window=window), ua, b"a")
    b = Session(Config(key=key, window=window), ub, b"b")
    now = 0
    a.open(now)
    b.open(now)
    sent = []
    seen = []
    mode = {"drop": 0, "dup": 0, "corrupt": -1}

    def carry(src, dst):
        data = bytes(src.tx_view())
        src.tx_done(len(data))
        if not data:
            return
        seen.append((dst, data))
        if mode["drop"]:
            mode["drop"] = 0
            return
        if mode["corrupt"] >= 0:
            d = bytearray(data)
            d[mode["corrupt"] % len(d)] ^= 0x10
            data = bytes(d)
            mode["corrupt"] = -1
        dst.receive(data, now)
        if mode["dup"]:
            mode["dup"] = 0
            dst.receive(data, now)

    for ev, arg in events:
        if ev == "send":
            msg = b"m%d:" % len(sent) + bytes(arg)
            if a.send(0x20, msg, now):
                sent.append(msg)
        elif ev == "step":
            now += arg
            carry(a, b)
            carry(b, a)
            a.tick(now)
            b.tick(now)
        elif ev in ("drop", "dup"):
            mode[ev] = 1
        elif ev == "corrupt":
            mode["corrupt"] = arg
        elif ev == "replay" and seen:
            dst, data = seen[arg % len(seen)]
            dst.receive(data, now)
        elif ev == "garbage":
            (b if arg[:1] < b"\x80" else a).receive(arg, now)
        elif ev == "restart":
            (a if arg else b).restart(now, "test")
        elif ev == "close":
            s = a if arg else b
            s.close(now)
            s.open(now)
        for s in (a, b):
            assert 0 <= s.in_flight() <= s.window
    # delivered: a subsequence of what was sent, in order, no message twice (a message
    # is only ever delivered once per session; across sessions the sender's window is lost)
    assert len(set(ub.got)) == len(ub.got)
    pos = 0
    for m in ub.got:
        assert m in sent[pos:], m
        pos = sent.index(m, pos) + 1
