# SD card driver over machine.SPI (SPI mode of the SD Physical Layer Simplified Spec),
# the same on the boards and on the emulator's card model. A block device in MicroPython's
# protocol (readblocks / writeblocks / ioctl), so vfs.VfsFat can mount it.
#
# Stricter than micropython-lib's sdcard.py, because the mirror must never take a bad
# block for a good one:
# - CRC on: CMD59(1) right after CMD8, a CRC7 on every command, a CRC16 on every
#   written block, and every read block's CRC16 is checked. A read with a CRC mismatch
#   is repeated (read_retries times per block), then OSError(EIO).
# - Every written block's data response is checked: CRC error or write error ->
#   the transfer is stopped and OSError(EIO) is raised. Blocks before the failed one of
#   a multi-block write are on the card; the failed one and later ones are not.
# - Every wait is bounded: R1 (NCR), data start token, busy. No response ->
#   OSError(ETIMEDOUT). The bounds are counts of polls, not times (no clock needed);
#   token_polls and busy_polls are instance attributes a board (or a test) may change.
# - Only SDHC/SDXC (SD v2, CCS=1, block addressing, CSD 2.0). An SDSC or v1 card is
#   refused with OSError(EIO, "...not supported...") at init: all cards sold for a decade
#   are SDHC/SDXC and byte addressing would be untested code.
# - The chip select stays low for a whole transaction (command, data, busy); each
#   transaction starts by waiting until the card is not busy.
# - readblocks / writeblocks take a buffer of whole blocks and offset 0 only (partial
#   block access -> OSError(EINVAL)); a range past the end of the card -> OSError(EIO).
#
# Allocation: command, token, CRC and busy buffers are preallocated; the data path
# allocates only one memoryview slice per block of a multi-block transfer.
from micropython import const

from drivers.sdcrc import crc7, crc16

_EIO = const(5)
_EINVAL = const(22)
_ETIMEDOUT = const(110)

_R1_IDLE = const(0x01)
_R1_ILLEGAL = const(0x04)
_TOKEN_START = const(0xFE)
_TOKEN_MULTI = const(0xFC)
_DR_MASK = const(0x1F)
_DR_ACCEPTED = const(0x05)
_HCS = const(0x40000000)
_OCR_POWERED = const(0x80)  # OCR bit 31, first byte of R3's payload
_OCR_CCS = const(0x40)  # OCR bit 30

_INIT_BAUD = const(400000)  # identification mode: at most 400 kHz
_CMD0_TRIES = const(5)
_ACMD41_POLLS = const(5000)  # >= 1 s of CMD55+ACMD41 pairs at 400 kHz
_R1_POLLS = const(16)  # NCR is 1..8 bytes
_DR_POLLS = const(8)  # data response follows the CRC; allow a little slack
_TOKEN_POLLS = const(50000)  # 100 ms read access time at several us a poll
_BUSY_POLLS = const(100000)  # 500 ms SDXC write busy, polled _BUSY_CHUNK bytes at a time
_BUSY_CHUNK = const(16)
_READ_RETRIES = const(3)

# Results of one data-block read
_RD_OK = const(0)
_RD_BADCRC = const(1)
_RD_TIMEOUT = const(2)
_RD_ERRTOKEN = const(3)


