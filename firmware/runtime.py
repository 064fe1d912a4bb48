# The board runtime: performs the controller's actions (card I/O, link bytes) and feeds it
# events, in one poll loop. Not asyncio: in sync mode a FAT write on the mirrored volume
# must block until the secondary confirms it, from inside VfsFat's call, and a re-entrant
# poll loop (wait()) allows that where an event loop could not.
import select
import time

from micropython import const

try:
    from time import ticks_diff, ticks_ms
except ImportError:  # CPython (tests, tools): a plain monotonic clock
    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

from mirror.node import A_EVENT, A_READ, A_WRITE
from mirror.sched import IdlePolicy

_WAIT_MS = 30000
# The controller's clock: milliseconds since boot, but moved back every few days so that
# its times stay small ints on 32-bit ports (below 2^30; a larger int is a heap object
# there, and 2^30 ms is 12.4 days of uptime). When it reaches REBASE_AT the runtime
# subtracts (now - KEEP) from it and tells the node, the idle policy and the link to
# shift their stored times by as much: times in the past stay past (at least KEEP ago),
# deadlines keep their distance. The board's own clock (time.ticks_ms) wraps on its own;
# only ticks_diff of two readings is used.
REBASE_AT = const(1 << 28)  # 3.1 days; deadlines up to 2^29 ms ahead stay small too
# (REBASE_AT and KEEP are public: tests read them, and const names with _ vanish)
KEEP = const(1 << 26)  # 18.6 hours
_MAX_ERRORS = 50  # passes of the loop failing in a row: give up (run_guarded resets)


class Runtime:
    def __init__(self, node_cls, cfg, card, link, entropy, on_event=None):
        self.card = card
        self.link = link
        self.on_event = on_event
        self._done = []
        self._t0 = ticks_ms()
        self._now = 0
        self.policy = IdlePolicy()
        self.cfg = cfg
        self.entropy = entropy
        self.node = node_cls(cfg, card.ioctl(4, 0), self._emit, entropy)
        self._poll_link = select.poll()
        self._poll_all = select.poll()
        self._console = None
        self._link_obj = None
        self._link_fd = None
        self._bg_progress = False
        self.errors = 0  # loop passes that raised (reported as `error` events)

    def now(self):
        t = ticks_ms()
        self._now += ticks_diff(t, self._t0)
        self._t0 = t
        return self._now

    def _rebase(self):
        """Move the clock back (see REBASE_AT); only between two passes of pump()."""
        d = self._now - KEEP
        self._now = KEEP
        self.node.rebase(d)
        self.policy.rebase(d)
        if hasattr(self.link, "rebase"):
            self.link.rebase(d)

    # -- actions from the node ------------------------------------------------------------
    def _emit(self, kind, a, b):
        if kind == A_READ:
            self._done.append(self._io(self.card.readblocks, a, b))
        elif kind == A_WRITE:
            self._done.append(self._io(self.card.writeblocks, a, b))
        elif kind == A_EVENT and self.on_event is not None:
            self.on_event(a, b)

    def _io(self, fn, block, buf):
        try:
            fn(block, buf)
            return True
        except OSError:
            return False

    def _complete(self):
        while self._done:
            self.node.io_done(self._done.pop(0), self.now())

    # -- what the mirrored volume needs (see mirror.volume.MirroredVolume) -----------------
    def local_read(self, block, buf):
        self.policy.foreground(self.now())
        self.card.readblocks(block, buf)

    def local_write(self, block, buf):
        self.policy.foreground(self.now())
        self.card.writeblocks(block, buf)

    def wait(self, predicate, timeout_ms=_WAIT_MS):
        """Run the link (not the console) until predicate() holds."""
        t0 = ticks_ms()  # the board's clock: pump() may rebase the controller's
        while not predicate():
            if ticks_diff(ticks_ms(), t0) > timeout_ms:
                raise OSError(110)  # ETIMEDOUT: the secondary did not confirm in time
            self.pump(10, False)

    # -- the loop ------------------------------------------------------------------------
    def start(self, console=None):
        self._console = console
        if console is not None:
            self._poll_all.register(console.stream, select.POLLIN)
        self.node.start(self.now())
        self._complete()

    def _track_link(self):
        obj = self.link.poll_obj
        if obj is self._link_obj:
            return
        for p in (self._poll_link, self._poll_all):
            if self._link_obj is not None:
                p.unregister(self._link_obj)
            if obj is not None:
                p.register(obj, select.POLLIN)
        self._link_obj = obj
        self._link_fd = obj.fileno() if hasattr(obj, "fileno") else None

    def _flush_tx(self):
        node = self.node
        tx = node.tx_view()
        while len(tx):
            n = self.link.write(tx)
            if not n:
                return
            node.tx_done(n)
            tx = node.tx_view()

    def pump(self, timeout_ms, with_console=True):
        node = self.node
        now = self.now()
        if now >= REBASE_AT:
            self._rebase()
            now = self._now
        change = self.link.maintain(now)
        if change == "up":
            node.transport_up(now)
        elif change == "down":
            node.transport_down(now)
        self._track_link()
        self._flush_tx()
        if self._bg_progress and self.policy.may_idle(now):
            timeout_ms = 0  # background work is moving: look at the link, then go on
        else:
            t = node.next_deadline()
            if t is not None:
                timeout_ms = max(0, min(timeout_ms, t - now))
        poller = self._poll_all if with_console else self._poll_link
        for obj, ev in poller.poll(timeout_ms):
            if obj is self._link_obj or obj == self._link_fd:  # CPython's poll gives fds
                n = self.link.read()
                if n:
                    node.receive(self.link.rx, self.now(), n)
            elif with_console and self._console is not None:
                self._console.feed()
        now = self.now()
        node.tick(now)
        self._complete()
        did = False
        for _ in range(8):  # a few background steps, then look at the link again
            if not self.policy.may_idle(now) or not node.idle(now):
                break
            did = True
            self._complete()
        self._bg_progress = did  # else wait for an event (no spinning at 0 ms)
        self._flush_tx()

    def run(self):
        """The loop. An exception out of one pass (a bug: no byte from the link or the
        console should cause one) is reported as an `error` event and the link session
        starts over from a known state; only a run of _MAX_ERRORS passes that all fail
        (nothing gets better) ends the loop, for run_guarded's reset."""
        errors = 0
        while True:
            try:
                self.pump(50)
                errors = 0
            except (KeyboardInterrupt, MemoryError):
                raise
            except Exception as e:
                errors += 1
                self.errors += 1
                self._report("error", "%s: %s (the link starts over)" % (type(e).__name__, e))
                if errors >= _MAX_ERRORS:
                    raise
                try:
                    self.node.session.restart(self.now(), "internal error")
                except Exception:
                    pass

    def _report(self, name, detail):
        if self.on_event is not None:
            try:
                self.on_event(name, detail)
            except Exception:
                pass

    def run_guarded(self, on_fatal):
        """run(), but out of memory (or a loop that keeps failing) is survived the way a
        watchdog would: report it and reset the board (state in RAM, the bitmap too, is
        lost: the next pairing scans)."""
        try:
            self.run()
        except KeyboardInterrupt:
            raise
        except MemoryError:
            import gc
            gc.collect()
            on_fatal("out of memory (%d bytes free after collection): resetting" %
                     gc.mem_free())
            raise
        except Exception as e:
            on_fatal("%d loop passes failed in a row, last %s: %s: resetting" %
                     (_MAX_ERRORS, type(e).__name__, e))
            raise MemoryError  # main() resets the board on this, as a watchdog would
