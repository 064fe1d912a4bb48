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
    "key": None,               # shared secret (bytes): authenticate every frame
    "window": 8,               # frames in flight on the link
    "frame_blocks": 8,         # data blocks per frame; payload size follows from it
    "region_blocks": 0,        # blocks per bitmap bit; 0 = the bitmap's default
    "cache_bytes": 2048,       # RAM for the group digests of a full scan
    "chunk_blocks": 16,        # blocks per background read: the scan's unit of yielding
    "epoch_bytes": 4096,       # resync work sent before asking the peer to confirm it
    "max_epochs": 4,           # confirmations outstanding at once
    "whole_run": 16,           # dirty regions in a row: a sequential write, sent whole
    "scan_period_ms": 0,       # periodic scan interval; 0 = off
    "scan_mode": "tree",       # full scans: "tree" (hash tree) or "flat" (a CRC per block)
    "link_rate": 0,            # bytes/s of the link when known (UART: baud / 10); 0 = fast
    "framing": "cobs",         # frame delimiting: "cobs" (UART) or "length" (TCP stream)
    "rto_init_ms": 1000,
    "rto_min_ms": 200,
    "rto_max_ms": 8000,
    "hello_ms": 500,
    "keepalive_ms": 2000,
    "dead_ms": 8000,
    "ack_delay_ms": 20,
}


class Config:
    def __init__(self, **kw):
        for name in kw:
            if name not in _DEFAULTS:
                raise ValueError("unknown setting '%s'" % name)
        for name in _DEFAULTS:
            setattr(self, name, kw.get(name, _DEFAULTS[name]))
        self._check()
        self.max_payload = self.frame_blocks * 512 + 64

    def _check(self):
        if self.role not in ROLES:
            raise ValueError("role must be primary or secondary, not %r" % (self.role,))
        if self.comparer not in COMPARERS:
            raise ValueError("comparer must be secondary or primary, not %r" % (self.comparer,))
        if self.scan_mode not in ("tree", "flat"):
            raise ValueError("scan_mode must be tree or flat, not %r" % (self.scan_mode,))
        if self.framing not in ("cobs", "length"):
            raise ValueError("framing must be cobs or length, not %r" % (self.framing,))
        if self.mode not in MODES:
            raise ValueError("mode must be async or sync, not %r" % (self.mode,))
        if self.degraded not in ("continue", "refuse"):
            raise ValueError("degraded must be continue or refuse, not %r" % (self.degraded,))
        if self.degraded_ms < 1:
            raise ValueError("degraded_ms must be at least 1")
        if self.key is not None and len(self.key) < 16:
            raise ValueError("key must be at least 16 bytes")
        for name in ("window", "frame_blocks", "chunk_blocks", "max_epochs", "cache_bytes"):
            if getattr(self, name) < 1:
                raise ValueError("%s must be at least 1" % name)
        if self.window > 1024:
            raise ValueError("window must be at most 1024 frames")
        if self.max_epochs > 64:
            raise ValueError("max_epochs must be at most 64")
