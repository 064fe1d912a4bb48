# Table-driven CRC kernels in MicroPython's Thumb inline assembler, for Cortex-M ports.
#
# Measured on MicroPython's qemu port (docs/benchmarks.md, tools/bench/bench_arm.py), per
# 512-byte block on a Cortex-M0 (ARMv6-M, the RP2040's ISA): binascii.crc32 12.3k
# instructions (a nibble table, and a heap int for every CRC >= 2^30 on 32-bit ports), the
# viper slicing-by-4 crc32 31k, the viper SD CRC16 31k, the plain-Python CRC-32/MPEG-2 839k.
# These loops take about 9 instructions a byte, allocate nothing and write the CRC into the
# caller's buffer, so the scan's checksum plus the SD driver's CRC16 fit in the time the
# SPI bus takes to deliver the block.
#
# The kernel (firmware/thumbk.py, one loop for every kind) is precompiled for the board:
# nothing is compiled there. Where it does not import (x86, Xtensa, CPython, the
# WebAssembly port: no Thumb code) available() is False and callers use another engine.
#
# Memory safety: the kernel reads ctl[0] * ctl[1] bytes of data and writes 4 * ctl[1]
# bytes at out[ctl[2]:]. Every public function checks those bounds before it calls it.
import array

from micropython import const

_BLOCK = const(512)
_ALL = 0xFFFF << 16 | 0xFFFF  # built once, at import
_crc = None  # thumbk.crc once available() found it, False if there is none
_BOUNDS = "crc kernel: output or data out of bounds"


def available():
    """True if the precompiled Thumb kernel imports here (a Cortex-M port)."""
    global _crc
    if _crc is None:
        try:
            from thumbk import crc
            _crc = crc
        except Exception:  # no such module in this image, or not ARM code: ImportError,
            _crc = False   # ValueError (incompatible .mpy), SyntaxError (source, no asm)
    return bool(_crc)


def table_le(phi, plo, reflected, swap=False):
    """The 256-entry table of a 32-bit-register CRC with polynomial phi << 16 | plo, as
    1 KiB of little-endian words (a bytearray, built from 16-bit halves: no int >= 2^16, so
    nothing is heap-allocated on 32-bit ports). reflected: the LSB-first table (the poly
    given reflected, 0xEDB8_8320 for CRC-32); else MSB-first (0x04C1_1DB7 for MPEG-2; a
    CRC-16 runs in the top half: poly 0x1021_0000). swap: each word byte-swapped (an
    MSB-first table as the kernel's one loop takes it)."""
    t = bytearray(1024)
    for i in range(256):
        if reflected:
            hi, lo = 0, i
            for _ in range(8):
                bit = lo & 1
                lo = (lo >> 1) | ((hi & 1) << 15)
                hi >>= 1
                if bit:
                    hi ^= phi
                    lo ^= plo
        else:
            hi, lo = i << 8, 0
            for _ in range(8):
                top = hi & 0x8000
                hi = ((hi << 1) & 0xFFFF) | (lo >> 15)
                lo = (lo << 1) & 0xFFFF
                if top:
                    hi ^= phi
                    lo ^= plo
        k = 4 * i
        if swap:
            lo, hi = ((hi & 0xFF) << 8) | (hi >> 8), ((lo & 0xFF) << 8) | (lo >> 8)
        t[k] = lo & 0xFF
        t[k + 1] = lo >> 8
        t[k + 2] = hi & 0xFF
        t[k + 3] = hi >> 8
    return t


# Hot-path methods stay small: MicroPython gives a call whose frame (locals + stack)
# exceeds 11 words a heap block (allocated and freed on every call), so these set the
# kernel's control words and call it, nothing more.

class Crc32:
    """CRC-32/ISO-HDLC (exactly binascii.crc32), big-endian into the caller's buffer."""

    name = "crc32"
    size = 4

    def __init__(self):
        self._t = table_le(0xEDB8, 0x8320, True)
        self._ctl = array.array("I", (0, 0, 0, _ALL, _ALL, 0))  # n, runs, off, init, xor, BE

    def digest_into(self, data, out, off=0):
        if off < 0 or off + 4 > len(out):
            raise ValueError(_BOUNDS)
        c = self._ctl
        c[0] = len(data)
        c[1] = 1
        c[2] = off
        _crc(data, c, self._t, out)

    def digest_blocks_into(self, data, nblocks, out, off):
        """The digest of each of nblocks 512-byte blocks of data, one after another."""
        if nblocks < 0 or off < 0 or off + 4 * nblocks > len(out) or nblocks * _BLOCK > len(data):
            raise ValueError(_BOUNDS)
        c = self._ctl
        c[0] = _BLOCK
        c[1] = nblocks
        c[2] = off
        _crc(data, c, self._t, out)


class Crc32Mpeg2(Crc32):
    """CRC-32/MPEG-2 (poly 0x04C11DB7, init ~0, MSB first, no final xor)."""

    name = "crc32-mpeg2"

    def __init__(self):
        self._t = table_le(0x04C1, 0x1DB7, False, True)
        self._ctl = array.array("I", (0, 0, 0, _ALL, 0, 1))  # byte-swapped register: LE


class Crc16:
    """CRC-16/XMODEM (the SD card's data CRC): crc16(buf) -> int, allocation-free."""

    def __init__(self):
        self._t = table_le(0x1021, 0, False, True)
        self._ctl = array.array("I", (0, 1, 0, 0, 0, 1))  # n, one run, into _out, init 0
        self._out = bytearray(4)

    def __call__(self, buf):
        self._ctl[0] = len(buf)
        o = self._out
        _crc(buf, self._ctl, self._t, o)
        return (o[0] << 8) | o[1]
