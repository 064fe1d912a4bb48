# The rp2 port (Raspberry Pi Pico = RP2040, Pico 2 = RP2350A) as MicroPython 1.29 builds it
# for boards without wireless (RPI_PICO, RPI_PICO2). Sources, in micropython/micropython:
#   ports/rp2/machine_pin.c    Pin(id, mode, pull, *, value, alt); id an int below the
#                              GPIO count or a name from the board's pins.csv / the CPU
#   ports/rp2/boards/RPI_PICO/pins.csv, RPI_PICO2/pins.csv   GP0..GP22, GP25..GP28, LED
#   ports/rp2/machine_spi.c    SPI(id, baudrate, *, polarity, phase, bits, firstbit, sck,
#                              mosi, miso); id 0 or 1; IS_VALID_SCK/MOSI/MISO pin rules;
#                              firstbit=LSB is NotImplementedError
#   ports/rp2/machine_uart.c   UART(id, baudrate, bits, parity, stop, *, tx, rx, cts, rts,
#                              timeout, timeout_char, invert, flow, txbuf, rxbuf); id 0/1;
#                              IS_VALID_TX/RX differ between RP2040 and RP2350
#   ports/rp2/mpconfigport.h   sys.platform "rp2"; hashlib MD5 and SHA1 on every board
#                              (since v1.28, commit e6a7dc1114); `socket` and `network`
#                              only with MICROPY_PY_NETWORK (Pico W / Pico 2 W): absent here
from fakeport import (FakeBus, FakeModule, FakeUart, Port, SysProxy, check_kw,
                      check_positional, hashlib_with, pin_class, pin_of, soft_spi)
from rp2sniff import Rp2

_NGPIO = 30  # NUM_BANK0_GPIOS: RP2040 and RP2350A (the RP2350B package has 48)
_NAMES = ["GP%d" % i for i in range(23)] + ["GP25", "GP26", "GP27", "GP28"]
_SPI_KW = ("id", "baudrate", "polarity", "phase", "bits", "firstbit", "sck", "mosi", "miso")
_SPI_INIT_KW = ("baudrate", "polarity", "phase", "bits", "firstbit")
_UART_KW = ("baudrate", "bits", "parity", "stop", "tx", "rx", "cts", "rts", "timeout",
            "timeout_char", "invert", "flow", "txbuf", "rxbuf")


def find_pin(pin_id):
    if isinstance(pin_id, str):
        if pin_id in _NAMES:
            return int(pin_id[2:])
        if pin_id == "LED":
            return 25
        if pin_id.startswith("GPIO") and pin_id[4:].isdigit() and int(pin_id[4:]) < _NGPIO:
            return int(pin_id[4:])
        raise ValueError('unknown named pin "%s"' % pin_id)
    if isinstance(pin_id, int) and 0 <= pin_id < _NGPIO:
        return pin_id
    raise ValueError("invalid pin")


def spi_pin_ok(kind, bus, pin):
    # ports/rp2/machine_spi.c: SPI0 on GP0..7 and 16..23, SPI1 on GP8..15 and 24..29
    if ((pin & 8) >> 3) != bus:
        return False
    return (pin & 3) == {"sck": 2, "mosi": 3, "miso": 0}[kind]


def uart_pin_ok(kind, uart, pin, rp2350):
    # ports/rp2/machine_uart.c: IS_VALID_PERIPH, then IS_VALID_TX / IS_VALID_RX
    if ((((pin) + 4) & 8) >> 3) != uart:
        return False
    if rp2350:
        return (pin & 1) == (0 if kind == "tx" else 1)
    return (pin & 3) == (0 if kind == "tx" else 1)


def hashes(board=None):
    """hashlib's algorithms in the build of `board` (also asked by the host's flash, through
    sdmirror.boardfit): MD5, SHA1 and SHA256 on every board of the port (mpconfigport.h)."""
    return ("md5", "sha1", "sha256")


def port(chip, card, cs, uart_addr=None):
    """The fake rp2 port for `chip` ("rp2040" or "rp2350"); card: an SDCardModel whose chip
    select is GPIO `cs`; uart_addr: HOST:PORT of the link relay (None: no wire)."""
    rp2350 = chip == "rp2350"
    # sniffk: the sniffer's Thumb kernel writes the chip's registers, so here sniffcrc
    # drives the model from Python (as crc_f7k on the stm32 fake)
    p = Port("rp2", "rp2", {}, ("socket", "network", "ssl", "sniffk"))
    Pin = pin_class(p, find_pin, ("mode", "pull", "value", "alt"),
                    {"IN": 0, "OUT": 1, "OPEN_DRAIN": 2, "PULL_UP": 1, "PULL_DOWN": 2}, lambda i: True,
                    card, cs)

    def SPI(*args, **kw):
        check_positional("SPI", args, 2)
        check_kw("SPI", kw, _SPI_KW)
        bus = args[0] if args else kw.get("id", 0)  # PICO_DEFAULT_SPI
        if bus not in (0, 1):
            raise ValueError("SPI(%s) doesn't exist" % (bus,))
        pins = []
        for kind in ("sck", "mosi", "miso"):
            if kw.get(kind) is not None:
                pin = pin_of(kw[kind], Pin)
                if not spi_pin_ok(kind, bus, pin):
                    raise ValueError("bad %s pin" % kind.upper())
                pins.append(pin)
        if kw.get("firstbit", 0) != 0:
            raise NotImplementedError("LSB")
        p.log.append(("spi", bus) + tuple(pins))
        return FakeBus(card, _SPI_INIT_KW, args[1] if len(args) > 1 else
                       kw.get("baudrate", 1000000))

    def UART(*args, **kw):
        if not args:
            raise TypeError("function missing 1 required positional argument")
        check_positional("UART", args, 5)
        check_kw("UART", kw, _UART_KW)
        uid = args[0]
        if uid not in (0, 1):
            raise ValueError("UART(%s) doesn't exist" % (uid,))
        for kind in ("tx", "rx"):
            if kw.get(kind) is not None and \
                    not uart_pin_ok(kind, uid, pin_of(kw[kind], Pin), rp2350):
                raise ValueError("bad %s pin" % kind.upper())
        p.log.append(("uart", uid, kw.get("baudrate", args[1] if len(args) > 1 else None)))
        return FakeUart(uart_addr)

    def reset():
        raise SystemExit("machine.reset()")

    # the DMA sniffer's registers, a channel and RAM addresses, as rp2sniff.py models them
    # (ports/rp2/rp2_dma.c, modrp2.c: rp2.DMA; extmod/moductypes.c: uctypes.addressof;
    # machine.mem16/mem32 reach only the sniffer and the claimed channel)
    hw = Rp2(chip)
    p.modules["machine"] = FakeModule(
        "machine", Pin=Pin, SPI=SPI, SoftSPI=soft_spi(p, Pin, card), UART=UART, reset=reset,
        mem16=hw.mem16, mem32=hw.mem32)
    p.modules["rp2"] = FakeModule("rp2", DMA=hw.DMA)
    p.modules["uctypes"] = FakeModule("uctypes", addressof=hw.addressof)
    p.hardware = hw
    # the profile's own sniffcrc (from the image) runs: only its kernel is chip-only
    p.substitutes["sniffcrc"] = lambda: __import__("sniffcrc")  # before the hook is in
    p.modules["hashlib"] = hashlib_with(hashes())
    p.modules["sys"] = SysProxy("rp2")
    return p
