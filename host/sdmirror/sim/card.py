"""SD card model: an image in memory, requests executed one at a time.

Timing: a read takes read_ms plus xfer_ms per block; a write takes write_ms (command and
transfer) and then busy_ms of programming per block, block after block. Requests run in
FIFO order, except that application (foreground) requests go ahead of controller requests
that have not started yet; the controller's own requests therefore still complete in the
order it issued them, as its contract requires.

Faults: a burst of errors, where up to N writes or reads executed within a short time fail
(io_done(False); a failed write lands nothing, a failed read leaves the buffer as it was,
as an SPI driver that times out would); a silent bit flip; and power loss, which throws the
queue away and tears the write being programmed: the blocks programmed before land, and of
the block under programming only the first k bytes.

Every request is checked against the card's size: one past the end is a violation
(`outside_writes` / `outside_reads`) and fails without touching the image.

A bulk read (submit_bulk, sparse images only: sim/fastscan.py) stands for the run of
background reads a scan makes over never-written blocks, each read timed as it would be;
any request submitted meanwhile ends it after the read under way, as it would have
gone ahead of the next one, and its completion says how many blocks it covered.
"""
import math
from collections import deque

from .sparse import SparseImage

BLOCK = 512


class Card:
    def __init__(self, world, name, blocks, image=None, read_ms=0.5, xfer_ms=0.05,
                 write_ms=0.5, busy_ms=1.0):
        self.world = world
        self.name = name
        self.blocks = blocks
        if isinstance(image, SparseImage):
            self.data = image  # a large card: only written blocks take memory
        else:
            self.data = bytearray(image) if image is not None else bytearray(blocks * BLOCK)
        if len(self.data) != blocks * BLOCK:
            raise ValueError("image of %d bytes for a card of %d blocks" %
                             (len(self.data), blocks))
        self.read_ms = read_ms
        self.xfer_ms = xfer_ms
        self.write_ms = write_ms
        self.busy_ms = busy_ms
        self._fg = deque()
        self._bg = deque()
        self._cur = None  # [kind, block, n, buf, done, started_at]; a bulk read: see _bulk
        self._bulk = None  # the bulk read under way: [start, dt, reads, token, chunk, n]
        self._epoch = 0  # bumped at power loss: completions scheduled before it are void
        self.fail_writes = 0  # errors left in the current burst, and when it ends
        self.fail_reads = 0
        self.writes_fail_until = 0.0
        self.reads_fail_until = 0.0
        self.writes_landed = 0
        self.on_land = None  # hook(card, block, n) after a write lands, before its io_done
        self.on_start = None  # hook(card, kind, block, n) when a request starts executing
        self.writes_started = 0
        self.blocks_read = 0
        self.on_torn = None  # hook(card, block, new_data, result) when a write is torn
        self.flipped = {}  # block -> time of its last silent bit flip
        self.bad = set()  # blocks whose reads fail until written again (an ECC error)

    # -- requests ------------------------------------------------------------------------
    def submit(self, kind, block, buf, done, fg=False):
        """kind 'r': fill buf (a writable buffer) later; kind 'w': buf is the data (bytes,
        already copied by the caller). done(ok) is called on completion."""
        n = len(buf) // BLOCK
        if block < 0 or n < 1 or block + n > self.blocks or len(buf) % BLOCK:
            self.world.violation("outside_writes" if kind == "w" else "outside_reads",
                                 "%s: %s of %d bytes at block %d (card has %d blocks)" %
                                 (self.name, kind, len(buf), block, self.blocks))
        (self._fg if fg else self._bg).append([kind, block, n, buf, done, 0.0])
        if self._cur is None:
            self._start_next()
        elif self._bulk is not None:
            self._cut_bulk()

    def submit_bulk(self, block, n, chunk, done, until=None):
        """Background reads of [block, block + n), `chunk` blocks each, into no buffer:
        done(k) at the end, k the blocks covered that were never written (0: a block was
        written, or reads failed meanwhile; the caller reads them again as usual). With
        until = (fg, ms), the bulk ends with the first read that ends ms or more after fg."""
        if block < 0 or n < 1 or block + n > self.blocks or \
                not hasattr(self.data, "untouched_run"):
            raise ValueError("bulk read of %d+%d: not a never-written span of a sparse card"
                             % (block, n))
        self._bg.append(["b", block, n, (chunk, until), done, 0.0])
        if self._cur is None:
            self._start_next()

    def _start_bulk(self, req):
        _, block, n, (chunk, until), _, t = req
        full, tail = divmod(n, chunk)
        reads = full + (1 if tail else 0)
        # read i (1, 2, ...) ends at t + i * dt: a product, where reading block by block
        # adds dt read after read (the two agree to a few ulps, ~1e-9 ms)
        dt = self.read_ms + self.xfer_ms * chunk
        if until is not None:  # (fg, ms): reads grow after the first that ends ms past fg
            reads = min(reads, max(1, self._first_end(t, dt, until[0] + until[1])))
        self._bulk = [t, dt, reads, 0, chunk, n]
        self.world.at(self._end(reads), self._finish_bulk, self._epoch, 0)

    def _first_end(self, t, dt, when):
        """The first i whose read ends at or after `when`."""
        i = max(1, int(math.ceil((when - t) / dt)))
        while i > 1 and t + (i - 1) * dt >= when:
            i -= 1
        while t + i * dt < when:
            i += 1
        return i

    def _end(self, i):
        t, dt, _, _, chunk, n = self._bulk
        if i * chunk <= n:
            return t + i * dt
        return t + (i - 1) * dt + self.read_ms + self.xfer_ms * (n - (i - 1) * chunk)

    def _cut_bulk(self):
        """A request came: the bulk ends with the read under way."""
        t, dt, reads, token = self._bulk[:4]
        i = self._first_end(t, dt, self.world.now)
        if i < reads:
            self._bulk[2] = i
            self._bulk[3] = token + 1
            self.world.at(self._end(i), self._finish_bulk, self._epoch, token + 1)

    def _finish_bulk(self, epoch, token):
        if epoch != self._epoch or self._bulk is None or token != self._bulk[3]:
            return
        _, block, _, _, done, started = self._cur
        _, _, reads, _, chunk, n = self._bulk
        k = min(reads * chunk, n)
        self._cur = self._bulk = None
        self.blocks_read += k
        if self.data.untouched_run(block, block + k) < k or \
                any(block <= b < block + k for b in self.bad) or \
                self.fail_reads and self.reads_fail_until >= started:
            k = 0
        self._start_next()
        done(k)

    def writing(self, b):
        """Whether a write covering block b is queued or under way."""
        for r in ([self._cur] if self._cur is not None else []) + list(self._fg) + \
                list(self._bg):
            if r[0] == "w" and r[1] <= b < r[1] + r[2]:
                return True
        return False

    def pending(self):
        return self._cur is not None or bool(self._fg) or bool(self._bg)

    def _start_next(self):
        q = self._fg if self._fg else self._bg
        if not q:
            return
        req = q.popleft()
        self._cur = req
        req[5] = self.world.now
        if req[0] == "b":
            self._start_bulk(req)
            if self.on_start is not None:
                self.on_start(self, "r", req[1], req[2])
            return
        if req[0] == "r":
            dt = self.read_ms + self.xfer_ms * req[2]
            self.blocks_read += req[2]
        else:
            dt = self.write_ms + self.busy_ms * req[2]
            self.writes_started += 1
        self.world.after(dt, self._finish, self._epoch)
        if self.on_start is not None:
            self.on_start(self, req[0], req[1], req[2])

    def _finish(self, epoch):
        if epoch != self._epoch:
            return  # power was lost meanwhile
        kind, block, n, buf, done, _ = self._cur
        self._cur = None
        ok = 0 <= block and block + n <= self.blocks
        if ok and kind == "r":
            if self.fail_reads and self.world.now <= self.reads_fail_until:
                self.fail_reads -= 1
                self.world.fault("read_error", self.name, "block", block)
                ok = False
            elif self.bad and any(block <= b < block + n for b in self.bad):
                self.world.fault("bad_block_read", self.name, "block", block)
                ok = False
            else:
                buf[:] = self.data[block * BLOCK:(block + n) * BLOCK]
        elif ok:
            if self.fail_writes and self.world.now <= self.writes_fail_until:
                self.fail_writes -= 1
                self.world.fault("write_error", self.name, "block", block)
                ok = False
            else:
                self.data[block * BLOCK:(block + n) * BLOCK] = buf
                self.bad.difference_update(range(block, block + n))  # a fresh page
                self.writes_landed += 1
                if self.on_land is not None:
                    self.on_land(self, block, n)
                    if epoch != self._epoch:
                        return  # the hook cut the power: nobody hears of the completion
        self._start_next()
        done(ok)

    # -- faults --------------------------------------------------------------------------
    def error_burst(self, reads, writes, ms):
        """Up to `reads` reads and `writes` writes executed within `ms` from now fail.
        Bursts do not add up: a new one replaces what is left of the last one."""
        end = self.world.now + ms
        if reads:
            self.fail_reads, self.reads_fail_until = reads, end
        if writes:
            self.fail_writes, self.writes_fail_until = writes, end

    def power_loss(self, k=None):
        """Power is cut now. The write being programmed lands block by block up to the
        block under programming, of which only the first k bytes land (k random if None).
        Returns (block, k) of the torn block, or None."""
        torn = None
        cur = self._cur
        if cur is not None and cur[0] == "w" and 0 <= cur[1] and cur[1] + cur[2] <= self.blocks:
            torn = self._tear(cur, k)
        self._cur = self._bulk = None
        self._fg.clear()
        self._bg.clear()
        self._epoch += 1
        return torn

    def _tear(self, req, k):
        _, b0, n, data, _, started = req
        elapsed = self.world.now - started - self.write_ms
        if elapsed < 0:
            return None  # still receiving the command and data: nothing programmed yet
        whole = min(n, int(elapsed // self.busy_ms))
        self.data[b0 * BLOCK:(b0 + whole) * BLOCK] = data[:whole * BLOCK]
        if whole == n:
            return None
        if k is None:
            k = self.world.rng.randrange(BLOCK + 1)
        tb = b0 + whole
        new = bytes(data[whole * BLOCK:(whole + 1) * BLOCK])
        self.data[tb * BLOCK:tb * BLOCK + k] = new[:k]
        self.world.fault("torn_write", self.name, "block", tb, "k=%d" % k)
        if self.on_torn is not None:
            self.on_torn(self, tb, new, self.block(tb))
        return (tb, k)

    def make_bad(self, block):
        """Block `block` fails every read until it is written (the page is remapped)."""
        self.bad.add(block)
        self.world.fault("bad_block", self.name, "block", block)

    def flip(self, block, bit):
        """A silent bit flip: the card returns different data, reporting no error."""
        self.data[block * BLOCK + bit // 8] ^= 1 << (bit % 8)
        self.flipped[block] = self.world.now
        self.world.fault("bit_flip", self.name, "block", block, "bit", bit)

    def block(self, b):
        return bytes(self.data[b * BLOCK:(b + 1) * BLOCK])
