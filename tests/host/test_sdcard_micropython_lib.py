"""The emulated SD card, checked without our driver.

micropython-lib's sdcard.py is not published on PyPI, and nothing is vendored, so instead
of running it, this file talks to the card model with raw SPI bytes the way that driver
does (CS toggled between the blocks of a multi-block transfer, CRC checking off, dummy
0xFFFF data CRCs, the CMD12 stuff byte skipped), and with its own CRC code (bitwise
CRC7, binascii.crc_hqx), so the model's protocol is checked independently of
firmware/drivers/. Also: bytearray- and image-file-backed cards.
"""
import binascii

import pytest
from drivers.sdcard import SDCard
from emu.sdcard_model import EmuPin, EmuSPI, SDCardModel

MIB = 1 << 20


def crc7_bitwise(data):
    crc = 0
    for byte in data:
        for bit in range(7, -1, -1):
            top = (crc >> 6) & 1
            crc = (crc << 1) & 0x7F
            if ((byte >> bit) & 1) ^ top:
                crc ^= 0x09
    return crc


def crc16(data):
    return binascii.crc_hqx(bytes(data), 0)


class RawHost:
    """A bare-bones SPI-mode host: exact bytes, nothing hidden."""

    def __init__(self, card):
        self.card = card
        self.spi = EmuSPI(card)
        self.cs = EmuPin(card)
        self.spi.write(b"\xff" * 10)

    def frame(self, idx, arg, crc=None):
        f = bytes([0x40 | idx]) + arg.to_bytes(4, "big")
        return f + bytes([(crc7_bitwise(f) << 1) | 1 if crc is None else crc])

    def cmd(self, idx, arg, extra=0, release=True, skip1=False):
        """Send a command with CS low; return (R1, extra bytes, bytes before R1)."""
        self.cs(0)
        self.spi.write(self.frame(idx, arg))
        if skip1:
            self.spi.read(1)
        before = b""
        for _ in range(16):
            b = self.spi.read(1)
            if not b[0] & 0x80:
                break
            before += b
        else:
            self.release()
            return None, b"", before
        rest = self.spi.read(extra)
        if release:
            self.release()
        return b[0], rest, before

    def release(self):
        self.cs(1)
        self.spi.write(b"\xff")

    def read_block(self, n=512):
        """CS low, wait for a token, then n bytes and the CRC16; CS high after."""
        self.cs(0)
        gap = 0
        while True:
            t = self.spi.read(1)[0]
            if t != 0xFF:
                break
            gap += 1
            assert gap < 100
        if t != 0xFE:
            self.release()
            return t, b"", 0, gap
        data = self.spi.read(n)
        crc = int.from_bytes(self.spi.read(2), "big")
        self.release()
        return t, data, crc, gap

    def write_block(self, token, data, crc=None):
        """micropython-lib's write(): CS low, token, data, CRC, response, busy, CS high."""
        self.cs(0)
        self.spi.read(1, token)
        self.spi.write(data)
        self.spi.write((0xFFFF if crc is None else crc).to_bytes(2, "big"))
        resp = self.spi.read(1)[0]
        busy = 0
        while self.spi.read(1)[0] == 0:
            busy += 1
            assert busy < 100000
        self.release()
        return resp, busy

    def init(self, crc_on=False):
        assert self.cmd(0, 0)[0] == 0x01
        assert self.cmd(8, 0x1AA, 4)[:2] == (0x01, b"\x00\x00\x01\xaa")
        if crc_on:
            assert self.cmd(59, 1)[0] == 0x01
        for i in range(100):
            self.cmd(55, 0)
            if self.cmd(41, 0x40000000)[0] == 0:
                return i + 1
        raise AssertionError("no ready")


