# Board profiles: each board's data builds a working card driver and link when handed a
# `machine` module. Here the module is a fake whose SPI bus has the emulated SD card
# behind it, so every board's pin map and bring-up path runs without the hardware.
import sys

from fwtest import raises

import boardkit
from emu.sdcard_model import EmuPin, EmuSPI, SDCardModel
from mirror.config import Config

BOARDS = ("rp2040", "stm32f4", "renode", "esp32", "emu")


def load(name):
    """Import boards/NAME/board.py as `board` (every profile has that module name)."""
    here = None
    for p in sys.path:
        if p.endswith("boards"):
            here = p
    path = here + "/" + name
    sys.modules.pop("board", None)
    sys.path.insert(0, path)
    try:
        import board
    finally:
        sys.path.remove(path)
    return board


class FakeMachine:
    """machine.Pin / SPI / UART that record how the board configured them."""

    def __init__(self):
        self.card = SDCardModel(1 << 20)
        self.log = []
        fake = self

        class Pin:
            OUT = 1
            IN = 0

            def __init__(self, pin_id, mode=None, value=None):
                fake.log.append(("pin", pin_id, mode, value))
                self.pin_id = pin_id
                self._emu = EmuPin(fake.card) if mode == 1 else None

            def init(self, mode=None, value=None):
                if self._emu is None:
                    self._emu = EmuPin(fake.card)
                self._emu.init(mode, value=value)

            def value(self, v=None):
                return self._emu.value(v) if self._emu else 0

            def __call__(self, v=None):
                return self.value(v)

            def on(self):
                self.value(1)

            def off(self):
                self.value(0)

        def SPI(bus_id, **kw):
            fake.log.append(("spi", bus_id, kw["sck"].pin_id, kw["mosi"].pin_id,
                             kw["miso"].pin_id))
            return EmuSPI(fake.card, baudrate=kw["baudrate"], polarity=kw["polarity"],
                          phase=kw["phase"])

        class UART:
            def __init__(self, uart_id, baudrate=9600, tx=None, rx=None, **kw):
                fake.log.append(("uart", uart_id, baudrate, tx.pin_id, rx.pin_id))

            def readinto(self, buf):
                return None

            def write(self, buf):
                return len(buf)

        self.Pin = Pin
        self.SPI = SPI
        self.UART = UART


def test_every_profile_states_its_budget_and_valid_settings():
    for name in BOARDS:
        b = load(name)
        assert b.NAME == name
        assert 64 * 1024 <= b.HEAP <= 512 * 1024
        Config(role="primary", **b.SETTINGS)  # raises on a setting the core does not know


def test_spi_boards_bring_up_the_card_on_their_pins():
    for name in ("rp2040", "stm32f4", "esp32"):
        b = load(name)
        m = FakeMachine()
        dev = boardkit.card(b, m)
        assert dev.ioctl(4, 0) == (1 << 20) // 512
        spi = b.SPI
        assert ("spi", spi["id"], spi["sck"], spi["mosi"], spi["miso"]) in m.log
        assert ("pin", spi["cs"], 1, 1) in m.log  # chip select: output, idle high
        dev.writeblocks(3, b"\x5a" * 512)
        out = bytearray(512)
        dev.readblocks(3, out)
        assert out == b"\x5a" * 512


def test_uart_boards_open_their_uart_at_the_line_rate():
    for name in ("rp2040", "stm32f4"):
        b = load(name)
        m = FakeMachine()
        link = boardkit.link(b, {"role": "primary"}, m)
        u = b.UART
        assert ("uart", u["id"], u["baudrate"], u["tx"], u["rx"]) in m.log
        assert link.maintain(0) == "up"


def test_ip_boards_need_a_role_and_a_peer():
    assert "peer" in str(raises(OSError, boardkit.tcp_link, {"role": "primary"}, 7340))
    assert "role" in str(raises(OSError, boardkit.role, load("esp32"), {}))
    link = boardkit.tcp_link({"role": "primary", "peer": "127.0.0.1:1"}, 7340)
    assert link.addr is not None and not link.connected


class FakeNetwork:
    PHY_LAN8720 = 7

    def __init__(self):
        self.log = []
        fake = self

        class LAN:
            def __init__(self, **kw):
                fake.log.append(("lan", kw["mdc"].pin_id, kw["mdio"].pin_id, kw["phy_type"]))

            def active(self, on):
                fake.log.append(("active", on))

        self.LAN = LAN


def test_ethernet_board_brings_up_its_phy_then_connects_to_the_peer():
    b = load("esp32")
    m, net = FakeMachine(), FakeNetwork()
    link = boardkit.link(b, {"role": "primary", "peer": "127.0.0.1:1"}, m, net)
    assert ("lan", b.ETH["mdc"], b.ETH["mdio"], 7) in net.log and ("active", True) in net.log
    assert link.addr is not None and not link.connected


def test_emulated_board_keeps_its_own_constructors():
    b = load("emu")
    assert boardkit.role(b, {"role": "secondary"}) == "secondary"
    assert callable(b.card) and callable(b.link)


def test_link_rate_follows_the_uart():
    assert boardkit.link_rate(load("rp2040")) == 11520
    assert boardkit.link_rate(load("esp32")) == 0  # Ethernet: fast, RTT decides
