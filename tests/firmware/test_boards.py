# Board profiles on their ports' fakes (boards/fakeports: what MicroPython's rp2, stm32 and
# esp32 ports accept, each rule from the port's source): each profile's data builds a
# working card driver and link, and the fakes refuse what the ports refuse, so a profile
# that asks a port for something it lacks fails here. The whole boot of each profile's
# image on the VM is tests/host/test_board_boot.py.
import sys

from fwtest import raises

import boardkit
from mirror.config import Config

PROFILES = ("rp2040", "rp2350", "pyboard", "nucleo_f767zi", "esp32", "stm32f4")
BOARDS = PROFILES + ("emu", "renode")  # emulators' profiles: their own card() and link()


def boards_dir():
    for p in sys.path:
        if p.endswith("boards"):
            return p
    raise AssertionError("boards/ is not on sys.path")


def fakes():
    d = boards_dir() + "/fakeports"
    if d not in sys.path:
        sys.path.append(d)


def load(name):
    """Import boards/NAME/board.py as `board` (every profile has that module name)."""
    path = boards_dir() + "/" + name
    sys.modules.pop("board", None)
    sys.path.insert(0, path)
    try:
        import board
    finally:
        sys.path.remove(path)
    return board


def port_for(b, uart_addr=None, blocks=1 << 20):
    """The fake port the profile says it runs on, with a card wired to its chip select."""
    fakes()
    from emu.sdcard_model import SDCardModel
    card = SDCardModel(blocks)
    cs = b.SPI["cs"]
    if b.PLATFORM == "rp2":
        import fake_rp2
        return fake_rp2.port(b.CHIP, card, cs, uart_addr)
    if b.PLATFORM == "pyboard":
        import fake_stm32
        return fake_stm32.port(b.MPY_BOARD, card, cs, uart_addr)
    import fake_esp32
    return fake_esp32.port(card, cs)


def logged(port, kind):
    """The first thing of that kind the firmware configured on the fake port."""
    for entry in port.log:
        if entry[0] == kind:
            return entry
    raise AssertionError("no %s in %r" % (kind, port.log))


def test_every_profile_states_its_port_budget_and_valid_settings():
    for name in BOARDS:
        b = load(name)
        assert b.NAME == name
        assert 64 * 1024 <= b.HEAP <= 512 * 1024
        Config(role="primary", **b.SETTINGS)  # raises on a setting the core does not know
        if name in PROFILES:
            assert b.PLATFORM in ("rp2", "pyboard", "esp32") and b.MPY_BOARD and b.TITLE


def test_every_profile_brings_up_the_card_on_its_ports_fakes():
    for name in PROFILES:
        b = load(name)
        p = port_for(b)
        dev = boardkit.card(b, p.modules["machine"])
        assert dev.ioctl(4, 0) == (1 << 20) // 512, name
        assert logged(p, "spi")[1] == b.SPI["id"], name
        dev.writeblocks(3, b"\x5a" * 512)
        out = bytearray(512)
        dev.readblocks(3, out)
        assert out == b"\x5a" * 512


def test_uart_profiles_open_their_uart():
    for name in PROFILES:
        b = load(name)
        if not hasattr(b, "UART"):
            continue
        p = port_for(b)
        link = boardkit.link(b, {"role": "primary"}, p.modules["machine"])
        assert logged(p, "uart")[1] == b.UART["id"], name
        assert link.maintain(0) == "up"
        assert link.read() == 0 and link.write(b"abc") == 3  # no wire: bytes go nowhere


def test_ethernet_profiles_bring_up_their_phy_then_connect_to_the_peer():
    for name in ("esp32", "nucleo_f767zi"):
        b = load(name)
        p = port_for(b)
        link = boardkit.link(b, {"role": "primary", "peer": "127.0.0.1:1"},
                             p.modules["machine"], p.modules["network"])
        assert logged(p, "lan") and logged(p, "active") == ("active", True), name
        assert link.addr is not None and not link.connected


def test_the_uart_link_needs_no_socket():
    # a plain Pico has no socket module (ports/rp2: only with MICROPY_PY_NETWORK)
    b = load("rp2040")
    p = port_for(b).install()
    saved = {}
    for m in ("drivers.uartlink", "drivers.link"):
        saved[m] = sys.modules.pop(m, None)
    try:
        import drivers.uartlink  # noqa: F401
        e = raises(ImportError, __import__, "drivers.link")
        assert "socket" in str(e)
        raises(ImportError, __import__, "network")
    finally:
        p.uninstall()
        for m in saved:
            sys.modules.pop(m, None)
            if saved[m] is not None:
                sys.modules[m] = saved[m]


