# Helpers for the dual-run firmware tests: the same test modules run under pytest
# (CPython) and under tools/mpytest.py on the MicroPython VM, so they may only use what
# both have. Test functions take no arguments; fixtures are plain function calls.
import random

try:  # MicroPython: a locked heap turns any allocation into MemoryError
    from micropython import heap_lock, heap_unlock
except ImportError:  # CPython: nothing to lock, the call just runs
    heap_lock = heap_unlock = None


def raises(exc_type, fn, *args, **kwargs):
    """Call fn and return the exception it raised; fail if it raised nothing or another type."""
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError("%s did not raise %s" % (getattr(fn, "__name__", fn), exc_type.__name__))


def rng(seed):
    """A seeded random source (the module-level generator, reseeded: MicroPython has no Random class)."""
    random.seed(seed)
    return random


def randbytes(n):
    """n pseudo-random bytes from the module generator (seed it with rng() first)."""
    b = bytearray(n)
    for i in range(n):
        b[i] = random.getrandbits(8)
    return b


def heap_locked(call):
    """call() with the heap locked on MicroPython, so any allocation in it raises MemoryError."""
    if heap_lock is None:
        return call()
    heap_lock()
    try:
        return call()
    finally:
        heap_unlock()


class Skip(Exception):
    """Raised by skip() on MicroPython; tools/mpytest.py counts it as skipped."""


def skip(reason):
    """This test does not apply on this Python."""
    try:
        import pytest
    except ImportError:
        raise Skip(reason)
    pytest.skip(reason)
