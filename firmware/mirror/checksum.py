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
from sys import maxsize  # a fact of the VM's ints, not I/O (tests/host/test_sans_io.py)

_crc32 = getattr(binascii, "crc32", None)
_pack_into = struct.pack_into

# CRC-32/MPEG-2 polynomial, split in 16-bit halves (see _Crc32Mpeg2 for why).
_POLY_HI = const(0x04C1)
_POLY_LO = const(0x1DB7)
_MASK16 = const(0xFFFF)


class _Crc32:
    """CRC-32/ISO-HDLC, exactly binascii.crc32 (C code in the firmware). Used where a small
    int holds any 32-bit value (64-bit ports, CPython); on a 32-bit port binascii.crc32
    returns a heap int for 3 CRCs in 4, so _Crc32Soft stands in unless the board registers
    a native engine (mirror/fastcrc.py)."""

    name = "crc32"
    size = 4

    def digest_into(self, data, out, off=0):
        c = _crc32(data)  # two statements: a frame of 11 words at most, never on the heap
        _pack_into(">I", out, off, c)


def _msb_tables(phi, plo):
    """Table of an MSB-first 32-bit CRC (poly phi << 16 | plo) as two array('H') halves."""
    hi = array.array("H", bytes(512))
    lo = array.array("H", bytes(512))
    for i in range(256):
        h, l = i << 8, 0
        for _ in range(8):
            top = h & 0x8000
            h = ((h << 1) & _MASK16) | (l >> 15)
            l = (l << 1) & _MASK16
            if top:
                h ^= phi
                l ^= plo
        hi[i] = h
        lo[i] = l
    return hi, lo


class _Crc32Soft:
    """CRC-32/ISO-HDLC in plain Python on 16-bit halves: slow, but no heap int on a 32-bit
    port (the fallback there when no native engine can be built, e.g. WebAssembly)."""

    name = "crc32"
    size = 4

    def __init__(self):
        hi = array.array("H", bytes(512))
        lo = array.array("H", bytes(512))
        for i in range(256):
            h, l = 0, i
            for _ in range(8):
                bit = l & 1
                l = (l >> 1) | ((h & 1) << 15)
                h >>= 1
                if bit:
                    h ^= 0xEDB8
                    l ^= 0x8320
            hi[i] = h
            lo[i] = l
        self._hi = hi
        self._lo = lo

    def digest_into(self, data, out, off=0):
        th = self._hi
        tl = self._lo
        hi = _MASK16
        lo = _MASK16
        for b in data:
            # crc = (crc >> 8) ^ T[(crc ^ b) & 0xFF], one 16-bit half at a time
            i = (lo ^ b) & 0xFF
            lo = ((lo >> 8) | ((hi & 0xFF) << 8)) ^ tl[i]
            hi = (hi >> 8) ^ th[i]
        out[off] = (hi >> 8) ^ 0xFF
        out[off + 1] = (hi & 0xFF) ^ 0xFF
        out[off + 2] = (lo >> 8) ^ 0xFF
        out[off + 3] = (lo & 0xFF) ^ 0xFF


class _Crc32Mpeg2:
    """CRC-32/MPEG-2: poly 0x04C11DB7, init 0xFFFFFFFF, no reflection, no final xor.

    This is what the STM32F4 CRC unit computes; a board with that unit registers a
    faster engine under the same name that packs the bytes into words big-endian, so
    the result equals this byte-wise software CRC over the same byte stream.

    The table and the inner loop work on two 16-bit halves (array('H') `_hi`/`_lo`)
    because on 32-bit MicroPython ports small ints hold only 31 bits: a 32-bit CRC
    register would become a heap-allocated big int on most steps, i.e. thousands of
    allocations per 512-byte block (and building a 32-bit table at import, ~180 KB of
    garbage on ARM). With 16-bit halves every value is a small int.
    """

    name = "crc32-mpeg2"
    size = 4

    def __init__(self):
        self._hi, self._lo = _msb_tables(_POLY_HI, _POLY_LO)

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
if hasattr(binascii, "crc32") and maxsize >= 0xFFFFFFFF:
    register(_Crc32())
else:
    register(_Crc32Soft())
register(_Crc32Mpeg2())
for _name, _size in (("md5", 16), ("sha1", 20), ("sha256", 32)):
    if hasattr(hashlib, _name):
        register(_Hash(_name, getattr(hashlib, _name), _size))
del _name, _size
