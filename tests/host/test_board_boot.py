"""Every board profile boots the image `sdmirror flash --board NAME` deploys, on the
MicroPython VM with its port's fakes (boards/fakeports: what the rp2, stm32 and esp32 ports
accept, from their source), in the profile's own heap, and answers `status` -- as primary
and as secondary -- and a pair of them pairs. A profile calling an API its port lacks
fails at boot with the documented fatal line (the negative tests).

The heap is the profile's HEAP plus what the VM holds that the board does not (the fakes,
the card model, frozen modules: see sdmirror.fakeboot). Pairing in that heap is
tests/host/test_ram_budget.py.
"""
import os
import socket

import pytest

from sdmirror import fakeboot as fb
from sdmirror import firmware_image as fi

pytestmark = pytest.mark.system

PROFILES = fb.profiles()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def boot(board, tmp_path, role, conf=None, env_extra=None, image_hook=None, margin=0):
    """The board's image booting on the VM in its own heap (less margin)."""
    cwd, env = fb.prepare(board, str(tmp_path), role, conf, image_hook)
    harness, frozen = fb.measure_harness(cwd, env)
    env.update(env_extra or {})
    return fb.Board(cwd, env, fb.board_heap(board, harness, frozen, margin))


def test_the_profiles_cover_the_five_boards():
    assert {"rp2040", "rp2350", "pyboard", "nucleo_f767zi", "esp32"} <= set(PROFILES)


@pytest.mark.parametrize("role", ["primary", "secondary"])
@pytest.mark.parametrize("board", PROFILES)
def test_every_profile_boots_on_its_ports_fakes_in_its_heap(board, role, tmp_path):
    conf = {"peer": "127.0.0.1:%d" % free_port()} if role == "primary" else \
        {"listen": free_port()}
    b = boot(board, tmp_path, role, conf)
    try:
        ev = b.until(lambda o: o.get("event") == "boot")
        assert ev["detail"]["role"] == role and ev["detail"]["board"] == board
        st = b.command("status")
        assert st["role"] == role and st["board"] == board and st["ready"]
        assert st["nblocks"] > (31 << 21)  # the 32 GiB card behind the fake SPI bus
        if board.startswith("rp2"):  # the DMA sniffer passed its check on the port's model
            assert st["engine"] == "SnifferCrc", st["engine"]
    finally:
        b.close()


def rewrite_profile(edit):
    """An image hook: the deployed board.mpy replaced by board.py with edit(source)."""
    def hook(cwd, board):
        os.remove(os.path.join(cwd, "board.mpy"))
        with open(os.path.join(fi.BOARDS, board, "board.py")) as f:
            src = f.read()
        with open(os.path.join(cwd, "board.py"), "w") as f:
            f.write(edit(src))
    return hook


@pytest.mark.parametrize("board, edit, error", [
    # the stm32 port fixes a hardware SPI bus's pins (ports/stm32/machine_spi.c)
    ("pyboard", lambda s: s.replace('"cs": "Y5"', '"sck": "Y6", "mosi": "Y8", "miso": "Y7", '
                                    '"cs": "Y5"'),
     "ValueError: explicit choice of sck/mosi/miso is not implemented"),
    # ...and a UART's (ports/stm32/machine_uart.c has no tx/rx keywords)
    ("stm32f4", lambda s: s.replace('UART = {"id": 2,', 'UART = {"id": 2, "tx": "A2",'),
     "TypeError: unexpected keyword argument 'tx'"),
    # a plain Pico has no network module (ports/rp2: only with MICROPY_PY_NETWORK)
    ("rp2040", lambda s: s.replace("UART = ", "ETH = {}\nPORT = 7340\n_UART = "),
     "ImportError: no module named 'network'"),
    # rp2 SPI1's SCK is GP10 or GP14 (ports/rp2/machine_spi.c IS_VALID_SCK)
    ("rp2350", lambda s: s.replace('"sck": 10', '"sck": 2'), "ValueError: bad SCK pin"),
    # esp32 GPIO 34..39 are inputs only: not a chip select
    ("esp32", lambda s: s.replace('"cs": 4', '"cs": 34'),
     "ValueError: pin 34 can only be an input"),
    # an stm32 profile on the rp2 port: the profile says which port it is for
    ("rp2040", lambda s: s.replace('PLATFORM = "rp2"', 'PLATFORM = "pyboard"'),
     "OSError: the rp2040 profile is for MicroPython's pyboard port, this board runs rp2: "
     "flash the profile for this board (sdmirror boards)"),
])
def test_a_profile_calling_what_its_port_lacks_fails_at_boot(board, edit, error, tmp_path):
    hook = rewrite_profile(edit)
    b = boot(board, tmp_path, "primary", {"peer": "127.0.0.1:1"},
             image_hook=lambda cwd: hook(cwd, board))
    try:
        with pytest.raises(fb.BootError) as e:
            b.until(lambda o: o.get("event") == "boot")
        assert str(e.value) == "fatal: " + error
    finally:
        b.close()
