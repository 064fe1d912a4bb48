# Two controllers joined by an in-memory link, in virtual time (the h11 way of testing a
# protocol: no sockets, no threads, every byte visible). Runs under CPython and MicroPython.
from fwtest import randbytes, rng

from mirror.config import Config
from mirror.node import A_EVENT, A_READ, A_WRITE, META_BLOCKS
from mirror.primary import Primary
from mirror.secondary import Secondary
from mirror.volume import MemBlockDevice


class Side:
    """One board: a node, its card (a RAM device with room for the metadata blocks)."""

    def __init__(self, cls, cfg, nblocks, entropy, card=None):
        self.card = card if card is not None else MemBlockDevice(nblocks + META_BLOCKS)
        self.done = []  # completions to deliver: ok flags
        self.events = []
        self.fail_writes = 0
        self.bad = set()  # blocks that fail reads until written (an ECC error)
        self.dead = False  # the card answers nothing (pulled out, or failed)
        self.entropy = entropy
        self.node = cls(cfg, self.card.nblocks, self._emit, entropy)
        self.settings = {}  # the Config keywords (Pair sets them): switch() rebuilds from them

    def read_fails(self, block, buf):
        if self.dead:
            return True
        n = len(buf) // 512
        for b in self.bad:
            if block <= b < block + n:
                return True
        return False

    def _emit(self, kind, a, b):
        if kind == A_READ:
            if self.read_fails(a, b):
                self.done.append(False)
                return
            self.card.readblocks(a, b)
            self.done.append(True)
        elif kind == A_WRITE:
            if self.dead:
                self.done.append(False)
                return
            for i in range(len(b) // 512):
                self.bad.discard(a + i)
            if self.fail_writes:
                self.fail_writes -= 1
                self.done.append(False)
            else:
                self.card.writeblocks(a, b)
                self.done.append(True)
        elif kind == A_EVENT:
            self.events.append((a, b))

    def event_names(self):
        return [e[0] for e in self.events]

    def switch(self, role, now, link_up):
        """What firmware/rolecmds.py switch_role does: write the changed metadata record,
        then (the board resets) a new controller in `role` over the same card."""
        from mirror.primary import Primary
        from mirror.secondary import Secondary
        old = self.node
        old._write_meta()
        while self.done:
            old.io_done(self.done.pop(0), now)
        from mirror.config import Config
        cls = Primary if role == "primary" else Secondary
        # a reset board has fresh entropy: its session must not reuse the old nonces (the
        # peer would take it for the same session)
        self.entropy = bytes(self.entropy) + b"+"
        kw = dict(self.settings)
        kw["role"] = role
        self.node = cls(Config(**kw), self.card.nblocks, self._emit, self.entropy)
        self.node.start(now)
        while self.done:
            self.node.io_done(self.done.pop(0), now)
        if link_up:
            self.node.transport_up(now)
        return self.node

    # what MirroredVolume needs of a runtime (firmware/mirror/volume.py)
    def local_read(self, block, buf):
        if self.read_fails(block, buf):
            raise OSError(5)
        self.card.readblocks(block, buf)

    def local_write(self, block, buf):
        if self.dead:
            raise OSError(110)
        for i in range(len(buf) // 512):
            self.bad.discard(block + i)
        self.card.writeblocks(block, buf)


class Pair:
    """A primary and a secondary; `link_up` says whether bytes cross. `filter(data)` may
    alter bytes in flight (drop, corrupt). Bytes crossing are counted in `link_bytes`."""

    def __init__(self, nblocks=256, seed=1, cfg_p=None, cfg_s=None, cards=None, **kw):
        self.nblocks = nblocks
        cp = dict(kw)
        cp.update(cfg_p or {})
        cs = dict(kw)
        cs.update(cfg_s or {})
        cp["role"] = "primary"
        cs["role"] = "secondary"
        self.now = 0
        self.seed = seed
        cards = cards or (None, None)
        self.p = Side(Primary, Config(**cp), nblocks, b"P%d" % seed, cards[0])
        self.s = Side(Secondary, Config(**cs), nblocks, b"S%d" % seed, cards[1])
        self.p.settings = cp
        self.s.settings = cs
        self.link_up = False
        self.filter = None
        self.link_bytes = 0
        self.per_step = 1 << 30  # bytes per step each way (bandwidth)
        self.p.node.start(0)
        self.s.node.start(0)
        self.settle_io()

    @property
    def primary(self):
        return self.p.node

    @property
    def secondary(self):
        return self.s.node

    def settle_io(self):
        for side in (self.p, self.s):
            while side.done:
                side.node.io_done(side.done.pop(0), self.now)

    def connect(self):
        self.link_up = True
        self.p.node.transport_up(self.now)
        self.s.node.transport_up(self.now)

    def disconnect(self):
        self.link_up = False
        self.p.node.transport_down(self.now)
        self.s.node.transport_down(self.now)

    def _carry(self, src, dst):
        tx = src.node.tx_view()
        n = min(len(tx), self.per_step)
        if not n:
            return
        data = bytes(tx[:n])
        src.node.tx_done(n)
        if not self.link_up:
            return
        self.link_bytes += n
        if self.filter is not None:
            data = self.filter(data)
        if data:
            dst.node.receive(data, self.now)

    def step(self, dt=1):
        self.now += dt
        self.settle_io()
        self._carry(self.p, self.s)
        self._carry(self.s, self.p)
        for side in (self.p, self.s):
            side.node.tick(self.now)
            for _ in range(64):
                if not side.node.idle(self.now):
                    break
                while side.done:
                    side.node.io_done(side.done.pop(0), self.now)
        self.settle_io()

    def run(self, steps, until=None, dt=1):
        """Step up to `steps` times; stop early once until() is true. Returns steps taken."""
        for i in range(steps):
            if until is not None and until():
                return i
            self.step(dt)
        if until is not None and not until():
            raise AssertionError("condition not reached in %d steps" % steps)
        return steps

    def synced(self):
        """Paired, resync finished on both sides, nothing in flight."""
        p, s = self.primary, self.secondary
        return p.paired and not p.busy() and not s.busy() and not p._inflight and \
            s.meta.gen == p.meta.gen and s.status()["consistent"] and \
            not len(p.tx_view()) and not len(s.tx_view()) and \
            p.session.in_flight() == 0 and s.session.in_flight() == 0

    def differing(self):
        """Blocks whose contents differ between the two cards."""
        a = memoryview(self.p.card.data)
        b = memoryview(self.s.card.data)
        return [i for i in range(self.nblocks)
                if bytes(a[i * 512:(i + 1) * 512]) != bytes(b[i * 512:(i + 1) * 512])]

    def coherent(self):
        return not self.differing()

    def volume(self):
        """The primary's MirroredVolume, driven by this pair in virtual time."""
        from mirror.volume import MirroredVolume
        pair = self

        class _Rt:
            local_read = pair.p.local_read
            local_write = pair.p.local_write

            def now(self):
                return pair.now

            def wait(self, predicate, timeout_ms=30000):
                end = pair.now + timeout_ms
                while not predicate():
                    if pair.now > end:
                        raise OSError(110)
                    pair.step()

        return MirroredVolume(self.primary, _Rt())

    def write(self, block, data):
        """An application write on the primary: the activity log, the local card, then
        the controller."""
        n = len(data) // 512
        for _ in range(1000):
            if self.primary.admit(block, n, self.now):
                break
            self.settle_io()
        else:
            raise AssertionError("the activity log never admitted the write")
        self.p.card.writeblocks(block, data)
        return self.primary.app_write(block, data, self.now)


def fill(pair, seed, blocks=None, both=True):
    """Random contents on the primary's card (and the same on the secondary's when both)."""
    rng(seed)
    for b in range(pair.nblocks) if blocks is None else blocks:
        data = bytes(randbytes(512))
        pair.p.card.writeblocks(b, data)
        if both:
            pair.s.card.writeblocks(b, data)


def synced_pair(nblocks=512, seed=1, **kw):
    """A pair with random, equal cards, connected and done with its first resync."""
    pair = Pair(nblocks=nblocks, seed=seed, **kw)
    fill(pair, seed)
    pair.connect()
    pair.run(50000, until=pair.synced)
    return pair


def block(i, salt=0):
    """512 bytes that tell block i (and a rewrite of it, by salt) apart."""
    return bytes([(i * 7 + salt) & 0xFF]) * 512


def read_blocks(vol, b, n=1):
    """n blocks from b through a volume's readblocks (as the application reads)."""
    buf = bytearray(512 * n)
    vol.readblocks(b, buf)
    return bytes(buf)


def raises_oserror(fn):
    """Did fn() raise OSError (the application's I/O error)?"""
    try:
        fn()
    except OSError:
        return True
    return False
