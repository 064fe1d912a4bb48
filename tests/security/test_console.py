"""Hypothesis over the console's parser: any line (any bytes, long, not UTF-8, any words
after any command) gets one JSON reply and raises nothing; no command fails in a way its
checks did not foresee (the console's internal_errors stays 0)."""
import os
import sys

from hypothesis import HealthCheck, given, settings, strategies as st

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "tools", "fuzz"))
import harness  # noqa: E402

from console import COMMANDS  # noqa: E402

SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
_t = []


def target():
    if not _t:
        _t.append(harness.ConsoleTarget())
    return _t[0]


word = st.one_of(st.sampled_from(["-5", "0", "-1", "99999999999", "7", "00", "zz", "/x", "/",
                                  "link-down", "corrupt-block", "bad-block", "drop-bitmap",
                                  "mkfs", "ls", "write", "read", "x" * 300]),
                 st.text(max_size=20), st.integers(-2 ** 40, 2 ** 40).map(str))
line = st.tuples(st.sampled_from([c for c in COMMANDS if c not in ("promote", "demote",
                                                                   "settle")] + ["nosuch"]),
                 st.lists(word, max_size=5)).map(lambda t: " ".join([t[0]] + t[1]))


@SETTINGS
@given(st.one_of(line.map(lambda s: s.encode("utf-8", "surrogatepass")),
                 st.binary(max_size=300)))
def test_any_line_gets_a_reply_and_stops_nothing(data):
    t = target()
    before = t.out.replies
    t.feed(data)
    if any(w in data for w in t.SKIP):
        return
    lines = data.replace(b"\x03", b"").replace(b"\r", b"\n").split(b"\n")
    want = 0
    for ln in lines:
        try:
            want += 1 if ln.decode().strip() else 0  # a blank line gets no reply
        except UnicodeError:
            want += 1  # "not UTF-8 text"
    assert t.out.replies == before + want
