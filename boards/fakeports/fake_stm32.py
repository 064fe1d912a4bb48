# The stm32 port as MicroPython 1.29 builds it for PYBV11 (Pyboard v1.1, STM32F405),
# NUCLEO_F767ZI (STM32F767, Ethernet) and STM32F4DISC (STM32F407). Sources, in
# micropython/micropython:
#   ports/stm32/pin.c          Pin ids are Pin objects or names: the board's (pins.csv) or
#                              the CPU's ("B12"); an int is not a pin name (TypeError)
#   ports/stm32/boards/*/pins.csv, mpconfigboard.h   board pin names, SPI/UART buses
#   ports/stm32/machine_spi.c  SPI(id, baudrate, *, polarity, phase, bits, firstbit, sck,
#                              mosi, miso): any of sck/mosi/miso -> ValueError "explicit
#                              choice of sck/mosi/miso is not implemented" (pins are fixed
#                              per bus); ports/stm32/spi.c: id an int or the bus's name
#   ports/stm32/machine_uart.c UART(id, baudrate, bits, parity, stop, *, flow, timeout,
#                              timeout_char, rxbuf, read_buf_len): no tx/rx (fixed pins)
#   ports/stm32/network_lan.c  network.LAN(*, phy_addr, phy_type) only on boards with
#                              MICROPY_HW_ETH_MDC; PHY_ constants on the LAN class
#   ports/stm32/mpconfigport.h sys.platform "pyboard"; MICROPY_PY_NETWORK and
#                              MICROPY_PY_SOCKET on by default (a Pyboard's socket has no
#                              NIC to use); py/mpconfig.h: hashlib MD5/SHA1 = MICROPY_PY_SSL,
#                              which only NUCLEO_F767ZI's mpconfigboard.mk sets
from fakeport import (FakeBus, FakeLan, FakeModule, FakeUart, Port, SysProxy, check_kw,
                      check_positional, hashlib_with, no_socket_nic, pin_class, soft_spi)
from stm32crc import F7CrcUnit  # RM0410's CRC unit, behind machine.mem8/16/32 on the F767

# per board: board pin names -> CPU pin, SPI buses and UARTs (name -> number; a bus
# without a name is listed under its number as a string, which the port does not accept),
# Ethernet, SSL (from each board's pins.csv, mpconfigboard.h and mpconfigboard.mk)
BOARDS = {
    "PYBV11": {
        "pins": {"X1": "A0", "X2": "A1", "X3": "A2", "X4": "A3", "X5": "A4", "X6": "A5",
                 "X7": "A6", "X8": "A7", "X9": "B6", "X10": "B7", "X11": "C4", "X12": "C5",
                 "X17": "B3", "X18": "C13", "X19": "C0", "X20": "C1", "X21": "C2",
                 "X22": "C3", "Y1": "C6", "Y2": "C7", "Y3": "B8", "Y4": "B9", "Y5": "B12",
                 "Y6": "B13", "Y7": "B14", "Y8": "B15", "Y9": "B10", "Y10": "B11",
                 "Y11": "B0", "Y12": "B1", "SD": "A8"},
        "spi": {"X": 1, "Y": 2},
        "uart": {"XB": 1, "2": 2, "YB": 3, "XA": 4, "YA": 6},
        "eth": False, "ssl": False},
    "NUCLEO_F767ZI": {
        # Arduino names win over CPU names: "A4" is PF5 here (pin.c tries board pins first)
        "pins": {"D22": "B5", "D23": "B3", "D24": "A4", "D25": "B4", "D0": "G9", "D1": "G14",
                 "A0": "A3", "A1": "C0", "A2": "C3", "A3": "F3", "A4": "F5", "A5": "F10"},
        "spi": {"3": 3},
        "uart": {"2": 2, "3": 3, "5": 5, "6": 6, "7": 7, "8": 8},
        "eth": True, "ssl": True},
    "STM32F4DISC": {
        "pins": {},  # its pins.csv names the pins as the CPU does ("PB12")
        "spi": {"1": 1, "2": 2},
        "uart": {"1": 1, "2": 2, "3": 3, "4": 4, "6": 6},
        "eth": False, "ssl": False},
}
_SPI_KW = ("id", "baudrate", "polarity", "phase", "bits", "firstbit", "sck", "mosi", "miso")
_SPI_INIT_KW = ("baudrate", "polarity", "phase", "bits", "firstbit")
_UART_KW = ("baudrate", "bits", "parity", "stop", "flow", "timeout", "timeout_char", "rxbuf",
            "read_buf_len")
_PHY = {"PHY_LAN8742": 0, "PHY_LAN8720": 1, "PHY_DP83848": 2, "PHY_DP83825": 3}  # eth.h


def _cpu_name(name):
    # CPU pins: port letter A..K and pin 0..15 (simplified: every STM32 GPIO port letter,
    # whatever the package has)
    return len(name) in (2, 3) and name[0] in "ABCDEFGHIJK" and name[1:].isdigit() and \
        int(name[1:]) < 16


def finder(board):
    pins = BOARDS[board]["pins"]

    def find(pin_id):
        if not isinstance(pin_id, str):
            raise TypeError("can't convert %s to str" % type(pin_id).__name__)
        if pin_id in pins:
            return pins[pin_id]
        if pin_id.startswith("P") and _cpu_name(pin_id[1:]) and not pins:
            return pin_id[1:]  # STM32F4DISC's pins.csv: board name "PB12" = CPU pin B12
        if _cpu_name(pin_id):
            return pin_id
        raise ValueError("Pin(%s) doesn't exist" % pin_id)
    return find


