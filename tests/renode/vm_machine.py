# `machine` for the MicroPython VM that boots the Renode image (test_renode_boot.py): the
# stm32 port's call shapes (ports/stm32/machine_spi.c: no sck/mosi/miso; machine_uart.c: no
# tx/rx; NUCLEO_F767ZI defines SPI3 only) in front of Renode's card model behind its
# SPIMultiplexer (renode_sdcard.py), and a UART that is a pollable file going nowhere.
from renode_sdcard import Mux, MuxPin, MuxSPI, RenodeSDCard

_mux = Mux(RenodeSDCard(4 << 30))
# ports/stm32/boards/NUCLEO_F767ZI/pins.csv: a board name of PA4 (D24, also SPI3_NSS), the one the profile uses
_CS = "D24"


class Pin:
    OUT = 1
    IN = 0

    def __new__(cls, name, mode=None, value=1):
        if name != _CS:
            raise ValueError("this fake wires only %s (PA4) to the card, not %s" % (_CS, name))
        return MuxPin(_mux, value)


def SPI(bus_id, **kw):
    for k in ("sck", "mosi", "miso"):
        if k in kw:
            raise ValueError("explicit choice of sck/mosi/miso is not implemented")
    if bus_id != 3:
        raise ValueError("SPI(%d) doesn't exist" % bus_id)
    return MuxSPI(_mux)


def UART(uart_id, **kw):
    if "tx" in kw or "rx" in kw:
        raise TypeError("unexpected keyword argument")
    if uart_id not in (2, 5, 6, 7, 8):  # 3 is the REPL
        raise ValueError("UART(%d) is not a link UART on this board" % uart_id)
    return open("/dev/null", "r+b")


def reset():
    raise SystemExit
