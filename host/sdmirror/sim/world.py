"""Virtual time: a heap of timed callbacks, and the scenario's trace.

Nothing here sleeps or reads a clock. Events at the same instant run in the order they
were scheduled (a sequence number breaks ties), so a run depends only on its seed.
"""
from heapq import heappop, heappush


class Runaway(Exception):
    """The scenario ran more events than any sane run needs: stop it."""


class World:
    def __init__(self, rng, verbose=False, max_events=2000000):
        self.rng = rng
        self.now = 0.0
        self._heap = []
        self._seq = 0
        self.verbose = verbose
        self.lines = []  # the readable trace (only kept when verbose)
        self.faults = {}  # fault kind -> times it happened
        self.violations = {}  # check name -> list of details
        self.events_run = 0
        self.max_events = max_events  # a scenario that runs away is stopped and fails

    def at(self, t, fn, *args):
        """Run fn(*args) at virtual time t (ms); never in the past."""
        if t < self.now:
            t = self.now
        self._seq = seq = self._seq + 1
        heappush(self._heap, (t, seq, fn, args))

    def after(self, dt, fn, *args):
        # at(now + dt) inlined: the simulator's most frequent call (never in the past
        # unless dt < 0, which at() clamps)
        t = self.now + dt
        if t < self.now:
            t = self.now
        self._seq = seq = self._seq + 1
        heappush(self._heap, (t, seq, fn, args))

    def run_until(self, t_end, stop=None):
        """Run events up to t_end; stop early when stop() is true (checked after events).
        Returns True if stopped by stop()."""
        heap = self._heap
        limit = self.max_events
        n = self.events_run
        try:
            while heap and heap[0][0] <= t_end:
                t, _, fn, args = heappop(heap)
                self.now = t
                fn(*args)
                n += 1
                if n > limit:
                    self.events_run = n
                    self.violation("spin", "more than %d events by %.0f ms" % (limit, t))
                    raise Runaway()
                if stop is not None and stop():
                    return True
        finally:
            self.events_run = n  # counted in a local; no event reads it meanwhile
        self.now = max(self.now, t_end)
        return False

    # -- bookkeeping ---------------------------------------------------------------------
    def log(self, who, what, *detail):
        if self.verbose:
            extra = " ".join(str(d) for d in detail)
            self.lines.append("%10.1f  %-9s %s%s" % (self.now, who, what,
                                                      " " + extra if extra else ""))

    def fault(self, kind, who="", *detail):
        self.faults[kind] = self.faults.get(kind, 0) + 1
        self.log(who or "fault", "FAULT " + kind, *detail)

    def violation(self, check, detail):
        self.violations.setdefault(check, []).append(detail)
        self.log("check", "VIOLATION " + check, detail)
