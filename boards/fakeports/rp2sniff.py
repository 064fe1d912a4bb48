# A register-level model of the RP2040 / RP2350 DMA sniffer and of the parts of
# MicroPython's rp2.DMA, machine.mem16/mem32 and uctypes.addressof that
# boards/rp2/sniffcrc.py uses: the rp2 fake port's (fake_rp2.py: the rp2040 and rp2350
# profiles boot on it with the sniffer engines registered) and the dual-run tests' (CPython
# and the MicroPython VM). It accepts only what the hardware
# and the port accept, and says where each rule comes from:
#   RP2040 datasheet 2.5.5.2 / RP2350 datasheet 12.6.8.2 (CRC calculation) and the DMA
#     register lists: SNIFF_CTRL EN [0], DMACH [4:1], CALC [8:5] (0 CRC-32 MSB first,
#     1 CRC-32 of bit-reversed data, 2 CRC-16-CCITT, 3 CRC-16-CCITT of bit-reversed data,
#     14 even parity, 15 sum; others reserved), BSWAP [9], OUT_REV [10], OUT_INV [11];
#     SNIFF_DATA the accumulator, written with the seed, read through OUT_REV / OUT_INV.
#     The channel's CTRL: SNIFF_EN makes its transfers visible to the sniffer.
#   ports/rp2/rp2_dma.c: DMA() claims a channel (.channel); config(read=, write=, count=,
#     ctrl=, trigger=) keyword-only; pack_ctrl(**fields) starts from the default (32-bit
#     transfers, both addresses incrementing, TREQ permanent, IRQ quiet, EN) and sets the
#     fields given; active() is True while the channel is busy; close().
#   CTRL_TRIG field positions (pico-sdk hardware/regs/dma.h): RP2040 EN 0, DATA_SIZE 2,
#     INCR_READ 4, INCR_WRITE 5, TREQ_SEL 15 (6 bits), IRQ_QUIET 21, BSWAP 22, SNIFF_EN 23;
#     RP2350 adds INCR_READ_REV 5 and INCR_WRITE_REV 7, moving INCR_WRITE to 6, TREQ_SEL to
#     17, IRQ_QUIET 23, BSWAP 24, SNIFF_EN 25.
# With 8-bit transfers the sniffer sees one byte per transfer (BSWAP has no effect).
_BASE = 0x50000000
REGS = {"rp2040": (_BASE + 0x434, _BASE + 0x438), "rp2350": (_BASE + 0x454, _BASE + 0x458)}
_FIELDS = {
    "rp2040": {"enable": (0, 1), "high_pri": (1, 1), "size": (2, 2), "inc_read": (4, 1),
               "inc_write": (5, 1), "ring_size": (6, 4), "ring_sel": (10, 1),
               "chain_to": (11, 4), "treq_sel": (15, 6), "irq_quiet": (21, 1),
               "bswap": (22, 1), "sniff_en": (23, 1)},
    "rp2350": {"enable": (0, 1), "high_pri": (1, 1), "size": (2, 2), "inc_read": (4, 1),
               "inc_read_rev": (5, 1), "inc_write": (6, 1), "inc_write_rev": (7, 1),
               "ring_size": (8, 4), "ring_sel": (12, 1), "chain_to": (13, 4),
               "treq_sel": (17, 6), "irq_quiet": (23, 1), "bswap": (24, 1),
               "sniff_en": (25, 1)},
}
_DEFAULT = {"irq_quiet": 1, "treq_sel": 0x3F, "inc_write": 1, "inc_read": 1, "size": 2,
            "enable": 1}
_OUT_REV = 1 << 10
_OUT_INV = 1 << 11


def rev(v, bits):
    r = 0
    for _ in range(bits):
        r = (r << 1) | (v & 1)
        v >>= 1
    return r


