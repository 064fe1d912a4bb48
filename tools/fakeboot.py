# Boots a board image on the MicroPython VM with its port's fakes (boards/fakeports):
#
#   cd IMAGE_DIR && micropython -X heapsize=HEAP /path/to/tools/fakeboot.py
#
# IMAGE_DIR holds what `sdmirror flash --board NAME` deploys (host/sdmirror/firmware_image.py)
# and sdmirror.json. The environment says which port and board to fake:
#   FAKE_PORT      rp2 | stm32 | esp32
#   FAKE_BOARD     the MicroPython board (RPI_PICO, PYBV11, ...; the profile's MPY_BOARD)
#   FAKE_CHIP      the profile's CHIP (rp2040 / rp2350 matter to the rp2 fake)
#   FAKE_CS        the pin the SD card's chip select is wired to (the profile's SPI cs)
#   FAKE_CARD      card size in bytes (a sparse card: only written blocks take RAM)
#   FAKE_FROZEN    a directory standing for the build's frozen modules ('.frozen')
#   FAKE_UART      HOST:PORT of the relay that is the UART's wire (absent: no wire)
#   FAKE_SUBST     modules the VM cannot run, served by the fake instead (a CRC unit's
#                  viper code writes the chip's registers): NAME,NAME
#   FAKE_MEASURE   1: set up the fakes, print {"harness": bytes allocated, "frozen": bytes
#                  the frozen modules take in this heap once imported} and stop
# Then it imports main, which boots the firmware exactly as on the board (main.py runs at
# boot there): its console is this process's stdin/stdout.
import gc
import os
import sys


def env(name, default=None):
    v = os.getenv(name)
    return v if v else default


here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
boards = here + "/../boards"
frozen = env("FAKE_FROZEN")
# The port's import path: the current directory (the board's filesystem) first, then the
# frozen modules (stm32: '', '.frozen', '/flash', '/flash/lib'; rp2 and esp32 alike).
sys.path[:] = ["", frozen] if frozen else [""]
sys.path.append(boards + "/fakeports")  # after the image: the fakes never shadow it
sys.path.append(boards + "/emu")  # sdcard_model

from sdcard_model import SDCardModel  # noqa: E402

kind = env("FAKE_PORT")
card = SDCardModel(int(env("FAKE_CARD", str(1 << 30))))
cs = env("FAKE_CS")
if kind == "rp2":
    import fake_rp2
    port = fake_rp2.port(env("FAKE_CHIP", "rp2040"), card, int(cs), env("FAKE_UART"))
elif kind == "stm32":
    import fake_stm32
    port = fake_stm32.port(env("FAKE_BOARD"), card, cs, env("FAKE_UART"))
elif kind == "esp32":
    import fake_esp32
    port = fake_esp32.port(card, int(cs))
else:
    print('{"event": "harness", "detail": "FAKE_PORT must be rp2, stm32 or esp32"}')
    sys.exit(2)
for name in (env("FAKE_SUBST", "") or "").split(","):
    if name:
        port.modules[name] = port.substitute(name)
sys.path.pop()  # the fakes are loaded: the firmware sees only its own path
sys.path.pop()
port.install()
gc.collect()
if env("FAKE_MEASURE"):
    harness = gc.mem_alloc()
    if frozen:  # what the frozen modules the boot imports take here (on the board: flash)
        import json
        with open("sdmirror.json") as f:
            role = json.load(f).get("role")
        for name in ("boardkit", "runtime", "console", "rolecmds", "cardcmds", "diagcmds",
                     "mirror.config",
                     "mirror.volume",
                     "drivers.sdcard", "drivers.uartlink", "drivers.link",
                     "mirror.primary" if role == "primary" else "mirror.secondary"):
            try:
                __import__(name)
            except ImportError:  # drivers.link on a port without socket
                pass
    gc.collect()
    print('{"harness": %d, "frozen": %d}' % (harness, gc.mem_alloc() - harness))
    sys.exit(0)
import main  # noqa: E402,F401  (boots and runs until killed)
