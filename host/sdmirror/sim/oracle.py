"""What each block of the mirrored volume may hold, from the history of application writes.

Per block, the versions written to it in issue order. A version is acknowledged at the
level that matters: `local` once the primary's card has it (what an async-mode
application is told), `durable` once the controller says the secondary holds it (sync
mode). Acceptable final contents of a block: the last acknowledged version, or any version
issued after it (not acknowledged, so it may or may not have landed), including the torn
variants a power loss left on the primary's card. Before any acknowledgement, the initial
contents are acceptable too.

A large card (sim/sparse.py) keeps its initial contents sparse too: versions are kept per
block written, so the oracle costs memory for what the application wrote, not the card.

A silent bit flip on the primary's card (flip()) is a version of its own that nobody
acknowledged: the design copies the primary's card to the secondary, so the flipped
contents may end on both cards, and so may the data the application was last told of (a
heal from the secondary's copy puts it back); the campaign checks besides that a scan
reported a flip it copied (scenario.py, `silent_repair`).
"""

BLOCK = 512


class Write:
    __slots__ = ("id", "block", "n", "issued_at", "local", "durable", "forwarded", "failed",
                 "token", "detached")

    def __init__(self, wid, block, n, now):
        self.id = wid
        self.block = block
        self.n = n
        self.issued_at = now
        self.local = False  # on the primary's card, reported to the application
        self.durable = False  # sync mode: the controller said the secondary holds it
        self.forwarded = None  # (node, session number) it was sent to a paired secondary in
        self.failed = False  # the primary's card reported an error
        self.token = None  # the controller's token of its last piece (app_write())
        self.detached = False  # served by the secondary alone (mirror/detach.py)


class Oracle:
    def __init__(self, nblocks, initial):
        self.nblocks = nblocks
        if hasattr(initial, "untouched_run"):  # a sparse image: its written blocks
            self._initial = dict((b, d) for b, d in initial.blocks.items() if b < nblocks)
            self.initial = None
        else:
            self.initial = bytes(initial[:nblocks * BLOCK])
        self._versions = {}  # block -> [write, data, [torn results]] of each version
        self.writes = []

    def initial_block(self, b):
        if self.initial is None:
            return self._initial.get(b, bytes(BLOCK))
        return self.initial[b * BLOCK:(b + 1) * BLOCK]

    def written(self):
        """Every block the application (or a flip) ever gave a version."""
        return self._versions.keys()

    def issue(self, block, data, now):
        w = Write(len(self.writes) + 1, block, len(data) // BLOCK, now)
        self.writes.append(w)
        for i in range(w.n):
            self._versions.setdefault(block + i, []).append(
                (w, bytes(data[i * BLOCK:(i + 1) * BLOCK]), []))
        return w

    def flip(self, block, data, now):
        """The primary's card silently changed `block` to `data` (a bit flip)."""
        w = Write(0, block, 1, now)  # (never local or durable: not the application's)
        self._versions.setdefault(block, []).append((w, bytes(data), []))

    def written_since(self, first, last, t):
        """Whether the application issued a write into blocks [first, last] at or after t."""
        for b in range(first, min(last, self.nblocks - 1) + 1):
            for w, _, _ in self._versions.get(b, ()):
                if w.id and w.issued_at >= t:
                    return True
        return False

    def torn(self, block, new_data, result):
        """The primary's card was cut while programming `new_data` into `block`."""
        if block >= self.nblocks:
            return  # the metadata block
        for w, data, torn in reversed(self._versions.get(block, [])):
            if data == new_data:
                torn.append(result)
                return

    def acceptable(self, b, level):
        return self.acceptable_if(b, lambda w: getattr(w, level))

    def acceptable_if(self, b, acked):
        """As acceptable(), with acked(write) saying which writes count as acknowledged."""
        vs = self._versions.get(b, [])
        last = -1
        for i in range(len(vs) - 1, -1, -1):
            if acked(vs[i][0]):
                last = i
                break
        ok = set()
        if last < 0:
            ok.add(self.initial_block(b))
        for w, data, torn in vs[max(last, 0):]:
            ok.add(data)
            ok.update(torn)
        return ok

    def newer_or_same(self, w, b):
        """Contents of block b that prove write w reached a card: its data or a later one's."""
        vs = self._versions.get(b, [])
        ok = set()
        seen = False
        for v, data, _ in vs:
            seen = seen or v is w
            if seen:
                ok.add(data)
        return ok

    def failed_since_local(self, b):
        """A write to b that failed to the application came after its last completed one
        (it may or may not have reached a card: expected_exact cannot say)."""
        for w, _, _ in reversed(self._versions.get(b, [])):
            if w.local:
                return False
            if w.failed:
                return True
        return False

    def expected_exact(self, b):
        """The block's contents if the primary suffered no fault: the last version."""
        vs = self._versions.get(b, [])
        return vs[-1][1] if vs else self.initial_block(b)
