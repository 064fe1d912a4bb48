# Volumes speak MicroPython's block-device protocol (readblocks, writeblocks, ioctl 1-6),
# so `vfs.VfsFat` mounts on any of them: a card, a RAM disk, or the mirrored volume.
from micropython import const

from mirror.heal import IDLE, OK

BLOCK = const(512)
IOCTL_INIT = const(1)
IOCTL_DEINIT = const(2)
IOCTL_SYNC = const(3)
IOCTL_BLOCK_COUNT = const(4)
IOCTL_BLOCK_SIZE = const(5)
IOCTL_ERASE = const(6)
_EIO = const(5)


def check_range(block, buf, nblocks, offset=0):
    """Validate a block-device request; return the number of blocks it covers."""
    if offset:
        raise ValueError("partial-block access (offset=%d) is not supported" % offset)
    n = len(buf) // BLOCK
    if len(buf) % BLOCK or n == 0:
        raise ValueError("buffer of %d bytes is not a whole number of blocks" % len(buf))
    if block < 0 or block + n > nblocks:
        raise ValueError("blocks %d..%d outside the volume of %d blocks" %
                         (block, block + n - 1, nblocks))
    return n


class MemBlockDevice:
    """A volume in RAM (tests, the simulator, a RAM disk on a board)."""

    def __init__(self, nblocks, data=None):
        self.nblocks = nblocks
        self.data = data if data is not None else bytearray(nblocks * BLOCK)
        self._mv = memoryview(self.data)

    def readblocks(self, block, buf, offset=0):
        n = check_range(block, buf, self.nblocks, offset)
        buf[:] = self._mv[block * BLOCK:(block + n) * BLOCK]

    def writeblocks(self, block, buf, offset=0):
        n = check_range(block, buf, self.nblocks, offset)
        self._mv[block * BLOCK:(block + n) * BLOCK] = buf

    def ioctl(self, op, arg):
        if op == IOCTL_BLOCK_COUNT:
            return self.nblocks
        if op == IOCTL_BLOCK_SIZE:
            return BLOCK
        if op in (IOCTL_INIT, IOCTL_DEINIT, IOCTL_SYNC, IOCTL_ERASE):
            return 0
        return None