def test_init_sequence_and_registers():
    card = SDCardModel(MIB + 100 * 1024, ncr=3, init_polls=4)  # rounds down to 1 MiB
    h = RawHost(card)
    r1, _, before = h.cmd(0, 0)
    assert r1 == 0x01 and before == b"\xff" * 3  # NCR = 3
    assert h.cmd(8, 0x2AA, 4)[:2] == (0x01, b"\x00\x00\x00\xaa")  # 1.8 V: not accepted
    assert h.cmd(8, 0x1AA, 4)[:2] == (0x01, b"\x00\x00\x01\xaa")
    assert h.cmd(58, 0, 4)[:2] == (0x01, b"\x00\xff\x80\x00")  # busy: no power-up bit
    polls = 0
    while True:
        polls += 1
        assert h.cmd(55, 0)[0] == 0x01
        if h.cmd(41, 0x40000000)[0] == 0:
            break
    assert polls == 4
    assert h.cmd(58, 0, 4)[:2] == (0x00, b"\xc0\xff\x80\x00")  # powered up, CCS=1
    # CSD: R1, then a data block
    assert h.cmd(9, 0, release=False)[0] == 0
    t, csd, crc, _ = h.read_block(16)
    assert t == 0xFE and crc == crc16(csd)
    assert csd[0] >> 6 == 1  # CSD version 2.0
    assert csd[5] & 0x0F == 9  # READ_BL_LEN 512
    c_size = ((csd[7] & 0x3F) << 16) | (csd[8] << 8) | csd[9]
    assert (c_size + 1) * 512 * 1024 == MIB
    assert csd[15] == (crc7_bitwise(csd[:15]) << 1) | 1
    assert h.cmd(10, 0, release=False)[0] == 0
    t, cid, crc, _ = h.read_block(16)
    assert crc == crc16(cid) and cid[15] == (crc7_bitwise(cid[:15]) << 1) | 1
    assert cid[3:8] == b"SDMIR"
    h.cmd(55, 0)
    assert h.cmd(51, 0, release=False)[0] == 0
    t, scr, crc, _ = h.read_block(8)
    assert crc == crc16(scr) and scr[0] & 0x0F == 2  # SD spec 3.0x


def test_write_and_read_like_micropython_lib():
    card = SDCardModel(MIB, nac=4, write_busy=5)
    h = RawHost(card)
    h.init()
    assert h.cmd(16, 512)[0] == 0
    data = bytes(range(256)) * 2
    # single block, CRC off: the dummy 0xFFFF CRC is accepted
    assert h.cmd(24, 7)[0] == 0
    resp, busy = h.write_block(0xFE, data)
    assert resp == 0xE5 and resp & 0x1F == 0x05 and busy == 5
    assert card.peek(7) == data
    assert h.cmd(17, 7, release=False)[0] == 0
    t, back, crc, gap = h.read_block()
    assert (t, back, crc, gap) == (0xFE, data, crc16(data), 4)
    # multi-block write with CS high between blocks, then the stop token
    blocks = [bytes([i]) * 512 for i in range(1, 5)]
    assert h.cmd(25, 100)[0] == 0
    for b in blocks:
        assert h.write_block(0xFC, b)[0] & 0x1F == 0x05
    h.cs(0)
    h.spi.read(1, 0xFD)
    h.spi.write(b"\xff")
    busy = 0
    while h.spi.read(1)[0] == 0:
        busy += 1
    h.release()
    assert busy == card.stop_busy
    assert card.peek(100, 4) == b"".join(blocks)
    # multi-block read with CS high between blocks, CMD12 with its stuff byte
    assert h.cmd(18, 100, release=False)[0] == 0
    for b in blocks[:3]:
        t, back, crc, _ = h.read_block()
        assert back == b and crc == crc16(b)
    r1, _, before = h.cmd(12, 0, release=False, skip1=True)
    assert r1 == 0 and before == b"\xff" * (card.ncr - 1)
    busy = 0
    while h.spi.read(1)[0] == 0:
        busy += 1
    h.release()
    assert busy == card.stop_busy
    assert card.blocks_read == 4  # 1 + 3: no block started during CMD12


