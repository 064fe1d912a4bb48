# A primary whose card has failed (DRBD's `on-io-error detach`): after cfg.card_errors
# requests to the card failed in a row, the primary stops using its card and serves the
# application from the secondary over the link:
# - reads: every block is fetched from the secondary (PeerReads, heal.py), where the
#   secondary is known to hold the newest acknowledged data (Primary.can_fetch); else EIO;
# - writes: forwarded only, and complete once the secondary holds them durably, in async
#   mode too (the secondary's card is the only copy); unpaired, or the session lost before
#   the secondary confirmed: the write fails (EIO), never a silent loss;
# - `written`, a bitmap of the regions written meanwhile: what our card lacks.
# When a card answers again (console `attach`: the runtime re-initialises it) its metadata
# is read: the same card (the record of our generation) gets only the `written` regions
# back from the secondary; another card (blank, another history, unreadable record) gets
# every block. The copy goes secondary -> primary a piece at a time (T_RREQ/T_RDATA into
# the background read buffer, unused while detached: no allocation), the application still
# served from the secondary; a region written during the copy is marked again and copied
# again. Then the metadata record is written and the card is used again (`card_back`).
# Loaded only when a card fails (RAM: rare code out of the resident set).
from micropython import const

from mirror import meta as metadata
from mirror import proto as P
from mirror.bitmap import DirtyBitmap
from mirror.heal import IDLE
from mirror.node import A_READ, A_WRITE, IO_OWNED, META_BLOCKS

_MAX_REGIONS = const(8192)  # `written` stays within 1 KiB whatever the card's size
_META = const(1)  # IO_OWNED kinds
_COPY = const(2)
_WAITING = const(0)  # no working card
_PROBING = const(1)  # reading a returned card's metadata
_COPYING = const(2)  # copying from the secondary onto it

OWNER = const(3)  # PeerReads.owner of the copy's requests


class Detached:
    def __init__(self, node, why):
        self.node = node
        self.why = why
        rb = node.bitmap.region_blocks
        while (node.nblocks + rb - 1) // rb > _MAX_REGIONS:
            rb <<= 1
        self.written = DirtyBitmap(node.nblocks, rb)
        self.state = _WAITING
        self.full = False  # another card: every block is copied
        self.boot = False  # detached since boot, the secondary's history not yet adopted
        self.boot_card = False  # the card failed at boot: what it holds is unknown (full copy)
        self._reads = []
        self._meta2 = None
        self._piece = min(node.cfg.frame_blocks, node.cfg.chunk_blocks)
        self._cur = None  # (end, next block) of the region being copied
        self._busy = False  # a request or a write of the copy is outstanding
        self._at = 0  # its first block
        self._last = 0  # and its length
        self.copied = 0  # blocks copied onto the returned card
        self.card_gen = None  # the generation our card records (Primary._new_history)
        self.announced = False  # the secondary was sent our new generation this session
        self.unserved = False  # the secondary was behind when we detached: writes fail
        self.first_wid = node._next_wid  # writes from here on are on the secondary only

    def describe(self):
        if self.state == _WAITING:
            return "failed (detached): " + self.why + (
                "; the secondary holds no complete copy: writes fail" if self.unserved else "")
        if self.state == _PROBING:
            return "returned: reading its metadata"
        return "returned: copying %s from the secondary (%d regions left)" % (
            "every block" if self.full else "the blocks written meanwhile",
            self.written.count() + (self._cur is not None))

    def wrote(self, block, n):
        self.written.mark(block, n)

    # -- a card is back ------------------------------------------------------------------
    def attach(self, card_blocks):
        """The runtime has a working card again (re-initialised, card_blocks long)."""
        node = self.node
        want = node.nblocks + META_BLOCKS
        if card_blocks != want:
            return "the card has %d blocks, this volume needs %d: use a card of the " \
                   "same size" % (card_blocks, want)
        if self.state != _WAITING:
            return "a card is already being attached"
        self.state = _PROBING
        self._reads = []
        if self._meta2 is None:
            self._meta2 = bytearray(512)
        for slot, buf in ((0, node._meta_buf), (1, self._meta2)):
            node._io.append((IO_OWNED, self, _META))
            node.emit(A_READ, node.nblocks + slot, memoryview(buf))
        return None

    def io_done(self, ok, what):
        node = self.node
        if what == _META:
            self._reads.append((ok, node._meta_buf if len(self._reads) == 0 else self._meta2))
            if len(self._reads) < metadata.SLOTS:
                return
            m, state = metadata.load(self._reads)
            if state == "unreadable":
                self._fail("its metadata blocks cannot be read")
                return
            # our card: the record of this generation. Anything else (blank, another
            # history) is a replaced card: it gets every block.
            self.full = self.boot_card or state != "ok" or \
                m.gen not in (node.meta.gen, self.card_gen)
            if m.seq > node.meta.seq:
                node.meta.seq = m.seq  # our record, written after the copy, must win
            if self.full:
                self.written.mark_all()
            node._event("card_probe", "another card: full copy" if self.full else
                        "the same card: %d regions to copy" % self.written.count())
            self.state = _COPYING
            self.step()
            return
        if not ok:
            self._fail("a write of the copy failed")
            return
        self._busy = False
        self.copied += self._last
        self.step()

    def _fail(self, why):
        self._again()
        self.state = _WAITING
        self.why = "returned card failed: " + why
        self.node._event("card_failed", self.why)

    def _again(self):
        """The piece outstanding did not reach the card: its region is copied again."""
        if self._busy or self._cur is not None:
            self.written.mark(self._at)
        self._cur = None
        self._busy = False

    def step(self):
        """Move the copy on, if it can move (called after every event)."""
        node = self.node
        reads = node.reads
        if not self.announced and node.paired and not self.boot and not self.unserved and \
                node._send_now(P.T_SYNCED, node.meta.gen):
            # the secondary holds this generation's data (every write since the detach was
            # forwarded to it): it records it, and the primary's old card is older
            self.announced = True
        if self.state != _COPYING or self._busy or not node.paired or \
                reads.state != IDLE or reads.wanted:  # the application's read goes first
            return
        if self._cur is None:
            r = self.written.next_dirty(0)
            if r < 0:
                node._attached()
                return
            self.written.clear(r)  # written again from now on: marked again, copied again
            first, count = self.written.region_range(r)
            self._cur = (first + count, first)
        end, b = self._cur
        c = min(self._piece, end - b)
        self._busy = True
        self._at = b
        self._last = c
        reads.start(b, node._rmv[:c * 512], OWNER)

    def answer(self, ok):
        """PeerReads has the secondary's answer to the copy's request."""
        node = self.node
        reads = node.reads
        reads.release()
        end, b = self._cur
        c = self._last
        self._cur = (end, b + c) if b + c < end else None
        if not ok:
            # unreadable on the secondary too: the data is gone (heal.py's rule), those
            # blocks read as errors until written; the copy goes on without them
            node.counters["unreadable_both"] += 1
            node._event("unreadable_both", b)
            for i in range(c):
                node.declare_lost(b + i)
            self._busy = False
            self.step()
            return
        node._io.append((IO_OWNED, self, _COPY))
        node.emit(A_WRITE, b, node._rmv[:c * 512])

    def lost(self):
        """The session is gone: the copy's request will not be answered."""
        if self._busy:
            self._again()
