# Which framing a board's link gets (boardkit.framing): COBS on a UART, a length prefix on
# TCP; a profile may say itself (the emulator, by its link model).
import boardkit
from fwtest import raises

from mirror.config import Config


class _Uart:
    UART = {"id": 0}


class _Eth:
    ETH = {"phy": "LAN8720"}


class _Own:
    def framing(self):
        return "length"


def test_uart_boards_use_cobs_and_tcp_boards_a_length_prefix():
    assert boardkit.framing(_Uart) == "cobs"
    assert boardkit.framing(_Eth) == "length"
    assert boardkit.framing(_Own()) == "length"


def test_config_takes_only_known_framings():
    assert Config().framing == "cobs"
    assert Config(framing="length").framing == "length"
    e = raises(ValueError, Config, framing="slip")
    assert "framing" in str(e)
