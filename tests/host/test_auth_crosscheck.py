# HMAC-SHA256 and the constant-time compare against Python's hmac module.
import hashlib
import hmac

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mirror import auth


@settings(max_examples=200, deadline=None)
@given(key=st.one_of(st.binary(max_size=64), st.binary(min_size=64, max_size=200)),
       msg=st.binary(max_size=2048), cut=st.integers(0, 2048))
@example(key=b"k" * 65, msg=b"m", cut=0)
def test_hmac_matches_python(key, msg, cut):
    want = hmac.new(key, msg, hashlib.sha256).digest()
    assert auth.hmac_sha256(key, msg) == want
    cut = min(cut, len(msg))
    assert auth.hmac_sha256(key, msg[:cut], msg[cut:]) == want
    assert auth.hmac_sha256(bytearray(key), memoryview(msg)) == want


@settings(max_examples=200, deadline=None)
@given(a=st.binary(max_size=40), b=st.binary(max_size=40))
def test_equal_matches_eq(a, b):
    assert auth.equal(a, b) == (a == b)
    assert auth.equal(a, a)


@settings(max_examples=200, deadline=None)
@given(a=st.binary(min_size=1, max_size=40), data=st.data())
def test_equal_sees_a_difference_anywhere(a, data):
    i = data.draw(st.integers(0, len(a) - 1))
    b = bytearray(a)
    b[i] ^= data.draw(st.integers(1, 255))
    assert not auth.equal(a, bytes(b))


@settings(max_examples=100, deadline=None)
@given(key=st.binary(max_size=100), na=st.binary(min_size=1, max_size=32), nb=st.binary(min_size=1, max_size=32))
def test_session_key_matches_python(key, na, nb):
    want = hmac.new(key, b"sdmirror-session" + na + nb, hashlib.sha256).digest()
    assert auth.session_key(key, na, nb) == want
