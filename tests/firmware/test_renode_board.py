# The `renode` profile (boards/renode: NUCLEO-F767ZI in Renode) against a fake `machine` that
# accepts only what MicroPython's stm32 port accepts on that board, so a profile that passes
# pins to hardware SPI/UART or names the wrong pin fails here as it would on the port.
import sys

from fwtest import raises
from test_boards import load

from emu.sdcard_model import EmuPin, EmuSPI, SDCardModel

# micropython ports/stm32/boards/NUCLEO_F767ZI/mpconfigboard.h: the UARTs and SPI buses the
# board defines pins for (only those exist), and the REPL's UART.
UARTS = (2, 3, 5, 6, 7, 8)
SPIS = (3,)
REPL_UART = 3
# ports/stm32/boards/NUCLEO_F767ZI/pins.csv (board name -> cpu pin), a few rows; every cpu
# pin is also reachable by its name without the "P" (make-pins.py strips it).
BOARD_PINS = {"A4": "PF5", "D24": "PA4", "SPI3_NSS": "PA4", "SPI3_SCK": "PB3",
              "UART2_TX": "PD5", "UART2_RX": "PD6"}
# ports/stm32/machine_uart.c mp_machine_uart_init_helper: its allowed_args.
UART_KW = ("baudrate", "bits", "parity", "stop", "flow", "timeout", "timeout_char", "rxbuf",
           "read_buf_len", "invert")
# ports/stm32/machine_spi.c machine_hard_spi_make_new: allowed_args (sck/mosi/miso are
# accepted only to refuse them).
SPI_KW = ("baudrate", "polarity", "phase", "bits", "firstbit")


class Stm32Machine:
    def __init__(self, card_bytes):
        self.card = SDCardModel(card_bytes)
        self.log = []
        fake = self

        class Pin:
            OUT = 1
            IN = 0

            def __init__(self, name, mode=None, value=None):
                # ports/stm32/pin.c pin_find: board names first, then cpu names
                if name in BOARD_PINS:
                    cpu = BOARD_PINS[name]
                elif isinstance(name, str) and len(name) >= 2 and name[0] in "ABCDEFGHIJK" \
                        and name[1:].isdigit():
                    cpu = "P" + name
                else:
                    raise ValueError("Pin(%s) doesn't exist" % name)
                fake.log.append(("pin", cpu, mode, value))
                self._emu = EmuPin(fake.card, 1 if value is None else value)

            def init(self, mode=None, value=None):
                self._emu.init(mode, value=value)

            def value(self, v=None):
                return self._emu.value(v)

            def __call__(self, v=None):
                return self._emu.value(v)

        def SPI(bus_id, **kw):
            for k in ("sck", "mosi", "miso"):
                if k in kw:  # machine_spi.c
                    raise ValueError("explicit choice of sck/mosi/miso is not implemented")
            for k in kw:
                if k not in SPI_KW:
                    raise TypeError("unexpected keyword argument '%s'" % k)
            if bus_id not in SPIS:
                raise ValueError("SPI(%d) doesn't exist" % bus_id)
            fake.log.append(("spi", bus_id))
            return EmuSPI(fake.card, **kw)

        class UART:
            def __init__(self, uart_id, **kw):
                for k in kw:
                    if k not in UART_KW:
                        raise TypeError("unexpected keyword argument '%s'" % k)
                if uart_id not in UARTS:
                    raise ValueError("UART(%d) doesn't exist" % uart_id)
                fake.log.append(("uart", uart_id, kw.get("baudrate")))

            def readinto(self, buf):
                return None

            def write(self, buf):
                return len(buf)

            def any(self):
                return 0

        self.Pin = Pin
        self.SPI = SPI
        self.UART = UART


def with_machine(m, fn, *args):
    saved = sys.modules.get("machine")
    sys.modules["machine"] = m
    try:
        return fn(*args)
    finally:
        if saved is None:
            del sys.modules["machine"]
        else:
            sys.modules["machine"] = saved


def test_the_fake_refuses_what_the_port_refuses():
    m = Stm32Machine(1 << 20)
    e = raises(ValueError, m.SPI, 3, baudrate=400000, sck=m.Pin("B3"))
    assert "sck/mosi/miso" in str(e)
    raises(ValueError, m.SPI, 1, baudrate=400000)  # no SPI1 pins on this board
    raises(TypeError, m.UART, 2, baudrate=115200, tx=m.Pin("D5"))
    m.Pin("A4")
    assert m.log[-1][1] == "PF5"  # a board name, not PA4


def test_the_card_comes_up_on_spi3_with_pa4_as_chip_select_and_the_volume_capped():
    b = load("renode")
    m = Stm32Machine(16 << 20)  # 32768 blocks, more than the profile uses
    dev = with_machine(m, b.card)
    assert ("spi", 3) in m.log
    assert ("pin", "PA4", 1, 1) in m.log  # the pin the .repl wires to the card's select
    assert dev.ioctl(4, 0) == b.CARD_BLOCKS == 16384
    dev.writeblocks(b.CARD_BLOCKS - 1, b"\xa5" * 512)
    out = bytearray(512)
    dev.readblocks(b.CARD_BLOCKS - 1, out)
    assert out == b"\xa5" * 512
    raises(OSError, dev.readblocks, b.CARD_BLOCKS, out)  # past the capped volume


def test_a_small_card_is_used_whole():
    b = load("renode")
    dev = with_machine(Stm32Machine(1 << 20), b.card)
    assert dev.ioctl(4, 0) == (1 << 20) // 512


def test_the_link_is_uart2_not_the_repl():
    b = load("renode")
    m = Stm32Machine(1 << 20)
    link = with_machine(m, b.link, {"role": "primary"})
    assert ("uart", 2, 115200) in m.log and b.UART["id"] != REPL_UART
    assert link.maintain(0) == "up"
