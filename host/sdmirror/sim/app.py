"""The application on the primary: one operation at a time, as a program writing through
MirroredVolume would (firmware/mirror/volume.py and firmware/runtime.py):

- write: admitted by the activity log (admit(), retried as the node moves), the local
  card (a foreground request), then app_write() per frame-sized
  piece; a piece refused (-1: sync mode, link congested) is retried when the node has
  moved; in sync mode the write is acknowledged once durable(token), or given up after
  timeout_ms (the application sees an error);
- read: a foreground read of the local card;
- pauses between operations, sometimes long ones (when scans and resync get the card).

Patterns: random blocks, sequential, or a hot spot of a few blocks. Every write is recorded
in the oracle; a durable acknowledgement is checked at once against the secondary's card,
and every read's data against what the oracle allows at that moment (`bad_reads`: the
last write the application was told of, or one issued after it).
"""
BLOCK = 512


class App:
    def __init__(self, world, board, oracle, peer_card, mode, pattern, max_blocks, gap_ms,
                 t_stop, read_ratio=0.2, timeout_ms=30000):
        self.world = world
        self.board = board
        self.oracle = oracle
        self.peer_card = peer_card
        self.mode = mode
        self.pattern = pattern
        self.max_blocks = max_blocks
        self.gap_ms = gap_ms
        self.t_stop = t_stop
        self.read_ratio = read_ratio
        self.timeout_ms = timeout_ms
        self.nblocks = oracle.nblocks
        self.fb = board.cfg.frame_blocks
        self._cursor = 0
        self._hot = None
        self._life = 0  # bumped at each power loss of the primary: old callbacks are void
        self._op = None  # None (between ops), or the write being forwarded / confirmed
        self._admit = None  # (block, data, life) of a write waiting for the activity log
        self.busy = False
        self.counts = {"writes": 0, "reads": 0, "acked": 0, "timeouts": 0, "errors": 0}
        self._forwarding = False
        board.listeners.append(self._on_node)  # also resumes the application after a reboot

    def start(self):
        self._next(self.world.rng.uniform(0, self.gap_ms))

    # -- scheduling ------------------------------------------------------------------------
    def _next(self, delay=None):
        self._op = None
        self.busy = False
        w = self.world
        if delay is None:
            delay = w.rng.expovariate(1.0 / self.gap_ms)
            if w.rng.random() < 0.05:
                delay += w.rng.uniform(500, 5000)  # a long quiet spell
        if w.now + delay < self.t_stop:
            self.busy = True
            w.after(delay, self._go, self._life)

    def _go(self, life):
        if life != self._life:
            return
        if not self.board.on or not self.board.node.ready:
            self.busy = False
            return  # _on_node resumes the application once the node is ready
        rng = self.world.rng
        block, n = self._pick()
        card = self.board.card
        self.board.app_io()
        if rng.random() < self.read_ratio:
            self.counts["reads"] += 1
            buf = bytearray(n * BLOCK)
            card.submit("r", block, buf, self._read_done(life, block, buf), fg=True)
            return
        self._admit = (block, rng.randbytes(n * BLOCK), life)
        self._write()

    def _write(self):
        """Write once the activity log names the write's regions (_on_node retries)."""
        block, data, life = self._admit
        if not self.board.node.admit(block, len(data) // BLOCK, self.world.now):
            return
        self._admit = None
        w = self.oracle.issue(block, data, self.world.now)
        self.counts["writes"] += 1
        self.world.log("app", "write #%d" % w.id, "blocks %d+%d" % (block, len(data) // BLOCK))
        self.board.app_io()
        self.board.card.submit("w", block, data, self._write_done(life, w, data), fg=True)

    def _pick(self):
        rng = self.world.rng
        n = min(self.nblocks, rng.randint(1, self.max_blocks))
        if self.pattern == "sequential":
            if self._cursor + n > self.nblocks:
                self._cursor = 0
            b = self._cursor
            self._cursor += n
        elif self.pattern == "hotspot":
            if self._hot is None:
                self._hot = rng.randrange(self.nblocks)
            n = min(n, 2, self.nblocks - self._hot)
            b = self._hot if rng.random() < 0.8 else rng.randrange(self.nblocks - n + 1)
        else:
            b = rng.randrange(self.nblocks - n + 1)
        return b, n

    # -- completions ---------------------------------------------------------------------
    def _read_done(self, life, block, buf):
        def done(ok):
            if life == self._life:
                if self.board.node.is_lost(block, len(buf) // BLOCK):
                    self.counts["errors"] += 1  # MirroredVolume.readblocks: EIO
                elif ok:
                    self._check_read(block, buf)
                self.board.app_io()
                self._next()
        return done

    def _check_read(self, block, buf):
        for i in range(len(buf) // BLOCK):
            b = block + i
            if bytes(buf[i * BLOCK:(i + 1) * BLOCK]) not in self.oracle.acceptable(b, "local"):
                self.world.violation("bad_reads", "a read of block %d returned data no "
                                     "acknowledged write put there" % b)
                return

    def _write_done(self, life, w, data):
        def done(ok):
            if life != self._life:
                return
            self.board.app_io()
            if not ok:
                w.failed = True
                self.counts["errors"] += 1
                self._next()
                return
            w.local = True
            self._op = [w, data, 0, None]  # write, data, next piece, token
            self._forward()
        return done

    def _forward(self):
        """Offer the remaining pieces to the controller; stop at the first refusal."""
        op = self._op
        w, data = op[0], op[1]
        node = self.board.node
        self._forwarding = True  # app_write() runs the node's listeners: no re-entry
        try:
            self._offer(op, w, data, node)
        finally:
            self._forwarding = False
        if op[2] * self.fb < w.n:
            return  # congested: _on_node retries
        if self.mode == "sync":
            if node.durable(op[3]):
                self._ack(w)
            else:
                self.world.after(self.timeout_ms, self._timeout, op, self._life)
        else:
            self._next()

    def _offer(self, op, w, data, node):
        while op[2] * self.fb < w.n:
            i = op[2]
            piece = memoryview(data)[i * self.fb * BLOCK:(i + 1) * self.fb * BLOCK]
            token = self.board.app_write(w.block + i * self.fb, piece)
            if token < 0:
                return
            # A degraded-mode write (link down) is durable at once by design; only one
            # forwarded, confirmed in the same session, promises that the secondary holds
            # it (when a session is lost, the primary completes its waiting writes in
            # degraded mode, as DRBD's protocol C does). A write of several pieces promises
            # that only if every piece went in the one session: a piece completed in
            # degraded mode is the resync's to carry, even if a later piece is confirmed.
            fw = None if node.durable(token) else (node, node.session.stats["sessions"])
            if i == 0:
                w.forwarded = fw
            elif w.forwarded != fw:
                w.forwarded = None
            op[2] += 1
            op[3] = w.token = token

    def _on_node(self, board):
        if self._forwarding:
            return
        if self._admit is not None:
            if self._admit[2] == self._life and board.node.ready:
                self._write()
            return
        op = self._op
        if op is None:
            if not self.busy and board.node.ready and self.world.now < self.t_stop:
                self._next()  # resume after a reboot
            return
        if op[2] * self.fb < op[0].n:
            self._forward()
        elif op[3] is not None and board.node.durable(op[3]):
            self._ack(op[0])

    def _ack(self, w):
        w.durable = True
        self.counts["acked"] += 1
        fw = w.forwarded
        node = self.board.node
        if fw is not None and fw[0] is node and node.paired and \
                node.session.stats["sessions"] == fw[1]:
            self._check_on_secondary(w)
        self._next()

    def _check_on_secondary(self, w):
        """A sync-mode acknowledgement claims the secondary's card holds the write now."""
        card = self.peer_card
        for b in range(w.block, w.block + w.n):
            if card.flipped.get(b, -1) >= w.issued_at:
                continue  # silently corrupted since: the periodic scan's business
            if card.block(b) not in self.oracle.newer_or_same(w, b):
                self.world.violation("lost_acked_writes", "write #%d acknowledged durable but "
                                     "block %d is not on the secondary's card" % (w.id, b))
                return

    def _timeout(self, op, life):
        if op is self._op and life == self._life:
            self.counts["timeouts"] += 1
            self.world.log("app", "write #%d not confirmed in %d ms: error" %
                           (op[0].id, self.timeout_ms))
            self._next()

    # -- power -----------------------------------------------------------------------------
    def power_lost(self):
        self._life += 1
        self._op = None
        self._admit = None
        self.busy = False

