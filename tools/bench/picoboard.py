"""One emulated Raspberry Pi Pico running a STOCK RPI_PICO MicroPython build and the image
`sdmirror flash --board rp2040` deploys: the board's own heap, 32-bit, its real rp2 port
(machine.SPI, machine.UART, littlefs, the USB CDC console) -- nothing of ours stands in for
the port. Runs on the host's CPython with rp2040py (PyPI; an RP2040 emulator, Cortex-M0+ core
and peripherals, that boots real firmware images):

  python tools/bench/picoboard.py --firmware RPI_PICO.uf2 --image DIR --flash CACHE \
      [--uart HOST:PORT] [--ballast BYTES]

Wired as boards/rp2040/README.md says: SPI1 with chip select on GP13 to an SD card
(boards/emu/sdcard_model.py, a sparse 32 GiB card), UART0 to HOST:PORT (a relay to the peer
board: what the wire carries, paced at the UART's 115200 baud). The console is this process's
stdin/stdout (the Pico's USB CDC REPL): lines in are typed into it, what the board prints comes
out. Lines of our own start with '{"picoboard":'.

The image goes into the Pico's flash filesystem once over the raw REPL (slow in emulation) and
the filesystem is saved to CACHE; later runs load CACHE. Then boot.py allocates --ballast bytes
first (one bytearray, the start of the heap) and main.py boots the firmware as on the board: a
boot that still pairs with BALLAST taken has peaked at no more than heap - BALLAST.
"""
import argparse
import asyncio
import binascii
import json
import os
import queue
import socket
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BAUD = 115200
CARD_BYTES = 32 << 30
CS_PIN = 13  # boards/rp2040/board.py SPI cs
SPI_ID = 1
UART_ID = 0

# The boot script as it goes onto the filesystem is renamed so that the Pico does not start
# the firmware at power-on, before the run's ballast is written; each run renames it back.
PARKED = "sdmain.py"
BOOT_PY = "import ballast\n"
BALLAST_PY = ("try:\n    _n = int(open('ballast.txt').read())\nexcept OSError:\n    _n = 0\n"
              "B = bytearray(_n)\n")


def say(**kw):
    sys.stdout.write(json.dumps({"picoboard": kw}) + "\n")
    sys.stdout.flush()


def _full(fifo):
    return fifo.item_count >= fifo.size


def image_files(image):
    out = []
    for root, _, files in os.walk(image):
        for f in sorted(files):
            rel = os.path.relpath(os.path.join(root, f), image).replace(os.sep, "/")
            out.append((PARKED if rel == "main.py" else rel, os.path.join(root, f)))
    return out


def upload_code(rel, data):
    """Raw-REPL code writing one file (base64 in 1 KiB pieces: the REPL compiles each line)."""
    lines = ["import binascii, os"]
    if "/" in rel:
        lines.append("try:\n os.mkdir(%r)\nexcept OSError:\n pass" % rel.rsplit("/", 1)[0])
    lines.append("f = open(%r, 'wb')" % rel)
    for i in range(0, len(data), 1024):
        lines.append("f.write(binascii.a2b_base64(%r))"
                     % binascii.b2a_base64(data[i:i + 1024]).decode().strip())
    lines.append("f.close()")
    return "\n".join(lines) + "\n"


