# Reads served by the peer (md RAID1 and ZFS "self-healing" reads): a block the primary's
# card cannot give (error token, CRC16 mismatch after the driver's retries, timeout) is
# read from the secondary's card, returned, and written back over the bad copy.
#
# PeerReads (primary): one request at a time (T_RREQ -> T_RDATA). Its users take turns:
#   - the application's read (MirroredVolume.readblocks): start(), wait until done(),
#     release(); the volume then rewrites its own card (detached, every read is served
#     so; detach.py also uses it, owner 3, to copy onto a card that returned);
#   - background heals: a scan or resync read that failed queues its blocks; each is read
#     again alone (which of the chunk's blocks failed?), fetched, and rewritten.
# The application's read is only served from the secondary while the secondary is known
# to hold the block's latest acknowledged contents (Primary.can_fetch: paired, the region
# clean, no full scan owed); else the read is an error. A block the secondary cannot read
# either is an error: never invented data (in the background, after repeated tries, the
# block is declared lost and zeros go on both cards, so that scans can finish).
# A background read that fails where the secondary's copy may be older (a dirty region, a
# full scan owed) cannot be healed: our card lost the only copy of the newest data. As md
# records a bad block on both legs, the block is then declared lost: the secondary's copy
# is written over it (so both cards agree and scans can finish) and the application's
# reads of it fail (EIO) until it writes the block again (Primary.lost, in RAM). Being
# destructive, that waits until the block has failed _LOST_TRIES reads _RETRY_MS apart:
# a bad sector fails every time, a passing fault (a CRC burst, a slow card) does not.
# The secondary reads in stream order: writes forwarded before the request are on its card
# first (storage requests complete in order), so the answer is the newest data.
#
# The secondary's side is readserver.py.
import struct
from micropython import const

from mirror import proto as P
from mirror.node import A_READ, A_WRITE, IO_OWNED

IDLE = const(0)
WAIT = const(1)
OK = const(2)
FAILED = const(3)

_QUEUE = const(16)  # blocks waiting to be healed in the background
_LOST_TRIES = const(3)
_RETRY_MS = const(2000)
_PROBE = const(1)
_REWRITE = const(2)
_H_FREE = const(0)
_H_PROBING = const(1)
_H_FETCHING = const(2)
_H_WRITING = const(3)


