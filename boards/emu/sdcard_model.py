# An SDHC/SDXC card in SPI mode, modelled at the byte level of the SPI bus, backed by an
# image file, a bytearray, or sparse RAM (an int size: only written blocks use memory).
# EmuSPI and EmuPin give it the machine.SPI / machine.Pin interface, so any SD driver
# written for machine.SPI runs on it unchanged (checked with micropython-lib's sdcard.py).
# peek()/poke() read and write the medium behind the bus (e.g. silent corruption).
#
# Follows the SD Physical Layer Simplified Specification, SPI mode (chapter 7):
# - Power-up: at least 74 clocks (we count 10 bytes) before the first command. The card
#   starts in SD mode and answers nothing until a CMD0 with a valid CRC7 arrives while CS
#   is low; then it is in SPI mode, idle state (R1 bit 0 set).
# - Init: CMD8 (R7, CRC always checked) must come first, else the card treats the host
#   as v1 and, being high-capacity, never leaves idle; CMD55+ACMD41 with HCS=1 answers
#   "idle" init_polls times, then 0 (ready). CMD58 gives the OCR (power-up bit + CCS=1).
#   In idle state only CMD0/8/55/58/59 and ACMD41 are legal; others get R1 illegal.
# - CRC: CMD0 and CMD8 always need a valid CRC7; after CMD59(1) every command's CRC7 and
#   every written block's CRC16 is checked (bad command -> R1 CRC error, not executed;
#   bad block -> data response 101, not written). Read blocks always carry a CRC16.
# - Responses come NCR (ncr, 1..8) bytes after the command: R1, R1b (R1 then 0x00 busy
#   bytes), R2 (CMD13), R3/R7 (5 bytes). CSD/CID/SCR are data blocks (0xFE, data, CRC16).
# - Reads: CMD17 one block, CMD18 streams blocks until CMD12; each block is NAC (nac)
#   bytes of 0xFF, token 0xFE, 512 bytes, CRC16. Past the last block a stream sends the
#   data error token 0x08 (out of range) and then 0xFF until a command. CMD12 answers a
#   stuff byte (deliberately not 0xFF, stuff_byte), then R1 after NCR-1 bytes, then busy.
#   A block is only started when a byte of it is clocked out and no command is arriving,
#   so the CMD12 that ends a stream does not make the card read ahead past the card end.
# - Writes: CMD24 takes one block with token 0xFE, CMD25 takes blocks with 0xFC until the
#   stop token 0xFD. Every block gets a data response token 111 0 sss 1 (0xE5 accepted,
#   0xEB CRC error, 0xED write error), then busy (0x00) for write_busy bytes. The block
#   is written to the image when accepted, so a kill between blocks leaves the earlier
#   ones written (torn multi-block writes, as on a real card). A rejected block in a
#   CMD25 leaves the card waiting for the next token; the host should send 0xFD (CMD12
#   is accepted too).
# - Any command ends a read stream or a pending write (in the token-wait phase). While
#   busy the card hears nothing: a host must wait for 0xFF before its next command.
# - CS high (deselect): the card drops a half-received command, a half-sent response
#   and a half-received data block; it keeps its mode (streaming, receiving, busy).
#   Busy counts down with clocks whether or not the card is selected.
# - Addresses are block numbers (CCS=1). Start address >= card size -> R1 address error.
#
# Capacity: CSD version 2.0 encodes (C_SIZE+1) * 512 KiB. An image that is not a multiple
# of 512 KiB is rounded down (the tail is never touched); below 512 KiB is refused.
#
# Faults (inject(kind, count) or the *_faults attributes, each counts down per event):
#   read_crc      next N read blocks carry a wrong CRC16
#   read_timeout  next N read blocks never start (no token: 0xFF until a command)
#   read_error    next N read blocks are replaced by the data error token 0x01
#   write_error   next N written blocks get data response 110 and are not written
#   write_crc     next N written blocks get data response 101 (as if the CRC was bad)
#   busy          the next accepted write stays busy (0x00) until power_cycle()
#   removed       card pulled: DO reads 0xFF, nothing is heard ('inserted' or insert()
#                 puts it back, powered up afresh: the host must initialise it again)
#   bad           a set of block numbers that read as the data error token 0x01 (an
#                 uncorrectable ECC error) until written again: a card's controller maps
#                 a fresh page in on a write, which is why md RAID1 rewrites a block that
#                 failed a read
# Counters: commands, cmd_counts[index], blocks_read, blocks_written, cmd_crc_errors,
# data_crc_errors (stats() returns them as a dict).
#
# Speed: the bus is byte-level but moves bulk data in slices. With MOSI idle (0xFF) the
# card's output (responses, whole data blocks, busy, gaps) is copied in chunks, and a
# data block being received is copied in one slice; only command frames and tokens take
# the per-byte path.
import struct

