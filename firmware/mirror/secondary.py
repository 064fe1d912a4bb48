# The secondary controller: applies the primary's writes and repairs in stream order,
# confirms them once durable (T_WACK), and by default is the comparing side of every scan:
# it checks the primary's digests against its own card and requests the blocks that differ
# (claims 5, 13, 16, 25, 33).
import struct

from mirror import actlog
from mirror import proto as P
from mirror.msgcheck import text
from mirror.readserver import ReadServer
from mirror.meta import CONSISTENT, TOOK_OVER, ZERO, relation
from mirror.node import IO_WRITE, A_WRITE, INFO_CONSISTENT, INFO_UNCONF, Node


_PLAIN_WRITE = (IO_WRITE, 0, -1)  # the storage record of a write with no wid and no account


class Secondary(Node):
    def __init__(self, cfg, card_blocks, emit, entropy):
        Node.__init__(self, cfg, card_blocks, emit, entropy)
        self.applied_wid = 0
        self._writes_issued = 0
        self._writes_done = 0
        self._barriers = {}  # tag -> writes issued when the barrier arrived
        self._done_q = []
        self._wack_due = False
        self._unconfirmed = 0
        self._wack_every = max(2, cfg.window // 2)
        self._synced_wait = None  # (gen, metadata write number) of T_SYNCED, until written
        self._synced_ack = None  # ...written: confirm it to the primary
        self._synced_here = False  # T_SYNCED received in this session
        self.counters.update({"writes_applied": 0, "dropped_writes": 0, "reads_served": 0})
        self.reads = ReadServer(self)  # blocks the primary's card could not read
        # a demoted old primary's activity log (roles.py): the extents where its card may
        # hold writes the new primary lacks, kept on the card beside the record until the
        # resync is over (T_SYNCED), sent as T_UNCONF at each pairing
        self.unconf = None
        self._unconf_due = False

    def _meta_loaded(self, ok):
        m = self.meta
        if ok and m.role == 2:
            log = actlog.load_slots(self._meta_reads, m.seq)
            if log is not None:
                self.unconf = actlog.ActivityLog(log[0])
                self.unconf.restore(log[0], log[1])
            return
        if ok and m.role == 1 and m.flags & TOOK_OVER:
            # a promotion the board never booted into: the power went between writing the
            # promoted record and the reset into the primary's role (rolecmds.py). Nothing
            # was written as a primary, and the card still holds the complete copy of the
            # generation it was promoted from (promote asks for one): back to that record,
            # so that `promote` given again works (and the old primary may resync it)
            self._event("demoted", "a promotion that never took effect is undone")
            m.gen = m.parent
            m.flags = CONSISTENT
            m.role = 2
            self._write_meta()
            return
        if ok:
            self._event("demoted", "this card was a primary; it now follows")
        else:
            m.gen = ZERO
            m.flags = 0
        m.role = 2
        self._write_meta()

    def _coherent(self):
        # T_SYNCED came in this session: the resync is over, what runs now is a periodic
        # scan (a recovery scan of a card still marked consistent reads in chunks)
        return self.paired and self._synced_here

    def _info_flags(self):
        return (INFO_CONSISTENT if self.meta.flags & CONSISTENT else 0) | \
            (INFO_UNCONF if self.unconf is not None else 0)

    def _pack_meta_extra(self, buf):
        if self.unconf is not None:
            self.unconf.pack_into(buf, self.meta.seq)

    def _paired_check(self):
        problem = self._pair_problem()
        if problem is not None:
            self._refuse(problem)
            return
        peer = self.peer
        # the primary refuses these (T_REFUSE); knowing it here lets `settle` run here
        self.split = relation(peer["gen"], peer["parent"], self.meta.gen,
                              self.meta.parent) in ("newer", "diverged")
        # otherwise wait for the primary's T_START (or T_REFUSE)

    def on_lost(self, reason):
        self._barriers = {}
        self._done_q = []
        # Writes of the lost session still on their way to the card confirm nothing to the
        # next one: a rebooted primary numbers its writes from 1 again, and a stale T_WACK
        # would tell it that writes it has just sent are durable.
        io = self._io
        for i in range(len(io)):
            if io[i][0] == IO_WRITE:
                io[i] = _PLAIN_WRITE
        self.applied_wid = 0
        self._wack_due = False
        self._unconfirmed = 0
        self._synced_wait = None
        self._synced_ack = None
        self.reads.lost()
        Node.on_lost(self, reason)

    def _on_role_message(self, ftype, p):
        if ftype == P.T_WRITE:
            self._on_write(p)
        elif ftype == P.T_DATA:
            self._on_data(p)
        elif ftype == P.T_BARRIER:
            if self.paired:
                self._barriers[p[0]] = self._writes_issued
                self._epoch_check(p[0])
        elif ftype == P.T_SCAN:
            if self.paired:
                tag, start, count, gsize = struct.unpack_from("<BIII", p, 0)
                if count < 1 or start + count > self.vblocks or \
                        (count + gsize - 1) // gsize > self._max_groups:
                    self._bad_message("scan of %d blocks at %d in spans of %d" %
                                      (count, start, gsize))
                    return
                self._begin_scan(tag, start, count, gsize)
                self._enqueue(self._job_pass())
        elif ftype == P.T_START:
            self._on_start(bytes(p[:8]))
        elif ftype == P.T_SYNCED:
            self.unconf = None  # resynced: the record is dropped with this metadata write
            m = self.meta
            m.gen = bytes(p[:8])
            m.parent = ZERO
            m.flags |= CONSISTENT
            self._synced_here = True
            self._write_meta()
            self._synced_wait = (m.gen, self._metas)
            self._event("synced", m.gen.hex())
        elif ftype == P.T_RREQ:
            if self.paired:
                self.counters["reads_served"] += 1
                self.reads.on_request(p)
        elif ftype == P.T_REFUSE:
            self._refuse("primary refused: " + text(p))

    def _on_start(self, gen):
        self._synced_here = False
        m = self.meta
        if m.gen != gen and m.flags & CONSISTENT:
            m.flags &= ~CONSISTENT  # about to take data of a newer generation
            self._write_meta()
        self.paired = True
        self.split = False
        self.refusal = None
        self._event("paired", gen.hex())
        self._unconf_due = self.unconf is not None

    def _send_unconf(self):
        """T_UNCONF: the blocks of the record's extents (in the volume); True once sent."""
        u = self.unconf
        eb = u.extent_blocks
        buf = bytearray(8 * u.capacity)
        n = 0
        for e in u.extents():
            if e * eb < self.vblocks:
                struct.pack_into("<II", buf, n, e * eb, min(eb, self.vblocks - e * eb))
                n += 8
        if not n:
            struct.pack_into("<II", buf, 0, 0, 1)  # nothing inside the volume: one block
            n = 8
        return self._send_now(P.T_UNCONF, memoryview(buf)[:n])

    # -- applying writes in stream order ---------------------------------------------
    def _apply(self, block, data, wid, account, mirrored=False):
        """Write `data` at `block`, checked against the volume before any card access:
        whole blocks, at least one, inside the mirrored volume (so never the metadata
        blocks after it). False (the write dropped, the session restarted) if not.
        mirrored: an application write (T_WRITE), not a repair."""
        n = len(data) // 512
        if n < 1 or len(data) % 512 or block < 0 or block + n > self.vblocks:
            self.counters["dropped_writes"] += 1
            self._bad_message("write of %d bytes at block %d" % (len(data), block))
            return False
        if mirrored:
            # Only the application's writes go in the log that re-checks mismatches: a
            # repair carries the primary's data, so a block it changed under a comparison
            # costs at worst one more copy, while logging thousands of repairs overflowed
            # the log and turned every mismatch of a resync into a re-check round trip
            # (issue 9: 1.34x ideal at k = 10,000).
            self.log.add(block, n)
        self._writes_issued += 1
        # a resync frame's entries but its last (no wid, nothing to account) share one record
        self._io.append(_PLAIN_WRITE if not wid and account < 0 else (IO_WRITE, wid, account))
        self.emit(A_WRITE, block, data)
        return True

    def _on_write(self, p):
        if not self.paired:
            self.counters["dropped_writes"] += 1
            return
        self.fg_time = self.now  # an application write, mirrored: keep scans out of its way
        wid, block = struct.unpack_from("<II", p, 0)
        self._apply(block, p[8:], wid, -1, True)

    def _on_data(self, p):
        if not self.paired:
            self.counters["dropped_writes"] += 1
            return
        tag, flags, wid = struct.unpack_from("<BBI", p, 0)
        reply = flags & P.F_REPLY
        codec = self.session.codec
        pos = P.DATA_HDR
        blocks = 0
        while pos + P.ENTRY <= len(p):
            # Nothing made per entry (a block a time in a resync of scattered writes): the
            # entry's (block u32, count u16) read byte by byte, not by unpack_from (a
            # tuple); its data a view the codec keeps; one storage record for the frame (its
            # last entry's, which confirms the wid and accounts the reply's blocks: the
            # card completes writes in order, and a failed one restarts the session)
            block = p[pos] | p[pos + 1] << 8 | p[pos + 2] << 16 | p[pos + 3] << 24
            count = p[pos + 4] | p[pos + 5] << 8
            pos += P.ENTRY
            end = pos + count * 512
            blocks += count
            last = end + P.ENTRY > len(p)
            account = (tag << 16) | blocks if reply and last else -1
            if not self._apply(block, codec.blocks_view(p, pos, count), wid if last else 0,
                               account):
                return
            pos = end

    def _write_done(self, ok, wid, account):
        self._writes_done += 1
        if not ok:
            # never confirm what is not on the card: start the session over, so the
            # primary keeps the affected regions dirty and retries them after reconnecting
            self.session.restart(self.now, "storage error")
            return
        self.counters["writes_applied"] += 1
        if wid:
            self.applied_wid = wid
            self._wack_due = True
            self._unconfirmed += 1
        if account >= 0:
            self._work_sub(account >> 16, account & 0xFFFF)
        # each barrier whose writes are now all done closes its epoch; _epoch_check drops
        # it from the dict, so look again after each (no list of the tags per write)
        again = True
        while again:
            again = False
            for tag in self._barriers:
                if self._epoch_ready(tag):
                    self._epoch_check(tag)
                    again = True
                    break

    def _writes_queued(self):
        for entry in self._io:
            if entry[0] == IO_WRITE:
                return True
        return False

    def _meta_written(self, ok):
        wait = self._synced_wait
        if wait is None:
            return
        if not ok:
            self._synced_wait = None
            self.session.restart(self.now, "storage error")
            return
        if self._metas_done < wait[1]:
            return  # an earlier metadata write
        self._synced_wait = None
        gen = wait[0]
        if self.meta.gen == gen and self.meta.flags & CONSISTENT:
            # Only now may the primary count on us holding `gen`: had it assumed so when it
            # sent T_SYNCED, a power cut here would leave us on an older generation while
            # it started the next one from `gen`, and the pair would refuse to resync.
            self._synced_ack = gen

    def _flush_control(self):
        self.reads.flush()
        if self._unconf_due and self.paired and self._send_unconf():
            self._unconf_due = False
        if self._synced_ack is not None and self._send_now(P.T_SYNCED, self._synced_ack):
            self._synced_ack = None
        # confirm at once when the writes stop, else every half window under a stream
        if self._wack_due and (self._unconfirmed >= self._wack_every or
                               not self._writes_queued()):
            if self._send_now(P.T_WACK, struct.pack("<I", self.applied_wid)):
                self._wack_due = False
                self._unconfirmed = 0
        while self._done_q and self._send_now(P.T_DONE, bytes((self._done_q[0],))):
            self._done_q.pop(0)

    def on_window(self):
        self._flush_control()

    # -- epochs and repairs -----------------------------------------------------------
    def _epoch_ready(self, tag):
        issued = self._barriers.get(tag)
        return issued is not None and self._writes_done >= issued and \
            self._work.get(tag, 0) <= 0

    def _epoch_check(self, tag):
        if not self._epoch_ready(tag):
            return
        del self._barriers[tag]
        self._work.pop(tag, None)
        self._close_scan(tag)
        self._done_q.append(tag)
        self._flush_control()

    def _repair(self, tag, leaves):
        """As comparer: request the differing blocks from the primary, in runs, each packed
        into the request as soon as it ends (a list of runs cost an object per block of a
        resync of scattered writes). leaves: ascending block numbers."""
        o = self._obuf
        full = (len(o) - 1) // P.ENTRY * P.ENTRY + 1  # the end of a request of all entries
        pos = 1
        first = count = 0
        n = len(leaves)
        for i in range(n + 1):
            b = leaves[i] if i < n else -1  # -1: past the last leaf, ends the last run
            if count and b == first + count and count < 0xFFFF:
                count += 1
                continue
            if count:
                o[0] = tag
                struct.pack_into("<IH", o, pos, first, count)
                pos += P.ENTRY
                self._work_add(tag, count)
                if pos == full or b < 0:
                    yield from self._send(P.T_BREQ, pos)
                    pos = 1
            first = b
            count = 1

    def _has_work(self):
        return bool(self._barriers)

    def _next_work(self):
        return None

    def status(self):
        s = Node.status(self)
        s.update({"applied_wid": self.applied_wid, "consistent":
                  bool(self.meta.flags & CONSISTENT), "dirty_regions": 0})
        return s
