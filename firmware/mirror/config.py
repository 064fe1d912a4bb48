# Controller configuration: one object, validated once, read everywhere.
# A board profile (boards/NAME/board.py) supplies overrides; the defaults suit a UART link.

ROLES = ("primary", "secondary")
COMPARERS = ("secondary", "primary")
MODES = ("async", "sync")

_DEFAULTS = {
    "role": "primary",
    "alg": "crc32",            # per-block checksum, agreed at handshake
    "comparer": "secondary",   # which side compares scan results (claims 3 and 5)
    "mode": "async",           # sync: ack app writes once the secondary has them durably
    "degraded": "continue",    # sync, secondary unreachable: "continue" on this card alone
                               # (DRBD's default) or "refuse": wait, then fail the write
    "degraded_ms": 10000,      # degraded=refuse: how long a write waits for the secondary
    "card_errors": 8,          # primary: requests to its card failing in a row before it is
                               # detached (served from the secondary, detach.py); 0 = never.
                               # Above the simulator's error bursts (3) plus a bad block's
                               # heal tries (3): a bad sector alone does not detach a card
    "key": None,               # shared secret (bytes): authenticate every frame
    "window": 8,               # frames in flight on the link
    "frame_blocks": 8,         # data blocks per frame; payload size follows from it
    "region_blocks": 0,        # blocks per bitmap bit; 0 = the bitmap's default
    "cache_bytes": 2048,       # RAM for the group digests of a full scan
    "chunk_blocks": 16,        # blocks per background read: the scan's unit of yielding
    "epoch_bytes": 4096,       # resync work sent before asking the peer to confirm it
    "max_epochs": 4,           # confirmations outstanding at once
    "actlog": 1,               # 1: after a primary power loss resync only the extents of its
                               # activity log (actlog.py); 0: the full scan
    "al_extent_blocks": 32768,  # blocks per extent of the activity log (a power of two;
                               # 16 MiB): coarser means fewer log records, more to read after
                               # a power loss (each logged extent costs a scan's round trip)
    "al_extents": 4,           # extents the log keeps once their writes are confirmed (LRU):
                               # a writer within them (64 MiB) writes no record (1-47)
    "al_backlog": 12,          # extents that may hold writes the secondary has not confirmed
                               # before a write into another waits (up to 5 s), rather than
                               # grow what a power loss costs to compare; 0 = never wait
    "listed_max": 1024,        # runs of blocks the primary lists while its bitmap records
                               # (listed.py): 6 bytes each (6 KiB), 1,024 suits 32 GiB;
                               # 0 = none, regions are compared (the rp2040 profile: RAM)
    "whole_run": 0,            # dirty regions in a row sent whole unexamined; 0 = only
                               # regions that consecutive writes covered completely
    "scan_period_ms": 0,       # periodic scan interval; 0 = off
    "scan_rate": 20,           # blocks per second a periodic scan reads on each side (sched.py
                               # ScanPace: 0.6 % of an SD card's time at 0.3 ms a read, so a
                               # write seldom waits behind one: issue 9's p99 goal); 0 =
                               # unpaced. A resync is never paced. 32 GiB then takes 39 days
    "scan_mode": "tree",       # full scans: "tree" (hash tree) or "flat" (a CRC per block)
    "link_rate": 0,            # bytes/s of the link when known (UART: baud / 10); 0 = fast
    "framing": "cobs",         # frame delimiting: "cobs" (UART) or "length" (TCP stream)
    "rto_init_ms": 1000,
    "rto_min_ms": 200,
    "rto_max_ms": 8000,
    "hello_ms": 500,
    "keepalive_ms": 30000,     # an idle side sends a keepalive after this long without a frame
    "dead_ms": 8000,           # silence allowed once the peer owes an answer (session.py):
                               # 8 s with writes in flight, keepalive_ms + 8 s when idle
    "ack_delay_ms": 20,
}