class CrcUnitModel:
    """The STM32F4 CRC unit (RM0090 section 4: CRC_DR, CRC_CR.RESET): CRC-32 with poly
    0x04C11DB7 over 32-bit words, MSB first, from 0xFFFFFFFF, no reflection, no final xor.
    Stands in for boards/stm32f4/crc_hw.py on the VM, driven the way crc_hw drives the
    unit: big-endian words of the data; lengths not a multiple of 4 go to software."""
    name = "crc32-mpeg2"
    size = 4

    def __init__(self):
        from mirror import checksum
        self._soft = checksum.get("crc32-mpeg2")

    def digest_into(self, data, out, off=0):
        n = len(data)
        if n & 3:
            self._soft.digest_into(data, out, off)
            return
        dr = 0xFFFFFFFF  # CR.RESET
        for i in range(0, n, 4):
            dr ^= (data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]
            for _ in range(32):
                dr = ((dr << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if dr & 0x80000000 else \
                    (dr << 1) & 0xFFFFFFFF
        out[off] = dr >> 24
        out[off + 1] = (dr >> 16) & 0xFF
        out[off + 2] = (dr >> 8) & 0xFF
        out[off + 3] = dr & 0xFF


def bus_id(buses, ident, what):
    """A bus given by number or by the board's name for it (ports/stm32/spi.c
    spi_find_index, machine_uart.c): the bus number, or ValueError as the port says it."""
    if isinstance(ident, str):
        if ident in buses and not ident.isdigit():
            return buses[ident]
    elif ident in buses.values():
        return ident
    raise ValueError("%s(%s) doesn't exist" % (what, ident))


def hashes(board):
    """hashlib's algorithms in the build of `board` (also asked by the host's flash, through
    sdmirror.boardfit): MD5 and SHA1 only with MICROPY_PY_SSL (py/mpconfig.h)."""
    return ("md5", "sha1", "sha256") if BOARDS[board]["ssl"] else ("sha256",)


def port(board, card, cs, uart_addr=None):
    """The fake stm32 port for the MicroPython board `board` (a key of BOARDS)."""
    spec = BOARDS[board]
    absent = () if spec["ssl"] else ("ssl",)
    if spec["eth"]:  # the F767: its CRC unit's viper kernel writes the chip's registers,
        absent += ("crc_f7k",)  # so here crc_f7 drives the unit's model from Python
    p = Port("stm32", "pyboard", {}, absent)
    # ports/stm32/pin.c: pin_obj_init_helper(mode, pull, af, *, value, alt)
    Pin = pin_class(p, finder(board), ("mode", "pull", "af", "value", "alt"),
                    {"IN": 0, "OUT": 1, "OPEN_DRAIN": 17, "PULL_UP": 1, "PULL_DOWN": 2},
                    lambda i: True, card, finder(board)(cs))

    def SPI(*args, **kw):
        check_positional("SPI", args, 2)
        check_kw("SPI", kw, _SPI_KW)
        bus = bus_id(spec["spi"], args[0] if args else kw.get("id"), "SPI")
        if kw.get("sck") is not None or kw.get("mosi") is not None or \
                kw.get("miso") is not None:
            raise ValueError("explicit choice of sck/mosi/miso is not implemented")
        p.log.append(("spi", bus))
        return FakeBus(card, _SPI_INIT_KW, args[1] if len(args) > 1 else
                       kw.get("baudrate", 500000))

    def UART(*args, **kw):
        if not args:
            raise TypeError("function missing 1 required positional argument")
        check_positional("UART", args, 5)
        check_kw("UART", kw, _UART_KW)
        uid = bus_id(spec["uart"], args[0], "UART")
        if len(args) < 2 and "baudrate" not in kw:
            raise TypeError("'baudrate' argument required")  # MP_ARG_REQUIRED
        p.log.append(("uart", uid, kw.get("baudrate", args[1:2])))
        return FakeUart(uart_addr)

    def reset():
        raise SystemExit("machine.reset()")

    p.modules["machine"] = FakeModule(
        "machine", Pin=Pin, SPI=SPI, SoftSPI=soft_spi(p, Pin, card), UART=UART, reset=reset)
    if spec["eth"]:
        unit = F7CrcUnit()  # machine.mem8/16/32 reach the CRC unit's model, nothing else
        for name in ("mem8", "mem16", "mem32"):
            setattr(p.modules["machine"], name, getattr(unit, name))
        # the profile's own crc_f7 (from the image) runs: only its kernel is chip-only
        p.substitutes["crc_f7"] = lambda: __import__("crc_f7")  # before the hook is in
        class LAN(FakeLan):
            def __init__(self, *args, **kw):
                check_positional("LAN", args, 0)
                check_kw("LAN", kw, ("phy_addr", "phy_type"))
                if kw.get("phy_type", 0) not in _PHY.values():
                    raise ValueError("invalid phy_type")
                p.log.append(("lan", kw.get("phy_addr", 0), kw.get("phy_type", 0)))
                FakeLan.__init__(self, p)
        for k in _PHY:
            setattr(LAN, k, _PHY[k])  # class constants: network.LAN.PHY_LAN8742
        p.modules["network"] = FakeModule("network", LAN=LAN)
    else:
        p.modules["network"] = FakeModule("network")  # MICROPY_PY_NETWORK, but no LAN
        p.modules["socket"] = no_socket_nic()
    p.modules["hashlib"] = hashlib_with(hashes(board))
    p.modules["sys"] = SysProxy("pyboard")
    p.substitutes["crc_hw"] = lambda: FakeModule("crc_hw", engine=CrcUnitModel)
    return p
