# The primary controller: serves the application's writes, forwards them, keeps the dirty
# bitmap while the secondary cannot confirm them, and drives every resync and scan.
#
# Resync plans, chosen when the pair (re)connects:
# - bitmap held and valid: only dirty regions are resynced (claims 10-12, 18, 19). While
#   the list of the writes made meanwhile (listed.py) names every dirty region's blocks,
#   just those blocks are sent, nothing compared. Otherwise regions that a run of
#   consecutive writes covered completely (a sequential writer) are sent whole; the others
#   are compared by descending a hash tree over their blocks, so scattered
#   writes cost a block each plus a few digests, however many blocks a region holds.
# - bitmap lost (reboot) or damaged: a full scan of both volumes (claims 2-5, 16, 18).
# - a full scan also runs every scan_period_ms once the pair is coherent (claims 6, 7, 13).
# - after a power loss of the primary: only the regions of its activity log (actlog.py),
#   when the log is intact; the full scan otherwise.
# Work is issued in epochs; a region stays `pending` until its epoch is confirmed, and goes
# back to dirty if the link drops first.
import array
import struct
from micropython import const

from mirror import actlog
from mirror import proto as P
from mirror.bitmap import DirtyBitmap
from mirror.heal import RECHECK, PeerReads
from mirror.meta import LOST_MAX, PEER_SYNCED, SETTLE_HINT, TOOK_OVER, relation
from mirror.node import INFO_BITMAP, INFO_CONSISTENT, INFO_UNCONF, IO_OWNED, Node
from mirror.tree import FANOUT, MAX_REGION_SPAN, span_for

_W_HDR = 8  # wid u32, block u32
_LOG_WAIT_MS = const(5000)  # longest a write waits for confirmations (_backlogged)
_MAX_EXTENTS = const(16)  # runs of consecutive writes followed while the bitmap records


class _Unlisted:
    """listed_max 0: no list of an outage's writes, and listed.py never imported (a board
    short of RAM, rp2040, does without its code): every dirty region is compared."""
    ok = False
    n = 0

    def add(self, block, count):
        pass

    def spoil(self):
        pass

    def reset(self):
        pass


