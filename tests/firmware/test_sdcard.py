# The firmware's SD driver (firmware/drivers/sdcard.py) against the emulated card
# (boards/emu/sdcard_model.py), plus the card's answers to raw command frames.
# Dual-run: pytest on CPython and the MicroPython VM (no fixtures, only fwtest helpers).
from drivers.sdcard import SDCard
from drivers.sdcrc import crc7, crc16, crc16_py
from emu.sdcard_model import EmuPin, EmuSPI, SDCardModel
from fwtest import raises, randbytes, rng

EIO = 5
EINVAL = 22
ETIMEDOUT = 110
MIB = 1 << 20


class CountingSPI(EmuSPI):
    """EmuSPI that counts bytes clocked, to show a failure is found within a bound."""

    def __init__(self, card):
        self.clocked = 0
        EmuSPI.__init__(self, card)

    def readinto(self, buf, write=0xFF):
        self.clocked += len(buf)
        EmuSPI.readinto(self, buf, write)

    def write(self, buf):
        self.clocked += len(buf)
        EmuSPI.write(self, buf)


def make(size=MIB, **kw):
    """A sparse RAM card (fits a small VM heap) and an initialised driver on it."""
    card = SDCardModel(size, **kw)
    spi = CountingSPI(card)
    sd = SDCard(spi, EmuPin(card))
    return card, spi, sd


def pattern(nblocks, seed):
    rng(seed)
    return randbytes(nblocks * 512)


# ---- raw frames: talk to the card without the driver ---------------------------------


def frame(cmd, arg, crc=None):
    f = bytearray(6)
    f[0] = 0x40 | cmd
    f[1] = (arg >> 24) & 0xFF
    f[2] = (arg >> 16) & 0xFF
    f[3] = (arg >> 8) & 0xFF
    f[4] = arg & 0xFF
    f[5] = ((crc7(f, 5) << 1) | 1) if crc is None else crc
    return f


def raw_cmd(spi, cs, cmd, arg, extra=0, crc=None):
    """Send one command; return [R1, extra bytes...] or [] if the card never answered."""
    cs(0)
    spi.write(frame(cmd, arg, crc))
    out = []
    for _ in range(16):
        b = spi.read(1)[0]
        if not b & 0x80:
            out.append(b)
            out.extend(spi.read(extra))
            break
    cs(1)
    spi.write(b"\xff")
    return out


def raw_card(size=MIB, **kw):
    card = SDCardModel(size, **kw)
    spi = EmuSPI(card)
    cs = EmuPin(card)
    spi.write(b"\xff" * 10)  # power-up clocks
    return card, spi, cs


def raw_init(spi, cs, crc_on=False):
    assert raw_cmd(spi, cs, 0, 0) == [0x01]
    assert raw_cmd(spi, cs, 8, 0x1AA, 4) == [0x01, 0, 0, 1, 0xAA]
    if crc_on:
        assert raw_cmd(spi, cs, 59, 1) == [0x01]
    for _ in range(20):
        raw_cmd(spi, cs, 55, 0)
        if raw_cmd(spi, cs, 41, 0x40000000) == [0]:
            return
    raise AssertionError("card did not get ready")


# ---- CRCs -----------------------------------------------------------------------------


def test_crc7_known_answers():
    assert (crc7(b"\x40\x00\x00\x00\x00", 5) << 1) | 1 == 0x95  # CMD0
    assert (crc7(b"\x48\x00\x00\x01\xaa", 5) << 1) | 1 == 0x87  # CMD8 0x1AA
    assert (crc7(b"\x4c\x00\x00\x00\x00", 5) << 1) | 1 == 0x61  # CMD12
    assert (crc7(b"\x51\x00\x00\x00\x00", 5) << 1) | 1 == 0x55  # CMD17 block 0
    assert crc7(b"\x40\x00\x00\x00\x00\xff", 5) == 0x4A  # n bounds the input