def test_block_sent_in_one_write_and_cmd12_ending_a_write():
    card = SDCardModel(MIB, write_busy=3)
    h = RawHost(card)
    h.init(crc_on=True)
    data = bytes(range(1, 256)) * 2 + b"\x00\x00"
    # token, data and CRC in one write() call, response and busy in one read
    assert h.cmd(25, 8, release=False)[0] == 0
    h.spi.write(b"\xff\xfc" + data + crc16(data).to_bytes(2, "big"))
    assert h.spi.read(6) == b"\xe5\x00\x00\x00\xff\xff"
    h.release()
    # CMD12 instead of the stop token also ends a multi-block write (as an R1b)
    r1, _, _ = h.cmd(12, 0, release=False)
    assert r1 == 0
    assert h.spi.read(card.stop_busy + 1) == b"\x00" * card.stop_busy + b"\xff"
    h.release()
    assert card.peek(8) == data
    # and a command frame followed by idle bytes in one write_readinto
    h.cs(0)
    w = h.frame(17, 8) + b"\xff" * 530
    r = bytearray(len(w))
    h.spi.write_readinto(w, r)
    h.release()
    at = 6 + card.ncr
    assert r[at] == 0 and r[at + 1 + card.nac] == 0xFE
    assert r[at + 2 + card.nac : at + 2 + card.nac + 512] == data
    with pytest.raises(ValueError):
        SDCardModel(MIB, ncr=0)  # NCR is 1..8


def test_acmd22_counts_well_written_blocks_after_a_write_error():
    card = SDCardModel(MIB)
    h = RawHost(card)
    h.init()
    assert h.cmd(25, 0)[0] == 0
    for i in range(3):
        assert h.write_block(0xFC, bytes([i]) * 512)[0] & 0x1F == 0x05
    card.inject("write_error")
    assert h.write_block(0xFC, b"\x09" * 512)[0] & 0x1F == 0x0D
    h.cs(0)
    h.spi.read(1, 0xFD)
    h.spi.write(b"\xff" * 8)
    h.release()
    assert h.cmd(13, 0, 1)[:2] == (0, b"\x04")  # R2: error
    h.cmd(55, 0)
    assert h.cmd(22, 0, release=False)[0] == 0
    t, count, crc, _ = h.read_block(4)
    assert count == b"\x00\x00\x00\x03" and crc == crc16(count)


def test_stuff_byte_is_not_an_r1_lookalike_of_success():
    card = SDCardModel(MIB)
    h = RawHost(card)
    h.init()
    assert h.cmd(18, 0, release=False)[0] == 0
    h.read_block()
    h.cs(0)
    h.spi.write(h.frame(12, 0))
    assert h.spi.read(1)[0] == card.stuff_byte == 0x7F  # a driver that does not skip it sees errors
    h.release()


def test_crc_checking_of_data_blocks():
    card = SDCardModel(MIB)
    h = RawHost(card)
    h.init(crc_on=True)
    data = b"\x5a" * 512
    assert h.cmd(24, 3)[0] == 0
    assert h.write_block(0xFE, data)[0] & 0x1F == 0x0B  # dummy CRC now rejected
    assert card.peek(3) == bytes(512) and card.data_crc_errors == 1
    assert h.cmd(24, 3)[0] == 0
    assert h.write_block(0xFE, data, crc16(data))[0] & 0x1F == 0x05
    assert card.peek(3) == data


