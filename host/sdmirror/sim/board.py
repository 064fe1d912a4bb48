"""One board in the simulation: a controller node, its SD card, its power, and the runtime
glue a real board's poll loop provides (firmware/runtime.py), in virtual time.

After every event fed to the node the runtime: hands waiting bytes to the link, schedules
a tick for the node's next deadline, offers idle time for background work (only when the
application has been quiet, mirror.sched.IdlePolicy) and tells listeners (the application
waiting on a sync write) that something happened. Power loss throws the node object away
(RAM, the bitmap with it) and tears the card's write in progress; power-on builds a new
node over the same card.
"""
import sdmirror.fwpath

sdmirror.fwpath.install()

from mirror.node import A_EVENT, A_READ, A_WRITE  # noqa: E402
from mirror.sched import IdlePolicy  # noqa: E402

_MAX_IDLE_STEPS = 100000  # a background job that never waits is a bug, not work
_BLIND_STEPS = 64
_POLL_MS = 10


class Board:
    def __init__(self, world, name, node_cls, cfg, card):
        self.world = world
        self.name = name
        self.node_cls = node_cls
        self.cfg = cfg
        self.card = card
        self.link = None  # set by Link
        self.pipe = None  # the Link's wire from this board (set by Link)
        self.node = None
        self.policy = IdlePolicy()
        self.listeners = []
        self.mismatches = []  # (time, block) of every `mismatch` event the node reported
        self.boots = 0
        self._epoch = 0
        self._tick_at = None
        self._last_tick = -1.0
        self._idle_pending = False
        self._in_after = False
        self._emits = 0

    # -- power -------------------------------------------------------------------------
    def power_on(self):
        w = self.world
        self.boots += 1
        self._epoch += 1
        entropy = w.rng.getrandbits(64).to_bytes(8, "little") + self.name.encode()
        self.node = self.node_cls(self.cfg, self.card.blocks, self._emit, entropy)
        if hasattr(self.card.data, "untouched_run"):
            self.node.sim_card = self.card  # never-written spans scanned at once (fastscan)
        self.policy = IdlePolicy()
        self._tick_at = None
        self._last_tick = -1.0
        self._idle_pending = False
        w.log(self.name, "power on (boot %d)" % self.boots)
        self.node.start(w.now)
        if self.link is not None and self.link.transport:
            self.node.transport_up(w.now)
        self._after()

    def power_off(self, k=None):
        """Power loss: RAM is gone, the card keeps what landed (a write may be torn)."""
        self.world.log(self.name, "POWER LOSS")
        self.node = None
        self._epoch += 1
        self._tick_at = None
        self._idle_pending = False
        return self.card.power_loss(k)

    def switch(self, node_cls, cfg, then=None):
        """An operator's promote/demote/settle (firmware/rolecmds.py): the node has changed
        its metadata record; write it, wait until the card holds it, reset into the new
        role (a new node over the same card), then call then()."""
        self.node._write_meta()

        def landed():
            if self.card.pending():
                self.world.after(1, landed)
                return
            self.world.log(self.name, "reset into role %s" % cfg.role)
            self.power_off()
            self.node_cls = node_cls
            self.cfg = cfg
            self.power_on()
            if then is not None:
                then()
        self.world.after(0, landed)

    @property
    def on(self):
        return self.node is not None

    # -- actions from the node -----------------------------------------------------------
    def _emit(self, kind, a, b):
        self._emits += 1
        if kind == A_READ:
            bulk = getattr(self.node, "sim_bulk", None)
            if bulk is not None:
                self.node.sim_bulk = None
                self.card.submit_bulk(a, bulk[0], bulk[1], self._bulk_done(self._epoch),
                                      bulk[2])
            else:
                self.card.submit("r", a, b, self._completion(self._epoch))
        elif kind == A_WRITE:
            self.card.submit("w", a, bytes(b), self._completion(self._epoch))
        elif kind == A_EVENT:
            if a == "mismatch":
                self.mismatches.append((self.world.now, b))  # (the campaign's silent_repair)
            self.world.log(self.name, a, "" if b is None else b)

    def _bulk_done(self, epoch):
        done = self._completion(epoch)

        def bulk_done(k):
            if epoch == self._epoch:
                self.node.sim_bulk_done = k
            done(True)
        return bulk_done

    def _completion(self, epoch):
        def done(ok):
            if epoch == self._epoch:
                self.node.io_done(ok, self.world.now)
                self._after()
        return done

    # -- events into the node ------------------------------------------------------------
    def receive(self, data):
        if self.node is not None and self.link.transport:
            self.node.receive(data, self.world.now)
            self._after()

    def transport(self, up):
        if self.node is None:
            return
        if up:
            self.node.transport_up(self.world.now)
        else:
            self.node.transport_down(self.world.now)
        self._after()

    def app_write(self, block, data):
        token = self.node.app_write(block, data, self.world.now)
        self._after(idle=token >= 0)  # a refused write changed nothing to idle about
        return token

    def app_io(self):
        """The application used the card: background work waits for a quiet moment."""
        self.policy.foreground(self.world.now)

    def _tick(self, t, epoch):
        if epoch != self._epoch or t != self._tick_at:
            return  # stale: power was lost, or the deadline moved
        self._tick_at = None
        self._last_tick = self.world.now
        self.node.tick(self.world.now)
        self._after()

    def wire_free(self):
        """The link took this board's bytes: an overdue tick may now get its ack out."""
        node = self.node
        if node is not None:
            d = node.next_deadline()
            if d is not None and d <= self.world.now:
                self._last_tick = self.world.now
                node.tick(self.world.now)
                self._after()

    def _idle(self, epoch):
        if epoch != self._epoch:
            return
        self._idle_pending = False
        now = self.world.now
        if not self.policy.may_idle(now):
            self._schedule_idle()
            return
        node = self.node
        steps = 0
        blind = 0
        emits, txn = self._emits, len(node.tx_view())
        while True:
            if not node.idle(now):
                break
            steps += 1
            # idle() also says True while a job waits for room to send (a board's poll
            # loop just spins then); with nothing visible coming out for a while, wait for
            # the next event instead of spinning at one instant of virtual time. (What a
            # step left is what the next one starts from: tx_view() is read once a step.)
            e, n = self._emits, len(node.tx_view())
            if e == emits and n == txn:
                blind += 1
                if blind >= _BLIND_STEPS:
                    break
            else:
                blind = 0
                emits, txn = e, n
            if steps > _MAX_IDLE_STEPS:
                self.world.violation("spin", "%s: idle() never waits" % self.name)
                break
        if steps:
            self._after(idle=False)

    # -- the runtime's housekeeping after each event ------------------------------------
    def _after(self, idle=True):
        node = self.node
        if node is None:
            return
        self.pipe.kick()
        self._schedule_tick(node)
        if idle and not self._idle_pending:
            self._schedule_idle()
        if self._in_after:
            return  # an event a listener caused (app_write): listeners already know
        self._in_after = True
        try:
            for fn in self.listeners:
                fn(self)
        finally:
            self._in_after = False

    def _schedule_tick(self, node):
        d = node.next_deadline()
        if d is None:
            return
        if d <= self._last_tick:
            # Overdue, and the tick at that moment already ran: what the node waits for
            # (room in its transmit buffer, its turn for background work) is not a tick's
            # to give. A board's poll loop would spin; poll every few ms instead, and at
            # once when the wire has taken bytes (wire_free).
            d = self._last_tick + _POLL_MS
        if self._tick_at is None or d < self._tick_at:
            self._tick_at = d
            self.world.at(d, self._tick, d, self._epoch)

    def _schedule_idle(self):
        if self._idle_pending:
            return
        t = self.policy.next_chance()
        self._idle_pending = True
        # (a hair later than the policy's moment: now - last >= quiet must hold in floats)
        self.world.at(self.world.now if t is None else t + 1e-6, self._idle, self._epoch)
