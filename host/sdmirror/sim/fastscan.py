"""Scans of never-written spans at once: what lets the simulator scan a 32 GiB card.

A full scan reads every block, one background read per chunk, and feeds each to the
node's hasher (mirror/node.py Node._feed, mirror/tree.py SpanHasher). On a sparse card
(sim/sparse.py) most spans were never written: they hold zeros, and their digest at each
tree level is the same. Installed (by sim/fast.install), Node._feed asks the card how many
blocks from here on were never written; when that is more than one read, it issues one
bulk read for them (sim/card.py submit_bulk: timed read by read as the reads would be, and
cut short by any other request, as the next read would have waited behind it), then puts
the memoized digests of zero subtrees into the hasher where the blocks' digests would
have gone. Everything else (the reads it could not skip, the tree's carries, the frames)
is the firmware's own code. The bulk also ends with the read after which the node would
read more blocks at a time (its foreground went quiet), so reads keep their sizes.

tests/host/test_sim_fastscan.py holds it to the firmware's behaviour: the same link bytes,
frame for frame, with and without it, and the same digests for every span and offset.
"""
import sdmirror.fwpath

sdmirror.fwpath.install()

from mirror import node as _node  # noqa: E402
from mirror.tree import FANOUT  # noqa: E402

ORIGINAL_FEED = _node.Node._feed
_MAX_READS = 1 << 24  # reads one bulk stands for
_zeros = {}  # engine name -> [digest of a zero subtree of height h]


def zero_digests(engine, height):
    """Digests of all-zero subtrees of heights 0..height, computed by `engine` once."""
    zs = _zeros.setdefault(engine.name, [])
    if not zs:
        out = bytearray(engine.size)
        engine.digest_into(bytes(512), out, 0)
        zs.append(bytes(out))
    while len(zs) <= height:
        out = bytearray(engine.size)
        engine.digest_into(zs[-1] * FANOUT, out, 0)
        zs.append(bytes(out))
    return zs


def add_zeros(hasher, n):
    """Advance `hasher` as add_chunk() of n zero blocks would: a whole aligned zero
    subtree goes in as its digest, one slot at its height."""
    cnt = hasher._cnt
    height = hasher._height
    size = hasher.size
    zs = zero_digests(hasher.engine, height)
    while n:
        h = 0
        while h < height and cnt[h] == 0 and n >= FANOUT ** (h + 1):
            h += 1
        hasher._buf[h][cnt[h] * size:(cnt[h] + 1) * size] = zs[h]
        cnt[h] += 1
        n -= FANOUT ** h
        while h < height and cnt[h] == FANOUT:
            hasher._carry(h)
            h += 1


def _feed(self, b, end):
    card = getattr(self, "sim_card", None)
    if card is None:
        yield from ORIGINAL_FEED(self, b, end)
        return
    rmv = self._rmv
    hasher = self.hasher
    while b < end:
        c = min(self._bg_chunk(), end - b)
        run = card.data.untouched_run(b, end)
        if run < end - b or run > _MAX_READS * c:
            run = min(run - run % c, _MAX_READS * c)  # the read holding a written block
            # is made as usual; a longer run takes more bulks, one after the other
        if run > c and not self._paced():  # a paced read waits its turn: one by one
            until = None
            if c < self._chunk and not self._coherent():
                # reads grow once the foreground was quiet for a while (Node._bg_chunk)
                until = (self.fg_time, _node._FG_RECENT_MS)
            self.sim_bulk = (run, c, until)
            yield (b, c)
            k = self.sim_bulk_done
            if k:
                add_zeros(hasher, k)
                b += k
                continue
            c = min(self._bg_chunk(), end - b)  # written meanwhile: read as usual
        yield (b, c)
        hasher.add_chunk(rmv, c)
        b += c


def install():
    _node.Node._feed = _feed


def uninstall():
    _node.Node._feed = ORIGINAL_FEED