from drivers.sdcrc import crc7, crc16
from micropython import const

BLOCK_SIZE = const(512)
_UNIT_BYTES = const(524288)  # CSD 2.0 capacity unit: 512 KiB
_RXLEN = const(514)  # data block + CRC16
_OBUF = const(520)  # token + 512 + CRC16, or the longest response

# R1 bits
R1_IDLE = const(0x01)
R1_ERASE_RESET = const(0x02)
R1_ILLEGAL = const(0x04)
R1_CRC = const(0x08)
R1_ERASE_SEQ = const(0x10)
R1_ADDRESS = const(0x20)
R1_PARAM = const(0x40)
# Second byte of R2 (CMD13); sticky until read
R2_ERROR = const(0x04)
R2_OUT_OF_RANGE = const(0x80)
# Tokens
TOKEN_START = const(0xFE)
TOKEN_MULTI = const(0xFC)
TOKEN_STOP = const(0xFD)
DR_ACCEPTED = const(0xE5)
DR_CRC_ERROR = const(0xEB)
DR_WRITE_ERROR = const(0xED)
ERR_TOKEN_ERROR = const(0x01)
ERR_TOKEN_RANGE = const(0x08)

_RX_NONE = const(0)
_RX_WAIT = const(1)  # write command accepted, waiting for a start/stop token
_RX_DATA = const(2)  # receiving data + CRC16
_RD_NONE = const(0)
_RD_SINGLE = const(1)  # CMD17, block not yet started
_RD_MULTI = const(2)  # CMD18 streaming
_RD_DEAD = const(3)  # stream stalled or failed: 0xFF until a command
_OCR_VOLTS = const(0x00FF8000)  # 2.7-3.6 V
_STUCK = const(0x3FFFFFFF)
_WARMUP = const(10)  # bytes of clock before the first command (>= 74 clocks)

FAULT_KINDS = ("read_crc", "read_timeout", "read_error", "write_error", "write_crc", "busy")


