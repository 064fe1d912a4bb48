# The emulated board: the MicroPython Unix VM with an SD card model on an emulated SPI bus
# and a TCP link to the emulator's fault proxy. The emulator (host/sdmirror/emu) sets the
# environment: SDMIRROR_ROLE, SDMIRROR_IMAGE (card image path), SDMIRROR_LINK (host:port).
import os
import sys

NAME = "emu"
HEAP = 256 * 1024  # the RAM budget; the emulator runs the VM with -X heapsize=HEAP
SETTINGS = {"window": 8, "frame_blocks": 8}


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


def reset():
    sys.exit(0)  # the emulator restarts a VM that exits, printing "soft reboot"
