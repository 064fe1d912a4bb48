# Issue 10: no heap allocation per block, for the scan, a mirrored write and a resync,
# measured on whichever MicroPython runs this (the Unix VM; the 32-bit WebAssembly VM in
# `make wasmtest`; the Cortex-M0 guest's figures are tools/bench/bench_arm.py's). A
# per-block allocation is found by differencing: the same operation on few and on many
# blocks, within one frame where a frame is involved (so what a frame or a step costs,
# e.g. the HMAC's objects, cancels out: reported, not asserted). Bytes counted with
# micropython.mem_total() where the port keeps it (every allocation, frames included),
# else gc.mem_alloc() with the collector off (objects; the WebAssembly port keeps frames
# on a Python stack, never on the heap). CPython: skipped, its allocator is not the boards'.
import gc
import sys

from fwtest import randbytes, rng, skip
from pairkit import Pair

from mirror import checksum
from mirror.tree import SpanHasher

try:
    from micropython import mem_total
except ImportError:
    mem_total = None


def _need_micropython():
    if sys.implementation.name != "micropython":
        skip("CPython: its allocations are not MicroPython's")


def allocated(fn):
    """Heap bytes handed out while fn() runs."""
    gc.collect()
    if mem_total is not None:
        a = mem_total()
        fn()
        return mem_total() - a
    gc.disable()
    try:
        a = gc.mem_alloc()
        fn()
        return gc.mem_alloc() - a
    finally:
        gc.enable()


class _QuietPair(Pair):
    """A pair whose link carries bytes in buffers kept per length (Pair._carry copies them
    into new bytes): once each length has been seen, the harness allocates per step the
    same whatever the bytes."""

    def __init__(self, *a, **kw):
        self._wires = {}
        Pair.__init__(self, *a, **kw)

    def _carry(self, src, dst):
        tx = src.node.tx_view()
        n = len(tx)
        if not n:
            return
        w = self._wires.get(n)
        if w is None:
            w = self._wires[n] = bytearray(n)
        w[:] = tx
        src.node.tx_done(n)
        if self.link_up:
            self.link_bytes += n
            dst.node.receive(w, self.now)


def _synced(**kw):
    rng(41)
    gc.collect()
    p = _QuietPair(nblocks=512, seed=4, **kw)
    p.connect()
    p.run(20000, until=p.synced)
    return p


def test_the_scan_allocates_nothing_per_block():
    _need_micropython()
    eng = checksum.get("crc32")
    h = SpanHasher(eng, 4096)
    chunk = memoryview(randbytes(16 * 512))

    def scan(chunks):
        def run():
            h.begin(4096)
            for _ in range(chunks):
                h.add_chunk(chunk, 16)
        return run

    scan(1)()  # views of the chunk made once (engines without a bulk digest)
    few, many = allocated(scan(4)), allocated(scan(20))
    assert many - few == 0, ("scan", type(eng).__name__, few, many)


def _mirrored(pair, k):
    def run():
        data = pair._block_data[:k * 512]
        pair.p.local_write(16, data)
        assert pair.primary.app_write(16, data, pair.now) > 0
        pair.run(60)
    return run


def test_a_mirrored_write_allocates_nothing_per_block():
    _need_micropython()
    pair = _synced()
    pair._block_data = memoryview(randbytes(8 * 512))
    _mirrored(pair, 1)()  # first use of each path and frame length
    _mirrored(pair, 8)()
    one = allocated(_mirrored(pair, 1))
    eight = allocated(_mirrored(pair, 8))
    assert pair.synced() and pair.coherent()
    print("mirrored write: %d bytes for a 1-block frame, %d for an 8-block one" % (one, eight))
    assert eight - one <= 0, ("per block", (eight - one) / 7.0)


def _resync(pair, k):
    def run():
        pair.disconnect()
        data = pair._block_data[:k * 512]
        pair.p.local_write(64, data)
        pair.primary.app_write(64, data, pair.now)
        pair.connect()
        pair.run(3000, until=pair.synced)
        pair.run(20)
    return run


def test_a_resync_allocates_nothing_per_block():
    _need_micropython()
    pair = _synced(region_blocks=16)
    pair._block_data = memoryview(randbytes(8 * 512))
    _resync(pair, 2)()
    _resync(pair, 8)()
    two = allocated(_resync(pair, 2))
    eight = allocated(_resync(pair, 8))
    assert pair.synced() and pair.coherent()
    print("resync: %d bytes after 2 blocks written in an outage, %d after 8" % (two, eight))
    assert eight - two <= 0, ("per block", (eight - two) / 6.0)

