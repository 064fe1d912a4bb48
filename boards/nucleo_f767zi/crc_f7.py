# The STM32F7 CRC unit as the `crc32` checksum engine: exactly binascii.crc32
# (CRC-32/ISO-HDLC), which the F4's unit cannot compute (it has no input/output reversal:
# crc32-mpeg2 only, boards/stm32f4/crc_hw.py).
#
# Registers (RM0410, STM32F76xxx reference manual, section 6 "Cyclic redundancy check
# calculation unit (CRC)", 6.4 register map; CRC at 0x4002 3000 on AHB1, 2.2.2 memory map;
# clock RCC_AHB1ENR.CRCEN, bit 12, 5.3.10):
#   CRC_DR   +0x00  written with 8-, 16- or 32-bit accesses: that many bits of data
#                   (6.3.2); read: the CRC, through REV_OUT
#   CRC_CR   +0x08  RESET [0] (DR := INIT, cleared by hardware), POLYSIZE [4:3] (00: 32
#                   bits), REV_IN [6:5] (01: bit reversal done by byte), REV_OUT [7]
#   CRC_INIT +0x10  the initial value (reset 0xFFFF FFFF)
#   CRC_POL  +0x14  the polynomial (reset 0x04C1 1DB7)
# The unit shifts data in MSB first. CRC-32/ISO-HDLC takes each byte LSB first, so:
# REV_IN = byte (each byte's bits reversed in place), the bytes fed in stream order (a
# 32-bit write holds 4 of them big-endian, the first in bits 31:24; the tail goes as 8-bit
# writes), REV_OUT = 1, and the final xor with 0xFFFF FFFF done here.
#
# Two drivers of the same register sequence: on the chip the viper kernel of crc_f7k.py
# (precompiled with mpy-cross -march=armv7emdp; registers at fixed addresses), elsewhere
# _Regs-based Python below, which the register-level model of the unit tests against
# binascii (tests/firmware/test_crc_f7.py, the model checked with crcmod in
# tests/host/test_crc_f7_crcmod.py). Not run on a chip.
import array

from micropython import const

CRC_BASE = const(0x40023000)
DR = const(0x00)
CR = const(0x08)
INIT = const(0x10)
POL = const(0x14)
RESET = const(1)
REV_IN_BYTE = const(1 << 5)
REV_OUT = const(1 << 7)
RCC_AHB1ENR = const(0x40023830)
CRCEN = const(1 << 12)
_CHECK = b"\xcb\xf4\x39\x26"  # crc32(b"123456789"), big-endian
_BLOCK = const(512)


class F7Crc:
    """crc32 by the STM32F7 CRC unit. mem8, mem32: machine.mem8 / machine.mem32 (or a
    model); kernel: crc_f7k.run (the chip), or None to drive the registers from Python."""

    name = "crc32"
    size = 4

    def __init__(self, mem8, mem32, kernel=None):
        self._m8 = mem8
        self._m32 = mem32
        self._k = kernel
        self._ctl = array.array("I", (0, 0, 0))  # the kernel's n, count, off
        mem32[RCC_AHB1ENR] = mem32[RCC_AHB1ENR] | CRCEN  # once: a heap int at most here
        mem32[CRC_BASE + POL] = 0x04C11DB7
        mem32[CRC_BASE + INIT] = 0xFFFFFFFF

    # Kept small: a MicroPython frame over 11 words (locals + stack) is heap-allocated on
    # every call (py/objfun.c VM_MAX_STATE_ON_STACK), so the run is described in _ctl.
    def digest_into(self, data, out, off=0):
        if off < 0 or off + 4 > len(out):
            raise ValueError("crc32 digest at %d does not fit %d bytes" % (off, len(out)))
        self._ctl[0] = len(data)
        self._ctl[1] = 1
        self._ctl[2] = off
        self._go(data, out)

    def digest_blocks_into(self, data, nblocks, out, off):
        """The digest of each of nblocks 512-byte blocks of data, one after another."""
        if nblocks < 0 or off < 0 or off + 4 * nblocks > len(out) or nblocks * _BLOCK > len(data):
            raise ValueError("%d crc32 block digests do not fit" % nblocks)
        self._ctl[0] = _BLOCK
        self._ctl[1] = nblocks
        self._ctl[2] = off
        self._go(data, out)

    def _go(self, data, out):
        # bounds checked by the caller: the kernel trusts _ctl
        if self._k is not None:
            self._k(data, self._ctl, out)
            return
        n, count, off = self._ctl
        for i in range(count):
            self._one(data, i * n, n, out, off + 4 * i)

    def _one(self, data, at, n, out, off):
        # the register sequence the kernel runs, one block, through mem8/mem32
        m = self._m32
        m[CRC_BASE + CR] = REV_IN_BYTE | REV_OUT | RESET
        end = at + (n & ~3)
        while at < end:
            m[CRC_BASE + DR] = (data[at] << 24) | (data[at + 1] << 16) | \
                (data[at + 2] << 8) | data[at + 3]
            at += 4
        for i in range(at, at + (n & 3)):
            self._m8[CRC_BASE + DR] = data[i]
        v = m[CRC_BASE + DR] ^ 0xFFFFFFFF
        out[off] = v >> 24
        out[off + 1] = (v >> 16) & 255
        out[off + 2] = (v >> 8) & 255
        out[off + 3] = v & 255

    def check(self):
        """True if the unit gives the standard check value of b"123456789"."""
        out = bytearray(4)
        self.digest_into(b"123456789", out, 0)
        return bytes(out) == _CHECK


def kernel():
    """crc_f7k.run where it was precompiled for this core, else None (Python drives)."""
    try:
        from crc_f7k import run
        return run
    except Exception:  # CPython, a VM: ImportError, SyntaxError
        return None


def engines(board=None):
    """boardkit's hook (CRC_UNIT = "crc_f7"): [the unit's crc32], [] if its check fails."""
    import machine
    eng = F7Crc(machine.mem8, machine.mem32, kernel())
    return [eng] if eng.check() else []
