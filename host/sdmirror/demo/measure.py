"""What the demo measures, and only from the run itself: bytes that crossed the emulated
link (the proxy's counters, both directions), the primary's own counters, wall time, and
the blocks that differ between the two card images (read on the host).

A phase's cost is compared with two yardsticks:
  ideal      = differing blocks x 512: only the blocks that differ, nothing else;
  flat list  = volume blocks x 4 + differing x 512: every block's CRC-32 sent, then the
               differing blocks — what a per-block checksum scan without a tree costs.
"""
import os
import time

from sdmirror.console_client import parse_line
from sdmirror.verify import BLOCK, compare

DIRECTIONS = ("primary_to_secondary", "secondary_to_primary")


def link_bytes(emu):
    """(primary->secondary, secondary->primary) bytes delivered by the link so far."""
    stats = emu.link("stats")["stats"]
    return tuple(int((stats.get(d) or {}).get("bytes_out", 0)) for d in DIRECTIONS)


def differing(image_a, image_b):
    """Block numbers where the two cards' volumes differ."""
    return compare(image_a, image_b)[0]


def differing_from(snapshot, image):
    """Blocks where image's volume differs from an earlier snapshot (bytes) of a volume."""
    out = []
    chunk = 2048 * BLOCK
    with open(image, "rb") as f:
        for off in range(0, len(snapshot), chunk):
            a = snapshot[off:off + chunk]
            b = f.read(len(a))
            if a != b:
                for i in range(0, len(a), BLOCK):
                    if a[i:i + BLOCK] != b[i:i + BLOCK]:
                        out.append((off + i) // BLOCK)
    return out


def read_volume(image, nblocks):
    with open(image, "rb") as f:
        return f.read(nblocks * BLOCK)


class Phase:
    """One chapter of the story and its measurements."""

    def __init__(self, key, title, nblocks, short=None):
        self.key = key
        self.title = title              # "name: what recovers it"
        self.short = short or title.split(":")[0]
        self.nblocks = nblocks
        self.differing = None       # blocks that differed when recovery began
        self.link = (0, 0)          # bytes p->s, s->p during the measured span
        self.blocks_copied = 0
        self.counters = {}          # deltas of the primary's counters
        self.seconds = None
        self.events = []            # firmware events seen in the span ("board: event detail")
        self.notes = []
        self.extra = {}             # what a phase reports beyond the common measurements
        self._t0 = self.link_start = self._c0 = None

    def start(self, emu, counters, t0=None, link0=None):
        """Begin the measured span now (or at t0, with link counters link0)."""
        self._t0 = time.monotonic() if t0 is None else t0
        self.link_start = link_bytes(emu) if link0 is None else link0
        self._c0 = dict(counters)

    def stop(self, emu, counters):
        self.seconds = time.monotonic() - self._t0
        now = link_bytes(emu)
        self.link = (now[0] - self.link_start[0], now[1] - self.link_start[1])
        self.counters = {k: v - self._c0.get(k, 0) for k, v in counters.items()
                         if isinstance(v, int) and v - self._c0.get(k, 0)}
        self.blocks_copied = self.counters.get("blocks_copied", 0)

    @property
    def total_bytes(self):
        return self.link[0] + self.link[1]

    @property
    def ideal(self):
        return len(self.differing or ()) * BLOCK

    @property
    def flat(self):
        return self.nblocks * 4 + self.ideal

    def ratio_ideal(self):
        return self.total_bytes / self.ideal if self.ideal else None

    def ratio_flat(self):
        return self.total_bytes / self.flat if self.flat else None

    def as_dict(self):
        return {"key": self.key, "title": self.title, "differing_blocks": len(self.differing or ()),
                "link_bytes_p2s": self.link[0], "link_bytes_s2p": self.link[1],
                "link_bytes": self.total_bytes, "blocks_copied": self.blocks_copied,
                "counters": self.counters, "seconds": round(self.seconds or 0, 2),
                "ideal_bytes": self.ideal, "flat_crc_bytes": self.flat,
                "ratio_ideal": self.ratio_ideal(), "ratio_flat": self.ratio_flat(),
                "events": self.events, "notes": self.notes, **self.extra}


class EventLog:
    """Firmware events (JSON lines with "event") from the emulated boards' console logs.

    The emulator logs everything a board prints, whether or not a client reads it, so no
    event is missed between console commands."""

    def __init__(self, paths):
        self.paths = paths          # board name -> console log path
        self.offsets = {}
        self.mark()

    def mark(self):
        for name, path in self.paths.items():
            self.offsets[name] = os.path.getsize(path) if os.path.exists(path) else 0

    def since_mark(self):
        out = []
        for name, path in self.paths.items():
            try:
                with open(path, "rb") as f:
                    f.seek(self.offsets.get(name, 0))
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            for line in text.splitlines():
                obj = parse_line(line)
                if obj is not None and "event" in obj:
                    out.append((name, obj["event"], obj.get("detail")))
        return out
