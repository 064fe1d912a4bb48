# What both controllers share: the event/action interface, storage requests, background
# jobs, and the comparison protocol (scan passes, hash-tree descent, re-checks).
#
# Sans-IO contract (the runtime, simulator and tests all drive a node this way):
# - events in: start(), io_done(ok), transport_up(), transport_down(), receive(data),
#   tick(), idle(), and app_write() on the primary; every event takes `now` in ms;
# - actions out, through emit(kind, a, b), called synchronously:
#     A_READ  (block, buf): fill buf (len = blocks * 512) from the card, then io_done(ok)
#     A_WRITE (block, buf): write buf to the card (copy it now: it is reused), then io_done(ok)
#     A_EVENT (name, detail): something worth logging
#   Storage requests complete in the order they were issued (a card executes them in order).
#   emit must not call back into the node; completions come later as io_done() events.
# - link bytes out: tx_view() / tx_done(n).
# - idle() is spare time: background work (scans, resync) advances one storage request per
#   call, and the runtime calls it only when no foreground I/O is waiting. That is what makes
#   the scan low-priority (claims 7, 14).
#
# Comparison: the comparing side (cfg.comparer) receives the other side's digests (T_SUMS),
# computes its own for the same spans, and for each span that differs asks for the digests
# of its 16 children (T_SUMREQ), down to single blocks; a block that differs is copied from
# the primary (requested with T_BREQ, or pushed by a primary comparer). Work is grouped in
# epochs so the primary learns when a batch is finished on both sides (T_BARRIER, T_DONE).
import struct
from micropython import const

from mirror import checksum
from mirror import proto as P
from mirror import meta as metadata
from mirror import msgcheck
from mirror.meta import Meta
from mirror.sched import ScanPace
from mirror.session import Session, UP
from mirror.tree import FANOUT, MAX_REGION_SPAN, SpanHasher, span_for
from mirror.writelog import WriteLog

A_READ = const(1)
A_WRITE = const(2)
A_EVENT = const(4)

META_BLOCKS = const(2)  # the last two blocks of the card hold the metadata (meta.py)

_IO_JOB = const(0)
IO_WRITE = const(1)
_IO_META = const(2)
_IO_META_READ = const(3)
IO_OWNED = const(4)  # (IO_OWNED, owner, what): owner.io_done(ok, what) (heal.py)
_FG_RECENT_MS = const(1000)  # foreground seen this recently: background reads shrink
_META_TRIES = const(4)  # extra reads of the metadata block when one fails at boot
_ZEROS = bytes(512)  # what scans and copies see of a block our card lost (_read_around_lost)

_J_RUN = const(0)
_J_IO = const(1)
_J_SEND = const(2)
_J_PACE = const(3)  # a periodic scan's read waits for its turn (ScanPace)

ROLE_CODE = {"primary": 1, "secondary": 2}
_INFO = "<BBIB8s8sB"  # role, comparer, nblocks, flags, gen, parent, alg name length
_INFO2 = "<HI"  # after the alg name: frame_blocks, cache_bytes (settings both must suit)
INFO_BITMAP = const(1)
INFO_CONSISTENT = const(2)
INFO_UNCONF = const(4)  # secondary: a T_UNCONF follows T_START (a demoted old primary)


def _digest_eq(a, aoff, b, boff, n):
    for i in range(n):
        if a[aoff + i] != b[boff + i]:
            return False
    return True


