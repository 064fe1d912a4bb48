# Board profiles (boards/NAME/board.py) are data: NAME, HEAP, SETTINGS, the port it runs on
# (PLATFORM = its sys.platform) and the buses (SPI, UART or ETH). This module builds a
# board's card, link and engines from that data, so a new board is a new table. It passes
# a port only what that port's constructors accept: pins for an SPI bus or a UART only when
# the profile names them (the stm32 port's hardware SPI and UART have fixed pins and refuse
# sck/mosi/miso and tx/rx: ports/stm32/machine_spi.c, machine_uart.c); "soft": True takes
# machine.SoftSPI, which needs them. A profile may still define card(), link(conf), role(conf),
# entropy() or reset() itself when its hardware needs something the data cannot say (the
# emulator does). Hardware modules are passed in (`machine`, `network`) so tests can hand in
# fakes.
import os
import sys


def check_port(board):
    """A profile flashed onto the wrong port says so (rather than failing somewhere odd)."""
    want = getattr(board, "PLATFORM", None)
    if want and sys.platform != want:
        raise OSError("the %s profile is for MicroPython's %s port, this board runs %s: "
                      "flash the profile for this board (sdmirror boards)" % (
                          board.NAME, want, sys.platform))


def pins(Pin, spec, names):
    """Keyword arguments NAME=Pin(spec[NAME]) for the names the profile gives."""
    kw = {}
    for n in names:
        if n in spec:
            kw[n] = Pin(spec[n])
    return kw


ROLE_FILE = "sdmirror.role"


def saved_role():
    """The role an operator's promote/demote/settle gave this board, kept across resets
    (it outranks the configured one; `sdmirror flash --role` removes the file)."""
    try:
        with open(ROLE_FILE) as f:
            r = f.read().strip()
    except OSError:
        return None
    return r if r in ("primary", "secondary") else None


def save_role(r):
    with open(ROLE_FILE, "w") as f:
        f.write(r)


def role(board, conf):
    saved = saved_role()
    if saved is not None:
        return saved
    if hasattr(board, "role"):
        return board.role(conf)
    r = conf.get("role")
    if r not in ("primary", "secondary"):
        raise OSError("sdmirror.json must say \"role\": \"primary\" or \"secondary\"")
    return r


CARD_FILE = "sdmirror.card"  # the card's size in blocks, as the last boot found it


def card(board, machine=None, role=None):
    """The SD card of the board (_sd_card). With role (the boot): a primary's card that
    fails to initialise is a FailedCard of the size the last boot saw, so the controller
    starts detached and serves from the secondary (mirror/detach.py); the size is kept
    in CARD_FILE, written only when it changes (flash wear) and never on a board whose
    filesystem must not be written (FS_READ_ONLY: Renode's)."""
    make = board.card if hasattr(board, "card") else lambda: _sd_card(board, machine)
    if role is None:
        return make()
    try:
        dev = make()
    except OSError as e:
        blocks = _saved_blocks()
        if role != "primary" or not blocks:
            raise OSError("SD card failed at boot (%s)%s: check the card" % (
                e, "" if role != "primary" else
                " and its size is not known (no boot with it saved one)"))
        from failedcard import FailedCard  # rare: not resident in RAM until needed
        return FailedCard(e, blocks, make)
    blocks = dev.ioctl(4, 0)
    if not getattr(board, "FS_READ_ONLY", False) and blocks != _saved_blocks():
        try:
            with open(CARD_FILE, "w") as f:
                f.write(str(blocks))
        except OSError:
            pass  # a read-only filesystem: a card failing at boot will then be fatal
    return dev


def _saved_blocks():
    try:
        with open(CARD_FILE) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 0