# The one validator of the settings: the board runs it at boot (main.py), and the host
# tools run the same code before they write a board's settings (`sdmirror flash`, `emu
# up`), so a setting the tools accept is one the board accepts. Numbers: (lowest, highest)
# and why. Times stay below 2^29 ms: the runtime's clock is rebased below 2^30 (small ints
# on 32-bit ports), and a deadline is a time plus one of these.
_T = 1 << 24  # ms: 4.6 hours, more than any timeout needs
_RANGES = {
    "window": (1, 1024),          # frames in flight (the 16-bit sequence space: < 32768)
    "frame_blocks": (1, 64),      # frame length fits the u16 of a TCP length prefix
    "region_blocks": (0, 1 << 20),  # 0 or a power of two (bitmap.py)
    "cache_bytes": (1, 1 << 20),
    "chunk_blocks": (1, 128),
    "epoch_bytes": (1, 1 << 24),
    "max_epochs": (1, 64),        # epoch tags are one byte
    "actlog": (0, 1),
    "al_extent_blocks": (1, 1 << 24),  # a power of two; at least a bitmap region in effect
    "al_extents": (1, 47),        # actlog.CAPACITY: what the metadata block holds
    "al_backlog": (0, 47),        # likewise (past 47 the log is FULL)
    "listed_max": (0, 8192),
    "whole_run": (0, 64),         # runs are taken 64 regions at most (primary.py)
    "scan_period_ms": (0, 1 << 29),
    "scan_rate": (0, 100000),     # blocks/s; ScanPace's carry stays below it (a small int)
    "link_rate": (0, 1 << 26),
    "rto_init_ms": (1, _T),
    "rto_min_ms": (1, _T),
    "rto_max_ms": (1, _T),
    "hello_ms": (1, 60000),
    "keepalive_ms": (1, _T),
    "dead_ms": (1, _T),
    "ack_delay_ms": (0, 60000),
    "degraded_ms": (1, _T),
    "card_errors": (0, 1000),
}
_CHOICES = {"role": ROLES, "comparer": COMPARERS, "mode": MODES, "scan_mode": ("tree", "flat"),
            "framing": ("cobs", "length"), "degraded": ("continue", "refuse")}


def _bad(name, allowed, value):
    return ValueError("setting %s must be %s, not %r" % (name, allowed, value))


def check(kw):
    """Check settings (a dict, defaults for what it lacks): a ValueError of one line naming
    the first bad setting and what it may be."""
    for name in kw:
        if name not in _DEFAULTS:
            raise ValueError("unknown setting '%s'; settings: %s" % (
                name, ", ".join(sorted(n for n in _DEFAULTS if n != "key"))))
    v = dict(_DEFAULTS)
    v.update(kw)
    for name in _CHOICES:
        if v[name] not in _CHOICES[name]:
            raise _bad(name, " or ".join(_CHOICES[name]), v[name])
    for name in _RANGES:
        lo, hi = _RANGES[name]
        x = v[name]
        if type(x) is not int or not lo <= x <= hi:
            raise _bad(name, "a whole number from %d to %d" % (lo, hi), x)
    r = v["region_blocks"]
    if r & (r - 1):
        raise _bad("region_blocks", "0 (the default) or a power of two", r)
    r = v["al_extent_blocks"]
    if r & (r - 1):
        raise _bad("al_extent_blocks", "a power of two", r)
    if not v["rto_min_ms"] <= v["rto_init_ms"] <= v["rto_max_ms"]:
        raise _bad("rto_init_ms", "from rto_min_ms to rto_max_ms", v["rto_init_ms"])
    from mirror import checksum
    if v["alg"] not in checksum.names():
        raise _bad("alg", "one of " + ", ".join(checksum.names()), v["alg"])
    key = v["key"]
    if key is not None and (not isinstance(key, (bytes, bytearray)) or len(key) < 16):
        raise ValueError("setting key must be at least 16 bytes")
    return v


class Config:
    def __init__(self, **kw):
        v = check(kw)
        for name in v:
            setattr(self, name, v[name])
        self.max_payload = self.frame_blocks * 512 + 64
