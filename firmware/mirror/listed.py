# The blocks written while the dirty bitmap records (link down, or writes pulled ahead), as
# long as they fit: a bounded list of (first block, count) runs, each inside one bitmap
# region. While every dirty region's writes are in the list (`ok`), the resync sends just
# those blocks, with no comparison at all: a 2,048-block region of a 32 GiB card holding one
# scattered write costs that block, not a descent of its hash tree (3 levels of digests and
# requests, ~40 % over the block itself). When the list overflows, or something marks
# regions without naming their blocks (an activity log restored at boot, regions a lost
# link hands back), it is spoilt and the resync compares regions as before; a forgotten
# run costs a comparison, never a wrong copy. It is emptied when the pair is coherent again.
#
# RAM: 6 bytes a run, preallocated (`listed_max` runs, config.py); adding a run allocates
# nothing. Runs are appended as writes come and sorted (heapsort, in place) when a resync
# walks them in block order.
import array


class ListedWrites:
    def __init__(self, capacity, region_blocks):
        self.capacity = capacity
        self._start = array.array("I", bytes(4 * capacity))
        self._count = array.array("H", bytes(2 * capacity))
        self._rb = region_blocks
        self.n = 0
        self._sorted = 0  # runs [0, _sorted) are in block order
        self.ok = capacity > 0
        self._out = [0, 0]  # the run walk() yields: one list, reused (no tuple per run)

    def reset(self):
        """Nothing is dirty: the list starts afresh (and may be used again)."""
        self.n = 0
        self._sorted = 0
        self.ok = self.capacity > 0

    def spoil(self):
        """Regions were marked without their blocks: the list no longer tells all."""
        self.ok = False

    def add(self, block, count):
        """Blocks [block, block + count) were written and their regions marked dirty."""
        rb = self._rb
        while count > 0 and self.ok:
            c = min(count, rb - block % rb, 0xFFFF)
            n = self.n
            if n:
                last = self._start[n - 1]
                lc = self._count[n - 1]
                if last + lc == block and last // rb == block // rb and lc + c <= 0xFFFF:
                    self._count[n - 1] = lc + c  # the next blocks of the same region
                    block += c
                    count -= c
                    continue
            if n == self.capacity:
                self.ok = False  # full: from now on the regions are compared
                return
            self._start[n] = block
            self._count[n] = c
            self.n = n + 1
            block += c
            count -= c

    def sort(self):
        """Put the runs in block order (heapsort: in place, no allocation)."""
        n = self.n
        if self._sorted == n:
            return
        for i in range(n // 2 - 1, -1, -1):
            self._sift(i, n)
        for end in range(n - 1, 0, -1):
            self._swap(0, end)
            self._sift(0, end)
        self._sorted = n

    def _swap(self, i, j):
        s, c = self._start, self._count
        s[i], s[j] = s[j], s[i]
        c[i], c[j] = c[j], c[i]

    def _sift(self, i, n):
        s = self._start
        while True:
            big = i
            left = 2 * i + 1
            if left < n and s[left] > s[big]:
                big = left
            if left + 1 < n and s[left + 1] > s[big]:
                big = left + 1
            if big == i:
                return
            self._swap(i, big)
            i = big

    def find(self, block):
        """The index of the first sorted run starting at or after `block`."""
        lo, hi = 0, self._sorted
        s = self._start
        while lo < hi:
            mid = (lo + hi) // 2
            if s[mid] < block:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def sorted_count(self):
        return self._sorted

    def run(self, i):
        return self._start[i], self._count[i]

    def walk(self, bm, pending, ep, budget):
        """The runs of the first dirty regions of bitmap `bm`, in block order, up to `budget`
        bytes of blocks: each region is taken whole (all its runs) from `bm` into `pending`
        and into epoch `ep`'s [first, last], as a compared region is (primary.py). Each run
        is yielded as the same list [block, count], rewritten for the next run: a consumer
        unpacks it at once (Primary._push), so a walk allocates nothing per run."""
        self.sort()
        out = self._out
        s, cnt = self._start, self._count
        rb = self._rb
        i = self.find(bm.next_dirty(0) * rb)
        n = self._sorted  # runs added meanwhile wait for the next epoch
        taken = -1
        end = 0
        while i < n:
            b = s[i]
            c = cnt[i]
            i += 1
            r = b // rb
            if r != taken:
                if budget <= 0 or not self.ok:
                    return  # enough; or a write meanwhile was not listed: compare the rest
                if not bm.is_dirty(r):
                    continue
                bm.clear(r)
                pending.mark(r * rb)
                if ep["first"] < 0:
                    ep["first"] = r
                ep["last"] = r
                taken = r
                # runs of r added since the sort are past n: its bit is clear now, so they
                # go in this epoch too (later ones mark it again)
                for j in range(n, self.n):
                    if s[j] // rb == r:
                        budget -= cnt[j] * 512
                        out[0] = s[j]
                        out[1] = cnt[j]
                        yield out
            if b < end:  # the same blocks written again: send them once
                c -= end - b
                b = end
            if c > 0:
                budget -= c * 512
                end = b + c
                out[0] = b
                out[1] = c
                yield out
