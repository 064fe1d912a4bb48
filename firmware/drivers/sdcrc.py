# CRCs of the SD card SPI protocol, shared by the firmware's SD driver and the emulated
# card (boards/emu/sdcard_model.py), so both sides compute them the same way.
#
#   crc7(buf, n)  CRC-7 (poly x^7+x^3+1, init 0) over buf[0:n]: the 7-bit value. A command
#                 frame's last byte is (crc7 << 1) | 1 (the end bit); CMD0 gives 0x95.
#   crc16(buf)    CRC-16/XMODEM (CCITT poly 0x1021, init 0, no reflection, no final xor)
#                 over a whole buffer (pass a memoryview slice for part of one). This is
#                 the data-block CRC; 512 bytes of 0xFF give 0x7FA1.
#
# crc16 runs on every 512-byte block, twice per block in the emulator (card and host), so
# it picks the fastest implementation the running Python has:
#   1. binascii.crc_hqx (CPython; MicroPython 1.29 does not have it),
#   2. on Cortex-M, a Thumb inline-assembler loop (mirror/thumbcrc.py): 8k instructions a
#      block on ARMv6-M where the viper function takes 31k (docs/benchmarks.md),
#   3. a viper function (mirror/crck.py, precompiled; native code elsewhere: the Unix VM,
#      the ESP32),
#   4. a table-driven loop in plain Python (any MicroPython, slow but correct).
# Each candidate is checked against the standard check value before it is used.
import binascii

from micropython import const

_POLY16 = const(0x1021)
_POLY7 = const(0x09)
_CHECK16 = const(0x31C3)  # CRC-16/XMODEM of b"123456789"


def _make_tables():
    # CRC-16 table split into high and low bytes: two 256-byte bytearrays (512 bytes of
    # RAM in total, no int objects) that viper can index with ptr8.
    hi = bytearray(256)
    lo = bytearray(256)
    for i in range(256):
        c = i << 8
        for _ in range(8):
            if c & 0x8000:
                c = ((c << 1) ^ _POLY16) & 0xFFFF
            else:
                c = (c << 1) & 0xFFFF
        hi[i] = c >> 8
        lo[i] = c & 0xFF
    # CRC-7 table, entries kept shifted left by one (the CRC in the top 7 bits), which
    # makes the byte-wise update a single xor and lookup.
    t7 = bytearray(256)
    for i in range(256):
        c = i
        for _ in range(8):
            if c & 0x80:
                c = ((c << 1) ^ (_POLY7 << 1)) & 0xFF
            else:
                c = (c << 1) & 0xFF
        t7[i] = c
    return hi, lo, t7


_T16HI, _T16LO, _T7 = _make_tables()


def crc7(buf, n):
    """CRC-7 of buf[0:n] as a 7-bit value (command frames end with crc7 << 1 | 1)."""
    t = _T7
    crc = 0
    for i in range(n):
        crc = t[crc ^ buf[i]]
    return crc >> 1


def crc16_py(buf):
    """CRC-16/XMODEM of buf, plain Python (the portable fallback, also used by tests)."""
    hi = _T16HI
    lo = _T16LO
    crc = 0
    for b in buf:
        i = (crc >> 8) ^ b
        crc = (((crc & 0xFF) ^ hi[i]) << 8) | lo[i]
    return crc


def _crc16_hqx(buf):
    return binascii.crc_hqx(buf, 0)


class _Viper16:
    """crck.crc16 bound to this module's tables."""

    def __init__(self, fn):
        self._fn = fn

    def __call__(self, buf):
        return self._fn(buf, _T16HI, _T16LO)


def _pick_crc16():
    if hasattr(binascii, "crc_hqx"):
        return _crc16_hqx, "binascii"
    try:
        from mirror import thumbcrc
    except ImportError:  # a copy of the driver without the mirror package
        thumbcrc = None
    if thumbcrc is not None and thumbcrc.available():
        fn = thumbcrc.Crc16()
        if fn(b"123456789") == _CHECK16 and fn(memoryview(b"x123456789")[1:]) == _CHECK16:
            return fn, "thumb"
    try:
        from mirror import crck
        fn = _Viper16(crck.crc16)
        if fn(b"123456789") == _CHECK16 and fn(memoryview(b"x123456789")[1:]) == _CHECK16:
            return fn, "viper"
    except Exception:  # no native code here (CPython without crc_hqx, the wasm VM)
        pass
    return crc16_py, "python"


crc16, CRC16_IMPL = _pick_crc16()
