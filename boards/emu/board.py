# The emulated board: the MicroPython Unix VM with an SD card model on an emulated SPI bus
# and a TCP link to the emulator's fault proxy. The emulator (host/sdmirror/emu) sets the
# environment: SDMIRROR_ROLE, SDMIRROR_IMAGE (card image path), SDMIRROR_LINK (host:port).
import os
import sys

NAME = "emu"
# The emulator runs the VM with -X heapsize=HEAP: a board's 256 KiB budget plus 128 KiB for
# the emulated hardware living in the same heap (the SD card model and its buffers: about
# 35 KiB measured), which on a real board is silicon, not RAM, and for the 64-bit VM's
# 8-byte words. 64 KiB was too little after session 4 (the console's `fs` and `inject`
# failed with MemoryError in the emulated pair's tests); the RAM budgets of the real
# profiles are checked in their own heaps (tests/host/test_ram_budget.py), not here.
HEAP = (256 + 128) * 1024
# 32-block background reads: an idle card is scanned at read speed; as soon as the
# application writes, background reads drop to one block (mirror/node.py: _bg_chunk)
SETTINGS = {"window": 8, "frame_blocks": 8, "chunk_blocks": 32}
# a test bench: the console's fault injection (inject ...) needs no unlock
DIAGNOSTICS = True


def role(conf):
    return os.getenv("SDMIRROR_ROLE") or conf.get("role") or "primary"


def card():
    try:
        from sdcard_model import EmuPin, EmuSPI, SDCardModel  # flashed: one flat folder
    except ImportError:
        from emu.sdcard_model import EmuPin, EmuSPI, SDCardModel  # run from the repo
    from drivers.sdcard import SDCard
    path = os.getenv("SDMIRROR_IMAGE")
    if not path:
        raise OSError("SDMIRROR_IMAGE is not set: no card image to use")
    model = SDCardModel(path)
    dev = SDCard(EmuSPI(model), EmuPin(model), baudrate=25000000)
    dev.model = model
    return dev


def link(conf):
    from drivers.link import TcpLink
    where = os.getenv("SDMIRROR_LINK") or conf.get("link")
    if not where:
        raise OSError("SDMIRROR_LINK is not set: no link to the other board")
    host, port = where.rsplit(":", 1)
    return TcpLink(host, int(port))


def link_rate():
    """The emulator's UART model paces the link at baud / 10 bytes per second."""
    if os.getenv("SDMIRROR_LINK_MODE") == "uart":
        return int(os.getenv("SDMIRROR_BAUD") or 115200) // 10
    return 0


def framing():
    """The emulator's UART model loses single bytes: COBS; its Ethernet model is TCP."""
    return "cobs" if os.getenv("SDMIRROR_LINK_MODE") == "uart" else "length"


def reset():
    sys.exit(0)  # the emulator restarts a VM that exits, printing "soft reboot"
