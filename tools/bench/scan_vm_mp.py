# Runs ON the MicroPython VM (see bench_scan_vm.py): a full checksum scan of a card through
# the firmware's own path (SD driver on the emulated SPI card, the node's scan pass with
# its hash tree) against a plain read pass through the same driver, best of N each.
#   micropython scan_vm_mp.py IMAGE ALG ROUNDS
import json
import sys
import time

from drivers.sdcard import SDCard
from emu.sdcard_model import EmuPin, EmuSPI, SDCardModel
import board
import boardkit
from mirror.config import Config
from mirror.secondary import Secondary
from mirror.tree import span_for

image, alg, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
boardkit.register_engines(board)  # as main.py does at boot: the board's faster crc32
model = SDCardModel(image)
card = SDCard(EmuSPI(model), EmuPin(model), baudrate=25000000)
nblocks = card.ioctl(4, 0)
cfg = Config(role="secondary", **dict(board.SETTINGS, alg=alg))  # the board's own settings
chunk = cfg.chunk_blocks
buf = bytearray(chunk * 512)


def read_pass():
    t = time.ticks_us()
    for b in range(0, nblocks - 1, chunk):
        card.readblocks(b, memoryview(buf)[:min(chunk, nblocks - 1 - b) * 512])
    return time.ticks_diff(time.ticks_us(), t)


done = []


def emit(kind, block, mv):
    if kind == 1:  # A_READ: the runtime's job, done here synchronously as a board does
        card.readblocks(block, mv)
        done.append(True)


def scan_pass():
    node = Secondary(cfg, nblocks, emit, b"bench")
    node.paired = True
    node.is_comparer = False  # no peer: just the pass, not the root comparison
    node._begin_scan(0, 0, node.nblocks, span_for(node.nblocks, node._max_groups))
    node._enqueue(node._job_pass())
    t = time.ticks_us()
    while not node.scan["done"]:
        node.idle(0)
        while done:
            node.io_done(done.pop(), 0)
    return time.ticks_diff(time.ticks_us(), t)


tr = ts = 1 << 60
for _ in range(rounds):
    tr = min(tr, read_pass())
    ts = min(ts, scan_pass())
print(json.dumps({"blocks": nblocks - 1, "read_us": tr, "scan_us": ts}))