class Sniffer:
    """The sniffer's two registers and its CALC modes, bit by bit."""

    def __init__(self):
        self.ctrl = 0
        self.data = 0

    def feed(self, channel, byte):
        c = self.ctrl
        if not c & 1 or (c >> 1) & 15 != channel:
            return
        calc = (c >> 5) & 15
        if calc in (1, 3):
            byte = rev(byte, 8)
        if calc in (0, 1):
            crc = self.data ^ (byte << 24)
            for _ in range(8):
                crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
            self.data = crc
        elif calc in (2, 3):
            crc = (self.data & 0xFFFF) ^ (byte << 8)
            for _ in range(8):
                crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
            self.data = (self.data & 0xFFFF0000) | crc
        elif calc == 14:
            p = byte
            while p:
                self.data ^= p & 1
                p >>= 1
        elif calc == 15:
            self.data = (self.data + byte) & 0xFFFFFFFF
        else:
            raise AssertionError("SNIFF_CTRL.CALC %d is reserved" % calc)

    def read(self):
        v = self.data
        if self.ctrl & _OUT_REV:
            v = rev(v, 32)
        if self.ctrl & _OUT_INV:
            v ^= 0xFFFFFFFF
        return v


class Bus:
    """The registers the engine may touch: the sniffer's two and its channel's READ_ADDR,
    AL1_CTRL (read) and AL1_TRANS_COUNT_TRIG (write: count, then the transfer starts).
    Anything else is an error here (the engine has no business there)."""

    def __init__(self, chip, sniffer):
        self.ctl, self.data = REGS[chip]
        self.sniffer = sniffer
        self.dma = None  # the claimed channel, once there is one
        self.seed_writes = 0

    def _channel_reg(self, addr):
        if self.dma is None:
            return -1
        base = _BASE + 0x40 * self.dma.channel
        return addr - base if base <= addr < base + 0x40 else -1

    def read32(self, addr):
        if addr == self.ctl:
            return self.sniffer.ctrl
        if addr == self.data:
            return self.sniffer.read()
        if self._channel_reg(addr) == 0x10:  # AL1_CTRL
            return self.dma.ctrl_value()
        raise AssertionError("read outside the sniffer and its channel: %#x" % addr)

    def write32(self, addr, value):
        value &= 0xFFFFFFFF
        if addr == self.ctl:
            self.sniffer.ctrl = value
        elif addr == self.data:
            self.sniffer.data = value
            self.seed_writes += 1
        elif self._channel_reg(addr) == 0x00:  # READ_ADDR
            self.dma.read = value
        elif self._channel_reg(addr) == 0x1C:  # AL1_TRANS_COUNT_TRIG
            self.dma.count = value
            self.dma._run()
        else:
            raise AssertionError("write outside the sniffer and its channel: %#x" % addr)


class Memory:
    """machine.mem16 / machine.mem32 on the Bus: aligned accesses only; narrow writes are
    refused (RP2040 datasheet 2.1.4: a narrow write to an IO register is replicated across
    the word, so it would not write what it says)."""

    def __init__(self, bus, width):
        self.bus = bus
        self.width = width

    def __getitem__(self, addr):
        if addr % self.width:
            raise AssertionError("unaligned mem%d access at %#x" % (8 * self.width, addr))
        reg = self.bus.read32(addr & ~3)
        return (reg >> (8 * (addr & 3))) & ((1 << (8 * self.width)) - 1)

    def __setitem__(self, addr, value):
        if addr % 4 or self.width != 4:
            raise AssertionError("mem%d write at %#x: use aligned mem32" % (8 * self.width, addr))
        self.bus.write32(addr, value)


class Buffers:
    """uctypes.addressof for the model: hands out fake RAM addresses and resolves them.
    Only the last KEEP buffers stay resolvable: the engine hands an address to the DMA
    right after taking it, and a booted board takes one for every frame it sends (a new
    view each time), which kept for good would fill the VM heap that stands for the
    board's (tests/host/test_ram_budget.py)."""

    KEEP = 8

    def __init__(self):
        self._bufs = []
        self._next = 0x20000000

    def addressof(self, buf):
        for a, b in self._bufs:
            if b is buf:
                return a
        a = self._next
        if len(self._bufs) >= self.KEEP:
            self._bufs.pop(0)
        self._bufs.append((a, buf))
        self._next += (len(buf) + 15) // 16 * 16 + 16
        return a

    def resolve(self, addr):
        for a, b in self._bufs:
            if a <= addr < a + len(b):
                return b, addr - a
        raise AssertionError("DMA read from an unknown address %#x" % addr)


