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
