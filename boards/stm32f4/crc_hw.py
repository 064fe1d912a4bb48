# The STM32F4 CRC unit as the `crc32-mpeg2` checksum engine. The unit takes 32-bit words
# and computes CRC-32/MPEG-2 (poly 0x04C11DB7, init 0xFFFFFFFF, no reflection, no final
# xor) MSB first. Fed big-endian words of the data, it computes exactly the byte-stream
# CRC-32/MPEG-2 of the software engine, so a pair may mix boards with and without one.
# Only runs on the chip (it writes the unit's registers); compiled with mpy-cross -march.
import micropython
from micropython import const

_CRC_DR = const(0x40023000)
_CRC_CR = const(0x40023008)
_RCC_AHB1ENR = const(0x40023830)
_CRCEN = const(1 << 12)


@micropython.viper
def _crc_into(buf: ptr8, n: int, out: ptr8, off: int):
    dr = ptr32(_CRC_DR)
    cr = ptr32(_CRC_CR)
    cr[0] = 1  # reset the unit to 0xFFFFFFFF
    i = 0
    while i < n:
        dr[0] = (buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]
        i += 4
    v = dr[0]
    out[off] = (v >> 24) & 0xFF
    out[off + 1] = (v >> 16) & 0xFF
    out[off + 2] = (v >> 8) & 0xFF
    out[off + 3] = v & 0xFF


class StmCrc:
    name = "crc32-mpeg2"
    size = 4

    def __init__(self):
        import machine
        from mirror import checksum
        machine.mem32[_RCC_AHB1ENR] |= _CRCEN
        self._soft = checksum.get("crc32-mpeg2")  # for lengths the unit cannot take

    def digest_into(self, data, out, off=0):
        n = len(data)
        if n & 3:
            self._soft.digest_into(data, out, off)
        else:
            _crc_into(data, n, out, off)


def engine():
    return StmCrc()
