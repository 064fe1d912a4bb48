"""Named checksum engines for per-block comparison.

Both peers agree on an algorithm *name* at handshake, so an engine is looked up by the
name of the function it computes, never by how it computes it: a board with a hardware
CRC unit registers its engine under "crc32-mpeg2" and replaces the software one, and a
peer without the unit still produces identical results.

An engine is any object with:
    name                      the algorithm name (str)
    size                      digest size in bytes
    digest_into(data, out, off=0)
                              checksum of data (bytes, bytearray or memoryview), written as
                              exactly `size` bytes into out[off:off+size]; CRCs big-endian.

digest_into writes into a caller-owned buffer so a scan can fill a preallocated table of
per-block checksums without allocating a result object per block.
"""
from micropython import const
import array
import binascii
import hashlib
import struct

# CRC-32/MPEG-2 polynomial, split in 16-bit halves (see _Crc32Mpeg2 for why).
_POLY_HI = const(0x04C1)
_POLY_LO = const(0x1DB7)
_MASK16 = const(0xFFFF)


class _Crc32:
    """CRC-32/ISO-HDLC, exactly binascii.crc32 (C code in the firmware: fast)."""

    name = "crc32"
    size = 4

    def digest_into(self, data, out, off=0):
        struct.pack_into(">I", out, off, binascii.crc32(data))


def _mpeg2_table():
    """The 256-entry table for CRC-32/MPEG-2 (MSB first), as array('I').

    Built once at import time; allocation here is fine.
    """
    t = array.array("I", range(256))
    for i in range(256):
        c = i << 24
        for _ in range(8):
            if c & 0x80000000:
                c = ((c << 1) & 0xFFFFFFFF) ^ 0x04C11DB7
            else:
                c = c << 1
        t[i] = c
    return t


class _Crc32Mpeg2:
    """CRC-32/MPEG-2: poly 0x04C11DB7, init 0xFFFFFFFF, no reflection, no final xor.

    This is what the STM32F4 CRC unit computes; a board with that unit registers a
    faster engine under the same name that packs the bytes into words big-endian, so
    the result equals this byte-wise software CRC over the same byte stream.

    The 32-bit table (`table`, array('I')) is the reference. The inner loop runs on two
    16-bit halves (tables `_hi`/`_lo` derived from it) because on 32-bit MicroPython ports
    small ints hold only 31 bits: a 32-bit CRC register would become a heap-allocated
    big int on most steps, i.e. thousands of allocations per 512-byte block. With 16-bit
    halves every value is a small int and the loop allocates nothing.
    """

    name = "crc32-mpeg2"
    size = 4

    def __init__(self):
        self.table = _mpeg2_table()
        hi = array.array("H", range(256))
        lo = array.array("H", range(256))
        for i in range(256):
            hi[i] = self.table[i] >> 16
            lo[i] = self.table[i] & _MASK16
        self._hi = hi
        self._lo = lo

    def digest_into(self, data, out, off=0):
        th = self._hi
        tl = self._lo
        hi = _MASK16  # init 0xFFFFFFFF, as two halves
        lo = _MASK16
        for b in data:
            # crc = (crc << 8) ^ T[(crc >> 24) ^ b], one 16-bit half at a time
            i = (hi >> 8) ^ b
            hi = ((hi << 8) & _MASK16) ^ (lo >> 8) ^ th[i]
            lo = ((lo << 8) & _MASK16) ^ tl[i]
        out[off] = hi >> 8
        out[off + 1] = hi & 0xFF
        out[off + 2] = lo >> 8
        out[off + 3] = lo & 0xFF


class _Hash:
    """A hashlib algorithm. Allocates a hash object and a digest per call (unavoidable:
    MicroPython's hashlib has neither copy() nor digest-into)."""

    def __init__(self, name, ctor, size):
        self.name = name
        self.size = size
        self._ctor = ctor

    def digest_into(self, data, out, off=0):
        out[off:off + self.size] = self._ctor(data).digest()


_engines = {}


def register(engine):
    """Add an engine, or replace the one registered under the same name."""
    _engines[engine.name] = engine


def get(name):
    """The engine registered as `name`; ValueError if there is none."""
    e = _engines.get(name)
    if e is None:
        raise ValueError("unknown checksum algorithm %r (known: %s)" % (name, ", ".join(names())))
    return e


def names():
    """Sorted list of the registered algorithm names."""
    return sorted(_engines)


def digest(name_or_engine, data):
    """Checksum of data as bytes (allocates; for tests and tools, not hot paths)."""
    e = get(name_or_engine) if isinstance(name_or_engine, str) else name_or_engine
    out = bytearray(e.size)
    e.digest_into(data, out, 0)
    return bytes(out)


# Built-ins. Ports can be built without crc32 or some hash algorithms, so register only
# what this firmware has; names() then tells the handshake what we can offer.
if hasattr(binascii, "crc32"):
    register(_Crc32())
register(_Crc32Mpeg2())
for _name, _size in (("md5", 16), ("sha1", 20), ("sha256", 32)):
    if hasattr(hashlib, _name):
        register(_Hash(_name, getattr(hashlib, _name), _size))
del _name, _size