class Wiring:
    """The SD card on SPI1 + CS, the UART to the relay, the console: all driven on the
    emulator's own thread (rp2040py's engine room); other threads hand bytes over in queues."""

    def __init__(self, mcu, clock, card, uart_addr):
        from rp2040py.gpio_pin import GPIOPinState
        self.low = GPIOPinState.LOW
        self.mcu = mcu
        self.card = card
        self.one = bytearray(1)
        self.spi = mcu.spi[SPI_ID]
        self.spi.on_transmit = self._spi_byte
        mcu.gpio[CS_PIN].add_listener(self._cs)
        self.uart = mcu.uart[UART_ID]
        self.sock = None
        self.link_in = queue.Queue()
        self.console_in = queue.Queue()
        self.console_out = bytearray()
        self.cdc = None
        if uart_addr:
            host, port = uart_addr.rsplit(":", 1)
            self.sock = socket.create_connection((host, int(port)))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.uart.on_byte = self._uart_out
            threading.Thread(target=self._link_reader, daemon=True).start()
        self._tx = bytearray()
        self._pump = clock.create_alarm(self._tick)
        self._pump.schedule(1_000_000)

    def _cs(self, state, old):
        self.card.cs(0 if state == self.low else 1)

    def _spi_byte(self, value):
        self.one[0] = value
        self.card.xfer(self.one, None, self.one, 1)
        self.spi.complete_transmit(self.one[0])

    def _uart_out(self, value):
        self._tx.append(value)

    def _link_reader(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            if not data:
                return
            for b in data:
                self.link_in.put(b)

    def _tick(self):
        """Every millisecond of emulated time: the UART's bytes of that millisecond each way
        (115200 baud: 11-12 bytes), console input into the CDC FIFO."""
        if self._tx and self.sock is not None:
            try:
                self.sock.sendall(bytes(self._tx))
            except OSError:
                pass
            self._tx = bytearray()
        for _ in range(BAUD // 10 // 1000 + 1):
            if self.link_in.empty() or _full(self.uart.rx_fifo):
                break
            self.uart.feed_byte(self.link_in.get_nowait())
        if self.cdc is not None:
            while not self.console_in.empty() and not _full(self.cdc.tx_fifo):
                self.cdc.send_serial_byte(self.console_in.get_nowait())
        self._pump.schedule(1_000_000)

    def console(self, data):
        self.console_out += data
        while b"\n" in self.console_out:
            line, _, rest = bytes(self.console_out).partition(b"\n")
            self.console_out = bytearray(rest)
            sys.stdout.write(line.decode("utf-8", "replace").rstrip("\r") + "\n")
            sys.stdout.flush()


async def run(args):
    from rp2040py.boards import BOARDS, resolve_firmware
    from rp2040py.device import MicroPythonDevice
    sys.path.insert(0, os.path.join(ROOT, "host"))
    from sdmirror import fwpath
    fwpath.install()  # micropython.const for the card model on CPython
    sys.path.insert(0, os.path.join(ROOT, "boards", "emu"))
    from sdcard_model import SDCardModel

    board = resolve_firmware(BOARDS["pico"], "micropython", args.firmware)
    cached = os.path.isfile(args.flash)
    dev = MicroPythonDevice(board=board, filesystem=args.flash if cached else None)
    wiring = Wiring(dev.mcu, dev.simulator.clock, SDCardModel(args.card), args.uart)
    await dev.astart()
    if not cached:
        for rel, path in image_files(args.image):
            with open(path, "rb") as f:
                await dev.aexec(upload_code(rel, f.read()), timeout=600)
        await dev.aexec("import os\nos.sync() if hasattr(os, 'sync') else None\n")
        dev.dump_flash_image(args.flash)
        say(uploaded=len(image_files(args.image)))
    out, err = await dev.aexec(
        "import os\nos.rename(%r, 'main.py')\n"
        "for n, t in (('ballast.txt', %r), ('ballast.py', %r), ('boot.py', %r)):\n"
        "    with open(n, 'w') as f:\n        f.write(t)\n"
        "import gc\ngc.collect()\nprint(gc.mem_alloc() + gc.mem_free())\n"
        % (PARKED, str(args.ballast), BALLAST_PY, BOOT_PY), timeout=120)
    if err:
        say(error=err.decode(errors="replace").strip().splitlines()[-1])
        return 2
    say(heap=int(out.split()[-1]), ballast=args.ballast)
    wiring.cdc = dev.cdc
    dev.cdc.on_serial_data = wiring.console
    # Ctrl-B leaves the raw REPL (main.py runs only after a reset from the friendly REPL:
    # ports/rp2/main.c), Ctrl-D soft-resets: boot.py, then main.py as at power-on
    wiring.console_in.put(2)
    wiring.console_in.put(4)

    def stdin_reader():
        for line in sys.stdin.buffer:
            for b in line.rstrip(b"\r\n") + b"\r\n":
                wiring.console_in.put(b)
        os._exit(0)  # the host closed our stdin: done

    threading.Thread(target=stdin_reader, daemon=True).start()
    while True:
        await asyncio.sleep(3600)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--firmware", required=True, help="stock RPI_PICO MicroPython image (.uf2)")
    p.add_argument("--image", required=True, help="the directory sdmirror flash would copy")
    p.add_argument("--flash", required=True, help="flash filesystem cache file")
    p.add_argument("--uart", help="HOST:PORT of the relay that is UART0's wire")
    p.add_argument("--ballast", type=int, default=0, help="bytes boot.py takes first")
    p.add_argument("--card", type=int, default=CARD_BYTES, help="SD card bytes (sparse)")
    args = p.parse_args()
    try:
        import rp2040py  # noqa: F401
    except ImportError:
        sys.exit("picoboard: rp2040py is not installed (pip install -r requirements-pico.txt)")
    if not os.path.isfile(args.firmware):
        sys.exit("picoboard: no firmware image at %s" % args.firmware)
    sys.exit(asyncio.run(run(args)) or 0)


if __name__ == "__main__":
    main()
