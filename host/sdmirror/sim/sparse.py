"""A card image that stores only the blocks written to it, so a 32 GiB card costs memory
in proportion to what was written (the simulator and benchmarks run cards of 8-32 GiB).

Every block never written reads as zeros, as a new or erased SD card does. It behaves as
the bytearray the card model otherwise holds, for what the models do with one: slices
(block-aligned or not), single bytes, len(). Reading a run of unwritten blocks costs one
join of shared zero blocks, and the image keeps, in order, every block ever written (with
zeros too): a scan of a span none of them falls in is answered at once (sim/fastscan.py).
"""
from sortedcontainers import SortedList

BLOCK = 512
ZERO = bytes(BLOCK)


class SparseImage:
    def __init__(self, nbytes):
        if nbytes % BLOCK:
            raise ValueError("a sparse image is whole blocks, not %d bytes" % nbytes)
        self._n = nbytes
        self.blocks = {}  # block -> bytes (512) of every block written with non-zeros
        self.touched = SortedList()  # every block ever written, whatever with
        self._touched = set()

    def __len__(self):
        return self._n

    def _range(self, key):
        start, stop, step = key.indices(self._n)
        if step != 1:
            raise ValueError("sparse images take contiguous slices only")
        return start, max(start, stop)

    def block(self, b):
        return self.blocks.get(b, ZERO)

    def __getitem__(self, key):
        if not isinstance(key, slice):
            if key < 0:
                key += self._n
            return self.block(key // BLOCK)[key % BLOCK]
        start, stop = self._range(key)
        b0, b1 = start // BLOCK, (stop + BLOCK - 1) // BLOCK
        get = self.blocks.get
        data = b"".join([get(b, ZERO) for b in range(b0, b1)])
        off = start - b0 * BLOCK
        return data[off:off + stop - start]

    def __setitem__(self, key, value):
        if not isinstance(key, slice):
            if key < 0:
                key += self._n
            blk = bytearray(self.block(key // BLOCK))
            blk[key % BLOCK] = value
            self._store(key // BLOCK, blk)
            return
        start, stop = self._range(key)
        value = bytes(value)
        if len(value) != stop - start:
            raise ValueError("sparse image slice of %d bytes set to %d bytes" %
                             (stop - start, len(value)))
        pos = start
        while pos < stop:
            b = pos // BLOCK
            off = pos - b * BLOCK
            take = min(BLOCK - off, stop - pos)
            piece = value[pos - start:pos - start + take]
            if take == BLOCK:
                self._store(b, piece)
            else:
                blk = bytearray(self.block(b))
                blk[off:off + take] = piece
                self._store(b, bytes(blk))
            pos += take

    def _store(self, b, data):
        if b not in self._touched:
            self._touched.add(b)
            self.touched.add(b)
        data = bytes(data)
        if data == ZERO:
            self.blocks.pop(b, None)
        else:
            self.blocks[b] = data

    def untouched_run(self, b, end):
        """How many blocks from b on (at most end - b) were never written."""
        i = self.touched.bisect_left(b)
        if i < len(self.touched):
            return min(self.touched[i], end) - b
        return end - b

    def differing(self, other, nblocks):
        """Blocks below nblocks whose contents differ from another sparse image's."""
        keys = set(self.blocks) | set(other.blocks)
        return sorted(b for b in keys if b < nblocks and self.block(b) != other.block(b))
