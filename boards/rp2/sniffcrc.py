# The RP2040 / RP2350 DMA sniffer as checksum engines: a DMA channel moves the block
# (memory to a 4-byte sink, 8-bit transfers) and the sniffer, watching that channel,
# computes the CRC as the bytes pass; the CPU only programs four registers and reads the
# result. Registered under the function it computes, so a peer computing it in software
# (or with another chip's unit) agrees:
#
#   crc32        CALC 1 (CRC-32, bit-reversed data), seed 0xFFFFFFFF, the result read
#                bit-reversed and inverted: exactly binascii.crc32 (CRC-32/ISO-HDLC). The
#                reversal and inversion are done on the 4 result bytes here (a 256-byte
#                table) rather than with OUT_REV/OUT_INV: no second SNIFF_CTRL write per
#                block, and no question whether those bits also act on the seed write
#   crc32-mpeg2  CALC 0 (CRC-32 MSB first), seed 0xFFFFFFFF: what the STM32F4 CRC unit and
#                mirror.checksum's software engine compute, so a Pico pairs with an STM32
#                board in hardware on both sides
#
# Sources: RP2040 datasheet 2.5.5.2 and RP2350 datasheet 12.6.8.2 (CRC calculation) and
# their DMA register lists: SNIFF_CTRL at DMA_BASE + 0x434 / + 0x454 (RP2350 has 16
# channels, so its sniffer registers sit higher), SNIFF_DATA at + 0x438 / + 0x458; fields
# EN [0], DMACH [4:1], CALC [8:5], BSWAP [9], OUT_REV [10], OUT_INV [11]. The DMA channel
# comes from MicroPython's rp2.DMA (ports/rp2/rp2_dma.c: config(read=, write=, count=,
# ctrl=, trigger=), pack_ctrl(size=, inc_write=, sniff_en=...), active()).
#
# Two drivers of the same register sequence: on the board the Thumb kernel of sniffk.py
# (precompiled; about 40 instructions a block where this module's Python took 12,400), and
# where it does not import (CPython, the VMs), _run below in Python, which the
# register-level model of the sniffer tests (tests/firmware/test_sniffcrc.py, the model
# checked against crcmod); the kernel's register writes are checked on a Cortex-M0 guest
# (tools/bench/arm_sections.py). The Python path reads the result as two 16-bit halves
# (machine.mem16): a 32-bit read would be a heap int on this 32-bit port for most CRCs.
# Not run on a chip. Each engine checks itself on "123456789" when built and is not
# registered if the hardware disagrees, so a board never computes wrong checksums with it.
import array

from micropython import const

_DMA_BASE = const(0x50000000)
_REGS = {"rp2040": (_DMA_BASE + 0x434, _DMA_BASE + 0x438),
         "rp2350": (_DMA_BASE + 0x454, _DMA_BASE + 0x458)}
# A channel's registers (both chips): DMA_BASE + 0x40 * channel, READ_ADDR +0x00, AL1_CTRL
# +0x10 (CTRL, read without side effects), AL1_TRANS_COUNT_TRIG +0x1C (count, and start).
# CTRL.BUSY is bit 24 on the RP2040, bit 26 on the RP2350: bit 8 / 10 of CTRL's upper half.
_BUSY = {"rp2040": 1 << 8, "rp2350": 1 << 10}
_EN = const(1)
_CALC_CRC32 = const(0)
_CALC_CRC32R = const(1)
_SEED = 0xFFFFFFFF
_CHECK = {"crc32": b"\xcb\xf4\x39\x26", "crc32-mpeg2": b"\x03\x76\xe6\xe7"}
_BLOCK = const(512)
_SPINS = const(100000)  # polls of BUSY per transfer (a 512-byte one takes ~512 cycles)
_STUCK = "the sniffer's DMA transfer did not finish"
_user = [None]  # the engine that last programmed SNIFF_CTRL (two share the sniffer)