def test_read_past_the_end_gives_out_of_range_token():
    card = SDCardModel(MIB // 2)
    h = RawHost(card)
    h.init()
    assert h.cmd(17, 1024)[0] == 0x20  # start out of range: address error
    assert h.cmd(18, 1022, release=False)[0] == 0
    assert h.read_block()[0] == 0xFE
    assert h.read_block()[0] == 0xFE
    assert h.read_block()[0] == 0x08  # data error token: out of range
    r1, _, _ = h.cmd(12, 0, release=False, skip1=True)
    assert r1 == 0
    h.release()
    # R1b: the card is busy for a little longer and deaf meanwhile; a host that does
    # not wait loses the start of its next command
    assert h.cmd(13, 0, 1)[0] is None
    assert h.cmd(13, 0, 1)[:2] == (0, b"\x80")


def test_removed_card_is_silent():
    card = SDCardModel(MIB)
    h = RawHost(card)
    h.init()
    card.inject("removed")
    assert h.cmd(13, 0, 1)[0] is None
    card.inject("inserted")
    assert h.cmd(13, 0, 1)[0] is None  # powered up again, in SD mode: needs CMD0
    assert h.cmd(0, 0)[0] == 0x01
    assert h.cmd(13, 0, 1)[0] == 0x05  # idle state: CMD13 illegal there


def test_bulk_transfers_do_not_go_byte_by_byte():
    card = SDCardModel(MIB)
    sd = SDCard(EmuSPI(card), EmuPin(card))
    calls = [0]
    step = card._step

    def counting(b):
        calls[0] += 1
        return step(b)

    card._step = counting
    buf = bytearray(64 * 512)
    sd.writeblocks(0, buf)
    sd.readblocks(0, buf)
    assert calls[0] < 64 * 4 + 40  # tokens and command frames only


def test_bytearray_backed_card():
    ram = bytearray(MIB)
    card = SDCardModel(ram)
    sd = SDCard(EmuSPI(card), EmuPin(card))
    data = bytes(range(256)) * 8
    sd.writeblocks(9, data)
    assert ram[9 * 512 : 13 * 512] == data
    ram[20 * 512 : 21 * 512] = b"\x11" * 512  # edits of the bytearray are seen by the card
    back = bytearray(512)
    sd.readblocks(20, back)
    assert back == b"\x11" * 512


def test_image_file_backed_card(tmp_path):
    img = tmp_path / "card.img"
    img.write_bytes(b"\x00" * (2 * MIB + 1000))  # not a multiple of 512 KiB: rounded down
    card = SDCardModel(str(img))
    sd = SDCard(EmuSPI(card), EmuPin(card))
    assert sd.sectors == 4096
    data = bytes(range(256)) * 6
    sd.writeblocks(4095 - 2, data)
    sd.writeblocks(17, data[:512])
    with open(img, "rb") as f:  # visible at once to another reader: no buffering
        f.seek(17 * 512)
        assert f.read(512) == data[:512]
        f.seek((4095 - 2) * 512)
        assert f.read(3 * 512) == data
        assert len(f.read()) == 1000  # the tail past the rounded size is untouched
    back = bytearray(3 * 512)
    sd.readblocks(4093, back)
    assert back == data
    card.close()


def test_torn_multi_block_write_leaves_accepted_blocks(tmp_path):
    img = tmp_path / "card.img"
    img.write_bytes(b"\x00" * MIB)
    card = SDCardModel(str(img))
    h = RawHost(card)
    h.init()
    assert h.cmd(25, 50)[0] == 0
    assert h.write_block(0xFC, b"\xaa" * 512)[0] & 0x1F == 0x05
    assert h.write_block(0xFC, b"\xbb" * 512)[0] & 0x1F == 0x05
    h.cs(0)
    h.spi.read(1, 0xFC)
    h.spi.write(b"\xcc" * 300)  # power lost in the middle of the third block
    card.close()
    raw = img.read_bytes()
    assert raw[50 * 512 : 52 * 512] == b"\xaa" * 512 + b"\xbb" * 512
    assert raw[52 * 512 : 53 * 512] == b"\x00" * 512
    # after the restart the card is a fresh one on the same image
    card = SDCardModel(str(img))
    sd = SDCard(EmuSPI(card), EmuPin(card))
    back = bytearray(3 * 512)
    sd.readblocks(50, back)
    assert back == b"\xaa" * 512 + b"\xbb" * 512 + b"\x00" * 512
    card.close()