def test_crc16_known_answers():
    assert crc16(b"\xff" * 512) == 0x7FA1
    assert crc16(b"123456789") == 0x31C3
    assert crc16(b"") == 0
    assert crc16_py(b"\xff" * 512) == 0x7FA1
    data = pattern(2, 1)
    mv = memoryview(data)
    assert crc16(mv[100:612]) == crc16_py(data[100:612])
    assert crc16(data) == crc16_py(data)


# ---- init and geometry ----------------------------------------------------------------


def test_init_and_geometry():
    card, spi, sd = make()
    assert sd.sectors == 2048
    assert sd.ioctl(4, 0) == 2048
    assert sd.ioctl(5, 0) == 512
    assert card.cmd_counts[59] == 1  # CRC checking was switched on
    assert card.cmd_counts[41] == card.init_polls
    n = card.commands
    assert sd.ioctl(1, 0) == 0  # already initialised: no re-init on mount
    assert card.commands == n
    assert sd.ioctl(3, 0) == 0 and sd.ioctl(6, 0) == 0


def test_csd_size_and_rounding():
    for size, blocks in ((512 * 1024, 1024), (3 * MIB // 2, 3072), (MIB + 100 * 1024, 2048)):
        card, spi, sd = make(size)
        assert card.blocks == blocks
        assert sd.sectors == blocks
    raises(ValueError, SDCardModel, 256 * 1024)
    raises(ValueError, SDCardModel, bytearray(1024))


def test_slow_card_timings():
    # Long NCR, long read access gap, long busy, slow init: still works.
    card, spi, sd = make(ncr=8, nac=300, write_busy=2000, init_polls=50, stop_busy=40)
    data = pattern(3, 2)
    sd.writeblocks(7, data)
    back = bytearray(len(data))
    sd.readblocks(7, back)
    assert back == data


# ---- data round trips -----------------------------------------------------------------


def test_single_block_round_trip():
    # (bytearray- and file-backed cards: tests/host/test_sdcard_micropython_lib.py)
    card, spi, sd = make()
    data = pattern(1, 3)
    sd.writeblocks(5, data)
    assert card.peek(5) == data
    back = bytearray(512)
    sd.readblocks(5, back)
    assert back == data
    assert card.cmd_counts[24] == 1 and card.cmd_counts[17] == 1


def test_peek_and_poke_bypass_the_bus():
    card, spi, sd = make()
    data = pattern(2, 14)
    card.poke(40, data)  # e.g. silent corruption injected by the emulator
    assert card.blocks_written == 0
    back = bytearray(1024)
    sd.readblocks(40, back)
    assert back == data and card.peek(40, 2) == data
    assert card.peek(1000) == bytes(512)  # never written: zeros


def test_multi_block_round_trip():
    card, spi, sd = make()
    data = pattern(16, 4)
    sd.writeblocks(2032, data)  # up to the last block of the card
    assert card.peek(2032, 16) == data
    back = bytearray(len(data))
    sd.readblocks(2032, back)
    assert back == data
    assert card.cmd_counts[25] == 1 and card.cmd_counts[18] == 1 and card.cmd_counts[12] == 1
    assert card.blocks_written == 16 and card.blocks_read == 16  # no read-ahead
    part = bytearray(3 * 512)
    sd.readblocks(2033, memoryview(part))
    assert part == data[512 : 4 * 512]


def test_offset_and_length_rules():
    card, spi, sd = make()
    buf = bytearray(512)
    assert raises(OSError, sd.readblocks, 0, buf, 1).args[0] == EINVAL
    assert raises(OSError, sd.writeblocks, 0, buf, 4).args[0] == EINVAL
    assert raises(OSError, sd.readblocks, 0, bytearray(100)).args[0] == EINVAL
    assert raises(OSError, sd.writeblocks, 0, bytearray(0)).args[0] == EINVAL
    assert raises(OSError, sd.readblocks, 0, bytearray(700)).args[0] == EINVAL
    sd.readblocks(0, buf, 0)


# ---- CRC on the command line ----------------------------------------------------------


def test_cmd0_with_bad_crc_is_not_heard():
    card, spi, cs = raw_card()
    assert raw_cmd(spi, cs, 0, 0, crc=0x97) == []  # still in SD mode: silence
    assert raw_cmd(spi, cs, 0, 0, crc=0x95) == [0x01]
    # in SPI mode a bad CMD0 gets a CRC error, and CMD8 is always checked too
    assert raw_cmd(spi, cs, 0, 0, crc=0x01) == [0x09]
    assert raw_cmd(spi, cs, 8, 0x1AA, crc=0x01) == [0x09]


def test_cmd0_needs_power_up_clocks_and_cs():
    card = SDCardModel(MIB)
    spi = EmuSPI(card)
    cs = EmuPin(card)
    assert raw_cmd(spi, cs, 0, 0) == []  # fewer than 74 clocks since power-up
    spi.write(b"\xff" * 10)
    cs(1)
    spi.write(frame(0, 0))  # CS high: not for this card
    assert spi.read(8) == b"\xff" * 8
    assert raw_cmd(spi, cs, 0, 0) == [0x01]


def test_driver_init_fails_on_silent_card():
    card = SDCardModel(MIB)
    card.inject("removed")
    spi = CountingSPI(card)
    e = raises(OSError, SDCard, spi, EmuPin(card))
    assert e.args[0] == ETIMEDOUT
    assert spi.clocked < 400


def test_cmd59_turns_on_crc_checking():
    card, spi, cs = raw_card()
    raw_init(spi, cs)
    assert raw_cmd(spi, cs, 13, 0, 1, crc=0x00) == [0, 0]  # CRC off: bad CRC ignored
    assert raw_cmd(spi, cs, 59, 1) == [0]
    assert raw_cmd(spi, cs, 13, 0, 1, crc=0x00) == [0x08, 0xFF]  # R1 only
    assert card.cmd_crc_errors == 1
    assert raw_cmd(spi, cs, 13, 0, 1) == [0, 0]


def test_driver_commands_pass_crc_check():
    card, spi, sd = make()
    sd.writeblocks(1, pattern(4, 5))
    sd.readblocks(1, bytearray(2048))
    assert card.cmd_crc_errors == 0 and card.data_crc_errors == 0
    assert raw_cmd(spi, sd.cs, 17, 0, crc=0x00) == [0x08]  # and the card really checks


# ---- read faults ----------------------------------------------------------------------


def test_read_crc_error_is_retried():
    card, spi, sd = make()
    data = pattern(8, 6)
    sd.writeblocks(100, data)
    card.inject("read_crc", 2)
    back = bytearray(512)
    sd.readblocks(100, back)
    assert back == data[:512] and sd.crc_retries == 2
    # In the middle of a multi-block stream: the 4th block arrives bad, the driver
    # stops the stream and reads on from that block.
    sd.crc_retries = 0
    orig = card._read_store
    armed = [True]

    def load(lba, dst):
        orig(lba, dst)
        if lba == 103 and armed[0]:
            armed[0] = False
            card.inject("read_crc")

    card._read_store = load
    n0 = card.blocks_read
    back = bytearray(len(data))
    sd.readblocks(100, back)
    card._read_store = orig
    assert back == data and sd.crc_retries == 1
    assert card.blocks_read - n0 == 4 + 5
    assert card.cmd_counts[18] == 2 and card.cmd_counts[12] == 2


def test_read_crc_error_gives_up():
    card, spi, sd = make()
    card.inject("read_crc", sd.read_retries + 1)
    e = raises(OSError, sd.readblocks, 3, bytearray(1024))
    assert e.args[0] == EIO
    assert card.read_crc_faults == 0
    back = bytearray(1024)
    sd.readblocks(3, back)  # the card and driver are fine afterwards
    assert back == card.peek(3, 2)


def test_read_timeout_and_error_token():
    card, spi, sd = make()
    sd.token_polls = 200
    card.inject("read_timeout")
    assert raises(OSError, sd.readblocks, 0, bytearray(512)).args[0] == ETIMEDOUT
    card.inject("read_timeout")
    assert raises(OSError, sd.readblocks, 0, bytearray(2048)).args[0] == ETIMEDOUT
    card.inject("read_error")
    assert raises(OSError, sd.readblocks, 0, bytearray(2048)).args[0] == EIO
    assert sd.last_token == 0x01
    sd.readblocks(0, bytearray(2048))


# ---- write faults ---------------------------------------------------------------------


def test_write_error_raises():
    card, spi, sd = make()
    card.inject("write_error")
    assert raises(OSError, sd.writeblocks, 9, pattern(1, 7)).args[0] == EIO
    assert card.peek(9, 1) == bytes(512)
    assert sd.last_token & 0x1F == 0x0D
    assert sd.status() & 0xFF == 0x04  # R2: error
    assert sd.status() == 0  # cleared by reading
    data = pattern(6, 8)
    card.inject("write_crc")
    assert raises(OSError, sd.writeblocks, 20, data).args[0] == EIO
    assert sd.last_token & 0x1F == 0x0B
    assert card.peek(20, 6) == bytes(6 * 512)
    sd.writeblocks(20, data)  # card and driver recover
    assert card.peek(20, 6) == data


def test_write_error_mid_stream():
    card, spi, sd = make()
    data = pattern(6, 9)
    # the fault hits the 4th block: armed when the 3rd is stored
    orig = card._write_store

    def store(lba, src):
        orig(lba, src)
        if lba == 32:
            card.inject("write_error")

    card._write_store = store
    assert raises(OSError, sd.writeblocks, 30, data).args[0] == EIO
    assert card.peek(30, 3) == data[: 3 * 512]
    assert card.peek(33, 3) == bytes(3 * 512)
    card._write_store = orig
    sd.writeblocks(30, data)
    assert card.peek(30, 6) == data


def test_stuck_busy_times_out():
    card, spi, sd = make()
    sd.busy_polls = 50
    card.inject("busy")
    assert raises(OSError, sd.writeblocks, 1, pattern(1, 10)).args[0] == ETIMEDOUT
    assert raises(OSError, sd.readblocks, 1, bytearray(512)).args[0] == ETIMEDOUT
    card.power_cycle()
    sd.init_card()
    sd.readblocks(1, bytearray(512))


def test_card_removed_times_out_quickly():
    card, spi, sd = make()
    card.remove()
    start = spi.clocked
    assert raises(OSError, sd.readblocks, 0, bytearray(4096)).args[0] == ETIMEDOUT
    assert raises(OSError, sd.writeblocks, 0, bytearray(512)).args[0] == ETIMEDOUT
    assert raises(OSError, sd.writeblocks, 0, bytearray(4096)).args[0] == ETIMEDOUT
    assert spi.clocked - start < 200
    assert raises(OSError, sd.init_card).args[0] == ETIMEDOUT
    card.insert()
    sd.init_card()
    data = pattern(2, 11)
    sd.writeblocks(4, data)
    assert card.peek(4, 2) == data


# ---- addresses and commands -----------------------------------------------------------


def test_address_error_beyond_the_end():
    card, spi, sd = make()
    assert raises(OSError, sd.readblocks, 2048, bytearray(512)).args[0] == EIO
    assert raises(OSError, sd.writeblocks, 2047, bytearray(1024)).args[0] == EIO
    assert raw_cmd(spi, sd.cs, 17, 2048) == [0x20]
    assert raw_cmd(spi, sd.cs, 25, 5000) == [0x20]
    # let the driver past its own range check, to see the card's side
    sd.sectors = 2056
    assert raises(OSError, sd.readblocks, 2050, bytearray(512)).args[0] == EIO
    assert raises(OSError, sd.readblocks, 2046, bytearray(4 * 512)).args[0] == EIO
    assert sd.last_token == 0x08  # data error token: out of range
    data = pattern(4, 12)
    assert raises(OSError, sd.writeblocks, 2046, data).args[0] == EIO
    assert card.peek(2046, 2) == data[:1024]
    assert sd.status() & 0xFF == 0x84  # out of range + error
    sd.sectors = 2048
    sd.readblocks(2046, bytearray(1024))


def test_cmd16_and_illegal_commands():
    card, spi, cs = raw_card()
    assert raw_cmd(spi, cs, 0, 0) == [0x01]
    assert raw_cmd(spi, cs, 17, 0) == [0x05]  # idle state: only init commands
    assert raw_cmd(spi, cs, 9, 0) == [0x05]
    raw_init(spi, cs, crc_on=True)
    assert raw_cmd(spi, cs, 16, 1024) == [0x40]
    assert raw_cmd(spi, cs, 16, 512) == [0]
    assert raw_cmd(spi, cs, 60, 0) == [0x04]  # unknown command
    assert raw_cmd(spi, cs, 1, 0) == [0x04]  # CMD1 is MMC's init
    assert raw_cmd(spi, cs, 12, 0) == [0x04]  # nothing to stop
    assert raw_cmd(spi, cs, 8, 0x1AA) == [0x04]  # CMD8 only in idle state
    raw_cmd(spi, cs, 55, 0)
    assert raw_cmd(spi, cs, 6, 2) == [0x04]  # ACMD6: no bus width in SPI mode
    assert raw_cmd(spi, cs, 58, 0, 4) == [0, 0xC0, 0xFF, 0x80, 0x00]


def test_acmd41_needs_cmd8_and_hcs():
    card, spi, cs = raw_card()
    assert raw_cmd(spi, cs, 0, 0) == [0x01]
    for _ in range(10):
        raw_cmd(spi, cs, 55, 0)
        assert raw_cmd(spi, cs, 41, 0x40000000) == [0x01]  # no CMD8: never ready
    assert raw_cmd(spi, cs, 8, 0x1AA, 4) == [0x01, 0, 0, 1, 0xAA]
    for _ in range(10):
        raw_cmd(spi, cs, 55, 0)
        assert raw_cmd(spi, cs, 41, 0) == [0x01]  # HCS=0: never ready
    assert raw_cmd(spi, cs, 58, 0, 4) == [0x01, 0x00, 0xFF, 0x80, 0x00]  # not powered up


def test_deselect_drops_half_a_command():
    card, spi, cs = raw_card()
    raw_init(spi, cs)
    cs(0)
    spi.write(frame(16, 1024)[:3])
    cs(1)
    assert raw_cmd(spi, cs, 16, 512) == [0]
    assert card.cmd_counts[16] == 1


def test_erase_sequence():
    card, spi, sd = make()
    sd.writeblocks(10, pattern(4, 13))
    assert raw_cmd(spi, sd.cs, 38, 0) == [0x10]  # no start/end: erase sequence error
    assert raw_cmd(spi, sd.cs, 32, 11) == [0]
    assert raw_cmd(spi, sd.cs, 33, 12) == [0]
    assert raw_cmd(spi, sd.cs, 38, 0) == [0]
    back = bytearray(4 * 512)
    sd.readblocks(10, back)
    assert back[512:1536] == bytes(1024) and back[:512] != bytes(512)


def test_spi_lookalike():
    card, spi, cs = raw_card()
    raw_init(spi, cs)
    cs(0)
    wbuf = frame(13, 0) + b"\xff" * 6
    rbuf = bytearray(len(wbuf))
    spi.write_readinto(wbuf, rbuf)
    cs(1)
    assert rbuf[6:] == b"\xff\xff\x00\x00\xff\xff"  # NCR=2, then R2
    raises(ValueError, spi.write_readinto, b"\xff", bytearray(2))
    assert cs.value() == 1
    cs.off()
    assert cs() == 0
    cs.on()
    assert cs.value() == 1


def test_stats():
    card, spi, sd = make()
    sd.writeblocks(0, bytearray(4096))
    sd.readblocks(0, bytearray(4096))
    st = card.stats()
    assert st["blocks_written"] == 8 and st["blocks_read"] == 8
    assert st["commands"] == card.commands > 10
