# What board profiles share: building the card and the link from a board's data. Hardware
# modules are passed in (`machine`, `network`), so tests can hand in fakes.


def spi_card(machine, spi):
    """The SD card on an SPI bus described by `spi` (dict: id, sck, mosi, miso, cs, baudrate)."""
    from drivers.sdcard import SDCard
    Pin = machine.Pin
    bus = machine.SPI(spi["id"], baudrate=400000, polarity=0, phase=0,
                      sck=Pin(spi["sck"]), mosi=Pin(spi["mosi"]), miso=Pin(spi["miso"]))
    cs = Pin(spi["cs"], Pin.OUT, value=1)
    return SDCard(bus, cs, baudrate=spi["baudrate"])


def uart_link(machine, uart):
    """The link on a UART described by `uart` (dict: id, tx, rx, baudrate)."""
    from drivers.link import UartLink
    Pin = machine.Pin
    u = machine.UART(uart["id"], baudrate=uart["baudrate"], tx=Pin(uart["tx"]),
                     rx=Pin(uart["rx"]), rxbuf=4096, timeout=0)
    return UartLink(u)


def tcp_link(conf, default_port):
    """The link over IP. The primary connects to sdmirror.json's "peer" (HOST[:PORT]); the
    secondary listens on "listen" (a port; default_port if absent)."""
    from drivers.link import TcpLink, TcpListenLink
    if role(conf) == "secondary":
        return TcpListenLink(int(conf.get("listen", default_port)))
    peer = conf.get("peer")
    if not peer:
        raise OSError("sdmirror.json has no \"peer\": set the secondary's address")
    host, _, port = peer.partition(":")
    return TcpLink(host, int(port) if port else default_port)


def role(conf):
    r = conf.get("role")
    if r not in ("primary", "secondary"):
        raise OSError("sdmirror.json must say \"role\": \"primary\" or \"secondary\"")
    return r
