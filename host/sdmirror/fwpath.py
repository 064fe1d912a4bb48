"""Make the firmware importable from CPython.

The firmware (``firmware/``) and the board profiles (``boards/``) are written for
MicroPython. On CPython two things are missing: the directories on ``sys.path`` and the
built-in ``micropython`` module (``const``, the ``native``/``viper`` decorators). ``install()``
supplies both; host tools, the simulator and the tests call it before importing ``mirror``.
"""
import os
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRMWARE = os.path.join(ROOT, "firmware")
BOARDS = os.path.join(ROOT, "boards")


def _identity(x):
    return x


def install():
    """Put firmware/ and boards/ on sys.path and provide a `micropython` stub module."""
    for path in (BOARDS, FIRMWARE):
        if path not in sys.path:
            sys.path.insert(0, path)
    if "micropython" not in sys.modules:
        stub = types.ModuleType("micropython")
        stub.const = _identity
        stub.native = _identity
        stub.viper = _identity
        stub.mem_info = lambda *a: None
        sys.modules["micropython"] = stub
