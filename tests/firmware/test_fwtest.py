# Checks of the dual-run helpers themselves; runs under pytest and on the MicroPython VM.
from fwtest import randbytes, raises, rng


def _boom():
    raise ValueError("boom")


def test_raises_returns_the_exception():
    e = raises(ValueError, _boom)
    assert isinstance(e, ValueError)
    assert e.args == ("boom",)


def test_raises_fails_when_nothing_raised():
    e = raises(AssertionError, raises, ValueError, lambda: None)
    assert "did not raise ValueError" in str(e)


def test_raises_lets_other_exceptions_through():
    raises(ValueError, raises, KeyError, _boom)


def test_randbytes_is_deterministic_under_a_seed():
    rng(1234)
    a = randbytes(64)
    rng(1234)
    b = randbytes(64)
    rng(1235)
    c = randbytes(64)
    assert isinstance(a, bytearray) and len(a) == 64
    assert a == b
    assert a != c
