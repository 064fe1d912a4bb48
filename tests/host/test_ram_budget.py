"""Each board profile's RAM budget holds: the firmware, built as `sdmirror flash` builds it,
measured on the MicroPython VM with the profile's own settings and heap (-X heapsize=HEAP),
leaves room for the rest (FAT buffers, console replies, jobs' message copies). A profile
whose firmware is frozen into the MicroPython build (FROZEN = True) keeps its bytecode in
flash, so only the controller's data counts against its heap."""
import json
import os
import subprocess
import sys

import pytest

from sdmirror import firmware_image as fi

MARGIN = 24 * 1024  # FAT (sector buffer, open files), JSON replies, queued message copies
PROBE = os.path.join(fi.ROOT, "tools", "ram_probe.py")


def probe(board, tmp_path, heap):
    out = tmp_path / board
    fi.build(board, str(out), full=True)  # frozen or not: we measure what it allocates
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    r = subprocess.run([exe, "-X", "heapsize=%d" % heap, PROBE], cwd=str(out),
                       env=dict(os.environ, MICROPYPATH=str(out) + ":.frozen"), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("board", fi.boards())
def test_the_firmware_fits_the_profiles_heap(board, tmp_path):
    heap = fi.board_value(board, "HEAP")
    m = probe(board, tmp_path, 4 * 1024 * 1024)  # measure with room, then compare
    frozen = fi.board_value(board, "FROZEN", False)
    need = m["node"] + (0 if frozen else m["code"]) + MARGIN
    assert need <= heap, "%s needs %d KiB (code %d, node %d, margin %d) of %d KiB" % (
        board, need // 1024, m["code"] // 1024, m["node"] // 1024, MARGIN // 1024, heap // 1024)