class Node:
    def __init__(self, cfg, card_blocks, emit, entropy):
        self.cfg = cfg
        self.role = cfg.role
        self.emit = emit
        self.entropy = bytes(entropy)
        self.nblocks = card_blocks - META_BLOCKS
        if self.nblocks < 1:
            raise ValueError("card of %d blocks is too small" % card_blocks)
        # blocks both sides compare: the mirrored volume, which ends with the primary's
        # card when the secondary's is larger
        self.vblocks = self.nblocks
        self.engine = checksum.get(cfg.alg)
        self.dsize = self.engine.size
        self.is_comparer = cfg.comparer == cfg.role
        self.session = Session(cfg, self, self.entropy)
        self.now = 0
        self.ready = False
        self.paired = False
        self.meta = Meta()
        self.log = WriteLog()
        self.peer = None
        self.split = False  # refused over generations: an operator must settle it (roles.py)
        self.refusal = None
        # storage requests in flight, oldest first: (kind, a, b)
        self._io = []
        self._rbuf = bytearray(cfg.chunk_blocks * 512)
        self._rmv = memoryview(self._rbuf)
        self._chunk = cfg.chunk_blocks
        self.fg_time = None  # last foreground write (application, or mirrored from it)
        self._rchunk = self._rmv[:cfg.chunk_blocks * 512]  # the usual read: no slice each time
        self._rone = self._rmv[:512]  # a one-block read (a scan beside a writer, a resync's
        # scattered blocks): a slice each time would allocate a view per block
        self._meta_buf = bytearray(512)
        self._meta_buf2 = bytearray(512)  # the second slot, read at boot
        self._meta_reads = []  # (ok, buffer) of each slot, as the boot reads complete
        self._meta_retry = False  # a metadata write failed: write the record again
        self._meta_tries = 0
        self._metas = 0  # metadata writes issued, and completed
        self._metas_done = 0
        # One metadata write at a time, and after a failed one the next goes to the same
        # slot: the other holds the newest record, and writing over it while that slot
        # holds nothing valid would let one torn write leave no record at all (the card
        # read as blank: a new history; sim seed 122295230, write errors on both slots, then
        # a power cut during the log's next record)
        self._meta_bad = -1  # the slot whose last write failed
        self._meta_again = False  # a write was asked for while one was in flight
        # background jobs (generators); one runs at a time
        self._jobs = []
        self._job = None
        self._jstate = _J_RUN
        self._jval = None
        self._job_gen = 0
        self._job_io = (_IO_JOB, 0, 0)  # the record of a job's read in the storage queue
        self._job_req = (0, 0)  # (block, count) of the job's read in flight
        self._sub = 0  # the next block of a read around lost blocks (_read_around_lost)
        self.pace = ScanPace(cfg.scan_rate)
        self._job_tag = -1  # the epoch the running job works for, if it says (_paced)
        self._obuf = bytearray(cfg.max_payload)
        self._dig = bytearray(cfg.chunk_blocks * self.dsize)
        self._leaves = []  # a comparison's differing blocks: one list (jobs run one at a time)
        # full scans: group digests in RAM, then a root digest over them
        self._max_groups = max(1, cfg.cache_bytes // self.dsize)
        # the largest span we digest: the scan's, or a dirty region's first level
        # (MAX_REGION_SPAN) on a card small enough for the scan's to be smaller
        self._max_span = max(span_for(self.nblocks, self._max_groups), MAX_REGION_SPAN)
        self.hasher = SpanHasher(self.engine, self._max_span)
        self._cache = bytearray(self._max_groups * self.dsize)
        self._root = bytearray(self.dsize)
        self.scan = None  # dict describing the current or last scan pass
        # epoch accounting: tag -> items of work outstanding on this side
        self._work = {}
        self._since_q = []
        self.counters = {"mismatches": 0, "resync_blocks": 0, "rechecks": 0, "blocks_copied": 0,
                         "scans": 0, "io_errors": 0, "refused": 0,
                         "bad_messages": 0}

    # -- events ----------------------------------------------------------------------
    def rebase(self, d):
        """The runtime's clock moved back by d ms: shift every stored time (Session.rebase)."""
        self.now = max(self.now - d, 0)
        if self.fg_time is not None:
            self.fg_time = max(self.fg_time - d, 0)
        self.pace.rebase(d)
        self.session.rebase(d)

    def start(self, now):
        """Boot: read both metadata slots; the node is ready once they are loaded."""
        self.now = now
        self._meta_reads = []
        for slot, buf in ((0, self._meta_buf), (1, self._meta_buf2)):
            self._io.append((_IO_META_READ, slot, 0))
            self.emit(A_READ, self.nblocks + slot, memoryview(buf))

    def transport_up(self, now):
        self.now = now
        self._transport = True
        if self.ready:
            self.session.open(now)

    def transport_down(self, now):
        self.now = now
        self._transport = False
        self.session.close(now)

    def receive(self, data, now, n=-1):
        """Link bytes arrived: data[:n] (all of it if n < 0)."""
        self.now = now
        self.session.receive(data, now, n)

    def tick(self, now):
        self.now = now
        if self._meta_retry:
            self._meta_retry = False
            self._write_meta()
        self.session.tick(now)
        self._flush_control()

    def next_deadline(self):
        t = self.session.next_deadline()
        if self._jstate == _J_PACE and self._job is not None:
            t = self.pace.at if t is None else min(t, self.pace.at)  # a paced read's turn
        return t

    def tx_view(self):
        return self.session.tx_view()

    def tx_done(self, n):
        self.session.tx_done(n)

    def io_done(self, ok, now):
        self.now = now
        kind, a, b = self._io.pop(0)
        if not ok:
            self.counters["io_errors"] += 1
            self._event("io_error", kind)
        if kind == _IO_JOB:
            if a == self._job_gen and self._job is not None:
                if ok and b:
                    self._sub += 1  # one block of a read around lost blocks
                    self._read_sub()
                elif ok:
                    self._jstate = _J_RUN
                    self._jval = ok
                elif self.role == "secondary":
                    # A block our card cannot read: compare it as bytes no primary holds
                    # (0xA5 ...), so the comparison finds it different and the primary's
                    # copy is written over it (which a card takes: it remaps the page).
                    c = self._job_req[1] * 512
                    mv = self._rchunk if c == len(self._rchunk) else self._rmv[:c]
                    for i in range(c):
                        mv[i] = 0xA5
                    self._jstate = _J_RUN
                    self._jval = True
                else:
                    first, count = self._job_req
                    if b:
                        first, count = first + self._sub, 1
                    self._bg_read_failed(first, count)
                    # The read buffer still holds older bytes: a digest or a block copied
                    # from it would be wrong. Start the session over, as on a failed write:
                    # unconfirmed work goes back to dirty and is redone after reconnecting.
                    self.session.restart(now, "storage error")
        elif kind == IO_WRITE:
            self._write_done(ok, a, b)
        elif kind == IO_OWNED:
            a.io_done(ok, b)
        elif kind == _IO_META:
            self._metas_done += 1
            if not ok:
                self._meta_bad = a
                self._meta_retry = True  # written again at the next tick
            elif self._meta_bad == a:
                self._meta_bad = -1
            self._meta_written(ok)
            if self._meta_again and not self._meta_retry and self._metas == self._metas_done:
                self._write_meta()
        elif kind == _IO_META_READ:
            self._meta_reads.append((ok, self._meta_buf2 if a else self._meta_buf))
            if len(self._meta_reads) < metadata.SLOTS:
                return
            m, state = metadata.load(self._meta_reads)
            if state == "unreadable":
                # A failed read is not a blank card: taken for one, it would start a new
                # history and the pair would refuse to resync. Read again; then give up
                # rather than guess.
                if self._meta_tries < _META_TRIES:
                    self._meta_tries += 1
                    self.start(now)
                else:
                    self._meta_unreadable()
                return
            self.meta = m
            self._meta_loaded(state == "ok")
            self.ready = True
            if getattr(self, "_transport", False):
                self.session.open(now)
        self._flush_control()

    def idle(self, now):
        """Spare time: advance background work by one step; True if there was any."""
        self.now = now
        if self._job is None:
            job = self._jobs.pop(0) if self._jobs else self._next_work()
            if job is None:
                return False
            self._job = job
            self._job_tag = -1
            self._jstate = _J_RUN
            self._jval = None
        if self._jstate == _J_IO:
            return False
        if self._jstate == _J_PACE:
            if self._paced() and not self.pace.due(now):
                return False  # next_deadline() says when: the runtime sleeps till then
            self._read(now)
            return True
        if self._jstate == _J_SEND:
            if not self._room():
                return False  # still no room to send: nothing to do, say so
            self._jstate = _J_RUN
        try:
            req = self._job.send(self._jval)
        except StopIteration:
            self._job = None
            return True
        if req is None:
            self._jstate = _J_SEND
        else:
            self._job_req = req
            if self._paced() and not self.pace.due(now):
                self._jstate = _J_PACE
                return True
            self._read(now)
        return True

    def _read(self, now):
        """Issue the job's read (self._job_req), counted against the scan's pace."""
        block, count = self._job_req
        self._jstate = _J_IO
        if self._paced():
            self.pace.took(now, count)
        if self.meta.lost and self._read_around_lost(block, count):
            return
        self._io.append(self._job_io)
        self.emit(A_READ, block, self._rview(count))

    def _paced(self):
        """Do background reads now follow cfg.scan_rate? When the running job works for a
        periodic scan: the pair is coherent, and the job's epoch is the scan's. A resync,
        and the catching up of writes pulled ahead (bitmap epochs while coherent), read at
        full speed."""
        return self.pace.rate != 0 and self._coherent() and self._scan_job(self._job_tag)

    def _scan_job(self, tag):
        """Is epoch `tag` a scan still open (one whose cache answers)?"""
        sc = self.scan
        return sc is not None and tag == sc["tag"] and not sc.get("closed", False)

    def _rview(self, count):
        """The read buffer's first `count` blocks: a view kept for one block and for a
        chunk (the reads of every block and of every chunk allocate nothing), else a slice
        (a run's shorter tail: once per run)."""
        if count == 1:
            return self._rone
        if count == self._chunk:
            return self._rchunk
        return self._rmv[:count * 512]

    def _read_around_lost(self, block, count):
        """A job's read that covers a block our card lost (Primary.lost, heal.py): the
        other blocks are read one at a time, and a lost block reads as zeros without asking
        the card. Scans and copies then finish (the secondary is given zeros for it), and
        our card keeps whatever it still holds: a block that reads again is recovered
        (heal.py). False if the read covers no lost block."""
        for b in self.meta.lost:
            if block <= b < block + count:
                self._sub = 0
                self._read_sub()
                return True
        return False

    def _read_sub(self):
        block, count = self._job_req
        lost = self.meta.lost
        i = self._sub
        while i < count and block + i in lost:
            self._rmv[i * 512:(i + 1) * 512] = _ZEROS
            i += 1
        self._sub = i
        if i == count:
            self._jstate = _J_RUN
            self._jval = True
            return
        self._io.append((_IO_JOB, self._job_gen, 1))
        self.emit(A_READ, block + i, self._rmv[i * 512:(i + 1) * 512])

    def busy(self):
        """True while background work is queued or running."""
        return self._job is not None or bool(self._jobs) or self._has_work()

    # -- session callbacks ---------------------------------------------------------------
    def on_window(self):
        pass

    def _flush_control(self):
        pass

    def on_lost(self, reason):
        self.paired = False
        self._drop_jobs()
        self._work = {}
        self._since_q = []
        if self.scan is not None and not self.scan["done"]:
            self.scan["aborted"] = True
        self._event("link", "down: " + reason)

    def on_established(self, info):
        try:
            self.peer = self._parse_info(info)
            self.vblocks = min(self.nblocks, self.peer["nblocks"])
        except ValueError as e:
            self.peer = None  # not the last session's: nothing is known of this one
            self._refuse("bad handshake from peer: %s" % e)
            return
        self._event("link", "up")
        self._paired_check()

    def hello_info(self):
        alg = self.cfg.alg.encode()
        return struct.pack(_INFO, ROLE_CODE[self.role], ROLE_CODE[self.cfg.comparer],
                           self.nblocks, self._info_flags(), self.meta.gen,
                           self.meta.parent, len(alg)) + alg + \
            struct.pack(_INFO2, self.cfg.frame_blocks, self.cfg.cache_bytes)

    def _parse_info(self, info):
        size = struct.calcsize(_INFO)
        if len(info) < size:
            raise ValueError("hello too short")
        role, comparer, nblocks, flags, gen, parent, alen = struct.unpack_from(_INFO, info, 0)
        if len(info) < size + alen + struct.calcsize(_INFO2):
            raise ValueError("hello too short")
        alg = bytes(info[size:size + alen]).decode()
        fb, cache = struct.unpack_from(_INFO2, info, size + alen)
        return {"role": role, "comparer": comparer, "nblocks": nblocks, "flags": flags,
                "gen": gen, "parent": parent, "alg": alg, "frame_blocks": fb,
                "cache_bytes": cache}

    def _pair_problem(self):
        """Why this pair cannot work together, or None."""
        peer = self.peer
        if peer["role"] == ROLE_CODE[self.role]:
            if self.role == "primary":
                from mirror import roles  # rare: not resident in RAM until needed
                self.split = True
                return roles.split_problem(self)
            return "both boards are configured as %s" % self.role
        if peer["alg"] != self.cfg.alg:
            return "checksum differs: %s here, %s on the peer" % (self.cfg.alg, peer["alg"])
        if peer["comparer"] != ROLE_CODE[self.cfg.comparer]:
            return "comparer setting differs between the boards"
        # a frame the sender may fill is larger than the receiver's buffers: it would be
        # dropped and sent again forever
        if peer["frame_blocks"] != self.cfg.frame_blocks:
            return "frame_blocks differs: %d here, %d on the peer (set both the same)" % (
                self.cfg.frame_blocks, peer["frame_blocks"])
        # the scan cache sets the span of a scan's groups, and each side's hasher is built
        # for its own: a primary's spans would be too large or too small for the peer's
        if peer["cache_bytes"] != self.cfg.cache_bytes:
            return "cache_bytes differs: %d here, %d on the peer (set both the same)" % (
                self.cfg.cache_bytes, peer["cache_bytes"])
        return None

    def on_message(self, ftype, p):
        why = msgcheck.problem(ftype, p, self.dsize, self._max_span, self.cfg.frame_blocks)
        if why is not None:
            self._bad_message(why)
            return
        if ftype == P.T_SUMS:
            self._on_sums(p)
        elif ftype == P.T_SUMREQ:
            self._on_sumreq(p)
        elif ftype == P.T_ROOT:
            self._on_root(p)
        else:
            self._on_role_message(ftype, p)

    # -- helpers ---------------------------------------------------------------------
    def _event(self, name, detail=None):
        self.emit(A_EVENT, name, detail)

    def _bad_message(self, why):
        """A message that is malformed, or asks for what this volume does not have: dropped
        and counted (logged at the 1st, 2nd, 4th, 8th...: a flood must not flood the
        console). The protocol counts on every message (a write confirmed cumulatively, an
        answer an epoch waits for), so the session starts over: the primary takes back what
        was unconfirmed as dirty and resyncs it. A peer that sends one is broken (or, on an
        unkeyed link, not our peer), and starting over is the one state both agree on."""
        c = self.counters
        c["bad_messages"] += 1
        if c["bad_messages"] & (c["bad_messages"] - 1) == 0:
            self._event("bad_message", why)
        if self.session.state == UP:
            self.session.restart(self.now, "bad message from peer: " + why)

    def _refuse(self, reason):
        self.counters["refused"] += 1
        self.refusal = reason
        self._event("refused", reason)

    def _meta_written(self, ok):
        pass

    def _meta_unreadable(self):
        """Boot: every try to read the metadata blocks failed."""
        self._event("fatal", "metadata blocks unreadable: check the card")

    def _bg_read_failed(self, block, count):
        pass

    def _pack_meta_extra(self, buf):
        """What a role keeps in its metadata block beside the record (the primary: its
        activity log)."""

    def _write_meta(self):
        if self._metas != self._metas_done:
            self._meta_again = True  # written (with the state then) once this one is done
            return
        self._meta_again = False
        self._metas += 1
        self.meta.seq += 1
        if self._meta_bad >= 0 and self.meta.seq & 1 != self._meta_bad:
            self.meta.seq += 1  # record n goes to slot n % 2: the failed slot again
        self.meta.pack_into(self._meta_buf)
        self._pack_meta_extra(self._meta_buf)
        slot = self.meta.seq & 1
        self._io.append((_IO_META, slot, 0))
        self.emit(A_WRITE, self.nblocks + slot, memoryview(self._meta_buf))

    def _bg_chunk(self):
        """Blocks per background read: one while the pair is coherent (a periodic scan:
        the application may write at any moment, and a write must never wait behind a
        long read, however long the card was quiet before) or while the foreground
        (application writes on the primary, the writes mirrored from them on the
        secondary) was active in the last second; else a full chunk (a resync of an idle
        card runs at read speed)."""
        fg = self.fg_time
        if self._coherent() or fg is not None and self.now - fg < _FG_RECENT_MS:
            return 1
        return self._chunk

    def _coherent(self):
        """The pair is known coherent: background work now is a periodic scan."""
        return False

    def _digests_per_frame(self):
        """Digests one T_SUMS entry can carry in a frame of our payload size."""
        return (self.cfg.max_payload - P.SUMS_HDR - P.ENTRY) // self.dsize

    def _room(self):
        """Can a job that waits to send go on?"""
        return self.session.can_send()

    def _send_now(self, ftype, payload):
        """Send a small control message if the window has room; False if not."""
        return self.session.send(ftype, payload, self.now)

    def _drop_jobs(self):
        if self._job is not None:
            self._job.close()
        for job in self._jobs:
            job.close()
        self._job = None
        self._jobs = []
        self._job_gen += 1  # a read of a dropped job may still complete: ignore it
        self._job_io = (_IO_JOB, self._job_gen, 0)

    def _enqueue(self, job):
        self._jobs.append(job)

    def _send(self, ftype, n):
        """Job helper: send self._obuf[:n] as one message, waiting for window room."""
        while not self.session.can_send():
            yield None
        self.session.send(ftype, memoryview(self._obuf)[:n], self.now)

    def _span_digest(self, start, span, out, off):
        """Job helper: digest of the span at start (clipped at the volume's end)."""
        self.hasher.begin(span)
        yield from self._feed(start, min(start + span, self.vblocks))
        self.hasher.finish_into(out, off)

    def _feed(self, b, end):
        """Job helper: blocks [b, end) into the hasher, one background read at a time (the
        hot loop of every scan and comparison). The simulator substitutes a version that
        answers spans of never-written blocks of its sparse cards at once (sim/fastscan.py)."""
        rmv = self._rmv
        hasher = self.hasher
        while b < end:
            c = min(self._bg_chunk(), end - b)
            yield (b, c)
            hasher.add_chunk(rmv, c)
            b += c

    def _block_digests(self, first, count, out, off):
        """Job helper: the digest of each block of [first, first + count) into out[off:]."""
        ds = self.dsize
        rmv = self._rmv
        b = first
        while b < first + count:
            c = min(self._bg_chunk(), first + count - b)
            yield (b, c)
            self.hasher.digests_into(rmv, c, out, off)  # no slice per block
            off += c * ds
            b += c

    def _cached(self, tag, flags, span, start):
        """Offset of this span's digest in the scan cache, or -1. The cache answers only
        for its own scan's epoch: later, and for re-checks, the card may have changed."""
        sc = self.scan
        if sc is None or not sc["done"] or sc.get("aborted") or sc.get("closed") or \
                tag != sc["tag"] or span != sc["gsize"] or flags & P.F_RECHECK:
            return -1
        rel = start - sc["start"]
        if rel < 0 or rel >= sc["count"] or rel % span:
            return -1
        return (rel // span) * self.dsize

    def _close_scan(self, tag):
        """Epoch `tag` is complete: if it was a scan, its cache no longer answers."""
        if self.scan is not None and self.scan["tag"] == tag:
            self.scan["closed"] = True

    def _work_add(self, tag, n):
        self._work[tag] = self._work.get(tag, 0) + n

    def _work_sub(self, tag, n):
        left = self._work.get(tag, 0) - n
        self._work[tag] = left
        if left <= 0:
            self._epoch_check(tag)

    # -- scan pass (both roles) ------------------------------------------------------
    def _begin_scan(self, tag, start, count, gsize):
        if gsize < 1 or (count + gsize - 1) // gsize > self._max_groups:
            raise ValueError("scan of %d blocks in spans of %d exceeds the cache" % (count, gsize))
        self.scan = {"tag": tag, "start": start, "count": count, "gsize": gsize,
                     "progress": 0, "done": False, "peer_root": None}
        self.counters["scans"] += 1
        if self.is_comparer:
            self._work_add(tag, 1)  # the root comparison still to come

    def _job_pass(self):
        """Read every block of the scan range once: group digests into the cache, then a
        root over them. The comparer compares roots; the other side sends its root."""
        sc = self.scan
        self._job_tag = sc["tag"]
        start, count, gsize = sc["start"], sc["count"], sc["gsize"]
        end = start + count
        ds = self.dsize
        hasher = self.hasher
        cache = self._cache
        g = 0
        b = start
        while b < end:
            hasher.begin(gsize)
            gend = min(b + gsize, end)
            yield from self._feed(b, gend)
            b = gend
            hasher.finish_into(cache, g * ds)
            g += 1
            sc["progress"] = b - start
        self.engine.digest_into(memoryview(cache)[:g * ds], self._root, 0)
        sc["done"] = True
        sc["groups"] = g
        if not self.is_comparer:
            struct.pack_into("<B", self._obuf, 0, sc["tag"])
            self._obuf[1:1 + ds] = self._root
            yield from self._send(P.T_ROOT, 1 + ds)
        elif sc["peer_root"] is not None:
            yield from self._compare_roots()
        self._event("scan_pass", sc["progress"])

    def _on_root(self, p):
        sc = self.scan
        if sc is None or not self.is_comparer or p[0] != sc["tag"]:
            return
        sc["peer_root"] = bytes(p[1:1 + self.dsize])
        if sc["done"]:
            self._enqueue(self._compare_roots())

    def _compare_roots(self):
        sc = self.scan
        tag = self._job_tag = sc["tag"]
        if sc["peer_root"] != bytes(self._root):
            # ask for all group digests (they come from the peer's cache, no reads)
            per = self._digests_per_frame()
            g = 0
            while g < sc["groups"]:
                n = min(per, sc["groups"] - g)
                start = sc["start"] + g * sc["gsize"]
                yield from self._send_sumreq(tag, 0, sc["gsize"], ((start, n),))
                g += n
        self._work_sub(tag, 1)

    # -- comparison (the comparing side) ---------------------------------------------
    def _send_sumreq(self, tag, flags, span, entries):
        """Job helper: one T_SUMREQ; its answer belongs to epoch `tag`."""
        o = self._obuf
        struct.pack_into("<BBI", o, 0, tag, flags, span)
        pos = P.SUMREQ_HDR
        for start, n in entries:
            struct.pack_into("<IH", o, pos, start, n)
            pos += P.ENTRY
        self._work_add(tag, 1)
        while not self.session.can_send():
            yield None
        if self.role == "primary":
            self._since_q.append(self.log.seq)
        self.session.send(P.T_SUMREQ, memoryview(o)[:pos], self.now)

    def _on_sums(self, p):
        if not self.is_comparer or not self.paired:
            return
        tag, flags = p[0], p[1]
        reply = flags & P.F_REPLY
        # A primary comparer's own data may have changed since it asked (its request went
        # out before writes that it forwarded later); a secondary compares at the point of
        # the stream where the digests arrive, so only writes after that can mislead it.
        if reply and self._since_q:
            since = self._since_q.pop(0)
        else:
            since = self.log.seq
        self._work_add(tag, 1)
        if reply:
            self._work_sub(tag, 1)
        self._enqueue(self._job_compare(tag, flags, bytes(p), since))

    def _job_compare(self, tag, flags, data, since):
        self._job_tag = tag
        span = struct.unpack_from("<I", data, 2)[0]
        ds = self.dsize
        own = self._dig
        chunk = self.cfg.chunk_blocks
        pos = P.SUMS_HDR
        descend = []
        leaves = self._leaves
        leaves.clear()
        while pos + P.ENTRY <= len(data):
            start, n = struct.unpack_from("<IH", data, pos)
            pos += P.ENTRY
            n = min(n, (len(data) - pos) // ds)
            for i in range(n):
                s = start + i * span
                if s >= self.vblocks:
                    break
                off = self._cached(tag, flags, span, s)
                if off >= 0:
                    same = _digest_eq(self._cache, off, data, pos, ds)
                elif span == 1:
                    # single blocks: read a chunk at a time, not a block at a time
                    k = i % chunk
                    if k == 0:
                        c = min(chunk, n - i, self.vblocks - s)
                        yield from self._block_digests(s, c, own, 0)
                    same = _digest_eq(own, k * ds, data, pos, ds)
                else:
                    yield from self._span_digest(s, span, own, 0)
                    same = _digest_eq(own, 0, data, pos, ds)
                pos += ds
                if same:
                    continue
                if span > 1:
                    child = span // FANOUT
                    end = min(s + span, self.vblocks)
                    descend.append((s, (end - s + child - 1) // child))
                elif self.log.touched_since(since, s) and not flags & P.F_RECHECK:
                    self.counters["rechecks"] += 1
                    yield from self._send_sumreq(tag, P.F_RECHECK, 1, ((s, 1),))
                else:
                    if self._is_scan(tag):
                        self._mismatch(s)  # a scan found the copies apart
                    else:
                        self.counters["resync_blocks"] += 1  # a dirty region, as expected
                    leaves.append(s)
        if descend:
            yield from self._request_children(tag, span // FANOUT, descend)
        if leaves:
            yield from self._repair(tag, leaves)
            leaves.clear()  # its room given back, not kept at the largest comparison's
        self._work_sub(tag, 1)

    def _is_scan(self, tag):
        """Does epoch `tag` belong to a scan (a difference it finds is a mismatch, which the
        operator hears of, not a dirty region's expected change)?"""
        return self.scan is not None and tag == self.scan["tag"]

    def _mismatch(self, block):
        self.counters["mismatches"] += 1
        self._event("mismatch", block)

    def _request_children(self, tag, child, spans):
        """Job helper: ask for the children digests of each differing span."""
        ds = self.dsize
        limit = self.cfg.max_payload
        per = self._digests_per_frame()
        batch = []
        size = P.SUMS_HDR
        for s, n in spans:
            while n > 0:
                # the answer to one entry must fit one frame: ask for long runs in pieces
                m = min(n, per)
                need = P.ENTRY + m * ds
                if batch and size + need > limit:
                    yield from self._send_sumreq(tag, 0, child, batch)
                    batch = []
                    size = P.SUMS_HDR
                batch.append((s, m))
                size += need
                s += m * child
                n -= m
        if batch:
            yield from self._send_sumreq(tag, 0, child, batch)

    # -- answering (the side that is not comparing) -----------------------------------
    def _on_sumreq(self, p):
        if not self.paired:
            return
        self._enqueue(self._job_serve_sums(bytes(p)))

    def _job_serve_sums(self, req):
        tag, flags, span = struct.unpack_from("<BBI", req, 0)
        self._job_tag = tag
        ds = self.dsize
        o = self._obuf
        struct.pack_into("<BBI", o, 0, tag, flags | P.F_REPLY, span)
        pos = P.SUMS_HDR
        rpos = P.SUMREQ_HDR
        while rpos + P.ENTRY <= len(req):
            start, n = struct.unpack_from("<IH", req, rpos)
            rpos += P.ENTRY
            if start >= self.vblocks or pos + P.ENTRY + n * ds > len(o):
                break  # a well-behaved peer never asks for this
            struct.pack_into("<IH", o, pos, start, n)
            pos += P.ENTRY
            for i in range(n):
                s = start + i * span
                off = self._cached(tag, flags, span, s)
                if off >= 0:
                    o[pos:pos + ds] = memoryview(self._cache)[off:off + ds]
                elif s < self.vblocks:
                    yield from self._span_digest(s, span, o, pos)
                pos += ds
        yield from self._send(P.T_SUMS, pos)

    # -- status ------------------------------------------------------------------------
    def link_state(self):
        st = self.session.state
        if st == UP:
            return "paired" if self.paired else "up"
        return "handshake" if st else "down"

    def status(self):
        sc = self.scan
        scan = None
        if sc is not None:
            scan = {"active": not sc["done"] and not sc.get("aborted", False),
                    "done_blocks": sc["progress"], "total_blocks": sc["count"]}
        s = {"role": self.role, "link": self.link_state(), "ready": self.ready,
             "generation": self.meta.gen.hex(), "refusal": self.refusal,
             "alg": self.cfg.alg, "engine": type(self.engine).__name__,  # hardware or not
             "nblocks": self.nblocks, "scan": scan,
             "counters": dict(self.counters), "link_stats": dict(self.session.stats)}
        c = self.session.codec
        s["link_stats"]["bad_crc"] = c.bad_crc
        s["link_stats"]["bad_auth"] = c.bad_auth
        s["link_stats"]["malformed"] = c.malformed
        return s