class Primary(Node):
    def __init__(self, cfg, card_blocks, emit, entropy):
        Node.__init__(self, cfg, card_blocks, emit, entropy)
        self.bitmap = DirtyBitmap(self.nblocks, cfg.region_blocks)
        self.bitmap.invalidate()  # at boot nothing is known: the first pairing scans all
        self.pending = DirtyBitmap(self.nblocks, self.bitmap.region_blocks)
        # extents: cfg.al_extent_blocks, never finer than the bitmap's regions
        self.actlog = actlog.ActivityLog(max(cfg.al_extent_blocks, self.bitmap.region_blocks),
                                         cfg.al_extents)
        self._admitted = []  # (first, last) extents admitted, their app_write still to come
        self._log_wait_from = -1  # since when a write waits for confirmations (_backlogged)
        self._writing = []  # (block, n) admitted, not yet told of by app_write (writing_to)
        # [first, count] block ranges of the extents a boot's log named, each compared by a
        # scan of its hash tree (a coherent extent costs a root, not a digest per region);
        # their regions stay dirty in the bitmap until their scan starts
        self._log_ranges = []
        self._await_unconf = False  # the secondary's T_UNCONF is due: no sync before it
        self._span = self._region_span()
        self._extents = []  # [start, end) runs of consecutive writes recorded in the bitmap
        if cfg.listed_max:
            from mirror.listed import ListedWrites
            self.listed = ListedWrites(cfg.listed_max, self.bitmap.region_blocks)
        else:
            self.listed = _Unlisted()
        self._next_wid = 1
        self.acked_wid = 0
        self._inflight = []  # [wid, block, count, tag]: sent, not yet durable on the peer
        self._inflight_max = 2 * cfg.window
        # blocks read into the T_DATA frame being built: entry i is blocks [_ub[i], +_uc[i])
        # at _up[i] in _obuf; preallocated (one entry per block at most), so that pushing a
        # resync's scattered blocks allocates nothing per block
        fb = cfg.frame_blocks
        self._ub = array.array("I", bytes(4 * fb))
        self._uc = array.array("H", bytes(2 * fb))
        self._up = array.array("H", bytes(2 * fb))  # offsets < max_payload (< 2^16)
        self._un = 0
        self._rq = [0, 0]  # the (block, count) a push's read asks for: one list, reused
        self._one = [0, 1]  # a comparer's differing block as a run (_single_runs), reused
        self._stale = False  # an application write overtook them: read them again
        self._tag = 0
        self._epochs = {}  # tag -> {"kind", "first", "last", "issued", "done", "flat"}
        self._need_full = True
        self._flat = False  # a flat scan (scan_mode "flat") is under way
        self._syncing = False
        self._next_scan = None
        self._gen_count = 0
        self.counters.update({"writes_forwarded": 0, "writes_degraded": 0, "pull_ahead": 0,
                              "resyncs": 0, "degraded_acks": 0, "healed_reads": 0,
                              "healed_blocks": 0, "unreadable_both": 0, "degraded_refused": 0,
                              "lost_blocks": 0, "recovered_blocks": 0, "actlog_records": 0,
                              "card_failures": 0,
                              "detached_reads": 0, "detached_writes": 0, "copied_back": 0,
                              "unlogged_writes": 0, "log_scans": 0, "log_waits": 0})
        self.reads = PeerReads(self)  # blocks our card cannot read, from the secondary's
        # degraded=refuse: writes up to this token may not be on the secondary until a
        # resync has carried them (0: none)
        self._lost_upto = 0
        self._lost_from = 0
        self._lost_dead = False  # a block was declared lost while they waited
        self._never = (0, 0)  # tokens that will never be durable (their data was lost)
        # a card that has failed: a detach.Detached while the application is served from
        # the secondary; None while the card is in use
        self.detached = None
        self._card_fails = 0  # requests to the card that failed in a row

    # -- boot and pairing ------------------------------------------------------------
    def _meta_loaded(self, ok):
        m = self.meta
        if ok and m.role == 1 and m.flags & TOOK_OVER:
            self.took_over()  # first boot after `promote`
            self._event("promoted", m.gen.hex())
            m.flags &= ~TOOK_OVER
            self._write_meta()
            return
        if ok and m.role == 1:
            self._restore_actlog()
        if not ok:
            m.gen = self._new_gen()
            m.flags = 0
        elif m.role == 2:
            self._event("promoted", "this card was a secondary; it now leads")
            m.flags |= PEER_SYNCED  # its first write apart starts a new generation
        else:
            return
        m.role = 1
        self._write_meta()

    # -- activity log --------------------------------------------------------------------
    def _restore_actlog(self):
        """Boot: the log in the loaded metadata slot names the extents that may differ;
        their regions become the bitmap, so the first resync compares only them."""
        log = actlog.load_slots(self._meta_reads, self.meta.seq) if self.cfg.actlog else None
        if log is None:
            self.actlog.restore(0, None)
            self._event("actlog", "missing, damaged or full: full scan" if self.cfg.actlog
                        else "off (setting actlog=0): full scan")
            return
        eb, extents = log
        self.actlog.restore(eb, extents)
        bm = self.bitmap
        bm.clear_all()
        ranges = self._log_ranges = []
        for e in sorted(extents):
            b = e * eb
            if b < bm.nblocks:
                n = min(eb, bm.nblocks - b)
                bm.mark(b, n)
                if ranges and ranges[-1][0] + ranges[-1][1] == b:
                    ranges[-1][1] += n  # consecutive extents: one scan
                else:
                    ranges.append([b, n])
        if ranges:
            self.listed.spoil()  # which of their blocks were written is not known
        self._need_full = False
        self._event("actlog", "%d extents to compare (%d regions)" % (len(extents),
                                                                     bm.count()))

    def admit(self, block, n, now):
        """May the application write blocks [block, block + n) to its card now? True once
        their regions are in the activity log on the card; False while the log is being
        written (pump the node, ask again). Call it before every local write."""
        self.now = now
        if not self.ready:
            return False  # the log on the card is not known yet
        if not self.cfg.actlog or self.detached is not None:
            self._will_write(block, n)
            return True  # no log kept (a power loss: a full scan), or no card to write
        al = self.actlog
        if al.admit(block, n):
            self._log_wait_from = -1
            self._will_write(block, n)
            adm = self._admitted
            if len(adm) >= 8:
                adm.pop(0)  # an application that gave up on a write: forget it
            adm.append((al.extent_of(block), al.extent_of(block + n - 1)))
            return True
        if not self._backlogged():
            self._log_write()
        return False

    def _will_write(self, block, n):
        """An admitted write: it may reach our card before app_write() tells of it (a
        runtime whose card requests overlap), so a heal must not put the secondary's copy
        over those blocks meanwhile (writing_to; seed 250034607)."""
        w = self._writing
        if len(w) >= 8:
            w.pop(0)  # an application that gave up on a write
        w.append((block, n))

    def _told(self, block, n):
        """app_write() took this piece of an admitted write: the log records it now."""
        w = self._writing
        for i in range(len(w)):
            if w[i][0] <= block and block + n == w[i][0] + w[i][1]:
                w.pop(i)  # its last piece
                return

    def writing_to(self, block):
        """Is an admitted write to `block` not yet told of by app_write()?"""
        for b, n in self._writing:
            if b <= block < b + n:
                return True
        return False

    def _backlogged(self):
        """Back-pressure, as DRBD's activity log blocks a write when its extents are used
        up: while paired, a write into an extent the log lacks waits while al_backlog
        extents already hold writes the secondary has not confirmed (a writer faster than
        the link, in async mode), so that a power loss costs comparing those, not a full
        scan. At most _LOG_WAIT_MS: then the write goes on and the log grows (FULL past
        actlog.CAPACITY). Unpaired, writes never wait: the log records the outage."""
        lim = self.cfg.al_backlog
        if not lim or not self.paired or self.actlog.writing:
            return False
        unc = self._unconfirmed()
        if unc is None or not self.actlog.exceeds(unc, lim):
            self._log_wait_from = -1
            return False
        if self._log_wait_from < 0:
            self._log_wait_from = self.now
            self.counters["log_waits"] += 1
        return self.now - self._log_wait_from < _LOG_WAIT_MS

    def _log_write(self):
        al = self.actlog
        if not self.cfg.actlog or not al.needs_write() or not self.ready or \
                self._metas != self._metas_done:
            return
        al.begin_record(self._unconfirmed())
        self.counters["actlog_records"] += 1
        self._write_meta()

    def _unconfirmed(self):
        """Every extent that may hold a write the secondary has not confirmed (an
        iterable, repeats allowed), or None when that is not known (bitmap lost: a full
        scan is due)."""
        bm = self.bitmap
        if not bm.valid or self._need_full or self._flat:
            return None
        return self._unconfirmed_extents()

    def _unconfirmed_extents(self):
        bm = self.bitmap
        eb = self.actlog.extent_blocks
        per = eb // bm.region_blocks  # regions per extent (both powers of two)
        for m in (bm, self.pending):
            r = m.next_dirty(0)
            while r >= 0:
                e = r // per
                yield e
                r = m.next_dirty((e + 1) * per)  # the extent's other regions add nothing
        for w in self._inflight:
            if w[2]:
                for e in range(w[1] // eb, (w[1] + w[2] - 1) // eb + 1):
                    yield e
        for first, last in self._admitted:
            for e in range(first, last + 1):
                yield e

    def _pack_meta_extra(self, buf):
        self.actlog.pack_into(buf, self.meta.seq)

    def _meta_written(self, ok):
        # completions come in order: the last metadata write issued carries the record
        if self._metas == self._metas_done:
            self.actlog.landed(ok)
            if ok:
                self._log_write()  # regions asked for meanwhile

    def _new_gen(self):
        import hashlib
        self._gen_count += 1
        h = hashlib.sha256(self.entropy)
        h.update(struct.pack("<I", self._gen_count))
        return h.digest()[:8]

    def _coherent(self):
        return self.paired and not self._syncing and not self._need_full

    def _info_flags(self):
        return INFO_BITMAP if self.bitmap.valid else 0

    def took_over(self):
        """First boot after `promote` (roles.py): the card is the whole truth as of now, so
        the bitmap is valid and clean; writes from this moment mark it."""
        self.bitmap.clear_all()
        self.listed.reset()
        self._need_full = False

    def can_fetch(self, block, n):
        """Does the secondary hold the newest acknowledged contents of these blocks? Paired,
        no full scan owed, their regions neither dirty nor being resynced."""
        if not self.paired or self._need_full or self._flat or not self.bitmap.valid:
            return False
        bm = self.bitmap
        rb = bm.region_blocks
        for r in range(block // rb, (block + n - 1) // rb + 1):
            if bm.is_dirty(r) or self.pending.is_dirty(r):
                return False
        return True

    @property
    def lost(self):
        """Blocks whose newest data our card lost (heal.py): reads fail until written.
        Kept in the card's metadata, so a reset does not forget them."""
        return self.meta.lost

    def declare_lost(self, block):
        """Our card cannot read `block` and no other copy is known to be current (heal.py):
        reads of it fail until it is written or reads again. More than LOST_MAX such
        blocks: the card is failing, and is detached (detach.py)."""
        if block in self.lost:
            return
        if len(self.lost) >= LOST_MAX:
            self.detach("more than %d blocks unreadable" % LOST_MAX)
            return
        self.lost.append(block)
        self._write_meta()
        if self._lost_upto:
            self._lost_dead = True
        self.counters["lost_blocks"] += 1
        self._event("lost", block)

    def recovered(self, block):
        """A lost block reads again (heal.py), its region admitted to the activity log:
        our card's copy is its newest data once more. Its region goes dirty, so the resync
        copies it over the zeros the secondary was given."""
        self.lost.remove(block)
        self._write_meta()
        self._forwarded(block, 1)  # the admission is used up
        self.bitmap.mark(block, 1)
        self._note_extent(block, 1)
        self.counters["recovered_blocks"] += 1
        self._event("recovered", block)

    def is_lost(self, block, n):
        for b in self.lost:
            if block <= b < block + n:
                return True
        return False

    def _bg_read_failed(self, block, count):
        self._event("unreadable", [block, count])
        self.reads.unreadable(block, count)

    def _flush_control(self):
        self.reads.flush()
        if self.detached is None:
            self.reads.step()
        else:
            self.detached.step()

    # -- a card that has failed (detach.py) ----------------------------------------------
    def io_done(self, ok, now):
        kind, owner, what = self._io[0]
        Node.io_done(self, ok, now)
        if kind != IO_OWNED or owner is not self.reads or what != RECHECK:
            self.card_result(ok)  # (a lost block that still fails tells nothing new)

    def card_result(self, ok):
        """A request to our card (ours or the application's) completed or failed: after
        cfg.card_errors failures in a row the card is taken out of use (detach())."""
        if ok:
            self._card_fails = 0
            return
        self._card_fails += 1
        lim = self.cfg.card_errors
        if lim and self._card_fails >= lim and self.detached is None and self.ready:
            self.detach("%d card requests failed in a row" % self._card_fails)

    def detach(self, why):
        """Stop using our card; serve the application from the secondary (detach.py)."""
        if self.detached is not None:
            return
        from mirror.detach import Detached  # rare: not resident in RAM until needed
        if self.paired and (self._epochs or self._job is not None or self._jobs):
            # a known state first: work under way read our card (its buffers may hold
            # nothing valid); unconfirmed resync work goes back to the bitmap
            self.session.restart(self.now, "card failed")
        self._drop_jobs()
        self.reads.drop_heals()  # nothing to rewrite a heal onto
        self.detached = Detached(self, why)
        self.counters["card_failures"] += 1
        self._event("card_failed", why)
        if self.ready:
            self._new_history()

    def _new_history(self):
        """Detached: from now on the secondary's card holds a history our card lacks. A new
        generation (parent: the one our card records), announced to the secondary (T_SYNCED,
        detach.py), so that our card, should the board reset and find it working, is
        refused as older ("the secondary holds newer data") instead of being copied over
        the writes made meanwhile."""
        m = self.meta
        self.detached.card_gen = m.gen
        if not m.flags & PEER_SYNCED:
            # the secondary is behind this generation (a resync was owed): it holds no
            # complete copy to write onto, and a generation after ours would not follow
            # from its own (refused as diverged). Writes fail, as DRBD's do with a
            # diskless primary whose peer is not UpToDate; reads it holds are served.
            self.detached.unserved = True
            return
        m.parent = m.gen
        m.gen = self._new_gen()
        m.flags &= ~PEER_SYNCED
        self._event("generation", m.gen.hex())

    def _meta_unreadable(self):
        """Boot, the card answers nothing: with card_errors set, start detached (served
        from the secondary once it is known to hold a complete copy: _adopt)."""
        if not self.cfg.card_errors:
            Node._meta_unreadable(self)
            return
        self.meta.role = 1
        self.detach("the card failed at boot (its metadata blocks cannot be read)")
        self.ready = True  # (after detach: the history is taken from the secondary, _adopt)
        self.detached.boot = True
        self.detached.boot_card = True
        if getattr(self, "_transport", False):
            self.session.open(self.now)

    def _adopt(self):
        """Detached since boot, our record unknown: take the secondary's history when it
        holds a complete copy of it (what DRBD's diskless primary does with an UpToDate
        peer); a problem (one line) when it does not."""
        peer = self.peer
        if not peer["flags"] & INFO_CONSISTENT:
            return "this primary's card failed at boot and the secondary holds no complete " \
                   "copy to serve from: repair or replace the card"
        m = self.meta
        m.gen = peer["gen"]
        m.parent = peer["parent"]
        m.flags = PEER_SYNCED
        self.bitmap.clear_all()  # the secondary is the whole truth as of now
        self._need_full = False
        self.detached.boot = False
        self._event("adopted", m.gen.hex())
        self._new_history()
        return None

    def attach(self, card_blocks, now):
        """The runtime re-initialised a card (console `attach`): copy what it lacks from
        the secondary, then use it again. A one-line problem, or None."""
        self.now = now
        if self.detached is None:
            return "the card is in use (not detached): nothing to attach"
        problem = self.detached.attach(card_blocks)
        self._flush_control()
        return problem

    def _attached(self):
        """The copy onto the returned card is complete: it is in use again."""
        d = self.detached
        self.detached = None
        self._card_fails = 0
        self.counters["copied_back"] += d.copied
        self._write_meta()  # its record: this generation, and what changed meanwhile
        self._event("card_back", "%d blocks copied from the secondary (%s)" % (
            d.copied, "another card: every block" if d.full else "the same card"))

    def _write_meta(self):
        if self.detached is not None:
            return  # no card to write it on: written when a card is back (_attached)
        Node._write_meta(self)

    def never(self, token):
        """This write will never be confirmed (its data reached no card for certain)."""
        return self._never[0] < token <= self._never[1]

    def _paired_check(self):
        problem = self._pair_problem()
        peer = self.peer
        if problem is None and self.detached is not None and self.detached.boot:
            problem = self._adopt()
        if problem is None and peer["nblocks"] < self.nblocks:
            problem = "secondary card too small: %d blocks, need %d" % (peer["nblocks"],
                                                                       self.nblocks)
        rel = relation(self.meta.gen, self.meta.parent, peer["gen"], peer["parent"])
        if problem is None and rel == "newer":
            self.split = True
            problem = "the secondary holds newer data (it was written as a primary); " \
                      "refusing to copy older data over it: " + SETTLE_HINT
        if problem is None and rel == "diverged":
            self.split = True
            problem = "histories diverged: both cards were written while apart: " + \
                SETTLE_HINT
        if problem is not None:
            self._refuse(problem)
            self._send_now(P.T_REFUSE, problem.encode())
            return
        self._send_now(P.T_START, self.meta.gen + self.meta.parent)
        self.split = False
        self.paired = True
        self.refusal = None
        self._syncing = True
        self.counters["resyncs"] += 1
        trusted = rel in ("same", "behind") and peer["flags"] & INFO_CONSISTENT
        if not self.bitmap.check() or not trusted:
            self.bitmap.invalidate()
            self._need_full = True
        # a demoted old primary sends its record of unconfirmed writes (roles.py) first
        self._await_unconf = bool(peer["flags"] & INFO_UNCONF)
        self._event("paired", "full scan" if self._need_full else
                    "bitmap: %d dirty regions" % self.bitmap.count())
        if self.detached is not None:
            self.detached.announced = False  # tell this session our generation
        self.reads.step()

    def on_lost(self, reason):
        bm = self.bitmap
        det = self.detached
        for w in self._inflight:
            if det is None or w[0] < det.first_wid:
                bm.mark(w[1], w[2])  # on our card (before the detach), maybe not on the peer
                self.listed.add(w[1], w[2])  # a write's blocks (a resync frame's: none)
        waiting = len(self._inflight)
        self._inflight = []
        self._un = 0
        self._stale = False
        self.reads.lost()
        if det is not None:
            # writes made while detached are on no card of ours: the ones the secondary
            # has not confirmed fail (the application is told), none is acknowledged
            if self._next_wid - 1 > self.acked_wid:
                self._never = (self.acked_wid, self._next_wid - 1)
        elif self.cfg.degraded == "refuse":
            # they are on our card and in the bitmap, not on the secondary: durable only
            # once the resync after reconnecting has carried them
            self._lose_from_here(self._next_wid - 1)
        else:
            # Writes still waiting for the secondary complete now, in degraded mode: they
            # are on our card and in the bitmap, and the resync will carry them (as DRBD's
            # protocol C does once the peer is declared gone).
            self.counters["degraded_acks"] += waiting
            self.acked_wid = self._next_wid - 1
        r = self.pending.next_dirty(0)
        while r >= 0:
            bm.mark(r * bm.region_blocks)
            self.pending.clear(r)
            r = self.pending.next_dirty(r + 1)
        for ep in self._epochs.values():
            if ep["kind"] == "full":
                bm.invalidate()  # an unfinished recovery scan: still nothing known
                self._need_full = True
            elif "range" in ep:
                self._log_ranges.insert(0, ep["range"])  # its regions are dirty again
        self._epochs = {}
        Node.on_lost(self, reason)

    # -- application writes ----------------------------------------------------------
    def app_write(self, block, data, now):
        """The application wrote `data` at `block` on the local card (already done).

        Returns a token: the write is durable on the secondary once durable(token).
        -1 means "not accepted now" (sync mode, link congested): pump the link, retry.
        While unpaired the write is only recorded in the bitmap, and durable at once."""
        self.now = now
        self.fg_time = now
        n = len(data) // 512
        if n < 1 or len(data) % 512 or block < 0 or block + n > self.nblocks:
            raise ValueError("write of %d bytes at block %d is outside the volume" %
                             (len(data), block))
        det = self.detached
        if det is not None:
            if det.unserved or not self.can_fetch(block, n):
                # no secondary, or one that does not hold the newest data of these blocks
                # (their regions' unconfirmed writes are on our failed card alone): a write
                # here would reach no card, or be copied back over those writes
                raise OSError(5)
            det.wrote(block, n)  # our card lacks it: copied back when a card returns
        if self.lost:
            lost = self.lost
            found = False
            for b in range(block, block + n):
                if b in lost:
                    lost.remove(b)  # written again: its data is known once more
                    found = True
            if found:
                self._write_meta()
        if det is None:
            self._forwarded(block, n)
        fb = self.cfg.frame_blocks
        frames = (n + fb - 1) // fb
        if not self.paired:
            self._told(block, n)  # (a heal needs the pair: none runs meanwhile)
            self._degraded(block, n)
            if self.cfg.degraded == "refuse":
                self._next_wid += 1  # a token no frame carries: see durable()
                self._lose_from_here(self._next_wid - 1)
                return self._lost_upto
            return self.acked_wid
        s = self.session
        if s.window - s.in_flight() < frames or len(self._inflight) + frames > self._inflight_max:
            if self.cfg.mode == "sync" or det is not None:
                return -1
            self.bitmap.mark(block, n)  # pull ahead: the resync catches up later
            self._note_extent(block, n)
            self.counters["pull_ahead"] += 1
            self._told(block, n)
            self.log.add(block, n)
            return self.acked_wid
        self._told(block, n)
        self.log.add(block, n)
        ub, uc = self._ub, self._uc
        for i in range(self._un):
            if ub[i] < block + n and block < ub[i] + uc[i]:
                # A resync frame read these blocks before this write and would go out after
                # it, putting the older data back on the secondary: refresh it first.
                self._stale = True
                break
        for f in range(frames):
            b = block + f * fb
            c = min(fb, n - f * fb)
            buf = s.begin()
            wid = self._next_wid
            self._next_wid += 1
            struct.pack_into("<II", buf, 0, wid, b)
            buf[_W_HDR:_W_HDR + c * 512] = data[f * fb * 512:(f * fb + c) * 512]
            s.commit(P.T_WRITE, _W_HDR + c * 512, now)
            self._inflight.append([wid, b, c, -1])
        self.counters["writes_forwarded"] += 1
        return self._next_wid - 1

    def _forwarded(self, block, n):
        """The write's admission (admit()) is used up; a write never admitted may have
        reached the card in an extent the log does not name: only FULL is safe then."""
        al = self.actlog
        if self.detached is not None:
            return  # the write went to the secondary only: nothing for our card's log
        first = al.extent_of(block)
        last = al.extent_of(block + n - 1)
        adm = self._admitted
        for i in range(len(adm)):
            if adm[i][0] <= first and last <= adm[i][1]:
                adm.pop(i)
                return
        if not self.actlog.dur_full or self.actlog.writing:
            self.counters["unlogged_writes"] += 1
            self.actlog.want_full()
            self._log_write()

    def last_token(self):
        """The token of the most recent forwarded write."""
        return self._next_wid - 1

    def durable(self, token):
        """The write is on the secondary's card, or (degraded) the secondary is gone and
        the write is recorded in the bitmap (degraded=continue)."""
        if self._lost_from < token <= self._lost_upto or \
                self._never[0] < token <= self._never[1]:
            return False  # degraded=refuse: not on the secondary until a resync carries it
        return token <= self.acked_wid

    def rebase(self, d):
        Node.rebase(self, d)
        if self._next_scan is not None:
            self._next_scan = max(self._next_scan - d, 0)
        self.reads.rebase(d)
        if self._log_wait_from >= 0:
            self._log_wait_from = max(self._log_wait_from - d, 0)

    def _lose_from_here(self, upto):
        if not self._lost_upto:
            self._lost_from = self.acked_wid
        self._lost_upto = upto

    def promise(self):
        """What a completed write promises (status): async (on this card), sync with
        degraded=continue (on both cards, or this one alone while the secondary is
        unreachable), or sync with degraded=refuse (on both, or the write fails)."""
        cfg = self.cfg
        if cfg.mode != "sync":
            return "async"
        if cfg.degraded == "refuse":
            return "sync, degraded=refuse (%d ms)" % cfg.degraded_ms
        return "sync, degraded=continue"

    def request_scan(self):
        """Start a full scan as soon as the pair is idle (console `scan`)."""
        self._next_scan = self.now

    def _degraded(self, block, n):
        self.bitmap.mark(block, n)
        self._note_extent(block, n)
        self.log.add(block, n)
        self.counters["writes_degraded"] += 1
        m = self.meta
        if m.flags & PEER_SYNCED:
            m.parent = m.gen
            m.gen = self._new_gen()
            m.flags &= ~PEER_SYNCED
            self._write_meta()
            self._event("generation", m.gen.hex())

    # -- messages ------------------------------------------------------------------------
    def _on_role_message(self, ftype, p):
        if ftype == P.T_WACK:
            wid = struct.unpack_from("<I", p, 0)[0]
            if wid >= self._next_wid:
                self._bad_message("confirmation of write %d, never sent" % wid)
                return
            self._on_wack(wid)
        elif ftype == P.T_BREQ:
            if self.paired:
                ep = self._epochs.get(p[0])
                if ep is not None and ep["flat"]:
                    # a flat scan runs as bitmap epochs, which the secondary cannot tell
                    # from a resync's: the blocks it asks for are the scan's mismatches
                    for pos in range(1, len(p) - P.ENTRY + 1, P.ENTRY):
                        b, c = struct.unpack_from("<IH", p, pos)
                        for i in range(c):
                            self._mismatch(b + i)
                self._enqueue(self._job_serve_blocks(bytes(p)))
        elif ftype == P.T_SYNCED:
            m = self.meta
            if self.paired and bytes(p[:8]) == m.gen and not m.flags & PEER_SYNCED:
                m.flags |= PEER_SYNCED  # its first write apart starts a new generation
                self._write_meta()
                self._event("peer_synced", m.gen.hex())
        elif ftype == P.T_RDATA:
            self.reads.on_reply(p)
        elif ftype == P.T_UNCONF:
            self._on_unconf(p)
        elif ftype == P.T_DONE:
            ep = self._epochs.get(p[0])
            if ep is not None:
                ep["done"] = True
                self._epoch_check(p[0])

    def _on_unconf(self, p):
        """The secondary, a demoted old primary, may hold writes of its own in these
        blocks (its activity log): they are resynced as our own dirty regions are."""
        if not self.paired:
            return
        for i in range(0, len(p), 8):
            start, count = struct.unpack_from("<II", p, i)
            if count < 1 or start + count > self.vblocks:
                self._bad_message("unconfirmed blocks %d+%d outside the volume" %
                                  (start, count))
                return
        for i in range(0, len(p), 8):
            start, count = struct.unpack_from("<II", p, i)
            self.bitmap.mark(start, count)
        if len(p):
            self.listed.spoil()  # where in them its card differs is not known: compare
        self._await_unconf = False
        self._event("peer_unconfirmed", "%d ranges to compare" % (len(p) // 8))

    def _on_wack(self, wid):
        if wid <= self.acked_wid:
            return
        self.acked_wid = wid
        infl = self._inflight
        while infl and infl[0][0] <= wid:
            w = infl.pop(0)
            if w[3] >= 0:
                self._work_sub(w[3], 1)

    def _room(self):
        return self.session.can_send() and len(self._inflight) < self._inflight_max

    def can_accept(self):
        """Would app_write() take a write now (in sync mode it refuses while congested)?"""
        return not self.paired or self._room()

    # -- copying blocks to the secondary -------------------------------------------------
    def _push(self, tag, flags, runs):
        """Job helper: send the blocks of `runs` ((block, count) pairs) in T_DATA frames.
        Pushes of our own (not answers to T_BREQ) count as work of epoch `tag`. Nothing is
        allocated per block: the read request is one list, the entries preallocated arrays,
        the copy's source a kept view (Node._rview) for one block."""
        o = self._obuf
        fb = self.cfg.frame_blocks
        counted = not flags & P.F_REPLY
        rq = self._rq
        self._un = 0  # a frame of its own (a dropped job's entries are no longer unsent)
        pos = P.DATA_HDR
        nblk = 0
        for block, count in runs:
            b = block
            end = min(block + count, self.nblocks)
            while b < end:
                if nblk == fb:
                    yield from self._send_data(tag, flags, pos, nblk, counted)
                    pos = P.DATA_HDR
                    nblk = 0
                c = min(end - b, fb - nblk, self._bg_chunk())
                i = self._un
                self._ub[i] = b
                self._uc[i] = c
                self._up[i] = pos + P.ENTRY
                self._un = i + 1
                rq[0] = b
                rq[1] = c
                yield rq
                struct.pack_into("<IH", o, pos, b, c)
                pos += P.ENTRY
                o[pos:pos + c * 512] = self._rview(c)
                pos += c * 512
                nblk += c
                b += c
        if nblk:
            yield from self._send_data(tag, flags, pos, nblk, counted)

    def _send_data(self, tag, flags, n, nblk, counted):
        rq = self._rq
        while True:
            while not self._room():
                yield None
            if not self._stale:
                break
            self._stale = False
            for i in range(self._un):
                c = self._uc[i]
                rq[0] = self._ub[i]
                rq[1] = c
                yield rq
                pos = self._up[i]
                self._obuf[pos:pos + c * 512] = self._rview(c)
        wid = self._next_wid
        self._next_wid += 1
        struct.pack_into("<BBI", self._obuf, 0, tag, flags, wid)
        self.session.send(P.T_DATA, memoryview(self._obuf)[:n], self.now)
        self._un = 0
        self.counters["blocks_copied"] += nblk
        if counted:
            self._work_add(tag, 1)
            self._inflight.append([wid, 0, 0, tag])
        else:
            self._inflight.append([wid, 0, 0, -1])

    def _job_serve_blocks(self, req):
        self._job_tag = req[0]
        runs = []
        pos = 1
        while pos + P.ENTRY <= len(req):
            runs.append(struct.unpack_from("<IH", req, pos))
            pos += P.ENTRY
        yield from self._push(req[0], P.F_REPLY, runs)

    def _repair(self, tag, leaves):
        """As comparer: push the differing blocks."""
        yield from self._push(tag, 0, self._single_runs(leaves))

    def _single_runs(self, leaves):
        """Each block as a run of one, as the same list (_push unpacks it at once): no tuple
        per block."""
        out = self._one
        for b in leaves:
            out[0] = b
            yield out

    # -- driving resync and scans ----------------------------------------------------
    def _has_work(self):
        return bool(self._epochs) or self._need_full or self._syncing or \
            self.bitmap.count() > 0 or bool(self.reads.queue)

    def next_deadline(self):
        t = Node.next_deadline(self)
        if self._next_scan is not None and self.paired:
            t = self._next_scan if t is None else min(t, self._next_scan)
        h = self.reads.deadline()
        if h is not None:
            t = h if t is None else min(t, h)
        if self._log_wait_from >= 0 and self._log_wait_from + _LOG_WAIT_MS > self.now:
            h = self._log_wait_from + _LOG_WAIT_MS  # a waiting write's wait ends
            t = h if t is None else min(t, h)
        return t

    def _next_work(self):
        if not self.paired or self.reads.queue or self.detached is not None or \
                self._await_unconf:
            return None  # heals first: a job would only fail on those blocks again
        open_epochs = len(self._epochs)
        periodic_due = (self._next_scan is not None and self.now >= self._next_scan
                        and not self._syncing and self.bitmap.count() == 0)
        if self._need_full or periodic_due:
            if open_epochs:
                return None
            if self.cfg.scan_mode == "flat":
                # the claims' literal method: every block's checksum crosses the link (the
                # baseline the hash tree is measured against); the bitmap carries the work
                self.bitmap.mark_all()
                self.listed.spoil()
                self._need_full = False
                self._flat = True
                self._next_scan = None  # taken: the next is scheduled when this one ends
                self.counters["scans"] += 1
            else:
                return self._job_full_scan(not self._need_full)
        if self._log_ranges:
            # scanned one at a time, before the bitmap epochs would take their regions
            return None if open_epochs else self._job_log_range()
        if self.bitmap.count():
            if open_epochs >= self.cfg.max_epochs:
                return None
            return self._job_bitmap_epoch()
        if not open_epochs:
            if (self.listed.n or not self.listed.ok) and not self.pending.count():
                self.listed.reset()  # nothing dirty is left for it to describe
            if self._flat:
                self._flat = False
                self._schedule_scan()
            if self._syncing:
                self._finish_sync()
        return None

    def _finish_sync(self):
        if not self._send_now(P.T_SYNCED, self.meta.gen):
            return
        self._syncing = False  # PEER_SYNCED waits for the secondary's confirmation
        if self._lost_upto:
            if self._lost_dead:
                # a block was declared lost meanwhile: some of these writes are on no card,
                # so none of them is ever confirmed (the application is told they failed)
                self._never = (self._lost_from, self._lost_upto)
            else:
                # every write the secondary missed is on its card now (the resync's epochs
                # are confirmed): degraded=refuse tokens from before it are durable
                self.acked_wid = max(self.acked_wid, self._lost_upto)
            self._lost_upto = 0
            self._lost_from = 0
            self._lost_dead = False
        self._extents = []  # nothing dirty is left that they could describe
        if self.actlog.dur_full:
            self.actlog.refresh()  # coherent again: a log that names regions replaces FULL
            self._log_write()
        self._event("synced", self.meta.gen.hex())
        self._schedule_scan()

    def _schedule_scan(self):
        period = self.cfg.scan_period_ms
        self._next_scan = self.now + period if period else None

    def _new_epoch(self, kind):
        tag = self._tag
        while tag in self._epochs:
            tag = (tag + 1) & 0xFF
        self._tag = (tag + 1) & 0xFF
        self._work[tag] = 0
        self._epochs[tag] = {"kind": kind, "first": -1, "last": -1, "issued": False,
                             "done": False, "flat": self._flat}
        return tag

    def _close_epoch(self, tag):
        ep = self._epochs[tag]
        ep["issued"] = True
        self._obuf[0] = tag
        yield from self._send(P.T_BARRIER, 1)
        self._epoch_check(tag)

    def _epoch_check(self, tag):
        ep = self._epochs.get(tag)
        if ep is None or not ep["issued"] or not ep["done"] or self._work.get(tag, 0) > 0:
            return
        del self._epochs[tag]
        self._work.pop(tag, None)
        self._close_scan(tag)
        if ep["kind"] == "bitmap":
            for r in range(ep["first"], ep["last"] + 1):
                if not self._in_open_epoch(r):
                    self.pending.clear(r)
        else:
            if ep["kind"] == "full":
                self._need_full = False
            self._event("scan_done", ep["kind"])
            self._schedule_scan()

    def _is_scan(self, tag):
        ep = self._epochs.get(tag)
        return Node._is_scan(self, tag) or (ep is not None and ep["flat"])

    def _scan_job(self, tag):
        # and the epochs of a flat scan (bitmap epochs over every region)
        ep = self._epochs.get(tag)
        return Node._scan_job(self, tag) or (ep is not None and ep["flat"])

    def _in_open_epoch(self, r):
        """A bitmap epoch still open spans region r: it may have taken r again (written
        once more meanwhile), so r stays pending until that epoch is confirmed too."""
        eps = self._epochs
        for t in eps:  # not .values(): a view and its iterator are made on each call
            e = eps[t]
            if e["kind"] == "bitmap" and e["first"] <= r <= e["last"]:
                return True
        return False

    def _job_full_scan(self, periodic):
        tag = self._new_epoch("periodic" if periodic else "full")
        if not periodic:
            self.bitmap.clear_all()  # valid from now on: it records writes during the scan
            self._extents = []
            self._log_ranges = []  # the full scan compares them too
            self.listed.reset()
        gsize = span_for(self.nblocks, self._max_groups)
        self._begin_scan(tag, 0, self.nblocks, gsize)
        struct.pack_into("<BIII", self._obuf, 0, tag, 0, self.nblocks, gsize)
        yield from self._send(P.T_SCAN, 13)
        yield from self._job_pass()
        yield from self._close_epoch(tag)

    def _job_log_range(self):
        """Compare the extents of a boot's activity log, one run of them at a time, by a
        scan pass over their range (as the full scan does over the card): an epoch of kind
        bitmap over their regions, so a write meanwhile and a lost link work as for any
        dirty region."""
        rng = self._log_ranges.pop(0)
        first, count = rng
        tag = self._new_epoch("bitmap")
        ep = self._epochs[tag]
        ep["range"] = rng
        bm = self.bitmap
        ep["first"] = r0 = bm.region_of(first)
        ep["last"] = r1 = bm.region_of(first + count - 1)
        for r in range(r0, r1 + 1):
            bm.clear(r)
            self.pending.mark(r * bm.region_blocks)
        gsize = span_for(count, self._max_groups)
        self._begin_scan(tag, first, count, gsize)
        self.counters["log_scans"] += 1
        struct.pack_into("<BIII", self._obuf, 0, tag, first, count, gsize)
        yield from self._send(P.T_SCAN, 13)
        yield from self._job_pass()
        yield from self._close_epoch(tag)

    # -- what the bitmap cannot say: which dirty regions were written whole -------------
    def _note_extent(self, block, n):
        """A write recorded in the bitmap (link down, or pulled ahead): follow runs of
        consecutive writes, so that the regions a sequential writer covered completely are
        later sent whole (nothing to compare: every block was written), while a region
        holding one scattered write is compared. At most _MAX_EXTENTS runs are kept (the
        shortest goes): forgetting one costs a comparison, never a wrong copy."""
        self.listed.add(block, n)
        ext = self._extents
        for e in ext:
            if e[1] == block:
                e[1] = block + n
                return
        if len(ext) >= _MAX_EXTENTS:
            short = 0
            for i in range(1, len(ext)):
                if ext[i][1] - ext[i][0] < ext[short][1] - ext[short][0]:
                    short = i
            ext.pop(short)
        ext.append([block, block + n])

    def _covered(self, region):
        first, count = self.bitmap.region_range(region)
        for s, e in self._extents:
            if s <= first and first + count <= e:
                return True
        return False

    def _job_bitmap_epoch(self):
        """Take dirty regions (up to epoch_bytes of work) and resync them: regions written
        whole (or runs of whole_run dirty regions, when set) are sent, the others
        compared by descending their hash tree."""
        tag = self._job_tag = self._new_epoch("bitmap")
        ep = self._epochs[tag]
        if self.listed.ok and not self._flat:
            yield from self._push(tag, 0, self.listed.walk(self.bitmap, self.pending, ep,
                                                           self.cfg.epoch_bytes))
            if ep["first"] >= 0:
                yield from self._close_epoch(tag)
                return
            # a dirty region without listed blocks (never expected): compare from now on
            self.listed.spoil()
        bm = self.bitmap
        rb = bm.region_blocks
        cfg = self.cfg
        budget = cfg.epoch_bytes
        check = []  # regions to compare block by block
        r = bm.next_dirty(0)
        ep["first"] = r
        while r >= 0 and budget > 0:
            run = 1
            while r + run < bm.nregions and run < 64 and bm.is_dirty(r + run):
                run += 1
            for i in range(r, r + run):
                bm.clear(i)
                self.pending.mark(i * rb)
            ep["last"] = r + run - 1
            by_run = 0 < cfg.whole_run <= run
            i = r
            while i < r + run:
                whole = not self._flat and (by_run or self._covered(i))
                j = i + 1
                while j < r + run and whole == (not self._flat and (by_run or self._covered(j))):
                    j += 1
                first = bm.region_range(i)[0]
                lb, lc = bm.region_range(j - 1)
                if whole:
                    budget -= (lb + lc - first) * 512
                    if check:
                        yield from self._check_regions(tag, check)
                        check = []
                    yield from self._push(tag, 0, ((first, lb + lc - first),))
                else:
                    for k in range(i, j):
                        check.append(bm.region_range(k))
                        budget -= P.ENTRY + (rb + self._span - 1) // self._span * self.dsize
                i = j
            r = bm.next_dirty(r + run)
        if check:
            yield from self._check_regions(tag, check)
        yield from self._close_epoch(tag)

    def _region_span(self):
        """The span of the digests a dirty region's comparison starts from, by cost: the
        region is known to be written, so expect a changed block and price its descent
        (16 digests and a request per tree level) against the digests of the first level.
        Small regions (64 MiB cards: 4 blocks) send a digest per block; a 2,048-block
        region (32 GiB) sends 8 span digests and the comparer descends into the one that
        differs, as the full scan does."""
        rb = self.bitmap.region_blocks
        ds = self.dsize
        best = rb * ds
        span = 1
        s = FANOUT
        h = 1
        while s <= rb and s <= MAX_REGION_SPAN:
            cost = (rb // s) * ds + h * (FANOUT * ds + 2 * P.ENTRY)
            if cost < best:
                best = cost
                span = s
            s *= FANOUT
            h += 1
        return span

    def _check_regions(self, tag, regions):
        """Compare regions: send our digests of their spans (the secondary compares and
        descends into spans that differ, down to blocks) or ask for the secondary's (we
        compare)."""
        span = self._span
        if self.is_comparer:
            yield from self._request_children(tag, span, [(f, (c + span - 1) // span)
                                                          for f, c in regions])
            return
        o = self._obuf
        ds = self.dsize
        per = self._digests_per_frame()
        pos = P.SUMS_HDR
        for first, count in regions:
            # a region's digests may not fit one frame (large regions, small frames): cut
            # it into pieces that do; the frame buffer is never written past its end
            while count > 0:
                n = min((count + span - 1) // span, per)
                if pos + P.ENTRY + n * ds > len(o):
                    yield from self._send_sums(tag, pos, span)
                    pos = P.SUMS_HDR
                struct.pack_into("<IH", o, pos, first, n)
                pos += P.ENTRY
                if span == 1:
                    yield from self._block_digests(first, n, o, pos)
                else:
                    for i in range(n):
                        yield from self._span_digest(first + i * span, span, o, pos + i * ds)
                pos += n * ds
                first += n * span
                count -= n * span
        yield from self._send_sums(tag, pos, span)

    def _send_sums(self, tag, n, span):
        struct.pack_into("<BBI", self._obuf, 0, tag, 0, span)
        yield from self._send(P.T_SUMS, n)

    def status(self):
        s = Node.status(self)
        s.update({"dirty_regions": self.bitmap.count(), "bitmap_valid": self.bitmap.valid,
                  "region_blocks": self.bitmap.region_blocks, "syncing": self._syncing,
                  "acked_wid": self.acked_wid, "inflight": len(self._inflight),
                  "epochs": len(self._epochs), "promise": self.promise(),
                  "heal_queue": len(self.reads.queue), "lost": list(self.lost),
                  "card": "ok" if self.detached is None else self.detached.describe(),
                  "detached": self.detached is not None})
        return s