def test_the_fakes_refuse_what_the_ports_refuse():
    rp2 = port_for(load("rp2040")).modules
    m = rp2["machine"]
    raises(ValueError, m.SPI, 2)  # SPI(2) doesn't exist
    raises(ValueError, m.SPI, 1, sck=m.Pin(2))  # GP2 is SPI0's SCK
    raises(ValueError, m.UART, 0, 115200, tx=m.Pin(4))  # GP4 is UART1's TX
    raises(TypeError, m.UART, 0, 115200, read_buf_len=64)  # an stm32 keyword
    raises(ValueError, m.Pin, 30)
    assert m.Pin("GP13").id == 13 and m.Pin("LED").id == 25
    assert sorted(n for n in ("md5", "sha1", "sha256") if hasattr(rp2["hashlib"], n)) == \
        ["md5", "sha1", "sha256"]  # rp2/mpconfigport.h, since v1.28
    assert rp2["sys"].platform == "rp2"
    pico2 = port_for(load("rp2350")).modules["machine"]
    pico2.UART(0, 115200, tx=pico2.Pin(2))  # RP2350: any even pin of UART0's block
    raises(ValueError, m.UART, 0, 115200, tx=m.Pin(2))  # RP2040: GP2 is UART0's CTS

    pyb = port_for(load("pyboard")).modules
    m = pyb["machine"]
    e = raises(ValueError, m.SPI, 2, sck=m.Pin("Y6"))
    assert str(e) == "explicit choice of sck/mosi/miso is not implemented"
    raises(TypeError, m.UART, 6, 115200, tx=m.Pin("Y1"))
    raises(ValueError, m.UART, 5, 115200)  # the Pyboard has no UART 5
    raises(TypeError, m.Pin, 12)  # stm32 pins have names
    assert m.Pin("Y5").id == "B12" and m.Pin("B12").id == "B12"
    m.SPI("Y")  # buses by name
    assert not hasattr(pyb["network"], "LAN")  # no Ethernet on a Pyboard
    raises(OSError, pyb["socket"].socket)  # socket without a NIC
    assert not hasattr(pyb["hashlib"], "md5") and hasattr(pyb["hashlib"], "sha256")

    f7 = port_for(load("nucleo_f767zi")).modules
    raises(TypeError, f7["network"].LAN, mdc=f7["machine"].Pin("C1"))  # the build's pins
    assert f7["network"].LAN.PHY_LAN8742 == 0 and hasattr(f7["hashlib"], "md5")

    esp = port_for(load("esp32")).modules
    m = esp["machine"]
    raises(ValueError, m.Pin, 34, m.Pin.OUT)  # input-only GPIO
    raises(ValueError, m.Pin, 24)  # no GPIO24 on the ESP32
    raises(ValueError, m.SPI, 3)
    raises(TypeError, esp["network"].LAN, mdc=m.Pin(23), mdio=m.Pin(18), phy_addr=1)
    raises(ValueError, esp["network"].LAN, mdc=m.Pin(23), mdio=m.Pin(18), phy_addr=32,
           phy_type=esp["network"].PHY_LAN8720)


def test_ip_boards_need_a_role_and_a_peer():
    assert "peer" in str(raises(OSError, boardkit.tcp_link, {"role": "primary"}, 7340))
    assert "role" in str(raises(OSError, boardkit.role, load("esp32"), {}))
    link = boardkit.tcp_link({"role": "primary", "peer": "127.0.0.1:1"}, 7340)
    assert link.addr is not None and not link.connected


def test_a_profile_for_another_port_says_so():
    b = load("pyboard")
    e = raises(OSError, boardkit.check_port, b)  # this VM's sys.platform is not "pyboard"
    assert "pyboard" in str(e) and "sdmirror boards" in str(e)
    boardkit.check_port(load("emu"))  # the emulated board runs anywhere


def test_emulated_board_keeps_its_own_constructors():
    b = load("emu")
    assert boardkit.role(b, {"role": "secondary"}) == "secondary"
    assert callable(b.card) and callable(b.link)


def test_link_rate_follows_the_uart():
    assert boardkit.link_rate(load("rp2040")) == 11520
    assert boardkit.link_rate(load("esp32")) == 0  # Ethernet: fast, RTT decides


class _CardBoard:
    """A profile with its own card(): it fails while `dead` (as SDCard's init does)."""
    NAME = "t"

    def __init__(self):
        self.dead = False

    def card(self):
        if self.dead:
            raise OSError(110, "no SD card")
        from mirror.volume import MemBlockDevice
        return MemBlockDevice(64)


def _with_card_file(fn):
    import os
    old = boardkit.CARD_FILE
    boardkit.CARD_FILE = "/tmp/sdmirror-test-%d.card" % id(fn)
    try:
        fn()
    finally:
        try:
            os.remove(boardkit.CARD_FILE)
        except OSError:
            pass
        boardkit.CARD_FILE = old


def test_a_primary_card_failing_at_boot_is_a_failed_card_of_the_size_last_seen():
    def body():
        b = _CardBoard()
        b.dead = True
        e = raises(OSError, boardkit.card, b, None, "primary")
        assert "failed at boot" in str(e) and "size is not known" in str(e)
        b.dead = False
        assert boardkit.card(b, None, "primary").ioctl(4, 0) == 64  # saves the size
        b.dead = True
        dev = boardkit.card(b, None, "primary")
        assert dev.ioctl(4, 0) == 64 and dev.ioctl(5, 0) == 512
        raises(OSError, dev.readblocks, 0, bytearray(512))
        raises(OSError, dev.writeblocks, 0, bytearray(512))
        raises(OSError, dev.init_card)  # still none answers
        b.dead = False
        dev.init_card()  # a card answers: requests go to it
        dev.writeblocks(3, b"\x77" * 512)
        out = bytearray(512)
        dev.readblocks(3, out)
        assert out == b"\x77" * 512
        b.dead = True  # a secondary's card failing at boot stays fatal
        e = raises(OSError, boardkit.card, b, None, "secondary")
        assert "failed at boot" in str(e) and "size" not in str(e)
    _with_card_file(body)
