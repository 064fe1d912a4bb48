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
    it either, the read fails (OSError EIO): never invented data."""

    def __init__(self, node, runtime):
        self.node = node
        self.runtime = runtime
        self.nblocks = node.nblocks

    def readblocks(self, block, buf, offset=0):
        n = check_range(block, buf, self.nblocks, offset)
        rt = self.runtime
        if self.node.is_lost(block, n):
            raise OSError(_EIO)  # its newest data is gone with our card (heal.py)
        try:
            rt.local_read(block, buf)
            return
        except OSError:
            pass
        mv = memoryview(buf)
        for i in range(n):  # which blocks failed? read them one at a time
            piece = mv[i * BLOCK:(i + 1) * BLOCK]
            try:
                rt.local_read(block + i, piece)
            except OSError:
                self._heal(block + i, piece)

    def _heal(self, block, piece):
        node = self.node
        rt = self.runtime
        if not node.can_fetch(block, 1):
            raise OSError(_EIO)
        reads = node.reads
        rt.wait(lambda: reads.state == IDLE)  # a background heal may hold the request slot
        reads.start(block, piece)
        try:
            rt.wait(reads.done)
            ok = reads.state == OK
        finally:
            reads.release()
        if not ok:
            node.counters["unreadable_both"] += 1
            node._event("unreadable_both", block)
            raise OSError(_EIO)
        node.counters["healed_reads"] += 1
        node._event("healed", block)
        try:
            rt.local_write(block, piece)  # the card takes a rewrite where it failed a read
        except OSError:
            pass  # still served; the next read heals it again

    def writeblocks(self, block, buf, offset=0):
        n = check_range(block, buf, self.nblocks, offset)
        rt = self.runtime
        node = self.node
        # the activity log names the write's regions on the card before the write lands
        if not node.admit(block, n, rt.now()):
            rt.wait(lambda: node.admit(block, n, rt.now()))
        rt.local_write(block, buf)
        step = node.cfg.frame_blocks * BLOCK
        mv = memoryview(buf)
        for off in range(0, len(buf), step):
            piece = mv[off:off + step]
            token = node.app_write(block + off // BLOCK, piece, rt.now())
            while token < 0:  # sync mode and the link is congested: let it drain
                rt.wait(node.can_accept)
                token = node.app_write(block + off // BLOCK, piece, rt.now())
        if node.cfg.mode == "sync":
            self._wait_durable(token)

    def _wait_durable(self, token):
        node = self.node
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
            if self.node.cfg.mode == "sync":
                self._wait_durable(self.node.last_token())
            return 0
        if op in (IOCTL_INIT, IOCTL_DEINIT, IOCTL_ERASE):
            return 0
        return None
