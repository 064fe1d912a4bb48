# Digests of spans of blocks, as a hash tree with fan-out 16.
#
# The digest of one block is the checksum engine applied to its 512 bytes. The digest of a
# span of 16**h blocks is the engine applied to the concatenated digests of its 16 sub-spans
# (a Merkle tree). Two sides that agree on a span's digest agree on all of it (up to the
# engine's collision odds); when they disagree, they compare the 16 children next, so a few
# differing blocks in a large coherent volume cost a few digests per tree level, not one
# digest per block. A span cut short by the end of the volume hashes the children it has;
# both sides cut it at the same place, so they still compute the same function.
from micropython import const

FANOUT = const(16)
# The largest span a dirty region's comparison starts from: every node's hasher covers it,
# whatever its scan spans (a 2,048-block region starts as 8 spans of 256).
MAX_REGION_SPAN = const(256)


def height_of(span):
    """h such that span == 16**h; ValueError if span is not a power of 16."""
    h = 0
    s = 1
    while s < span:
        s *= FANOUT
        h += 1
    if s != span:
        raise ValueError("span %d is not a power of 16" % span)
    return h


def span_for(count, max_spans):
    """The smallest power of 16 that covers `count` blocks in at most `max_spans` spans."""
    span = 1
    while (count + span - 1) // span > max_spans:
        span *= FANOUT
    return span


class SpanHasher:
    """Computes one span digest at a time, fed block by block, in fixed RAM.

    begin(span); add(block) for each block of the span (fewer at the volume's end);
    finish_into(out, off).
    """

    # The scan's hot path allocates nothing per block, on any port: no memoryview slice
    # (each is a heap object) and no call whose frame exceeds 11 words (locals + stack),
    # which MicroPython heap-allocates on every call (py/objfun.c VM_MAX_STATE_ON_STACK;
    # ports without MICROPY_ENABLE_PYSTACK, i.e. the boards): hence the small methods.

    def __init__(self, engine, max_span):
        self.engine = engine
        self.size = engine.size
        self._bulk = getattr(engine, "digest_blocks_into", None)  # a native engine's
        levels = height_of(max_span) + 1
        self._buf = [bytearray(FANOUT * self.size) for _ in range(levels)]
        self._mv = [memoryview(b) for b in self._buf]
        self._first = [m[:self.size] for m in self._mv]  # each level's first digest
        self._cnt = [0] * levels
        self._height = 0
        self._src = None  # the buffer add_chunk last read, and a view of each of its blocks
        self._views = []
        self._dst = None  # where _each writes

    def begin(self, span):
        self._height = height_of(span)
        if self._height >= len(self._buf):
            raise ValueError("span %d exceeds this hasher's maximum" % span)
        for i in range(self._height + 1):
            self._cnt[i] = 0

    def add(self, block):
        """Feed one block (512 bytes)."""
        self.add_chunk(block, 1)

    def add_chunk(self, mv, n):
        """add() for n consecutive blocks of mv: the scan's hot loop, kept lean. An engine
        with digest_blocks_into (a native one) digests many blocks in one call."""
        b = 0
        while n:
            k = min(n, FANOUT - self._cnt[0]) if self._height else 1
            self._digest(mv, b, k)
            b += k
            n -= k
            self._cnt[0] += k
            if self._cnt[0] == FANOUT and self._height:
                self._carry_up()

    def _digest(self, mv, b, k):
        # blocks b .. b + k - 1 of mv into level 0, from its next free slot on
        at = self._cnt[0] * self.size
        if self._bulk is None:
            self._dst = self._buf[0]
            self._each(mv, b, k, at)
        elif b == 0:
            self._bulk(mv, k, self._buf[0], at)
        else:  # a chunk that straddles two spans: one slice
            self._bulk(mv[b * 512:], k, self._buf[0], at)

    def _each(self, mv, b, k, at):
        # an engine without digest_blocks_into: one call a block, on a view made once
        if mv is not self._src:  # a new buffer (the scan's is always the same one)
            self._views = self._views_of(mv)
            self._src = mv
        k += b
        while b < k:
            self.engine.digest_into(self._views[b], self._dst, at)
            at += self.size
            b += 1

    def digests_into(self, mv, n, out, off):
        """The digest of each of the first n blocks of mv into out[off:], one after another
        (a block-by-block comparison), allocating nothing either."""
        if self._bulk is not None:
            self._bulk(mv, n, out, off)
        else:
            self._dst = out
            self._each(mv, 0, n, off)

    @staticmethod
    def _views_of(mv):
        m = memoryview(mv)  # live views, also of a bytearray (its slices copy)
        return [m[i * 512:(i + 1) * 512] for i in range(len(m) // 512)]

    def _carry_up(self):
        h = 0
        while h < self._height and self._cnt[h] == FANOUT:
            self._carry(h)
            h += 1

    def _carry(self, h):
        """Hash the children gathered at height h into the next slot of height h + 1."""
        n = self._cnt[h]
        self.engine.digest_into(self._buf[h] if n == FANOUT else self._mv[h][:n * self.size],
                                self._buf[h + 1], self._cnt[h + 1] * self.size)
        self._cnt[h + 1] += 1
        self._cnt[h] = 0

    def finish_into(self, out, off):
        top = self._height
        for h in range(top):
            if self._cnt[h]:
                self._carry(h)
        if self._cnt[top] != 1:
            raise ValueError("span digest of an empty span")
        out[off:off + self.size] = self._first[top]
