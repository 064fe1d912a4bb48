"""Each board profile's RAM budget holds.

1. Retained: the firmware, built as `sdmirror flash` builds it, measured on the MicroPython
   VM with the profile's own settings (tools/ram_probe.py: the controller for a 32 GiB card,
   its link window and buffers, the runtime, the code), leaves MARGIN for the rest (FAT
   buffers, console replies, jobs' message copies). A FROZEN profile keeps its bytecode in
   flash, so only the controller's data counts against its heap.
2. Peak, fragmentation included: the image boots and pairs with a peer on its port's fakes
   in a VM heap standing for the profile's HEAP (sdmirror.fakeboot: HEAP plus what the VM
   holds that the board does not), so a boot whose big buffers find no free block fails.
The 64-bit Unix VM's objects are larger than a 32-bit board's; the peak against HEAP - 24 KiB
is measured per profile by tools/bench/bench_boot_heap.py (docs/benchmarks.md)."""
import json
import os
import subprocess
import sys

import pytest

from sdmirror import fakeboot as fb
from sdmirror import firmware_image as fi

MARGIN = fb.MARGIN  # FAT (sector buffer, open files), JSON replies, queued message copies
PROBE = os.path.join(fi.ROOT, "tools", "ram_probe.py")


def probe(board, tmp_path, heap):
    out = tmp_path / board
    fi.build(board, str(out), full=True, arch=False)  # frozen or not, on the VM: its allocations
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


@pytest.mark.system
@pytest.mark.parametrize("board", fb.profiles())
def test_each_profile_boots_and_pairs_in_its_own_heap(board, tmp_path):
    out = fb.pair(board, str(tmp_path))
    for role in ("primary", "secondary"):
        heap, harness, frozen, stats = out[role]
        assert stats["mem_alloc"] + stats["mem_free"] <= heap  # the VM had no more than that