class SnifferCrc:
    """One sniffer-computed CRC (alg "crc32" or "crc32-mpeg2") on a claimed DMA channel.

    dma: an rp2.DMA; mem16, mem32: machine.mem16 / machine.mem32; chip: "rp2040" or
    "rp2350"; addressof: uctypes.addressof (block addresses for the bulk digest); kernel:
    sniffk.run, or None to drive the registers from Python."""

    size = 4

    def __init__(self, alg, dma, mem16, mem32, chip, addressof, kernel=None):
        if alg not in _CHECK:
            raise ValueError("the sniffer computes crc32 or crc32-mpeg2, not %r" % (alg,))
        if chip not in _REGS:
            raise ValueError("unknown rp2 chip %r (rp2040 or rp2350)" % (chip,))
        self.name = alg
        self._dma = dma
        self._m16 = mem16
        self._m32 = mem32
        self._ctl, self._data = _REGS[chip]
        self._addressof = addressof
        ch = _DMA_BASE + 0x40 * dma.channel
        self._rd = ch
        self._count_trig = ch + 0x1C
        self._ctrl_hi = ch + 0x12
        self._busy = _BUSY[chip]
        calc = _CALC_CRC32R if alg == "crc32" else _CALC_CRC32
        self._sniff = _EN | (dma.channel << 1) | (calc << 5)
        # result byte -> output byte: bit-reversed and inverted for crc32, as is for MPEG-2
        t = bytearray(256)
        for i in range(256):
            r = 0
            for k in range(8):
                r |= ((i >> k) & 1) << (7 - k)
            t[i] = (255 - r) if alg == "crc32" else i
        self._out_map = t
        self._rev = alg == "crc32"
        self._sink = bytearray(4)
        self._k = kernel
        # sniffk.run's control words (its header lists them)
        self._ctx = array.array("I", (self._ctl, self._sniff, self._data, self._rd,
                                      self._count_trig, ch + 0x10, self._busy << 16, _SEED,
                                      0, 0, addressof(t) if self._rev else 0, _SPINS, 0))
        # rp2.DMA claims the channel and sets what is fixed for every transfer: bytes, read
        # address moving, write address fixed (the sink), unpaced (TREQ permanent, as
        # pack_ctrl's default), watched by the sniffer. Each block then writes just the
        # read address and the count-and-trigger alias: config()'s keyword call costs
        # more on ARMv6-M than the software CRC of the block (docs/benchmarks.md).
        dma.config(write=self._sink, ctrl=dma.pack_ctrl(size=0, inc_write=False,
                                                        sniff_en=True))

    def _run(self, addr, n, out, off):
        # kept small: a MicroPython frame over 11 words is heap-allocated on every call
        m = self._m32
        if _user[0] is not self:
            m[self._ctl] = self._sniff
            _user[0] = self
        m[self._data] = _SEED
        m[self._rd] = addr
        m[self._count_trig] = n
        while self._m16[self._ctrl_hi] & self._busy:
            pass
        self._store(self._m16[self._data], self._m16[self._data + 2], out, off)

    def _store(self, lo, hi, out, off):
        t = self._out_map
        if self._rev:  # ~bitreverse32: the low byte of the register is the first out
            out[off] = t[lo & 0xFF]
            out[off + 1] = t[lo >> 8]
            out[off + 2] = t[hi & 0xFF]
            out[off + 3] = t[hi >> 8]
        else:
            out[off] = hi >> 8
            out[off + 1] = hi & 0xFF
            out[off + 2] = lo >> 8
            out[off + 3] = lo & 0xFF

    # The two entry points stay small: a MicroPython frame over 11 words (locals + stack)
    # is heap-allocated on every call (py/objfun.c VM_MAX_STATE_ON_STACK).
    def digest_into(self, data, out, off=0):
        if off < 0 or off + 4 > len(out):
            raise ValueError("sniffer digest at %d does not fit %d bytes" % (off, len(out)))
        if not len(data):  # a zero-length transfer would not run: the CRC of nothing
            out[off:off + 4] = b"\x00\x00\x00\x00" if self.name == "crc32" else b"\xff\xff\xff\xff"
            return
        self._ctx[8] = len(data)
        self._ctx[9] = off
        self._ctx[12] = 1
        if not self._k:
            return self._py(data, out)
        _user[0] = self  # the kernel writes SNIFF_CTRL on every call
        if self._k(self._ctx, data, out):
            raise OSError(_STUCK)

    def digest_blocks_into(self, data, nblocks, out, off):
        """The digest of each of nblocks 512-byte blocks of data, one after another."""
        if nblocks < 0 or off < 0 or off + 4 * nblocks > len(out) or nblocks * _BLOCK > len(data):
            raise ValueError("%d sniffer digests do not fit" % nblocks)
        self._ctx[8] = _BLOCK
        self._ctx[9] = off
        self._ctx[12] = nblocks
        if not self._k:
            return self._py(data, out)
        _user[0] = self
        if self._k(self._ctx, data, out):
            raise OSError(_STUCK)

    def _py(self, data, out):
        # the kernel's work in Python: ctx[12] transfers of ctx[8] bytes, into out[ctx[9]:]
        c = self._ctx
        a = self._addressof(data)
        off = c[9]
        for _ in range(c[12]):
            self._run(a, c[8], out, off)
            a += c[8]
            off += 4

    def check(self):
        """True if the hardware gives the standard check value of b"123456789" (False if
        its transfer never ends: a board without a working sniffer boots on software)."""
        out = bytearray(4)
        try:
            self.digest_into(b"123456789", out, 0)
        except OSError:
            return False
        return bytes(out) == _CHECK[self.name]


def kernel():
    """sniffk.run where it was precompiled for this core, else None (Python drives)."""
    try:
        from sniffk import run
        return run
    except Exception:  # CPython, a VM without the Thumb assembler: ImportError, SyntaxError
        return None


def engines(board):
    """boardkit.register_engines' entry (board.CRC_UNIT = "sniffcrc"): the engines of this
    board's chip (board.CHIP), built on the port's rp2.DMA, machine and uctypes."""
    import machine
    import rp2
    import uctypes
    return build(board.CHIP, rp2, machine, uctypes)


def build(chip, rp2, machine, uctypes):
    """The sniffer engines [crc32, crc32-mpeg2] sharing one DMA channel, each checked on
    this hardware; [] if the check fails."""
    dma = rp2.DMA()
    engines = []
    for alg in ("crc32", "crc32-mpeg2"):
        eng = SnifferCrc(alg, dma, machine.mem16, machine.mem32, chip, uctypes.addressof,
                         kernel())
        if eng.check():
            engines.append(eng)
    if not engines:
        dma.close()
    return engines


def engines(board=None):
    """boardkit's hook (CRC_UNIT = "sniffcrc"): the engines of this board's chip."""
    import machine
    import rp2
    import uctypes
    chip = getattr(board, "CHIP", "rp2040")
    return build(chip, rp2, machine, uctypes)
