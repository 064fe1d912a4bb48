# When may background work (scans, resync) use the card? Only when the foreground has
# been quiet for a moment: an application write that arrives finds at most one background
# read in its way, and a burst of writes keeps the scan off the card altogether. This is
# the "low priority" of claims 7 and 14; runtimes (boards, emulator, simulator) consult it
# before each call to Node.idle().


class IdlePolicy:
    def __init__(self, quiet_ms=5):
        self.quiet_ms = quiet_ms
        self._last = None

    def foreground(self, now):
        """The application used the card at `now`."""
        self._last = now

    def rebase(self, d):
        """The runtime's clock moved back by d ms."""
        if self._last is not None:
            self._last = max(self._last - d, 0)

    def may_idle(self, now):
        return self._last is None or now - self._last >= self.quiet_ms

    def next_chance(self):
        """When background work may next run (None: now)."""
        return None if self._last is None else self._last + self.quiet_ms


# How fast may a periodic scan read? A write that arrives while a background read holds the
# card waits for it (an SD card finishes one command before the next), and an application's
# writes come when they come: a write finds a background read in its way as often as the
# card is busy with them. So the periodic scan (the pair is coherent: it looks for silent
# corruption, nothing is known to differ) reads at most cfg.scan_rate blocks per second on
# each side, a few % of an SD card's time, as md's check honours speed_limit_max and ZFS
# delays its scrub's I/O. A resync reads at full speed (Node._paced is False then).
# Integer ms only: the carry keeps the rate exact in whole ms, every figure a small int.
class ScanPace:
    def __init__(self, rate):
        self.rate = rate  # blocks per second; 0: no pacing
        self.at = None  # the next paced read may start at this time (ms)
        self._carry = 0  # fraction of a ms owed, in units of 1/rate ms

    def due(self, now):
        """May a paced read start at `now`?"""
        return self.at is None or now >= self.at

    def took(self, now, blocks):
        """A paced read of `blocks` starts at `now`: the next waits 1000 * blocks / rate ms
        (counted from now: time lost to the foreground is not made up in a burst)."""
        c = self._carry + blocks * 1000
        ms = c // self.rate
        self._carry = c - ms * self.rate
        self.at = now + ms

    def rebase(self, d):
        """The runtime's clock moved back by d ms."""
        if self.at is not None:
            self.at = max(self.at - d, 0)
