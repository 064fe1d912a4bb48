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
# either is an error: never invented data.
# A background read that fails where the secondary's copy may be older (a dirty region, a
# full scan owed) cannot be healed: our card holds the only copy of the newest data. After
# _LOST_TRIES failed reads _RETRY_MS apart (or when the secondary cannot read the block
# either), the block is declared lost, as md records a bad block: the application's reads
# of it fail (EIO) until it writes the block again, and scans and copies take its bytes as
# zeros without reading it (Node._read_around_lost), so they finish. Nothing is written
# over it: a fault that passes (a CRC burst on the wires, a slow card) can fail the same
# block three times while a scan retries it, and the card may still hold the data. So a
# lost block is read again every _RECHECK_MS; once it reads, it is recovered
# (Primary.recovered): no longer lost, its region dirty, the resync copies it over.
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
_RECHECK_MS = const(10000)
_ADMIT_RETRY_MS = const(100)
_PROBE = const(1)
_REWRITE = const(2)
RECHECK = const(3)  # a read of a lost block: its failure says nothing new of the card
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
        self._fails = 0  # failed reads of the first queued block, when it cannot be healed
        self._retry_at = 0
        self._recheck_at = 0
        self._recheck = 0  # which lost block is read again next
        self._rechecking = -1  # the lost block being read again

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
        self._recheck_at = max(self._recheck_at - d, 0)

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
        if self._hstep != _H_FREE or self.state != IDLE:
            return
        if not self.queue:
            self._read_lost_again()
            return
        if not node.paired or node.now < self._retry_at:
            return
        b = self.queue[0]
        self._hstep = _H_PROBING
        node._io.append((IO_OWNED, self, _PROBE))
        node.emit(A_READ, b, self._hmv)

    def deadline(self):
        """When step() has work at a time of its own (a retry, a lost block's next read),
        or None."""
        if self._hstep != _H_FREE or self.state != IDLE:
            return None
        node = self.node
        t = self._retry_at if self.queue and node.paired else \
            self._recheck_at if node.lost and not self.queue else 0
        return t if t > node.now else None

    def _read_lost_again(self):
        node = self.node
        lost = node.lost
        if not lost or node.now < self._recheck_at:
            return
        self._recheck = (self._recheck + 1) % len(lost)
        self._rechecking = lost[self._recheck]
        self._hstep = _H_PROBING
        node._io.append((IO_OWNED, self, RECHECK))
        node.emit(A_READ, self._rechecking, self._hmv)

    def _read_again(self, ok):
        node = self.node
        self._hstep = _H_FREE
        b = self._rechecking
        if not ok:
            self._recheck_at = node.now + _RECHECK_MS
        elif b in node.lost:  # (else written meanwhile: the next one, if any, at once)
            if node.admit(b, 1, node.now):
                node.recovered(b)  # admitted: its region is in the activity log (if kept)
            else:
                # the log is being written, or writes wait for confirmations (actlog
                # back-pressure): read it again a little later, not after every event
                self._recheck_at = node.now + _ADMIT_RETRY_MS

    def io_done(self, ok, what):
        node = self.node
        if what == RECHECK:
            self._read_again(ok)
            return
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
            if not node.can_fetch(b, 1):  # the secondary's copy may be older
                if self._fails < _LOST_TRIES - 1:
                    self._fails += 1  # not yet: is it a bad sector or a passing fault?
                    self._retry_at = node.now + _RETRY_MS
                    self._hstep = _H_FREE
                    return
                self._lose(b)
                return
            self._hstep = _H_FETCHING
            self.start(b, self._hmv, 2)
        else:
            if ok:
                node.counters["healed_blocks"] += 1
                node._event("healed", b)
            self._finish()

    def _lose(self, b):
        node = self.node
        node.declare_lost(b)
        if node.detached is not None:
            return  # too many: the card was detached, the heals dropped (drop_heals)
        self._recheck_at = node.now + _RECHECK_MS
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
            # unreadable on both cards: lost, until one of its reads succeeds again
            node.counters["unreadable_both"] += 1
            node._event("unreadable_both", b)
            self._lose(b)
        elif node.log.touched_since(self._since, b) or node.writing_to(b):
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