class SDCard:
    """SDHC/SDXC card on `spi` (machine.SPI) with chip select `cs` (machine.Pin)."""

    def __init__(self, spi, cs, baudrate=1320000):
        self.spi = spi
        self.cs = cs
        self._cmdbuf = bytearray(6)
        self._tok = bytearray(1)
        self._wblk = bytearray(516)  # NWR gap byte, start token, block, CRC16
        self._wblk[0] = 0xFF
        self._crc = bytearray(2)
        self._r = bytearray(4)  # payload of R3 / R7
        self._busybuf = bytearray(_BUSY_CHUNK)
        self._csd = bytearray(16)
        self._rblk = memoryview(bytearray(514))  # a data block and its CRC16, as read
        self._rdata = self._rblk[0:512]
        self.token_polls = _TOKEN_POLLS
        self.busy_polls = _BUSY_POLLS
        self.read_retries = _READ_RETRIES
        self.crc_retries = 0  # reads repeated after a CRC16 mismatch (statistics)
        self.last_token = 0  # last data error token or data response, for diagnosis
        self.sectors = 0
        self._ready = False
        self._rst = _RD_OK
        self.init_card(baudrate)

    # ---- initialisation ----------------------------------------------------------

    def init_card(self, baudrate=None):
        """Reset and initialise the card; afterwards the bus runs at `baudrate`."""
        if baudrate is not None:
            self.baudrate = baudrate
        self._ready = False
        cs = self.cs
        spi = self.spi
        cs.init(cs.OUT, value=1)
        spi.init(baudrate=_INIT_BAUD, polarity=0, phase=0)
        spi.write(b"\xff" * 16)  # >= 74 clocks with CS high before the first command
        for _ in range(_CMD0_TRIES):
            if self._cmd(0, 0) == _R1_IDLE:
                break
        else:
            raise OSError(_ETIMEDOUT, "no SD card")
        r1 = self._cmd(8, 0x1AA, 4)  # 2.7-3.6 V, check pattern 0xAA
        if r1 < 0:
            raise OSError(_ETIMEDOUT, "SD card: no answer to CMD8")
        if r1 & _R1_ILLEGAL:
            raise OSError(_EIO, "SD v1 card not supported (SDHC/SDXC only)")
        if r1 != _R1_IDLE or self._r[2] & 0x0F != 1 or self._r[3] != 0xAA:
            raise OSError(_EIO, "SD card: bad CMD8 answer")
        if self._cmd(59, 1) != _R1_IDLE:  # CRC checking on, before anything else
            raise OSError(_EIO, "SD card: CMD59 refused")
        for _ in range(_ACMD41_POLLS):
            r1 = self._cmd(55, 0)
            if r1 == _R1_IDLE or r1 == 0:
                r1 = self._cmd(41, _HCS)
            if r1 == 0:
                break
            if r1 != _R1_IDLE:
                raise OSError(_ETIMEDOUT if r1 < 0 else _EIO, "SD card: ACMD41 failed")
        else:
            raise OSError(_ETIMEDOUT, "SD card: init timeout")
        if self._cmd(58, 0, 4) != 0 or not self._r[0] & _OCR_POWERED:
            raise OSError(_EIO, "SD card: bad OCR")
        if not self._r[0] & _OCR_CCS:
            raise OSError(_EIO, "SDSC card not supported (SDHC/SDXC only)")
        self.sectors = self._read_csd()
        if self._cmd(16, 512) != 0:
            raise OSError(_EIO, "SD card: CMD16 refused")
        spi.init(baudrate=self.baudrate, polarity=0, phase=0)
        self._ready = True

    def _read_csd(self):
        csd = self._csd
        for _ in range(self.read_retries + 1):
            r1 = self._cmd(9, 0, 0, True)
            if r1 != 0:
                self._fail(r1)
            st = self._read_data(csd, 0, 16)
            self._release()
            if st == _RD_OK:
                break
            if st != _RD_BADCRC:
                raise OSError(_ETIMEDOUT if st == _RD_TIMEOUT else _EIO)
            self.crc_retries += 1
        else:
            raise OSError(_EIO)
        if csd[0] >> 6 != 1:
            raise OSError(_EIO, "SD CSD version 1 (SDSC) not supported")
        c_size = ((csd[7] & 0x3F) << 16) | (csd[8] << 8) | csd[9]
        return (c_size + 1) * 1024  # C_SIZE counts 512 KiB units

    # ---- command layer -----------------------------------------------------------

    def _cmd(self, cmd, arg, nextra=0, keep=False):
        # Select, wait while busy, send the frame, return R1 (-1: no answer). nextra
        # bytes after R1 (R3/R7) land in self._r. keep=True leaves the card selected
        # for a data phase; the caller releases it.
        spi = self.spi
        self.cs(0)
        if not self._wait_ready():
            self._release()
            raise OSError(_ETIMEDOUT)
        buf = self._cmdbuf
        buf[0] = 0x40 | cmd
        buf[1] = (arg >> 24) & 0xFF
        buf[2] = (arg >> 16) & 0xFF
        buf[3] = (arg >> 8) & 0xFF
        buf[4] = arg & 0xFF
        buf[5] = (crc7(buf, 5) << 1) | 1
        spi.write(buf)
        r1 = self._r1()
        if r1 >= 0 and nextra:
            spi.readinto(self._r, 0xFF)
        if r1 < 0 or not keep:
            self._release()
        return r1

    def _r1(self):
        tok = self._tok
        spi = self.spi
        for _ in range(_R1_POLLS):
            spi.readinto(tok, 0xFF)
            if not tok[0] & 0x80:
                return tok[0]
        return -1

    def _release(self):
        self.cs(1)
        self.spi.write(b"\xff")  # one more clock so the card lets go of DO

    def _fail(self, r1):
        self._release()
        raise OSError(_ETIMEDOUT if r1 < 0 else _EIO)

    def _wait_ready(self):
        # The card holds DO low while busy. True once it reads 0xFF.
        spi = self.spi
        tok = self._tok
        spi.readinto(tok, 0xFF)
        if tok[0] == 0xFF:
            return True
        buf = self._busybuf
        for _ in range(self.busy_polls):
            spi.readinto(buf, 0xFF)
            if buf[_BUSY_CHUNK - 1] == 0xFF:
                return True
        return False

    def status(self):
        """CMD13: the 16-bit R2 status (R1 in the high byte); -1 if no answer."""
        r1 = self._cmd(13, 0, 0, True)
        if r1 < 0:
            return -1
        self.spi.readinto(self._tok, 0xFF)
        r2 = self._tok[0]
        self._release()
        return (r1 << 8) | r2

    # ---- data layer --------------------------------------------------------------

    def _read_data(self, dst, off, n):
        # One data block of n bytes into dst[off:off+n]: wait for the start token, read
        # data and CRC16 in one call into our own buffer, check, then copy (a slice
        # store: no allocation per block).
        spi = self.spi
        tok = self._tok
        for _ in range(self.token_polls):
            spi.readinto(tok, 0xFF)
            if tok[0] != 0xFF:
                break
        else:
            return _RD_TIMEOUT
        if tok[0] != _TOKEN_START:
            self.last_token = tok[0]  # data error token 0000xxxx
            return _RD_ERRTOKEN
        if n == 512:
            raw = self._rblk
            data = self._rdata
        else:
            raw = self._rblk[0 : n + 2]
            data = self._rblk[0:n]
        spi.readinto(raw, 0xFF)
        if crc16(data) != (raw[n] << 8) | raw[n + 1]:
            return _RD_BADCRC
        dst[off : off + n] = data
        return _RD_OK

    def _read_run(self, lba, mv, off, n):
        # CMD17 or CMD18 (+CMD12) for n blocks into mv[off:]; returns how many were read
        # good before the first failure, whose code is left in self._rst.
        multi = n > 1
        r1 = self._cmd(18 if multi else 17, lba, 0, True)
        if r1 != 0:
            self._fail(r1)
        good = 0
        st = _RD_OK
        while good < n:
            st = self._read_data(mv, off + (good << 9), 512)
            if st != _RD_OK:
                break
            good += 1
        if multi:
            self._stop_read()
        self._release()
        self._rst = st
        return good

    def _stop_read(self):
        # CMD12 while the card streams: skip the stuff byte, take R1, wait out the busy.
        spi = self.spi
        spi.write(b"\x4c\x00\x00\x00\x00\x61")  # CMD12, arg 0, CRC7 0x30
        spi.readinto(self._tok, 0xFF)
        if self._r1() < 0 or not self._wait_ready():
            self._release()
            raise OSError(_ETIMEDOUT)

    def _write_data(self, token, block):
        # Send one block with its CRC16; 0 if accepted and programmed, else an errno.
        # The gap byte, token, data and CRC go out in one write() from one buffer: one
        # call instead of three (Python-to-driver calls cost more than the memcpy).
        spi = self.spi
        w = self._wblk
        w[1] = token
        w[2:514] = block
        crc = crc16(block)
        w[514] = crc >> 8
        w[515] = crc & 0xFF
        spi.write(w)
        tok = self._tok
        for _ in range(_DR_POLLS):
            spi.readinto(tok, 0xFF)
            if tok[0] != 0xFF:
                break
        else:
            return _ETIMEDOUT
        if tok[0] & _DR_MASK != _DR_ACCEPTED:
            self.last_token = tok[0]  # 0bxxx01011 CRC error, 0bxxx01101 write error
            self._wait_ready()
            return _EIO
        if not self._wait_ready():
            return _ETIMEDOUT
        return 0

    def _blocks(self, block_num, buf, offset):
        if offset:
            raise OSError(_EINVAL)
        n = len(buf) >> 9
        if not n or len(buf) & 511:
            raise OSError(_EINVAL)
        if not self._ready or block_num < 0 or block_num + n > self.sectors:
            raise OSError(_EIO)
        return n

    # ---- block device protocol ---------------------------------------------------

    def readblocks(self, block_num, buf, offset=0):
        n = self._blocks(block_num, buf, offset)
        mv = memoryview(buf)
        off = 0
        fails = 0
        while True:
            good = self._read_run(block_num, mv, off, n)
            st = self._rst
            if st == _RD_OK:
                return
            if st != _RD_BADCRC:
                raise OSError(_ETIMEDOUT if st == _RD_TIMEOUT else _EIO)
            if good:  # progress: the retry bound is per block
                fails = 0
                block_num += good
                n -= good
                off += good << 9
            fails += 1
            self.crc_retries += 1
            if fails > self.read_retries:
                raise OSError(_EIO)

    def writeblocks(self, block_num, buf, offset=0):
        n = self._blocks(block_num, buf, offset)
        mv = memoryview(buf)
        spi = self.spi
        if n == 1:
            r1 = self._cmd(24, block_num, 0, True)
            if r1 != 0:
                self._fail(r1)
            err = self._write_data(_TOKEN_START, mv)
        else:
            r1 = self._cmd(25, block_num, 0, True)
            if r1 != 0:
                self._fail(r1)
            err = 0
            for i in range(n):
                o = i << 9
                err = self._write_data(_TOKEN_MULTI, mv[o : o + 512])
                if err:
                    break
            if err != _ETIMEDOUT:
                # Stop token, one byte, then busy while the card finishes.
                spi.write(b"\xfd")
                spi.readinto(self._tok, 0xFF)
                if not self._wait_ready() and not err:
                    err = _ETIMEDOUT
        self._release()
        if err:
            raise OSError(err)

    def ioctl(self, op, arg):
        if op == 1:  # init (called on mount): only if not already up
            if not self._ready:
                self.init_card()
            return 0
        if op == 2:  # deinit
            self._ready = False
            return 0
        if op == 3:  # sync: writeblocks returns after the card finished programming
            return 0
        if op == 4:  # block count
            return self.sectors
        if op == 5:  # block size
            return 512
        if op == 6:  # erase: not needed before writing an SD card
            return 0
        return None
