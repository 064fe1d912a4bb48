# The NUCLEO-F767ZI's CRC unit engine (boards/nucleo_f767zi/crc_f7.py) against a
# register-level model of the STM32F7 CRC unit (boards/fakeports/stm32crc.py, RM0410
# section 6; the model checked against crcmod in tests/host/test_crc_f7_crcmod.py): the
# same digests as the software crc32 (binascii.crc32) on random buffers, odd lengths and
# unaligned tails, in bulk, with bounds checked before the unit is touched.
import sys

from fwtest import randbytes, raises, rng

from mirror import checksum

if True:  # the profile's module and the fake ports' model of the unit
    for p in list(sys.path):
        if p.endswith("/boards"):
            sys.path.append(p + "/nucleo_f767zi")
            sys.path.append(p + "/fakeports")
import crc_f7  # noqa: E402
import stm32crc  # noqa: E402


def engine():
    unit = stm32crc.F7CrcUnit()
    return unit, crc_f7.F7Crc(unit.mem8, unit.mem32)


def test_the_engine_passes_its_check_and_enables_the_clock():
    unit, eng = engine()
    assert unit.ahb1enr & stm32crc.CRCEN and unit.ahb1enr & 0x00100000  # other bits kept
    assert eng.check()
    assert eng.name == "crc32" and eng.size == 4


def test_digests_equal_binascii_on_odd_lengths_and_unaligned_tails():
    rng(31)
    data = randbytes(1100)
    out = bytearray(12)
    _, eng = engine()
    assert checksum.digest(eng, b"") == checksum.digest("crc32", b"")
    for start, n in ((0, 1), (1, 2), (3, 3), (5, 511), (7, 512), (1, 513), (0, 1100), (13, 1000)):
        mv = memoryview(data)[start:start + n]
        eng.digest_into(mv, out, 5)
        assert bytes(out[5:9]) == checksum.digest("crc32", bytes(mv)), n


def test_bulk_digests_reset_the_unit_per_block():
    rng(32)
    data = randbytes(3 * 512 + 7)
    out = bytearray(16)
    _, eng = engine()
    eng.digest_into(b"junk left in the unit", out, 0)
    eng.digest_blocks_into(memoryview(data)[7:], 3, out, 4)
    for i in range(3):
        blk = bytes(data[7 + 512 * i:7 + 512 * (i + 1)])
        assert bytes(out[4 + 4 * i:8 + 4 * i]) == checksum.digest("crc32", blk), i


def test_bounds_are_checked_before_the_unit_is_touched():
    unit, eng = engine()
    unit.reg = 0x1234
    raises(ValueError, eng.digest_into, b"abc", bytearray(4), 1)
    raises(ValueError, eng.digest_into, b"abc", bytearray(4), -1)
    raises(ValueError, eng.digest_blocks_into, bytes(1024), 3, bytearray(12), 0)
    raises(ValueError, eng.digest_blocks_into, bytes(1024), 2, bytearray(8), 1)
    raises(ValueError, eng.digest_blocks_into, bytes(1024), -1, bytearray(8), 0)
    assert unit.reg == 0x1234


def test_the_model_follows_the_manuals_examples():
    # RM0410 6.3.2: 0x1A2B3C4D fed as 0x58D43CB2 (by byte), 0xD458B23C (half-word),
    # 0xB23CD458 (word); REV_OUT turns 0x11223344 into 0x22CC4488
    assert stm32crc.rev_in(0x1A2B3C4D, 32, 1) == 0x58D43CB2
    assert stm32crc.rev_in(0x1A2B3C4D, 32, 2) == 0xD458B23C
    assert stm32crc.rev_in(0x1A2B3C4D, 32, 3) == 0xB23CD458
    assert stm32crc.rev(0x11223344, 32) == 0x22CC4488


def test_the_model_refuses_what_it_does_not_model():
    unit = stm32crc.F7CrcUnit()
    raises(AssertionError, unit.mem32.__setitem__, stm32crc.CRC_BASE, 1)  # clock off
    unit.mem32[stm32crc.RCC_AHB1ENR] = stm32crc.CRCEN
    raises(AssertionError, unit.mem32.__setitem__, stm32crc.CRC_BASE + 8, 1 << 3)  # POLYSIZE 7
    raises(AssertionError, unit.mem32.__setitem__, stm32crc.CRC_BASE + 0x20, 0)
    raises(AssertionError, unit.mem32.__setitem__, stm32crc.CRC_BASE + 0x14, 0x04C11DB6)
    unit.mem32[stm32crc.CRC_BASE + 8] = 3 << 5  # REV_IN by word ...
    raises(AssertionError, unit.mem8.__setitem__, stm32crc.CRC_BASE, 0x12)  # ... on 8 bits


class _WrongUnit(stm32crc.F7CrcUnit):
    def read(self, addr, width):
        return super().read(addr, width) ^ 1  # a chip that disagrees with the manual


def test_a_unit_that_fails_its_check_is_not_used():
    unit = _WrongUnit()
    assert not crc_f7.F7Crc(unit.mem8, unit.mem32).check()
