# A register-level model of the STM32F7 CRC unit (RM0410, STM32F76xxx reference manual,
# section 6 "Cyclic redundancy check calculation unit (CRC)"), behind machine.mem8 /
# mem16 / mem32 stand-ins: what boards/nucleo_f767zi/crc_f7.py drives off the chip. The
# model is checked against crcmod (tests/host/test_crc_f7_crcmod.py) and the engine
# against binascii through it (tests/firmware/test_crc_f7.py).
#
# What it models, and where from (RM0410 6.3, 6.4):
#   CRC_DR   +0x00  a write of 8, 16 or 32 bits feeds that many bits (6.3.2 "the data
#                   size can be dynamically adjusted"), after REV_IN; MSB first into the
#                   register; a read gives the register, bit-reversed if REV_OUT
#   CRC_IDR  +0x04  8 bits of scratch (not touched by RESET)
#   CRC_CR   +0x08  RESET [0] loads INIT and reads back 0; POLYSIZE [4:3]; REV_IN [6:5]
#                   (01 by byte, 10 by half-word, 11 by word); REV_OUT [7]
#   CRC_INIT +0x10  reset 0xFFFFFFFF; writing it also loads the register
#   CRC_POL  +0x14  reset 0x04C11DB7
#   and RCC_AHB1ENR (0x4002 3830, 5.3.10) for CRCEN [12]: a driver that touches the unit
#   with its clock off is a bug the model refuses (the chip would ignore the writes).
# Not modelled, refused: POLYSIZE other than 32 bits; a REV_IN reversal wider than the
# write (RM0410 does not say what it does); any other address or access width.
CRC_BASE = 0x40023000
RCC_AHB1ENR = 0x40023830
CRCEN = 1 << 12


def rev(v, bits):
    """v's low `bits` bits in the reverse order."""
    r = 0
    for i in range(bits):
        r |= ((v >> i) & 1) << (bits - 1 - i)
    return r


def rev_in(v, width, mode):
    """CRC_CR.REV_IN applied to a write of `width` bits: mode 0 none, 1 each byte's bits,
    2 each half-word's, 3 the word's (RM0410 6.3.2: 0x1A2B3C4D is fed as 0x58D43CB2,
    0xD458B23C, 0xB23CD458)."""
    unit = (0, 8, 16, 32)[mode]
    if not unit:
        return v
    if unit > width:
        raise AssertionError("REV_IN by %d bits on a %d-bit write is not modelled" % (unit, width))
    out = 0
    for k in range(0, width, unit):
        out |= rev((v >> k) & ((1 << unit) - 1), unit) << k
    return out


class F7CrcUnit:
    """The unit's registers (reset values of RM0410 6.4) and the clock enable bit."""

    def __init__(self):
        self.ahb1enr = 0x00100000  # RCC_AHB1ENR reset value (DTCMRAMEN)
        self.cr = 0
        self.init = 0xFFFFFFFF
        self.pol = 0x04C11DB7
        self.idr = 0
        self.reg = 0xFFFFFFFF
        self.mem8 = _Bus(self, 8)
        self.mem16 = _Bus(self, 16)
        self.mem32 = _Bus(self, 32)

    def _reg_at(self, addr):
        if addr == RCC_AHB1ENR:
            return "rcc"
        if not self.ahb1enr & CRCEN:
            raise AssertionError("CRC unit accessed with RCC_AHB1ENR.CRCEN clear")
        names = {0x00: "dr", 0x04: "idr", 0x08: "cr", 0x10: "init", 0x14: "pol"}
        name = names.get(addr - CRC_BASE)
        if name is None:
            raise AssertionError("no CRC register at 0x%08x" % addr)
        return name

    def write(self, addr, value, width):
        name = self._reg_at(addr)
        if name != "dr" and width != 32 and not (name == "idr" and width == 8):
            raise AssertionError("%d-bit write to %s is not modelled" % (width, name))
        if name == "rcc":
            self.ahb1enr = value
        elif name == "dr":
            self._feed(value & ((1 << width) - 1), width)
        elif name == "idr":
            self.idr = value & 0xFF
        elif name == "cr":
            if (value >> 3) & 3:
                raise AssertionError("POLYSIZE %d is not modelled" % ((value >> 3) & 3))
            self.cr = value & 0xF8  # RESET reads back 0
            if value & 1:
                self.reg = self.init
        elif name == "init":
            self.init = self.reg = value
        else:
            if not value & 1:
                raise AssertionError("even polynomials are not supported (RM0410 6.3.3)")
            self.pol = value

    def _feed(self, value, width):
        crc = self.reg ^ (rev_in(value, width, (self.cr >> 5) & 3) << (32 - width))
        for _ in range(width):
            crc = ((crc << 1) ^ self.pol) & 0xFFFFFFFF if crc & 0x80000000 else \
                (crc << 1) & 0xFFFFFFFF
        self.reg = crc

    def read(self, addr, width):
        name = self._reg_at(addr)
        if width != 32:
            raise AssertionError("%d-bit read of %s is not modelled" % (width, name))
        if name == "dr":
            return rev(self.reg, 32) if self.cr & 0x80 else self.reg
        return {"rcc": self.ahb1enr, "idr": self.idr, "cr": self.cr, "init": self.init,
                "pol": self.pol}[name]


class _Bus:
    """machine.mem8 / mem16 / mem32: subscripted by address."""

    def __init__(self, unit, width):
        self._unit = unit
        self._width = width

    def __getitem__(self, addr):
        return self._unit.read(addr, self._width)

    def __setitem__(self, addr, value):
        self._unit.write(addr, value, self._width)
