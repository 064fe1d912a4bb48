"""Our SD driver against Renode's SD card model (transcribed in tests/renode/renode_sdcard.py from Renode's
C# source): what the `renode` profile meets in Renode, and the gaps of that model beside our
own (boards/emu/sdcard_model.py), shown rather than claimed."""
import sys

import pytest

from sdmirror import fwpath

fwpath.install()

from drivers.sdcard import SDCard  # noqa: E402
from renode_sdcard import Mux, MuxPin, MuxSPI, RenodeSDCard, ocr_bytes  # noqa: E402


class FakeMachine:
    """machine.SPI(3) / Pin("D24") (PA4) wired to the model as the .repl wires Renode's."""

    def __init__(self, card):
        self.mux = Mux(card)
        fake = self

        class Pin:
            OUT = 1

            def __new__(cls, name, mode=None, value=1):
                assert name == "D24"
                return MuxPin(fake.mux, value)

        self.Pin = Pin

    def SPI(self, bus_id, **kw):
        assert bus_id == 3 and "sck" not in kw
        return MuxSPI(self.mux)


def profile_card(monkeypatch, card):
    sys.path.insert(0, fwpath.BOARDS + "/renode")
    try:
        sys.modules.pop("board", None)
        import board
    finally:
        sys.path.remove(fwpath.BOARDS + "/renode")
    monkeypatch.setitem(sys.modules, "machine", FakeMachine(card))
    dev = board.card()
    sys.modules.pop("board", None)
    return dev


def test_renode_sends_the_ocr_least_significant_byte_first():
    assert ocr_bytes() == b"\x80\xff\xff\xc0"  # the spec's order is C0 FF FF 80


def test_the_plain_driver_refuses_renodes_sdhc_card():
    card = RenodeSDCard()
    mux = Mux(card)
    with pytest.raises(OSError, match="SDSC card not supported"):
        SDCard(MuxSPI(mux), MuxPin(mux))
    assert card.log == ["CMD0", "CMD8", "CMD59", "CMD55", "ACMD41", "CMD58"]


def test_the_renode_profiles_card_comes_up_and_moves_blocks(monkeypatch):
    card = RenodeSDCard(4 << 30)
    dev = profile_card(monkeypatch, card)
    assert dev.ioctl(4, 0) == 16384  # 4 GiB card (C_SIZE 8191), capped by the profile
    one = bytes(range(256)) * 2
    dev.writeblocks(7, one)
    many = bytes((i * 7) & 0xFF for i in range(512 * 5))
    dev.writeblocks(100, many)          # CMD25, stop token
    out = bytearray(512)
    dev.readblocks(7, out)              # CMD17
    assert out == one
    out = bytearray(512 * 5)
    dev.readblocks(100, out)            # CMD18 + CMD12
    assert out == many
    assert card.blocks[104] == many[-512:]
    assert {"CMD24", "CMD25", "CMD17", "CMD18", "CMD12"} <= set(card.log)


def test_renodes_card_ignores_crcs_accepts_every_write_and_is_never_busy():
    # What our model checks and Renode's does not (README "Renode"): a command with a bad
    # CRC7 is executed, a block with a bad CRC16 is written and acknowledged 0x05, and the
    # byte after the data response is already 0xFF.
    card = RenodeSDCard()
    t = card.transmit
    for b in b"\x40\x00\x00\x00\x00\x00":  # CMD0 with CRC7 0 (the right one is 0x95)
        t(b)
    assert t(0xFF) == 0xFF and t(0xFF) == 0x01  # one dummy byte, then R1 idle: executed
    card.state = 2  # past initialisation
    for b in b"\x58\x00\x00\x00\x05\x00":  # CMD24 block 5, CRC7 0
        t(b)
    t(0xFF)
    assert t(0xFF) == 0x00
    t(0xFF)
    t(0xFE)
    for _ in range(512):
        t(0xAB)
    t(0x00)
    t(0x00)  # CRC16 0000: wrong for this block
    assert t(0xFF) == 0x05  # accepted
    assert t(0xFF) == 0xFF  # and not busy
    assert card.blocks[5] == b"\xab" * 512
