# Runs ON the MicroPython VM from a board image (sdmirror.firmware_image.build): the heap the
# firmware takes with this board's settings, as JSON: code (the .mpy modules imported) and
# node (the controller, its link session, runtime and buffers, for a 32 GiB card so the
# bitmaps are full size). tests/host/test_ram_budget.py compares it with the board's HEAP;
# sdmirror.boardfit (flash, emu up) measures the settings a user asked for: argv[1], JSON of
# settings over the profile's, and argv[2], the role.
import gc
import json
import sys


def used():
    gc.collect()
    return gc.mem_alloc()


base = used()
import board  # noqa: E402
import boardkit  # noqa: E402
import console  # noqa: E402,F401
import runtime  # noqa: E402
from mirror.config import Config  # noqa: E402
from mirror.primary import Primary  # noqa: E402
from mirror.secondary import Secondary  # noqa: E402
code = used() - base


class Card32G:
    def ioctl(self, op, arg):
        return (32 << 21) + 2  # 32 GiB of blocks, plus the metadata slots


class NoLink:
    poll_obj = None
    rx = bytearray(2048)  # what TcpLink/UartLink allocate

    def maintain(self, now):
        return None


settings = dict(board.SETTINGS)
if len(sys.argv) > 1:
    settings.update(json.loads(sys.argv[1]))
role = sys.argv[2] if len(sys.argv) > 2 else "primary"
settings["link_rate"] = boardkit.link_rate(board)
if not getattr(board, "CRC_UNIT", None):
    boardkit.register_engines(board)  # (a CRC unit's registers exist only on the chip)
node_cls = Primary if role == "primary" else Secondary
rt = runtime.Runtime(node_cls, Config(role=role, **settings), Card32G(), NoLink(), b"x")
print(json.dumps({"board": board.NAME, "heap": board.HEAP, "code": code,
                  "node": used() - base - code, "free": gc.mem_free()}))
