"""Coarse dirty-region bitmap, kept in RAM on the primary (claims 10-12, 18, 19).

One bit per region of R consecutive blocks. The primary marks a region when a write to it
is not yet acknowledged by the secondary; on reconnect only marked regions are resynced.
If the bitmap is lost (reboot) or damaged, the resync planner falls back to a full
block-by-block scan, so the bitmap must be able to tell that it can no longer be trusted:

- `valid` is False once the bitmap is known to be lost (`invalidate()`), e.g. after a
  failed `check()`; `check()` then keeps returning False.
- Redundant state is maintained incrementally beside the bits: the number of dirty
  regions and the XOR of their indices. `check()` recounts both from the bit array. Any
  one or two flipped bits change the count or the XOR, so they are always caught.
- Canary words sit directly before and after the bit array in the same allocation, where
  a linear overrun from neighbouring memory lands first.

Layout: region r is bit (r & 7) of byte (r >> 3) of `bits` (LSB first). Bits past the
last region in the final byte are always zero; a set one counts as damage.
`bits` is a memoryview into `raw` (head canary | bits | tail canary).
"""
from micropython import const

_MAX_BITS = const(32768)  # default R keeps the bitmap within 4 KiB
_CANARY_LEN = const(4)
# Different values front and back, not 00/FF, so neither a zero fill nor a memset to
# 0xFF nor a shift of the buffer by a few bytes passes for intact canaries.
_CANARY_HEAD = b"\xa5\x3c\x5a\xc3"
_CANARY_TAIL = b"\x96\x69\xe1\x1e"


def _xor_upto(n):
    """XOR of 0, 1, ..., n-1 (closed form, for mark_all on large bitmaps)."""
    if n <= 0:
        return 0
    m = n - 1
    r = m & 3
    if r == 0:
        return m
    if r == 1:
        return 1
    if r == 2:
        return m + 1
    return 0


class DirtyBitmap:
    def __init__(self, nblocks, region_blocks=0):
        if nblocks <= 0:
            raise ValueError("bitmap needs nblocks > 0, got %d" % nblocks)
        r = region_blocks
        if r == 0:
            r = 1
            while (nblocks + r - 1) // r > _MAX_BITS:
                r <<= 1
        elif r < 0 or (r & (r - 1)) != 0:
            raise ValueError("region_blocks must be a power of two >= 1, got %d" % r)
        shift = 0
        while (1 << shift) < r:
            shift += 1
        self.nblocks = nblocks
        self.region_blocks = r
        self._shift = shift
        self.nregions = (nblocks + r - 1) >> shift
        self.nbytes = (self.nregions + 7) >> 3
        # One allocation: head canary | bits | tail canary.
        self.raw = bytearray(self.nbytes + 2 * _CANARY_LEN)
        self.bits = memoryview(self.raw)[_CANARY_LEN:_CANARY_LEN + self.nbytes]
        self.clear_all()

    # -- state as a whole ------------------------------------------------------------

    def _reset(self, fill):
        raw = self.raw
        n = self.nbytes
        for i in range(_CANARY_LEN):
            raw[i] = _CANARY_HEAD[i]
            raw[_CANARY_LEN + n + i] = _CANARY_TAIL[i]
        bits = self.bits
        for i in range(n):
            bits[i] = fill
        if fill:
            spare = (n << 3) - self.nregions  # unused high bits of the last byte
            bits[n - 1] = 0xFF >> spare
            self._count = self.nregions
            self._xor = _xor_upto(self.nregions)
        else:
            self._count = 0
            self._xor = 0
        # Both states are fully known, so the bitmap is trustworthy again.
        self.valid = True

    def clear_all(self):
        """Nothing dirty (e.g. after a completed resync). Makes the bitmap valid again."""
        self._reset(0)

    def mark_all(self):
        """Everything dirty (conservative). Makes the bitmap valid again."""
        self._reset(0xFF)

    def invalidate(self):
        """Declare the bitmap lost: resync must fall back to a full scan."""
        self.valid = False

    def count(self):
        """Number of dirty regions (maintained incrementally)."""
        return self._count

    # -- single regions --------------------------------------------------------------

    def _check_region(self, region):
        if region < 0 or region >= self.nregions:
            raise ValueError("region %d out of range 0..%d" % (region, self.nregions - 1))

    def region_of(self, block):
        if block < 0 or block >= self.nblocks:
            raise ValueError("block %d out of range 0..%d" % (block, self.nblocks - 1))
        return block >> self._shift

    def region_range(self, region):
        """(first_block, nblocks) of a region, clipped at the end of the volume."""
        self._check_region(region)
        first = region << self._shift
        n = self.nblocks - first
        if n > self.region_blocks:
            n = self.region_blocks
        return first, n

    def is_dirty(self, region):
        self._check_region(region)
        return (self.bits[region >> 3] >> (region & 7)) & 1 == 1

    def clear(self, region):
        self._check_region(region)
        i = region >> 3
        m = 1 << (region & 7)
        b = self.bits[i]
        if b & m:
            self.bits[i] = b & ~m
            self._count -= 1
            self._xor ^= region

    def mark(self, block, count=1):
        """Mark every region touched by blocks [block, block+count)."""
        if block < 0 or count < 0 or block + count > self.nblocks:
            raise ValueError("blocks %d+%d out of range 0..%d" % (block, count, self.nblocks))
        if count == 0:
            return
        bits = self.bits
        shift = self._shift
        for r in range(block >> shift, ((block + count - 1) >> shift) + 1):
            i = r >> 3
            m = 1 << (r & 7)
            b = bits[i]
            if not b & m:
                bits[i] = b | m
                self._count += 1
                self._xor ^= r

    def next_dirty(self, start_region=0):
        """Index of the first dirty region >= start_region, or -1. Allocates nothing."""
        if start_region < 0:
            raise ValueError("start_region %d < 0" % start_region)
        if start_region >= self.nregions or self._count == 0:
            return -1
        bits = self.bits
        n = self.nbytes
        i = start_region >> 3
        b = bits[i] & (0xFF << (start_region & 7)) & 0xFF
        while b == 0:
            i += 1
            # skip clean bytes; most of a mostly-clean bitmap is zero
            while i < n and bits[i] == 0:
                i += 1
            if i >= n:
                return -1
            b = bits[i]
        j = 0
        while not (b >> j) & 1:
            j += 1
        r = (i << 3) + j
        return r if r < self.nregions else -1

    # -- damage guard ----------------------------------------------------------------

    def check(self):
        """Recompute the redundant state from the bits; False if anything disagrees.

        A failed check invalidates the bitmap, so damage found once is not forgotten.
        Walks the whole array: call it before trusting the bitmap (at reconnect), not
        per write.
        """
        if not self.valid:
            return False
        raw = self.raw
        n = self.nbytes
        ok = True
        for i in range(_CANARY_LEN):
            if raw[i] != _CANARY_HEAD[i] or raw[_CANARY_LEN + n + i] != _CANARY_TAIL[i]:
                ok = False
        bits = self.bits
        count = 0
        x = 0
        for i in range(n):
            b = bits[i]
            if b:
                base = i << 3
                for j in range(8):
                    if (b >> j) & 1:
                        count += 1
                        x ^= base + j
        # Padding bits are recounted too: _count never includes them, so a set one
        # shows up as a count mismatch.
        if count != self._count or x != self._xor:
            ok = False
        if not ok:
            self.invalidate()
        return ok
