"""Renode's SD card in SPI mode behind its SPIMultiplexer, transcribed to Python from
renode-infrastructure (commit 0c7d0762, see boards/renode/renode_names.json):
src/Emulator/Peripherals/Peripherals/SD/SDCard.cs (Transmit, HandleCommand, HandleRead,
HandleWrite, Generate*Response), SPI/SPIMultiplexer.cs and Utilities/BitStream.cs. Only the
path an SDHC card (capacity > 2 GiB) in SPI mode takes is here, so that our driver can be run
against what Renode will answer. Each rule names the C# it comes from; where Renode departs
from the SD specification the comment says so, and nothing is "fixed".
"""
from drivers.sdcrc import crc16

DUMMY = 0xFF               # SDCard.cs DummyByte
BLOCK_BEGIN = 0xFE         # BlockBeginIndicator
DATA_ACCEPTED = 0x05       # DataAcceptedResponse (the spec's xxx0 010 1, upper bits 0)
BLOCK = 512                # HighCapacityBlockLength

# spiContext.State / IoState / ReceptionState
CMD, ARGS, CRC, RESP = range(4)
IDLE, SREAD, MREAD, SWRITE, MWRITE = range(5)
TOKEN, DATA, DCRC, DRESP = range(4)
# SDCardState values that matter for R1 (only Idle is visible)
ST_IDLE, ST_READY, ST_OTHER = range(3)


def ocr_bytes():
    """The OCR as GenerateR3Response sends it: operatingConditionsGenerator.Bits.AsByteArray()
    without the Reverse() that R7 and the registers get. BitStream keeps bit i in byte i // 8,
    so the bytes go out least significant first: bits 7 (low-voltage), 8-23 (VDD windows), 30
    (CCS) and 31 (power up) set -> 80 FF FF C0. The spec sends OCR[31:24] first (C0 FF FF 80)."""
    value = (1 << 7) | (0xFFFF << 8) | (1 << 30) | (1 << 31)
    return bytes((value >> (8 * i)) & 0xFF for i in range(4))


