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
# Only ARMv6-M instructions (the Thumb-1 subset the inline assembler accepts when
# MICROPY_EMIT_THUMB_ARMV7M is 0, as on the RP2040), so one source runs on every Cortex-M.
# The source is compiled at import time with exec(): the .mpy stays architecture-free (no
# mpy-cross -march), and where there is no Thumb assembler (x86, Xtensa, CPython, the
# WebAssembly port) available() is False and callers use another engine.
#
# Memory safety: the kernels read ctl[0] * ctl[1] bytes of data and write 4 * ctl[1]
# bytes at out[ctl[2]:]. Every public function checks those bounds before it calls them.
import array

from micropython import const

_BLOCK = const(512)

# The two kernels share one loop (_LOOP): per run, INIT the register, 4 bytes an
# iteration while 4 remain, then byte by byte, FINISH, and store the 32-bit register
# big-endian. r0 data, r1 ctl, r2 table, r3 out (+ off), r4 the CRC register, r5 bytes
# left, r6 n, r7 runs left. Inline assembler has no macros, so the source is put together
# here from the step of each kind.
_LOOP = """
@micropython.asm_thumb
def NAME(r0, r1, r2, r3):
    ldr(r4, [r1, 8])
    add(r3, r3, r4)
    ldr(r7, [r1, 4])
    ldr(r6, [r1, 0])
SAVE
    label(block)
    cmp(r7, 0)
    beq(done)
INIT
    mov(r5, r6)
    label(quad)
    cmp(r5, 4)
    blt(single)
QUAD
    add(r0, 4)
    sub(r5, 4)
    b(quad)
    label(single)
    cmp(r5, 0)
    beq(store)
ONE
    add(r0, 1)
    sub(r5, 1)
    b(single)
    label(store)
FINISH
    lsr(r1, r4, 24)
    strb(r1, [r3, 0])
    lsr(r1, r4, 16)
    strb(r1, [r3, 1])
    lsr(r1, r4, 8)
    strb(r1, [r3, 2])
    strb(r4, [r3, 3])
    add(r3, 4)
    sub(r7, 1)
    b(block)
    label(done)
"""
# reflected CRC-32 (ISO-HDLC), ctl [n, count, off]: crc = T[(crc ^ b) & 0xFF] ^ (crc >> 8),
# init ~0, final ~ (the index * 4 as (x << 24) >> 22)
_REFL = {"NAME": "_refl", "SAVE": "", "INIT": "mov(r4, 0)\nmvn(r4, r4)",
         "FINISH": "mvn(r4, r4)",
         "STEP": "ldrb(r1, [r0, K])\neor(r1, r4)\nlsl(r1, r1, 24)\nlsr(r1, r1, 22)\n"
                 "add(r1, r1, r2)\nldr(r1, [r1, 0])\nlsr(r4, r4, 8)\neor(r4, r1)"}
# MSB-first CRC with the register in the top bits, ctl [n, count, off, init]:
# crc = (crc << 8) ^ T[(crc >> 24) ^ b], no final xor (a CRC-16 table is shifted left 16).
# r6 is the step's scratch, so n is reloaded from ctl (kept on the stack) after each run.
_MSB = {"NAME": "_msb", "SAVE": "mov(r5, r1)", "INIT": "ldr(r4, [r5, 12])\npush({r5})",
        "FINISH": "pop({r5})\nldr(r6, [r5, 0])",
        "STEP": "ldrb(r1, [r0, K])\nlsr(r6, r4, 24)\neor(r1, r6)\nlsl(r1, r1, 2)\n"
                "add(r1, r1, r2)\nldr(r1, [r1, 0])\nlsl(r4, r4, 8)\neor(r4, r1)"}


def _source(kind):
    def block(text):
        return "\n".join("    " + line for line in text.split("\n")) if text else ""
    src = _LOOP.replace("NAME", kind["NAME"])
    for key in ("SAVE", "INIT", "FINISH"):
        src = src.replace(key + "\n", block(kind[key]) + "\n")
    quad = "\n".join(kind["STEP"].replace("K", str(k)) for k in range(4))
    src = src.replace("QUAD\n", block(quad) + "\n")
    return src.replace("ONE\n", block(kind["STEP"].replace("K", "0")) + "\n")


_refl = _msb = None  # the kernels, once available() has compiled them
_BOUNDS = "crc kernel: output or data out of bounds"


def available():
    """True if this MicroPython has the Thumb inline assembler (a Cortex-M port)."""
    global _refl, _msb
    if _refl is None:
        try:
            import micropython
            g = {"micropython": micropython}
            exec(_source(_REFL) + _source(_MSB), g)
            _refl, _msb = g["_refl"], g["_msb"]
        except Exception:  # no inline assembler here (or CPython): SyntaxError, NameError
            _refl = _msb = False
    return bool(_refl)


def table_le(phi, plo, reflected):
    """The 256-entry table of a 32-bit-register CRC with polynomial phi << 16 | plo, as
    1 KiB of little-endian words (a bytearray, built from 16-bit halves: no int >= 2^16, so
    nothing is heap-allocated on 32-bit ports). reflected: the LSB-first table (the poly
    given reflected, 0xEDB8_8320 for CRC-32); else MSB-first (0x04C1_1DB7 for MPEG-2; a
    CRC-16 runs in the top half: poly 0x1021_0000)."""
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
        self._ctl = array.array("I", (0, 0, 0, 0))  # n, count, off, (init: unused)

    def digest_into(self, data, out, off=0):
        if off < 0 or off + 4 > len(out):
            raise ValueError(_BOUNDS)
        c = self._ctl
        c[0] = len(data)
        c[1] = 1
        c[2] = off
        _refl(data, c, self._t, out)

    def digest_blocks_into(self, data, nblocks, out, off):
        """The digest of each of nblocks 512-byte blocks of data, one after another."""
        if nblocks < 0 or off < 0 or off + 4 * nblocks > len(out) or nblocks * _BLOCK > len(data):
            raise ValueError(_BOUNDS)
        c = self._ctl
        c[0] = _BLOCK
        c[1] = nblocks
        c[2] = off
        _refl(data, c, self._t, out)


class Crc32Mpeg2:
    """CRC-32/MPEG-2 (poly 0x04C11DB7, init ~0, MSB first, no final xor)."""

    name = "crc32-mpeg2"
    size = 4

    def __init__(self):
        self._t = table_le(0x04C1, 0x1DB7, False)
        self._ctl = array.array("I", (0, 0, 0, 0))
        self._ctl[3] = 0xFFFF << 16 | 0xFFFF  # init, built once

    def digest_into(self, data, out, off=0):
        if off < 0 or off + 4 > len(out):
            raise ValueError(_BOUNDS)
        c = self._ctl
        c[0] = len(data)
        c[1] = 1
        c[2] = off
        _msb(data, c, self._t, out)


class Crc16:
    """CRC-16/XMODEM (the SD card's data CRC): crc16(buf) -> int, allocation-free."""

    def __init__(self):
        self._t = table_le(0x1021, 0, False)
        self._ctl = array.array("I", (0, 1, 0, 0))  # n, one run, into _out[0:4], init 0
        self._out = bytearray(4)

    def __call__(self, buf):
        self._ctl[0] = len(buf)
        o = self._out
        _msb(buf, self._ctl, self._t, o)
        return (o[0] << 8) | o[1]
