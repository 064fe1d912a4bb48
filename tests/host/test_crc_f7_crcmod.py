"""The register-level model of the STM32F7 CRC unit (boards/fakeports/stm32crc.py) that the
NUCLEO-F767ZI's crc32 engine is tested against, checked bit for bit against crcmod on
random buffers: with and without REV_IN/REV_OUT, another polynomial and initial value,
fed in 8-, 16- and 32-bit writes."""
import os
import random
import sys

import crcmod
import crcmod.predefined

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "boards", "fakeports"))
import stm32crc  # noqa: E402

B = stm32crc.CRC_BASE


def _run(cr, data, widths, pol=None, init=None):
    u = stm32crc.F7CrcUnit()
    u.mem32[stm32crc.RCC_AHB1ENR] = stm32crc.CRCEN
    if pol is not None:
        u.mem32[B + 0x14] = pol
    if init is not None:
        u.mem32[B + 0x10] = init
    u.mem32[B + 8] = cr | 1
    i = 0
    for w in widths:  # w bytes a write, the first byte in the top bits
        v = int.from_bytes(data[i:i + w], "big")
        {1: u.mem8, 2: u.mem16, 4: u.mem32}[w][B] = v
        i += w
    assert i == len(data)
    return u.mem32[B]


def _widths(n, r):
    out = []
    while n:
        w = r.choice([w for w in (1, 2, 4) if w <= n])
        out.append(w)
        n -= w
    return out


def test_model_against_crcmod():
    crc32 = crcmod.predefined.mkCrcFun("crc-32")          # ISO-HDLC (binascii.crc32)
    mpeg2 = crcmod.predefined.mkCrcFun("crc-32-mpeg")     # the F4's, no reversal
    crc32c = crcmod.predefined.mkCrcFun("crc-32c")        # Castagnoli, reflected
    bzip2 = crcmod.mkCrcFun(0x104C11DB7, initCrc=0x12345678, rev=False, xorOut=0)
    r = random.Random(12)
    for n in [0, 1, 2, 3, 5, 63, 511, 512, 513] + [r.randrange(2000) for _ in range(20)]:
        data = bytes(r.getrandbits(8) for _ in range(n))
        ws = _widths(n, r)
        # REV_IN by byte works for every write width: the engine's configuration
        assert _run(0x20 | 0x80, data, ws) ^ 0xFFFFFFFF == crc32(data)
        assert _run(0x20 | 0x80, data, ws, pol=0x1EDC6F41) ^ 0xFFFFFFFF == crc32c(data)
        assert _run(0, data, ws) == mpeg2(data)
        assert _run(0, data, ws, init=0x12345678) == bzip2(data)
        # REV_IN by word on 32-bit writes of little-endian words: also crc32
        if n % 4 == 0:
            words = b"".join(data[i:i + 4][::-1] for i in range(0, n, 4))
            assert _run(0x60 | 0x80, words, [4] * (n // 4)) ^ 0xFFFFFFFF == crc32(data)
