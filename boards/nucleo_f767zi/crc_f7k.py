# The STM32F7 CRC unit's register sequence (boards/nucleo_f767zi/crc_f7.py, which names
# the registers and the reference manual's sections) in viper, for the chip: precompiled
# with mpy-cross -march=armv7emdp (the frozen build's, or the image's), never compiled on
# the board. It writes the unit's registers at fixed addresses: imported only where
# crc_f7.kernel() finds it (a VM, CPython and the fake ports have no such registers and
# drive the Python sequence instead, boards/fakeports/fake_stm32.py substitutes this).
#
# run(data, ctl, out): ctl = array("I") [n, count, off]: the crc32 of each of count runs of
# n bytes of data into out[off + 4 * i:][:4], big-endian. Memory safety: reads n * count
# bytes of data and writes 4 * count bytes at out[off:]; crc_f7.F7Crc checks both first.
from micropython import const

_DR = const(0x40023000)  # CRC_DR
_CR = const(0x40023008)  # CRC_CR
_GO = const(0xA1)  # REV_OUT | REV_IN by byte | RESET, POLYSIZE 32 bits


@micropython.viper  # noqa: F821 (MicroPython's compiler knows the decorator)
def run(data: ptr8, ctl: ptr32, out: ptr8):  # noqa: F821
    dr = ptr32(_DR)  # noqa: F821
    dr8 = ptr8(_DR)  # noqa: F821
    cr = ptr32(_CR)  # noqa: F821
    n = int(ctl[0])
    count = int(ctl[1])
    o = int(ctl[2])
    p = 0
    while count > 0:
        cr[0] = _GO
        end = p + n - (n & 3)
        while p < end:  # 4 bytes a write, the first in bits 31:24
            dr[0] = (data[p] << 24) | (data[p + 1] << 16) | (data[p + 2] << 8) | data[p + 3]
            p += 4
        end = p + (n & 3)
        while p < end:  # the tail: 8-bit writes
            dr8[0] = data[p]
            p += 1
        v = uint(dr[0]) ^ uint(0xFFFFFFFF)  # noqa: F821
        out[o] = v >> 24
        out[o + 1] = (v >> 16) & 0xFF
        out[o + 2] = (v >> 8) & 0xFF
        out[o + 3] = v & 0xFF
        o += 4
        count -= 1