def _sd_card(board, machine):
    """The SD card on the SPI bus of board.SPI: id, cs, baudrate, and sck/mosi/miso where
    the port lets a bus choose its pins ("soft": True: machine.SoftSPI on those pins)."""
    from drivers.sdcard import SDCard
    if machine is None:
        import machine
    spi = board.SPI
    Pin = machine.Pin
    kw = pins(Pin, spi, ("sck", "mosi", "miso"))
    if spi.get("soft"):
        bus = machine.SoftSPI(baudrate=400000, polarity=0, phase=0, **kw)
    else:
        bus = machine.SPI(spi["id"], baudrate=400000, polarity=0, phase=0, **kw)
    cs = Pin(spi["cs"], Pin.OUT, value=1)
    return SDCard(bus, cs, baudrate=spi["baudrate"])


def link(board, conf, machine=None, network=None):
    """The link: board.UART (id, baudrate, and tx/rx where the port takes them), or
    board.ETH (the network.LAN keywords of the port: pins, phy_addr, "phy" naming a PHY_
    constant of network or network.LAN) and TCP:
    the primary connects to sdmirror.json's "peer" (HOST[:PORT]), the secondary listens on
    "listen" (default board.PORT)."""
    if hasattr(board, "link"):
        return board.link(conf)
    if machine is None:
        import machine
    Pin = machine.Pin
    if hasattr(board, "UART"):
        from drivers.uartlink import UartLink
        u = board.UART
        return UartLink(machine.UART(u["id"], baudrate=u["baudrate"], rxbuf=4096, timeout=0,
                                     **pins(Pin, u, ("tx", "rx"))))
    if network is None:
        import network
    eth = board.ETH
    kw = pins(Pin, eth, ("mdc", "mdio", "power", "reset"))
    if "phy_addr" in eth:
        kw["phy_addr"] = eth["phy_addr"]
    if "phy" in eth:
        name = "PHY_" + eth["phy"]
        kw["phy_type"] = getattr(network, name, None)
        if kw["phy_type"] is None:
            kw["phy_type"] = getattr(network.LAN, name)  # stm32: constants on the class
    lan = network.LAN(**kw)
    lan.active(True)
    if conf.get("ifconfig"):  # [ip, mask, gateway, dns]; else the port's DHCP
        lan.ifconfig(tuple(conf["ifconfig"]))
    return tcp_link(conf, board.PORT)


def tcp_link(conf, default_port):
    from drivers.link import TcpLink, TcpListenLink
    if conf.get("role") == "secondary":
        return TcpListenLink(int(conf.get("listen", default_port)))
    peer = conf.get("peer")
    if not peer:
        raise OSError("sdmirror.json has no \"peer\": set the secondary's address")
    host, _, port = peer.partition(":")
    return TcpLink(host, int(port) if port else default_port)


def link_rate(board):
    """Bytes per second of the board's link if it is a UART (8N1: baud / 10), else 0."""
    if hasattr(board, "link_rate"):
        return board.link_rate()
    if hasattr(board, "UART"):
        return board.UART["baudrate"] // 10
    return 0


def framing(board):
    """How frames are delimited on the board's link: COBS on a UART (bytes can be lost one
    by one), a length prefix on TCP (mirror/frames.py)."""
    if hasattr(board, "framing"):
        return board.framing()
    return "cobs" if hasattr(board, "UART") else "length"


def register_engines(board):
    """Faster checksum engines: the native engines of this architecture (mirror/fastcrc.py)
    and, replacing them, the chip's CRC hardware (board.CRC_UNIT names a module with
    engines(board) -> list, or engine())."""
    from mirror import checksum, fastcrc
    for eng in fastcrc.engines():
        checksum.register(eng)
    unit = getattr(board, "CRC_UNIT", None)
    if unit:
        mod = __import__(unit)
        for eng in mod.engines(board) if hasattr(mod, "engines") else [mod.engine()]:
            checksum.register(eng)


def entropy(board):
    return board.entropy() if hasattr(board, "entropy") else os.urandom(16)


def reset(board):
    if hasattr(board, "reset"):
        board.reset()
    import machine
    machine.reset()