class DMA:
    """One rp2.DMA channel; a triggered transfer runs at once (the CPU sees it busy for one
    poll, as a 512-byte transfer outlasts a few instructions). Its registers are also
    reachable through the Bus (mem32), as on the chip."""

    def __init__(self, chip, sniffer, buffers, channel=3):
        self.chip = chip
        self.channel = channel
        self.sniffer = sniffer
        self.buffers = buffers
        self.read = self.write = None
        self.count = 0
        self.ctrl = 0
        self._busy = 0
        self.transfers = 0
        self.closed = False

    def pack_ctrl(self, **fields):
        table = _FIELDS[self.chip]
        values = dict(_DEFAULT)
        for k, v in fields.items():
            if k not in table:
                raise TypeError("unexpected keyword argument '%s'" % k)  # rp2_dma.c
            values[k] = int(v)
        word = 0
        for k, v in values.items():
            lsb, width = table[k]
            word |= (v & ((1 << width) - 1)) << lsb
        return word

    def ctrl_value(self):
        """CTRL as read: the written word with BUSY while a transfer runs."""
        busy = 24 if self.chip == "rp2040" else 26
        return self.ctrl | (1 << busy if self.active() else 0)

    def _field(self, name):
        lsb, width = _FIELDS[self.chip][name]
        return (self.ctrl >> lsb) & ((1 << width) - 1)

    def config(self, *args, read=None, write=None, count=None, ctrl=None, trigger=False):
        if args:
            raise TypeError("function takes 1 positional arguments")  # keyword-only
        if read is not None:
            self.read = read
        if write is not None:
            self.write = write
        if count is not None:
            self.count = count
        if ctrl is not None:
            self.ctrl = ctrl
        if trigger:
            self._run()

    def _run(self):
        if not self._field("enable"):
            return
        if self._field("size") != 0 or self._field("inc_write") or not self._field("inc_read"):
            raise AssertionError("the engine's transfers are bytes, read moving, write fixed")
        if self._field("treq_sel") != 0x3F:
            raise AssertionError("an unpaced transfer needs TREQ permanent")
        src, start = (self.buffers.resolve(self.read) if isinstance(self.read, int)
                      else (self.read, 0))
        if start + self.count > len(src):
            raise AssertionError("DMA would read past the buffer")
        sink = self.write
        for i in range(self.count):
            b = src[start + i]
            if self._field("sniff_en"):
                self.sniffer.feed(self.channel, b)
            sink[0] = b
        self.transfers += 1
        self._busy = 1

    def active(self, *arg):
        busy = self._busy > 0
        self._busy = 0
        return busy

    def close(self):
        self.closed = True


class Rp2:
    """The `rp2` module (only DMA) and `machine` (mem16, mem32), for sniffcrc.build()."""

    def __init__(self, chip):
        self.sniffer = Sniffer()
        self.buffers = Buffers()
        self.chip = chip
        self.bus = Bus(chip, self.sniffer)
        self.mem16 = Memory(self.bus, 2)
        self.mem32 = Memory(self.bus, 4)
        self.dmas = []

    def DMA(self):
        d = DMA(self.chip, self.sniffer, self.buffers, channel=3 + len(self.dmas))
        self.dmas.append(d)
        self.bus.dma = d
        return d

    def use(self, sniffer):
        """Replace the sniffer (a test's faulty one)."""
        self.sniffer = sniffer
        self.bus.sniffer = sniffer

    def addressof(self, buf):
        return self.buffers.addressof(buf)
