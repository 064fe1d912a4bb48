"""The register-level sniffer model (boards/fakeports/rp2sniff.py) that the DMA-sniffer
engines are tested against, checked bit for bit against crcmod on random buffers: each
CALC mode with the seed and output options the datasheets describe."""
import os
import random
import sys

import crcmod
import crcmod.predefined

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "boards", "fakeports"))
import rp2sniff as sniffmodel  # noqa: E402


def _run(ctrl, seed, data):
    s = sniffmodel.Sniffer()
    s.ctrl = ctrl & ~((1 << 10) | (1 << 11))
    s.data = seed
    s.ctrl = ctrl
    for b in data:
        s.feed(5, b)
    return s.read()


EN = 1 | (5 << 1)  # enabled, watching channel 5


def test_calc_modes_against_crcmod():
    crc32 = crcmod.predefined.mkCrcFun("crc-32")          # ISO-HDLC (binascii.crc32)
    mpeg2 = crcmod.predefined.mkCrcFun("crc-32-mpeg")     # MSB first, no final xor
    xmodem = crcmod.predefined.mkCrcFun("xmodem")         # CRC-16-CCITT, seed 0
    kermit = crcmod.mkCrcFun(0x11021, initCrc=0, rev=True, xorOut=0)  # reflected CCITT
    r = random.Random(10)
    for n in [0, 1, 2, 3, 5, 63, 511, 512, 513] + [r.randrange(2000) for _ in range(20)]:
        data = bytes(r.getrandbits(8) for _ in range(n))
        assert _run(EN | (1 << 5) | (1 << 10) | (1 << 11), 0xFFFFFFFF, data) == crc32(data)
        assert _run(EN | (0 << 5), 0xFFFFFFFF, data) == mpeg2(data)
        assert _run(EN | (2 << 5), 0, data) == xmodem(data)
        # CALC 3 feeds bit-reversed bytes to the MSB-first register: the reflected CRC,
        # read back bit-reversed (OUT_REV reverses all 32 bits: the CRC lands on top)
        assert _run(EN | (3 << 5) | (1 << 10), 0, data) >> 16 == kermit(data)
        assert _run(EN | (15 << 5), 0, data) == sum(data) & 0xFFFFFFFF
        assert _run(EN | (14 << 5), 0, data) == bin(int.from_bytes(data, "big")).count("1") & 1


def test_other_channels_and_a_disabled_sniffer_change_nothing():
    s = sniffmodel.Sniffer()
    s.ctrl = 1 | (2 << 1)
    s.data = 1234
    s.feed(5, 0xAB)  # channel 5 is not watched
    assert s.data == 1234
    s.ctrl = 0
    s.feed(2, 0xAB)
    assert s.data == 1234
