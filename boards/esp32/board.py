# ESP32 with a LAN8720 Ethernet PHY (e.g. WT32-ETH01 / Olimex ESP32-POE): SD card on SPI
# (VSPI pins), link over TCP to a secondary that may be far away. ~110 KiB of heap on a
# plain ESP32 once the network stack runs; a wider window covers the Internet's latency.
import os

NAME = "esp32"
HEAP = 110 * 1024
SETTINGS = {"window": 12, "frame_blocks": 4}
SPI = {"id": 2, "sck": 14, "mosi": 15, "miso": 2, "cs": 4, "baudrate": 20000000}
ETH = {"mdc": 23, "mdio": 18, "phy_addr": 1, "phy_type": "LAN8720", "power": 16}
PORT = 7340


def role(conf):
    import boardkit
    return boardkit.role(conf)


def card(machine=None):
    import boardkit
    if machine is None:
        import machine
    return boardkit.spi_card(machine, SPI)


def link(conf, machine=None, network=None):
    import boardkit
    if machine is None:
        import machine
    if network is None:
        import network
    Pin = machine.Pin
    lan = network.LAN(mdc=Pin(ETH["mdc"]), mdio=Pin(ETH["mdio"]), power=Pin(ETH["power"]),
                      phy_addr=ETH["phy_addr"], phy_type=getattr(network, "PHY_" + ETH["phy_type"]))
    lan.active(True)
    return boardkit.tcp_link(conf, PORT)  # primary connects to "peer"; secondary listens


def entropy():
    return os.urandom(16)


def register_engines():
    from mirror import checksum, fastcrc
    eng = fastcrc.engine()
    if eng is not None:
        checksum.register(eng)


def reset():
    import machine
    machine.reset()
