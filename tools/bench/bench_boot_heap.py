"""Issue 10: each profile boots and pairs in its own heap with peak use <= HEAP - 24 KiB,
fragmentation included. For every profile a primary and a secondary boot the image that
`sdmirror flash` deploys, on the MicroPython Unix VM with the port's fakes, and pair
(sdmirror.fakeboot.pair); the VM heap stands for HEAP - margin (plus what the VM holds
that the board does not: fakes, card model, frozen modules, measured in the same VM). The
largest margin at which both still boot and pair (bisection, 2 KiB) gives the boot's peak:
HEAP - margin. retained = what the `stats` reply shows allocated after pairing, less the
harness and frozen modules. The Unix VM is 64-bit: its objects are larger than a 32-bit
board's, so these peaks are upper bounds. A miss is counted in goal_misses (make bench
exits 1)."""
import tempfile

NAME = "boot_heap"
GOAL_MARGIN = 24 * 1024
STEP = 2048


def _pairs(board, margin, measured):
    from sdmirror import fakeboot as fb
    with tempfile.TemporaryDirectory() as d:
        try:
            return fb.pair(board, d, margin, timeout=30.0, measured=measured)
        except fb.BootError:
            return None


def measure(board):
    """(peak, retained by role) for one profile; peak None if it does not pair in HEAP."""
    from sdmirror import firmware_image as fi
    heap = fi.board_value(board, "HEAP")
    measured = {}
    best = _pairs(board, 0, measured)
    if best is None:
        return None, {}
    lo, hi = 0, heap // 2  # lo pairs; hi is assumed not to
    while hi - lo > STEP:
        mid = (lo + hi) // 2 // STEP * STEP
        r = _pairs(board, mid, measured)
        if r is not None:
            lo, best = mid, r
        else:
            hi = mid
    retained = {}
    for role, (vm_heap, harness, frozen, stats) in best.items():
        retained[role] = stats["mem_alloc"] - harness - frozen
    return heap - lo, retained


def run():
    from sdmirror import fakeboot as fb
    from sdmirror import firmware_image as fi
    out, misses = {}, []
    for board in fb.profiles():
        heap = fi.board_value(board, "HEAP")
        peak, retained = measure(board)
        out[board + "_heap"] = heap
        out[board + "_peak"] = peak if peak is not None else -1
        for role in retained:
            out["%s_%s_retained" % (board, role)] = retained[role]
        if peak is None or peak > heap - GOAL_MARGIN:
            misses.append("%s peak %s > %d (HEAP %d - 24 KiB)" % (
                board, peak if peak is not None else "over HEAP", heap - GOAL_MARGIN, heap))
    out["goal_misses"] = len(misses)
    print("boot heap (64-bit Unix VM): " + ("all profiles within HEAP - 24 KiB" if not misses
                                            else "; ".join(misses)))
    return out
