# The esp32 port as MicroPython 1.29 builds it for ESP32_GENERIC (an ESP32 with Ethernet
# through its EMAC and a LAN8720 PHY, e.g. WT32-ETH01). Sources, in micropython/micropython:
#   ports/esp32/machine_pin.c   Pin(id, mode, pull, *, value, drive, hold); id an int that
#                               is a GPIO of the chip (ESP-IDF GPIO_IS_VALID_GPIO: ESP32 has
#                               0..19, 21..23, 25..27, 32..39); 34..39 are input only
#                               (GPIO_IS_VALID_OUTPUT_GPIO)
#   ports/esp32/machine_hw_spi.c SPI(id, baudrate, *, polarity, phase, bits, firstbit, sck,
#                               mosi, miso); id 1 (HSPI) or 2 (VSPI) on the ESP32
#   ports/esp32/network_lan.c   network.LAN(id, *, mdc, mdio, reset, power, phy_addr,
#                               phy_type, spi, cs, int, ref_clk_mode, ref_clk); phy_addr and
#                               phy_type required; id only 0; phy_addr 0..31; mdc and mdio
#                               required for the internal EMAC
#   ports/esp32/modnetwork_globals.h, modnetwork.h   network.PHY_* (LAN8710 = 0, LAN8720 ...)
#   ports/esp32/mpconfigport.h  sys.platform "esp32"; MICROPY_PY_SSL with networking, so
#                               hashlib has md5, sha1, sha256; socket over lwIP
# machine.UART is not modelled (no esp32 profile uses it): calling it fails here.
from fakeport import (FakeBus, FakeLan, FakeModule, Port, SysProxy, check_kw,
                      check_positional, hashlib_with, pin_class, pin_of, soft_spi)

_GPIOS = tuple(range(0, 20)) + (21, 22, 23, 25, 26, 27) + tuple(range(32, 40))
_SPI_KW = ("id", "baudrate", "polarity", "phase", "bits", "firstbit", "sck", "mosi", "miso")
_SPI_INIT_KW = _SPI_KW[1:]
_LAN_KW = ("id", "mdc", "mdio", "reset", "power", "phy_addr", "phy_type", "spi", "cs", "int",
           "ref_clk_mode", "ref_clk")
_PHY = ("LAN8710", "LAN8720", "IP101", "RTL8201", "DP83848", "KSZ8041", "KSZ8081")


def find_pin(pin_id):
    if isinstance(pin_id, int) and pin_id in _GPIOS:
        return pin_id
    if not isinstance(pin_id, int):
        raise TypeError("can't convert %s to int" % type(pin_id).__name__)
    raise ValueError("invalid pin")


def hashes(board=None):
    """hashlib's algorithms in the build of `board` (also asked by the host's flash, through
    sdmirror.boardfit): MD5, SHA1 and SHA256 on every board (ports/esp32, see above)."""
    return ("md5", "sha1", "sha256")


def port(card, cs):
    """The fake esp32 port; card: an SDCardModel whose chip select is GPIO `cs`. Its
    sockets are the VM's own (lwIP on the board)."""
    p = Port("esp32", "esp32", {}, ())
    Pin = pin_class(p, find_pin, ("mode", "pull", "value", "drive", "hold"),
                    {"IN": 1, "OUT": 3, "OPEN_DRAIN": 7, "PULL_UP": 2, "PULL_DOWN": 1},
                    lambda i: i < 34, card, cs)

    def SPI(*args, **kw):
        check_positional("SPI", args, 2)
        check_kw("SPI", kw, _SPI_KW)
        bus = args[0] if args else kw.get("id")
        if bus not in (1, 2):
            raise ValueError("SPI(%s) doesn't exist" % (bus,))
        pins = []
        for kind in ("sck", "mosi", "miso"):
            if kw.get(kind) is not None:
                if not isinstance(kw[kind], Pin):
                    raise TypeError("expecting a pin")
                pins.append(pin_of(kw[kind], Pin))
        p.log.append(("spi", bus) + tuple(pins))
        return FakeBus(card, _SPI_INIT_KW, args[1] if len(args) > 1 else
                       kw.get("baudrate", 500000))

    def UART(*args, **kw):
        raise NotImplementedError("fake esp32: machine.UART is not modelled")

    class LAN(FakeLan):
        def __init__(self, *args, **kw):
            check_positional("LAN", args, 1)
            check_kw("LAN", kw, _LAN_KW)
            ident = args[0] if args else kw.get("id")
            if ident is not None and ident != 0:
                raise ValueError("invalid LAN interface identifier")
            for k in ("phy_addr", "phy_type"):
                if k not in kw:
                    raise TypeError("'%s' argument required" % k)
            if not 0 <= kw["phy_addr"] <= 0x1F:
                raise ValueError("invalid phy address")
            if not 0 <= kw["phy_type"] < len(_PHY):
                raise ValueError("invalid phy type")
            if kw.get("mdc") is None or kw.get("mdio") is None:
                raise ValueError("mdc and mdio must be specified")
            for k in ("mdc", "mdio", "reset", "power", "ref_clk"):
                if kw.get(k) is not None and not isinstance(kw[k], Pin):
                    raise TypeError("expecting a pin")
            p.log.append(("lan", kw["mdc"].id, kw["mdio"].id, kw["phy_addr"],
                          _PHY[kw["phy_type"]]))
            FakeLan.__init__(self, p)

    def reset():
        raise SystemExit("machine.reset()")

    p.modules["machine"] = FakeModule(
        "machine", Pin=Pin, SPI=SPI, SoftSPI=soft_spi(p, Pin, card), UART=UART, reset=reset)
    net = FakeModule("network", LAN=LAN)
    for i in range(len(_PHY)):
        setattr(net, "PHY_" + _PHY[i], i)
    p.modules["network"] = net
    p.modules["hashlib"] = hashlib_with(hashes())
    p.modules["sys"] = SysProxy("esp32")
    return p