class SDCardModel:
    """An SDHC card on an SPI bus. image: path of an image file (opened r+b), a bytearray,
    or an int (size in bytes of a sparse RAM card)."""

    def __init__(
        self, image, ncr=2, nac=2, write_busy=8, stop_busy=2, init_polls=3, serial=0x1234ABCD
    ):
        if not 1 <= ncr <= 8:
            raise ValueError("NCR is 1..8 bytes")
        self._sparse = None
        if isinstance(image, int):
            # Sparse RAM card of `image` bytes: only written blocks take memory (tests
            # under a small VM heap); unwritten blocks read as zeros.
            self._file = None
            self._ram = None
            self._sparse = {}
            size = image
        elif isinstance(image, str):
            # Unbuffered: every accepted block goes to the OS at once (a killed VM loses
            # nothing accepted), and no flush, which MicroPython turns into an fsync.
            self._file = open(image, "r+b", buffering=0)
            self._file.seek(0, 2)
            size = self._file.tell()
            self._ram = None
        else:
            self._file = None
            self._ram = image
            self._ramv = memoryview(image)
            size = len(image)
        units = size // _UNIT_BYTES
        if units < 1:
            raise ValueError("SD image must be at least 512 KiB")
        self.blocks = units * (_UNIT_BYTES // BLOCK_SIZE)
        self.ncr = ncr
        self.nac = nac
        self.write_busy = write_busy
        self.stop_busy = stop_busy
        self.init_polls = init_polls
        self.stuff_byte = 0x7F  # looks like an R1 with every error bit: a driver must skip it
        # Preallocated buffers (no allocation per block)
        self._obuf = bytearray(_OBUF)
        self._omv = memoryview(self._obuf)
        self._odata = self._omv[1:513]
        self._ocrc = self._omv[513:515]
        self._oblock = self._omv[1:515]  # data + CRC16
        self._rxbuf = bytearray(_RXLEN)
        self._rxmv = memoryview(self._rxbuf)
        self._rxdata = self._rxmv[0:512]
        self._cbuf = bytearray(6)
        self._ff = bytearray(b"\xff" * 512)
        self._ffmv = memoryview(self._ff)
        self._zmv = memoryview(bytearray(512))
        self._ffviews = {}
        self._zviews = {}
        self._csd = self._make_csd(units - 1)
        self._cid = self._make_cid(serial)
        # Counters
        self.commands = 0
        self.cmd_counts = [0] * 64
        self.blocks_read = 0
        self.blocks_written = 0
        self.cmd_crc_errors = 0
        self.data_crc_errors = 0
        for kind in FAULT_KINDS:
            setattr(self, kind + "_faults", 0)
        self.bad = set()  # blocks that fail reads until written (ECC errors)
        self._removed = False
        self._sel = False
        self.power_cycle()

    # ---- lifecycle, faults, stats --------------------------------------------------

    def power_cycle(self):
        """Power off and on: SD mode, not initialised, CRC off; the image is kept."""
        self._clocks = 0
        self._spi = False
        self._go_idle()

    def _go_idle(self):
        self._idle = True
        self._init_left = self.init_polls
        self._cmd8 = False
        self._crc_on = False
        self._app = False
        self._cpos = 0
        self._olead = 0
        self._opos = 0
        self._olen = 0
        self._after = 0
        self._busy = 0
        self._rx = _RX_NONE
        self._rxpos = 0
        self._rd = _RD_NONE
        self._status = 0
        self._erase_start = -1
        self._erase_end = -1
        self._well = 0

    def remove(self):
        self._removed = True

    def insert(self):
        self._removed = False
        self.power_cycle()

    @property
    def removed(self):
        return self._removed

    def inject(self, kind, count=1):
        """Arm a fault for the next `count` events; kind in FAULT_KINDS or 'removed'/'inserted'."""
        if kind == "removed":
            self.remove()
        elif kind == "inserted":
            self.insert()
        elif kind in FAULT_KINDS:
            name = kind + "_faults"
            setattr(self, name, getattr(self, name) + count)
        else:
            raise ValueError("unknown SD fault: %s" % kind)

    def stats(self):
        return {
            "commands": self.commands,
            "blocks_read": self.blocks_read,
            "blocks_written": self.blocks_written,
            "cmd_crc_errors": self.cmd_crc_errors,
            "data_crc_errors": self.data_crc_errors,
        }

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None

    # ---- the bus -----------------------------------------------------------------

    def cs(self, level):
        """Chip select line level (0 = selected)."""
        sel = not level
        if sel == self._sel:
            return
        self._sel = sel
        if not sel:
            # Deselect: forget a half-heard command and a half-said response or block;
            # an R1b/data-response busy still happens.
            self._cpos = 0
            self._olead = 0
            self._opos = 0
            self._olen = 0
            self._busy += self._after
            self._after = 0
            if self._rx == _RX_DATA:
                self._rx = _RX_WAIT
                self._rxpos = 0

    def xfer(self, wbuf, wfill, rbuf, n):
        """Clock n bytes. MOSI: wbuf (indexable) or, if None, n copies of wfill.
        MISO goes into rbuf (writable, sliceable) unless it is None."""
        if self._clocks < _WARMUP:
            self._clocks += n
        if self._removed or not self._sel:
            b = self._busy
            if b and b < _STUCK:
                self._busy = b - n if b > n else 0
            if rbuf is not None:
                self._fill(rbuf, 0, n, 0xFF)
            return
        wmv = None  # a memoryview of wbuf, made only if a part of it must be sliced
        last = n  # index of wbuf's last byte that is not 0xFF (n: not looked for yet)
        i = 0
        while i < n:
            b = self._busy
            if b:
                k = n - i
                if k > b:
                    k = b
                if b < _STUCK:
                    self._busy = b - k
                if rbuf is not None:
                    self._fill(rbuf, i, k, 0)
                i += k
            elif self._rx == _RX_DATA:
                pos = self._rxpos
                k = n - i
                if k > _RXLEN - pos:
                    k = _RXLEN - pos
                if wbuf is not None:
                    if k == n:  # the common case: one write() of a whole block
                        self._rxbuf[pos : pos + k] = wbuf
                    else:
                        if wmv is None:
                            wmv = memoryview(wbuf)
                        self._rxbuf[pos : pos + k] = wmv[i : i + k]
                else:
                    self._fill(self._rxbuf, pos, k, wfill)
                if rbuf is not None:
                    self._fill(rbuf, i, k, 0xFF)
                i += k
                self._rxpos = pos + k
                if pos + k == _RXLEN:
                    self._rx_done()
            elif self._cpos == 0 and (wfill == 0xFF if wbuf is None else i > last):
                # MOSI idle from here on: only the card's output moves.
                i = self._emit(rbuf, i, n)
            elif wbuf is not None and last == n:
                last = self._last_heard(wbuf, n)
            else:
                o = self._step(wfill if wbuf is None else wbuf[i])
                if rbuf is not None:
                    rbuf[i] = o
                i += 1

    def _last_heard(self, wbuf, n):
        # Index of the last byte of wbuf that is not 0xFF, or -1: past it MOSI is idle.
        # Frames, tokens and data blocks end in a byte that is rarely 0xFF: O(1) then.
        j = n - 1
        if wbuf[j] != 0xFF:
            return j
        if min(wbuf) == 0xFF:  # min() walks the buffer in C (still ~50 ns a byte)
            return -1
        while wbuf[j] == 0xFF:
            j -= 1
        return j

    def _fill(self, buf, i, k, v):
        if k == 1:
            buf[i] = v
            return
        if v == 0xFF:
            src = self._ffmv
            views = self._ffviews
        elif v == 0:
            src = self._zmv
            views = self._zviews
        else:
            for j in range(i, i + k):
                buf[j] = v
            return
        while k >= 512:
            buf[i : i + 512] = src
            i += 512
            k -= 512
        if k:
            # views of each length are made once and kept: no allocation per fill
            part = views.get(k)
            if part is None:
                part = views[k] = src[0:k]
            buf[i : i + k] = part

    def _emit(self, rbuf, i, n):
        # Output with MOSI idle: lead 0xFF bytes, the output buffer, the next block of a
        # read stream. Returns where it stopped (n, or where busy begins).
        while i < n:
            if self._busy:
                return i
            lead = self._olead
            if lead:
                k = n - i
                if k > lead:
                    k = lead
                self._olead = lead - k
                if rbuf is not None:
                    self._fill(rbuf, i, k, 0xFF)
                i += k
                continue
            pos = self._opos
            if pos < self._olen:
                k = n - i
                if k > self._olen - pos:
                    k = self._olen - pos
                if rbuf is None:
                    pass
                elif k == 1:
                    rbuf[i] = self._obuf[pos]
                elif k == 512 and pos == 1:  # a data block: views made in advance
                    rbuf[i : i + 512] = self._odata
                elif k == 514 and pos == 1:
                    rbuf[i : i + 514] = self._oblock
                elif k == 2 and pos == 513:
                    rbuf[i : i + 2] = self._ocrc
                else:
                    rbuf[i : i + k] = self._omv[pos : pos + k]
                i += k
                self._opos = pos + k
                if pos + k == self._olen:
                    self._out_done()
                continue
            if self._rd == _RD_SINGLE or self._rd == _RD_MULTI:
                self._load_block()
                continue
            if rbuf is not None:
                self._fill(rbuf, i, n - i, 0xFF)
            return n
        return i

    def _out_done(self):
        self._opos = 0
        self._olen = 0
        self._busy = self._after
        self._after = 0

    def _out1(self, may_load):
        # The next output byte (per-byte path).
        if self._olead:
            self._olead -= 1
            return 0xFF
        pos = self._opos
        if pos < self._olen:
            o = self._obuf[pos]
            self._opos = pos + 1
            if pos + 1 == self._olen:
                self._out_done()
            return o
        if may_load and (self._rd == _RD_SINGLE or self._rd == _RD_MULTI):
            self._load_block()
            return self._out1(False)
        return 0xFF

    def _step(self, b):
        # One byte with a meaningful MOSI byte b: the card shifts out its byte while
        # the host's comes in, so output is decided before b is looked at.
        if self._busy:
            if self._busy < _STUCK:
                self._busy -= 1
            return 0  # MOSI ignored while programming
        cpos = self._cpos
        o = self._out1(cpos == 0 and b & 0xC0 != 0x40)
        if cpos:
            self._cbuf[cpos] = b
            cpos += 1
            if cpos == 6:
                cpos = 0
                self._command()
            self._cpos = cpos
        elif b & 0xC0 == 0x40:  # start bit 0, transmission bit 1: a command begins
            self._cbuf[0] = b
            self._cpos = 1
        elif self._rx == _RX_WAIT and b != 0xFF:
            self._token(b)
        return o

    # ---- responses ----------------------------------------------------------------

    def _r1(self):
        return R1_IDLE if self._idle else 0

    def _respond(self, r1, n_extra=0, extra=0):
        # R1 followed by n_extra big-endian bytes of `extra`, NCR bytes after the command.
        ob = self._obuf
        ob[0] = r1
        for j in range(n_extra):
            ob[1 + j] = (extra >> (8 * (n_extra - 1 - j))) & 0xFF
        self._olead = self.ncr
        self._opos = 0
        self._olen = 1 + n_extra
        self._after = 0

    def _respond_data(self, data):
        # R1, one 0xFF, then a data block (register reads: CSD, CID, SCR, ...).
        self._respond(0)
        ob = self._obuf
        n = len(data)
        ob[1] = 0xFF
        ob[2] = TOKEN_START
        ob[3 : 3 + n] = data
        crc = crc16(data)
        ob[3 + n] = crc >> 8
        ob[4 + n] = crc & 0xFF
        self._olen = 5 + n

    def _make_csd(self, c_size):
        # CSD version 2.0 (SDHC/SDXC); see the spec's table 5-16.
        csd = bytearray(b"\x40\x0e\x00\x32\x5b\x59\x00\x00\x00\x00\x7f\x80\x0a\x40\x40\x00")
        csd[7] = (c_size >> 16) & 0x3F
        csd[8] = (c_size >> 8) & 0xFF
        csd[9] = c_size & 0xFF
        csd[15] = (crc7(csd, 15) << 1) | 1
        return csd

    def _make_cid(self, serial):
        # MID, OID "EM", PNM "SDMIR", PRV 1.0, PSN, MDT 2026-11, CRC7.
        cid = bytearray(b"\x7eEMSDMIR\x10\x00\x00\x00\x00\x01\xab\x00")
        for j in range(4):
            cid[9 + j] = (serial >> (24 - 8 * j)) & 0xFF
        cid[15] = (crc7(cid, 15) << 1) | 1
        return cid

    # ---- commands -----------------------------------------------------------------

    def _command(self):
        c = self._cbuf
        idx = c[0] & 0x3F
        arg = (c[1] << 24) | (c[2] << 16) | (c[3] << 8) | c[4]
        crc_ok = ((crc7(c, 5) << 1) | 1) == c[5]
        if not self._spi:
            # SD mode: the only thing heard is a good CMD0 after the power-up clocks; in
            # SD mode the card would answer on the CMD line, so nothing shows on DO.
            if idx == 0 and crc_ok and self._clocks >= _WARMUP:
                self._spi = True
                self.commands += 1
                self.cmd_counts[0] += 1
                self._go_idle()
                self._respond(R1_IDLE)
            return
        self.commands += 1
        self.cmd_counts[idx] += 1
        app = self._app
        self._app = False
        if (self._crc_on or idx == 0 or idx == 8) and not crc_ok:
            self.cmd_crc_errors += 1
            self._respond(self._r1() | R1_CRC)
            return
        was_reading = self._rd != _RD_NONE
        was_writing = self._rx != _RX_NONE
        self._rd = _RD_NONE  # any command ends a read stream or a pending write
        self._rx = _RX_NONE
        r1 = self._r1()
        if self._idle and not (idx in (0, 8, 55, 58, 59) or (app and idx == 41)):
            self._respond(r1 | R1_ILLEGAL)
        elif app:
            self._app_command(idx, arg, r1)
        elif idx == 0:
            self._go_idle()
            self._respond(R1_IDLE)
        elif idx == 8:
            if self._idle:
                vhs = (arg >> 8) & 0x0F
                self._cmd8 = vhs == 1
                self._respond(r1, 4, ((1 if vhs == 1 else 0) << 8) | (arg & 0xFF))
            else:
                self._respond(r1 | R1_ILLEGAL)
        elif idx == 55:
            self._app = True
            self._respond(r1)
        elif idx == 58:
            ocr = _OCR_VOLTS
            if not self._idle:
                ocr |= 0xC0000000  # power-up done, CCS (high capacity)
            self._respond(r1, 4, ocr)
        elif idx == 59:
            self._crc_on = bool(arg & 1)
            self._respond(r1)
        elif idx == 9:
            self._respond_data(self._csd)
        elif idx == 10:
            self._respond_data(self._cid)
        elif idx == 12:
            if not was_reading:
                # Ending a multi-block write this way (instead of the stop token) is
                # accepted as an R1b; with nothing to stop it is illegal.
                self._respond(0 if was_writing else R1_ILLEGAL)
                if was_writing:
                    self._after = self.stop_busy
                return
            ob = self._obuf
            ob[0] = self.stuff_byte
            for j in range(1, self.ncr):
                ob[j] = 0xFF
            ob[self.ncr] = 0
            self._olead = 0
            self._opos = 0
            self._olen = self.ncr + 1
            self._after = self.stop_busy
        elif idx == 13:
            self._respond(0, 1, self._status)
            self._status = 0
        elif idx == 16:
            self._respond(0 if arg == BLOCK_SIZE else R1_PARAM)
        elif idx == 17 or idx == 18 or idx == 24 or idx == 25:
            if arg >= self.blocks:
                self._status |= R2_OUT_OF_RANGE
                self._respond(R1_ADDRESS)
                return
            self._respond(0)
            if idx < 20:
                self._rlba = arg
                self._rd = _RD_SINGLE if idx == 17 else _RD_MULTI
            else:
                self._wlba = arg
                self._wmulti = idx == 25
                self._well = 0
                self._rx = _RX_WAIT
        elif idx == 32 or idx == 33:
            if arg >= self.blocks:
                self._respond(R1_ADDRESS)
            else:
                if idx == 32:
                    self._erase_start = arg
                else:
                    self._erase_end = arg
                self._respond(0)
        elif idx == 38:
            s = self._erase_start
            e = self._erase_end
            self._erase_start = self._erase_end = -1
            if s < 0 or e < s:
                self._respond(R1_ERASE_SEQ)
                return
            for lba in range(s, e + 1):  # erased blocks read as zeros (SCR DATA_STAT_AFTER_ERASE=0)
                if self._sparse is not None:
                    self._sparse.pop(lba, None)
                else:
                    self._write_store(lba, self._zmv)
            self._respond(0)
            self._after = self.write_busy
        else:
            self._respond(r1 | R1_ILLEGAL)

    def _app_command(self, idx, arg, r1):
        if idx == 41:
            if self._idle and self._cmd8 and arg & 0x40000000:
                self._init_left -= 1
                if self._init_left <= 0:
                    self._idle = False
                    r1 = 0
            # A high-capacity card never gets ready for a host without CMD8 or HCS.
            self._respond(r1)
        elif idx == 22:  # number of well-written blocks of the last write
            self._respond_data(struct.pack(">I", self._well))
        elif idx == 23:  # pre-erase count: accepted, no effect
            self._respond(r1)
        elif idx == 51:  # SCR: SD spec 3.0x, SDHC security, bus widths 1 and 4
            self._respond_data(b"\x02\x35\x80\x00\x00\x00\x00\x00")
        else:
            self._respond(r1 | R1_ILLEGAL)

    # ---- data ---------------------------------------------------------------------

    def _load_block(self):
        # Put the next block of a read stream (or its failure) in the output buffer.
        single = self._rd == _RD_SINGLE
        self._rd = _RD_NONE if single else _RD_MULTI
        self._olead = self.nac
        self._opos = 0
        self._after = 0
        ob = self._obuf
        lba = self._rlba
        if self.read_timeout_faults:
            self.read_timeout_faults -= 1
            self._rd = _RD_DEAD
            self._olen = 0
            return
        if lba >= self.blocks or self.read_error_faults or lba in self.bad:
            if lba >= self.blocks:
                ob[0] = ERR_TOKEN_RANGE
                self._status |= R2_OUT_OF_RANGE
            else:
                if lba not in self.bad:
                    self.read_error_faults -= 1
                ob[0] = ERR_TOKEN_ERROR
                self._status |= R2_ERROR
            self._olen = 1
            if not single:
                self._rd = _RD_DEAD
            return
        ob[0] = TOKEN_START
        self._read_store(lba, self._odata)
        crc = crc16(self._odata)
        if self.read_crc_faults:
            self.read_crc_faults -= 1
            crc ^= 0xFFFF
        ob[513] = crc >> 8
        ob[514] = crc & 0xFF
        self._olen = 515
        self._rlba = lba + 1
        self.blocks_read += 1

    def _token(self, b):
        if self._wmulti:
            if b == TOKEN_MULTI:
                self._rx = _RX_DATA
                self._rxpos = 0
            elif b == TOKEN_STOP:
                self._rx = _RX_NONE
                self._obuf[0] = 0xFF  # one byte, then busy
                self._olead = 0
                self._opos = 0
                self._olen = 1
                self._after = self.stop_busy
        elif b == TOKEN_START:
            self._rx = _RX_DATA
            self._rxpos = 0

    def _rx_done(self):
        # A whole data block (+CRC16) has arrived: check, write, answer, go busy.
        self._rxpos = 0
        self._rx = _RX_WAIT if self._wmulti else _RX_NONE
        rx = self._rxbuf
        lba = self._wlba
        after = 1
        if self._crc_on and crc16(self._rxdata) != (rx[512] << 8) | rx[513]:
            self.data_crc_errors += 1
            resp = DR_CRC_ERROR
        elif self.write_crc_faults:
            self.write_crc_faults -= 1
            resp = DR_CRC_ERROR
        elif self.write_error_faults or lba >= self.blocks:
            if lba >= self.blocks:
                self._status |= R2_OUT_OF_RANGE | R2_ERROR
            else:
                self.write_error_faults -= 1
                self._status |= R2_ERROR
            resp = DR_WRITE_ERROR
        else:
            self._write_store(lba, self._rxdata)
            self.bad.discard(lba)
            self.blocks_written += 1
            self._wlba = lba + 1
            self._well += 1
            resp = DR_ACCEPTED
            after = self.write_busy
            if self.busy_faults:
                self.busy_faults -= 1
                after = _STUCK
        self._obuf[0] = resp
        self._olead = 0
        self._opos = 0
        self._olen = 1
        self._after = after

    def _read_store(self, lba, dst):
        off = lba * BLOCK_SIZE
        if self._ram is not None:
            dst[:] = self._ramv[off : off + BLOCK_SIZE]
        elif self._sparse is not None:
            blk = self._sparse.get(lba)
            dst[:] = self._zmv if blk is None else blk
        else:
            f = self._file
            f.seek(off)
            got = f.readinto(dst) or 0
            if got < BLOCK_SIZE:  # image file shorter than it was: zeros
                dst[got:] = self._zmv[0 : BLOCK_SIZE - got]

    def _write_store(self, lba, src):
        off = lba * BLOCK_SIZE
        if self._ram is not None:
            self._ram[off : off + BLOCK_SIZE] = src
        elif self._sparse is not None:
            blk = self._sparse.get(lba)
            if blk is None:
                self._sparse[lba] = bytearray(src)
            else:
                blk[:] = src
        else:
            f = self._file
            f.seek(off)
            f.write(src)

    # ---- direct access to the medium (not through the bus, not counted) -------------

    def peek(self, lba, count=1):
        """The stored bytes of blocks lba .. lba+count-1."""
        out = bytearray(count * BLOCK_SIZE)
        mv = memoryview(out)
        for i in range(count):
            self._read_store(lba + i, mv[i * BLOCK_SIZE : (i + 1) * BLOCK_SIZE])
        return out

    def poke(self, lba, data):
        """Overwrite stored blocks behind the host's back (silent corruption, seeding)."""
        mv = memoryview(data)
        for i in range(len(data) // BLOCK_SIZE):
            self._write_store(lba + i, mv[i * BLOCK_SIZE : (i + 1) * BLOCK_SIZE])


class EmuSPI:
    """machine.SPI lookalike wired to one SDCardModel."""

    MSB = 0
    LSB = 1

    def __init__(self, card, baudrate=400000, **kw):
        self.card = card
        self.init(baudrate, **kw)

    def init(self, baudrate=400000, polarity=0, phase=0, bits=8, firstbit=0, **kw):
        self.baudrate = baudrate
        # SD cards speak SPI mode 0 (or 3), 8 bits, MSB first; anything else garbles the
        # bus, which we model as a card that hears nothing and says nothing.
        self._ok = polarity == phase and bits == 8 and firstbit == 0

    def deinit(self):
        pass

    def read(self, nbytes, write=0xFF):
        buf = bytearray(nbytes)
        self.readinto(buf, write)
        return bytes(buf)

    def readinto(self, buf, write=0xFF):
        if self._ok:
            self.card.xfer(None, write & 0xFF, buf, len(buf))
        else:
            self.card.xfer(None, 0xFF, None, len(buf))
            buf[:] = b"\xff" * len(buf)

    def write(self, buf):
        if self._ok:
            self.card.xfer(buf, 0, None, len(buf))
        else:
            self.card.xfer(None, 0xFF, None, len(buf))

    def write_readinto(self, write_buf, read_buf):
        n = len(write_buf)
        if len(read_buf) != n:
            raise ValueError("buffers must be the same length")
        if self._ok:
            self.card.xfer(write_buf, 0, read_buf, n)
        else:
            self.card.xfer(None, 0xFF, None, n)
            read_buf[:] = b"\xff" * n


class EmuPin:
    """machine.Pin lookalike driving the card's chip select."""

    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, card, value=1):
        self.card = card
        self._v = 1 if value else 0
        card.cs(self._v)

    def init(self, mode=-1, pull=-1, value=None, **kw):
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            return self._v
        self._v = 1 if v else 0
        self.card.cs(self._v)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)
