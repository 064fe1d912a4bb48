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

    def __init__(self, engine, max_span):
        self.engine = engine
        self.size = engine.size
        levels = height_of(max_span) + 1
        self._buf = [bytearray(FANOUT * self.size) for _ in range(levels)]
        self._mv = [memoryview(b) for b in self._buf]
        self._cnt = [0] * levels
        self._height = 0

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
        engine = self.engine
        bulk = getattr(engine, "digest_blocks_into", None)
        size = self.size
        buf0 = self._buf[0]
        cnt = self._cnt
        height = self._height
        off = 0
        while n:
            k = min(n, FANOUT - cnt[0]) if height else 1
            if bulk is not None:
                bulk(mv[off:off + k * 512], k, buf0, cnt[0] * size)
            else:
                for i in range(k):
                    engine.digest_into(mv[off + i * 512:off + (i + 1) * 512], buf0,
                                       (cnt[0] + i) * size)
            off += k * 512
            n -= k
            cnt[0] += k
            h = 0
            while h < height and cnt[h] == FANOUT:
                self._carry(h)
                h += 1

    def _carry(self, h):
        """Hash the children gathered at height h into the next slot of height h + 1."""
        size = self.size
        self.engine.digest_into(self._mv[h][:self._cnt[h] * size],
                                self._buf[h + 1], self._cnt[h + 1] * size)
        self._cnt[h + 1] += 1
        self._cnt[h] = 0

    def finish_into(self, out, off):
        top = self._height
        for h in range(top):
            if self._cnt[h]:
                self._carry(h)
        if self._cnt[top] != 1:
            raise ValueError("span digest of an empty span")
        out[off:off + self.size] = self._mv[top][:self.size]
