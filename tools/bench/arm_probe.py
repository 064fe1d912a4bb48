# Runs ON the guest (MicroPython's qemu port under qemu-system-arm -icount shift=0; see
# armqemu.py): instruction and allocation counts of the firmware's per-block and per-frame
# work. Prints one JSON object per line: {"k": name, "insn": per call, "alloc": bytes per call}.
import gc
import json
import time

import micropython


@micropython.asm_thumb
def _spin(r0):
    # 2 instructions per iteration (sub, bne): the calibration loop
    label(loop)
    sub(r0, 1)
    bne(loop)


def _ticks():
    return time.ticks_us()


def _calibrate():
    n = 200000
    t0 = _ticks()
    _spin(n)
    t1 = _ticks()
    _spin(5 * n)
    t2 = _ticks()
    # the two runs differ by exactly 4n iterations = 8n instructions
    d = time.ticks_diff(t2, t1) - time.ticks_diff(t1, t0)
    return 8 * n / d


_IPT = _calibrate()
_mem = getattr(micropython, "mem_total", None)


def _loop(fn, reps):
    gc.collect()
    m0 = _mem() if _mem else 0
    t0 = _ticks()
    for _ in range(reps):
        fn()
    t1 = _ticks()
    m1 = _mem() if _mem else 0
    return time.ticks_diff(t1, t0), m1 - m0


def _nothing():
    pass


def measure(name, fn, reps, **extra):
    """Instructions (and heap bytes) per call of fn, the loop's own cost subtracted."""
    fn()  # warm up: first-call caches, lazily built tables
    t, m = _loop(fn, reps)
    t0, m0 = _loop(_nothing, reps)
    rec = {"k": name, "insn": round((t - t0) * _IPT / reps), "alloc": (m - m0) // reps}
    rec.update(extra)
    print(json.dumps(rec))
    return rec


def filled(n, seed=1):
    b = bytearray(n)
    x = seed
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x3FFFFFFF
        b[i] = x >> 16 & 0xFF
    return b


def info():
    import sys
    print(json.dumps({"k": "info", "platform": sys.platform, "maxsize": sys.maxsize,
                      "insn_per_tick": _IPT, "mem_stats": _mem is not None}))