def csd_register(capacity):
    """cardSpecificDataGenerator for a high-capacity card, as bytes MSB first
    (GenerateRegisterResponse reverses BitStream's order). Fields: CSD structure 1 (bits
    126-127), transfer rate/multiplier, card command classes 0/2/4, READ_BL_LEN and
    WRITE_BL_LEN 9, C_SIZE = capacity / 512 KiB - 1 (SDHelpers.TryFindParametersHighCapacity)."""
    v = 0
    v |= 9 << 22
    v |= (capacity // (512 * 1024) - 1) << 48
    v |= 9 << 80
    v |= (1 | 4 | 16) << 84
    v |= 2 << 96      # TransferRate.Transfer10Mbit
    v |= 2 << 99      # TransferMultiplier.Multiplier2_5 (enum value, not checked here)
    v |= 1 << 126
    return v.to_bytes(16, "big")


class RenodeSDCard:
    def __init__(self, capacity=4 << 30):
        assert capacity > 2 << 30, "below 2 GiB Renode makes an SDSC card (SDHelpers.TypeFromCapacity)"
        self.capacity = capacity
        self.blocks = {}          # sparse medium: block -> bytes
        self.state = ST_IDLE      # the card starts Idle (constructor -> Reset -> GoToIdle)
        self.app = False          # TreatNextCommandAsAppCommand
        self.spi_state = CMD
        self.io = IDLE
        self.rx = TOKEN
        self.queue = []
        self.cmd = 0
        self.arg = 0
        self.nargs = 0
        self.sent = 0
        self.buf = bytearray(BLOCK + 4)
        self.received = 0
        self.crc_bytes = 0
        self.read_off = 0
        self.write_off = 0
        self.log = []             # commands seen, for the tests

    # SDCard.FinishTransmission -> spiContext.Reset (ReceptionState is left as it was)
    def finish(self):
        self.queue = []
        self.nargs = 0
        self.arg = 0
        self.cmd = 0
        self.spi_state = CMD
        self.sent = 0
        self.io = IDLE

    def r1(self, illegal=False):  # GenerateR1Response: bit 0 idle, bit 2 illegal command
        return (1 if self.state == ST_IDLE else 0) | (4 if illegal else 0)

    def transmit(self, data):     # SDCard.Transmit
        if self.spi_state == CMD:
            if self.io == IDLE and data == DUMMY:
                return DUMMY
            if self.io in (IDLE, MREAD) and data != DUMMY:
                if data & 0x80 or not data & 0x40:
                    return self.r1(illegal=True)
                self.cmd = data & 0x3F
                self.nargs = 0
                self.arg = 0
                self.spi_state = ARGS
                return DUMMY
            if self.io in (SREAD, MREAD):
                return self.handle_read()
            if self.io in (SWRITE, MWRITE):
                return self.handle_write(data)
            return DUMMY
        if self.spi_state == ARGS:
            self.arg = (self.arg << 8) | data
            self.nargs += 1
            if self.nargs == 4:
                self.spi_state = CRC
            return DUMMY
        if self.spi_state == CRC:
            # "we don't check CRC": the CRC7 byte is taken and ignored
            result = self.command(self.cmd, self.arg)
            self.queue = [DUMMY] + list(result)  # one dummy byte, then the response
            self.spi_state = RESP
            return DUMMY
        res = self.queue.pop(0)   # SendingResponse
        if not self.queue:
            self.spi_state = CMD
        return res

    def command(self, cmd, arg):  # HandleCommand
        self.log.append(("ACMD" if self.app else "CMD") + str(cmd))
        app, self.app = self.app, False
        if app and cmd == 41:
            if arg & (1 << 30):   # HCS: a high-capacity card is ready only when the host says HCS
                self.state = ST_READY
            return bytes((self.r1(),))
        if app and cmd == 13:
            return bytes((self.r1(), 0))
        if cmd == 0:              # GoToIdle (spiContext.Reset as well)
            self.state = ST_IDLE
            self.finish()
            return bytes((self.r1(),))
        if cmd == 8:              # R7: OperatingVoltage reversed (00 00 01), check pattern
            return bytes((self.r1(), 0, 0, 1, arg & 0xFF))
        if cmd == 9:              # CSD as a data block: token, 16 bytes, CRC16
            reg = csd_register(self.capacity)
            c = crc16(reg)
            return bytes((self.r1(), BLOCK_BEGIN)) + reg + bytes((c >> 8, c & 0xFF))
        if cmd == 12:
            if self.state != ST_IDLE:
                self.state = ST_OTHER
            self.io = IDLE
            return bytes((self.r1(),))
        if cmd == 13:             # R2: "TODO: fill with the actual data" -> second byte 0
            return bytes((self.r1(), 0))
        if cmd in (16, 23, 59):   # CMD59: "we don't have to check CRC"
            return bytes((self.r1(),))
        if cmd in (17, 18):
            self.io = SREAD if cmd == 17 else MREAD
            self.state = ST_OTHER
            self.sent = 0
            self.read_off = arg * BLOCK
            return bytes((self.r1(),))
        if cmd in (24, 25):
            self.io = SWRITE if cmd == 24 else MWRITE
            self.state = ST_OTHER
            self.received = 0
            self.rx = TOKEN
            self.write_off = arg * BLOCK
            return bytes((self.r1(),))
        if cmd == 55:
            self.app = True
            return bytes((self.r1(),))
        if cmd == 58:
            return bytes((self.r1(),)) + ocr_bytes()
        return bytes((self.r1(illegal=True),))

    def handle_read(self):        # HandleRead: token, block, CRC16, one dummy byte
        if self.sent == 0:
            data = self.blocks.get(self.read_off // BLOCK, bytes(BLOCK))  # zeros: padding
            self.read_off += BLOCK
            c = crc16(data)
            self.buf[0] = BLOCK_BEGIN
            self.buf[1:BLOCK + 1] = data
            self.buf[BLOCK + 1] = c >> 8
            self.buf[BLOCK + 2] = c & 0xFF
            self.buf[BLOCK + 3] = DUMMY
        res = self.buf[self.sent]
        self.sent += 1
        if self.sent == BLOCK + 4:
            if self.io == SREAD:
                self.io = IDLE
            self.sent = 0
        return res

    def handle_write(self, data):  # HandleWrite
        if self.rx == TOKEN:
            if data == 0xFD:      # DataToken.StopTran
                self.io = IDLE
                self.state = ST_OTHER
            elif data in (0xFE, 0xFC):  # either start token, in either write mode
                self.received = 0
                self.rx = DATA
            return DUMMY
        if self.rx == DATA:
            self.buf[self.received] = data
            self.received += 1
            if self.received == BLOCK:
                self.rx = DCRC
                self.crc_bytes = 0
            return DUMMY
        if self.rx == DCRC:       # counted, never compared
            self.crc_bytes += 1
            if self.crc_bytes == 2:
                self.rx = DRESP
            return DUMMY
        # the byte after the CRC: the block is written, whatever it holds, and accepted;
        # the next byte already reads 0xFF: no busy phase
        self.blocks[self.write_off // BLOCK] = bytes(self.buf[:BLOCK])
        self.write_off += BLOCK
        self.rx = TOKEN
        if self.io == SWRITE:
            self.io = IDLE
        self.state = ST_OTHER
        return DATA_ACCEPTED


class Mux:
    """SPIMultiplexer with one card at address 0, input 0 active low (SetActiveLow 0): CS
    high -> no device selected, 0xFF back, and the card's FinishTransmission."""

    def __init__(self, card):
        self.card = card
        self.selected = False

    def gpio(self, value):
        self.selected = not value
        if value:
            self.card.finish()

    def transmit(self, b):
        return self.card.transmit(b) if self.selected else 0xFF


class MuxSPI:
    """machine.SPI over the multiplexer (the STM32SPI moves one byte per data-register write)."""

    def __init__(self, mux):
        self.mux = mux

    def init(self, *a, **kw):
        pass

    def write(self, buf):
        for b in bytes(buf):
            self.mux.transmit(b)

    def readinto(self, buf, write=0xFF):
        for i in range(len(buf)):
            buf[i] = self.mux.transmit(write)

    def write_readinto(self, wbuf, rbuf):
        for i, b in enumerate(bytes(wbuf)):
            rbuf[i] = self.mux.transmit(b)


class MuxPin:
    """PA4 driving the multiplexer's input 0."""
    OUT = 1
    IN = 0

    def __init__(self, mux, value=1):
        self.mux = mux
        self.v = 1
        self.mux.gpio(1)
        self.value(value)

    def init(self, mode=None, value=None):
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = 1 if v else 0
        self.mux.gpio(self.v)

    def __call__(self, v=None):
        return self.value(v)