class PeerReads:
    def __init__(self, node):
        self.node = node
        self.rid = 0
        self.state = IDLE
        self.owner = 0  # 1: the application, 2: a background heal, 3: detach.py's copy
        self.wanted = False  # the application waits for the slot
        self._buf = None
        self._req = bytearray(P.RREQ_SIZE)
        self._unsent = False
        self._since = 0
        self.queue = []  # block numbers a background read could not read
        self._hbuf = bytearray(512)
        self._hmv = memoryview(self._hbuf)
        self._hstep = _H_FREE
        self._stale = False
        self._fails = 0  # failed reads of the first queued block, when it cannot be healed
        self._retry_at = 0

    # -- one request ----------------------------------------------------------------------
    def start(self, block, buf, owner=1):
        """Ask the secondary for the blocks of buf (at most frame_blocks); False if busy."""
        if self.state != IDLE:
            return False
        self.rid = (self.rid + 1) & 0x3FFFFFFF  # a small int on 32-bit ports too
        struct.pack_into("<IIH", self._req, 0, self.rid, block, len(buf) // 512)
        self._buf = buf
        self.state = WAIT
        self.owner = owner
        self._since = self.node.log.seq
        self._unsent = True
        self.flush()
        return True

    def rebase(self, d):
        """The clock moved back by d ms (Node.rebase)."""
        if self._retry_at:
            self._retry_at = max(self._retry_at - d, 0)

    def done(self):
        return self.state != WAIT

    def release(self):
        """The application has taken its answer (OK or FAILED)."""
        self.state = IDLE
        self._buf = None

    def flush(self):
        if self._unsent and self.node._send_now(P.T_RREQ, self._req):
            self._unsent = False

    def on_reply(self, p):
        if self.state != WAIT or len(p) < P.RDATA_HDR:
            return
        rid, status = struct.unpack_from("<IB", p, 0)
        if rid != self.rid:
            return  # an answer to a request given up (link lost meanwhile)
        n = len(self._buf)
        if status == 0 and len(p) - P.RDATA_HDR == n:
            self._buf[:] = p[P.RDATA_HDR:P.RDATA_HDR + n]
            self.state = OK
        else:
            self.state = FAILED
        if self.owner == 2:
            self._heal_answer()
        elif self.owner == 3:  # the copy onto a returned card (detach.py)
            self.node.detached.answer(self.state == OK)

    def lost(self):
        """The session is gone: what was asked will not be answered."""
        self._unsent = False
        if self.state == WAIT:
            if self.owner == 2:
                self.state = IDLE  # the block stays queued: asked again when paired
                self._hstep = _H_FREE
            elif self.owner == 3:
                self.state = IDLE
                self.node.detached.lost()
            else:
                self.state = FAILED

    # -- background heals ------------------------------------------------------------------
    def drop_heals(self):
        """The card is detached (detach.py): nothing to rewrite a heal onto; they stop."""
        self.queue = []
        self._hstep = _H_FREE
        if self.state == WAIT and self.owner == 2:
            self.state = IDLE  # its answer, when it comes, is ignored

    def unreadable(self, block, count):
        """A background read of [block, block + count) failed on our card."""
        q = self.queue
        for b in range(block, block + count):
            if b not in q and len(q) < _QUEUE:
                q.append(b)

    def step(self):
        """Move the first queued heal on, if it can move (called after every event)."""
        node = self.node
        if not self.queue or self._hstep != _H_FREE or self.state != IDLE:
            return
        if not node.paired or node.now < self._retry_at:
            return
        b = self.queue[0]
        self._hstep = _H_PROBING
        node._io.append((IO_OWNED, self, _PROBE))
        node.emit(A_READ, b, self._hmv)

    def io_done(self, ok, what):
        node = self.node
        if not self.queue:  # dropped meanwhile: the card was detached (detach.py)
            self._hstep = _H_FREE
            return
        b = self.queue[0]
        if what == _PROBE:
            if ok:  # this one reads: another block of the failed chunk was the bad one
                self._finish()
                return
            if not node.paired:
                self._hstep = _H_FREE  # try again when paired
                return
            self._stale = not node.can_fetch(b, 1)
            if self._stale and self._fails < _LOST_TRIES - 1:
                self._fails += 1  # not yet: is it a bad sector or a passing fault?
                self._retry_at = node.now + _RETRY_MS
                self._hstep = _H_FREE
                return
            self._hstep = _H_FETCHING
            self.start(b, self._hmv, 2)
        else:
            if ok and self._stale:
                node.declare_lost(b)
            elif ok:
                node.counters["healed_blocks"] += 1
                node._event("healed", b)
            self._finish()

    def _heal_answer(self):
        node = self.node
        b = self.queue[0]
        state = self.state
        self.state = IDLE
        if state != OK:
            if self._fails < _LOST_TRIES - 1:  # the secondary's read may fail only once
                self._fails += 1
                self._retry_at = node.now + _RETRY_MS
                self._hstep = _H_FREE
                return
            # Unreadable on both cards: the data is gone. Zeros go on our card so that
            # scans can read it and both cards agree again (the comparison copies them to
            # the secondary); the application's reads of it fail (Primary.lost).
            node.counters["unreadable_both"] += 1
            node._event("unreadable_both", b)
            for i in range(512):
                self._hbuf[i] = 0
            self._stale = True
            self._hstep = _H_WRITING
            node._io.append((IO_OWNED, self, _REWRITE))
            node.emit(A_WRITE, b, self._hmv)
        elif node.log.touched_since(self._since, b):
            self._finish()  # the application wrote it meanwhile: it is fresh, and readable
        else:
            self._hstep = _H_WRITING
            node._io.append((IO_OWNED, self, _REWRITE))
            node.emit(A_WRITE, b, self._hmv)

    def _finish(self):
        self.queue.pop(0)
        self._hstep = _H_FREE
        self._fails = 0
        self._retry_at = 0
        self.step()
