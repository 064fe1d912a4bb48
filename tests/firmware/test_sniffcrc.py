# The RP2040/RP2350 DMA-sniffer engines (boards/rp2/sniffcrc.py) against a register-level
# model of the sniffer and of rp2.DMA (boards/fakeports/rp2sniff.py, which the rp2 fake
# port also boots the profiles on; the model itself is checked against
# crcmod in tests/host/test_sniffmodel_crcmod.py): same digests as the software engines on
# random buffers, odd lengths and unaligned tails, on both chips.
import sys

from fwtest import randbytes, raises, rng

from mirror import checksum

if True:  # boards/rp2 holds modules shared by the rp2 profiles; the fake ports' model
    for p in list(sys.path):
        if p.endswith("/boards"):
            sys.path.append(p + "/rp2")
            sys.path.append(p + "/fakeports")
import rp2sniff as sniffmodel  # noqa: E402
import sniffcrc  # noqa: E402

CHIPS = ("rp2040", "rp2350")


def build(chip):
    hw = sniffmodel.Rp2(chip)
    return hw, sniffcrc.build(chip, hw, hw, hw)


def test_both_engines_pass_their_check_on_both_chips():
    for chip in CHIPS:
        hw, engines = build(chip)
        assert [e.name for e in engines] == ["crc32", "crc32-mpeg2"], chip
        assert len(hw.dmas) == 1 and not hw.dmas[0].closed  # one channel, shared


def test_digests_equal_the_software_engines_on_odd_lengths_and_unaligned_tails():
    rng(21)
    data = randbytes(1100)
    out = bytearray(12)
    for chip in CHIPS:
        hw, engines = build(chip)
        for eng in engines:
            soft = checksum.digest(eng.name, b"")
            assert checksum.digest(eng, b"") == soft
            for start, n in ((0, 1), (1, 2), (3, 3), (5, 511), (7, 512), (1, 513), (0, 1100),
                             (13, 1000)):
                mv = memoryview(data)[start:start + n]
                eng.digest_into(mv, out, 5)
                assert bytes(out[5:9]) == checksum.digest(eng.name, bytes(mv)), (chip, eng.name, n)


def test_engines_alternate_on_the_one_sniffer():
    hw, (c32, mp2) = build("rp2040")
    a = checksum.digest(c32, b"abc")
    b = checksum.digest(mp2, b"abc")
    assert checksum.digest(c32, b"abc") == a == checksum.digest("crc32", b"abc")
    assert b == checksum.digest("crc32-mpeg2", b"abc")


def test_bulk_digests_run_one_transfer_per_block():
    rng(22)
    data = randbytes(4 * 512)
    for chip in CHIPS:
        hw, (c32, _) = build(chip)
        out = bytearray(20)
        before = hw.dmas[0].transfers
        c32.digest_blocks_into(data, 4, out, 4)
        assert hw.dmas[0].transfers - before == 4
        for i in range(4):
            assert bytes(out[4 + 4 * i:8 + 4 * i]) == checksum.digest(
                "crc32", bytes(data[512 * i:512 * (i + 1)]))


def test_bounds_are_checked_before_any_transfer():
    hw, (c32, _) = build("rp2350")
    dma = hw.dmas[0]
    before = dma.transfers
    raises(ValueError, c32.digest_into, b"abc", bytearray(4), 1)
    raises(ValueError, c32.digest_into, b"abc", bytearray(4), -1)
    raises(ValueError, c32.digest_blocks_into, bytes(1024), 3, bytearray(12), 0)
    raises(ValueError, c32.digest_blocks_into, bytes(1024), 2, bytearray(8), 1)
    assert dma.transfers == before


class _WrongSniffer(sniffmodel.Sniffer):
    def read(self):
        return super().read() ^ 1  # a chip that disagrees with the datasheet


def test_a_sniffer_that_fails_its_check_is_not_used():
    hw = sniffmodel.Rp2("rp2040")
    hw.use(_WrongSniffer())
    assert sniffcrc.build("rp2040", hw, hw, hw) == []
    assert hw.dmas[0].closed


def test_a_transfer_that_never_ends_leaves_the_board_on_software():
    # the kernel's poll of CTRL.BUSY is bounded (_SPINS) and reports a stuck channel:
    # the check fails, nothing is registered, the board boots (not a fatal OSError)
    hw = sniffmodel.Rp2("rp2040")
    kernel = sniffcrc.kernel
    sniffcrc.kernel = lambda: (lambda ctx, data, out: 1)  # "stuck", as sniffk.run returns
    try:
        assert sniffcrc.build("rp2040", hw, hw, hw) == []
    finally:
        sniffcrc.kernel = kernel
    assert hw.dmas[0].closed


def test_unknown_chip_and_algorithm_are_refused():
    hw = sniffmodel.Rp2("rp2040")
    d = hw.DMA()
    e = raises(ValueError, sniffcrc.SnifferCrc, "crc32", d, hw.mem16, hw.mem32, "rp2041", hw.addressof)
    assert "rp2041" in str(e)
    e = raises(ValueError, sniffcrc.SnifferCrc, "md5", d, hw.mem16, hw.mem32, "rp2040", hw.addressof)
    assert "md5" in str(e)


def test_model_crc16_mode_is_the_sd_cards_crc16():
    # CALC 2 (CRC-16-CCITT, seed 0) is CRC-16/XMODEM, the SD data CRC (drivers/sdcrc.py)
    from drivers import sdcrc
    rng(23)
    s = sniffmodel.Sniffer()
    s.ctrl = 1 | (2 << 5)
    for n in (1, 9, 512):
        data = randbytes(n)
        s.data = 0
        for b in data:
            s.feed(0, b)
        assert s.read() == sdcrc.crc16(data)