class MirroredVolume:
    """The primary's volume: reads come from the local card; a write goes to the local card
    and to the controller, which forwards it to the secondary.

    runtime provides the I/O: local_read(block, buf), local_write(block, buf), now(), and
    wait(predicate) which runs the event loop until predicate() is true (or raises
    OSError on timeout). In sync mode a write returns once the secondary holds it durably;
    in async mode once it is on the local card. With degraded=refuse a sync write that the
    secondary has not confirmed within degraded_ms fails (OSError ETIMEDOUT).

    A block the local card cannot read is read from the secondary (heal.py), returned and
    written back; when the secondary's copy is not known to be current, or it cannot read
    it either, the read fails (OSError EIO): never invented data.

    Requests to the card that fail are counted (node.card_result): after cfg.card_errors
    in a row the card is detached (detach.py). Then every read comes from the secondary,
    every write goes to it alone and returns once it is durable there (async mode too);
    without a secondary (none paired within degraded_ms) they fail (OSError)."""

    def __init__(self, node, runtime):
        self.node = node
        self.runtime = runtime
        self.nblocks = node.nblocks

    def readblocks(self, block, buf, offset=0):
        n = check_range(block, buf, self.nblocks, offset)
        rt = self.runtime
        node = self.node
        if node.is_lost(block, n):
            raise OSError(_EIO)  # its newest data is gone with our card (heal.py)
        mv = memoryview(buf)
        if node.detached is None:
            if self._local(rt.local_read, block, buf):
                return
            for i in range(n):  # which blocks failed? read them one at a time
                if node.detached is not None:  # the card failed meanwhile
                    self._detached_read(block + i, mv[i * BLOCK:], n - i)
                    return
                piece = mv[i * BLOCK:(i + 1) * BLOCK]
                if not self._local(rt.local_read, block + i, piece):
                    self._heal(block + i, piece)
            return
        self._detached_read(block, mv, n)

    def _local(self, fn, block, buf):
        """A request to our card; its outcome counts towards detaching it."""
        try:
            fn(block, buf)
        except OSError:
            self.node.card_result(False)
            return False
        self.node.card_result(True)
        return True

    def _detached_read(self, block, mv, n):
        node = self.node
        self._wait_paired()
        fb = node.cfg.frame_blocks
        for i in range(0, n, fb):
            c = min(fb, n - i)
            if not self._fetch(block + i, mv[i * BLOCK:(i + c) * BLOCK]):
                node.counters["unreadable_both"] += 1
                raise OSError(_EIO)
        node.counters["detached_reads"] += 1

    def _wait_paired(self):
        node = self.node
        if not node.paired:  # e.g. the handshake after the detach: wait a while for it
            self.runtime.wait(lambda: node.paired, node.cfg.degraded_ms)

    def _fetch(self, block, piece):
        """Read blocks from the secondary's card (heal.py); False if it could not."""
        node = self.node
        rt = self.runtime
        if not node.can_fetch(block, len(piece) // BLOCK):
            raise OSError(_EIO)
        reads = node.reads
        reads.wanted = True  # the copy onto a returned card lets us go first (detach.py)
        try:
            rt.wait(lambda: reads.state == IDLE)  # a background user may hold the slot
        finally:
            reads.wanted = False
        reads.start(block, piece)
        try:
            rt.wait(reads.done)
            return reads.state == OK
        finally:
            reads.release()

    def _heal(self, block, piece):
        node = self.node
        rt = self.runtime
        ok = self._fetch(block, piece)
        if not ok:
            node.counters["unreadable_both"] += 1
            node._event("unreadable_both", block)
            raise OSError(_EIO)
        node.counters["healed_reads"] += 1
        node._event("healed", block)
        # the card takes a rewrite where it failed a read; if not, still served (the next
        # read heals it again)
        self._local(rt.local_write, block, piece)

    def writeblocks(self, block, buf, offset=0):
        n = check_range(block, buf, self.nblocks, offset)
        rt = self.runtime
        node = self.node
        if node.detached is None:
            # the activity log names the write's regions on the card before the write lands
            if not node.admit(block, n, rt.now()):
                rt.wait(lambda: node.admit(block, n, rt.now()))
            if not self._local(rt.local_write, block, buf) and node.detached is None:
                raise OSError(_EIO)
        if node.detached is not None:
            self._wait_paired()
        step = node.cfg.frame_blocks * BLOCK
        mv = memoryview(buf)
        for off in range(0, len(buf), step):
            piece = mv[off:off + step]
            token = node.app_write(block + off // BLOCK, piece, rt.now())
            while token < 0:  # sync mode and the link is congested: let it drain
                rt.wait(node.can_accept)
                token = node.app_write(block + off // BLOCK, piece, rt.now())
        if node.detached is not None or node.cfg.mode == "sync":
            self._wait_durable(token)

    def _wait_durable(self, token):
        node = self.node
        if node.detached is not None:
            # the secondary's card is the only copy: durable there, or an error (never()
            # once the session was lost before it confirmed)
            self.runtime.wait(lambda: node.durable(token) or node.never(token))
            if not node.durable(token):
                raise OSError(_EIO)
            node.counters["detached_writes"] += 1
            return
        if node.cfg.degraded != "refuse":
            self.runtime.wait(lambda: node.durable(token))
            return
        try:
            self.runtime.wait(lambda: node.durable(token), node.cfg.degraded_ms)
        except OSError:
            node.counters["degraded_refused"] += 1
            raise

    def ioctl(self, op, arg):
        if op == IOCTL_BLOCK_COUNT:
            return self.nblocks
        if op == IOCTL_BLOCK_SIZE:
            return BLOCK
        if op == IOCTL_SYNC:
            if self.node.cfg.mode == "sync" or self.node.detached is not None:
                self._wait_durable(self.node.last_token())
            return 0
        if op in (IOCTL_INIT, IOCTL_DEINIT, IOCTL_ERASE):
            return 0
        return None
