"""One seeded scenario: random geometry, configuration, workload and faults; run it in
virtual time, stop the faults, let the pair settle, check the outcome.

Checks (each a failure category of the campaign):
- diverged: after settling, the two volumes are not byte-identical;
- lost_acked_writes: a block holds something no acknowledged history allows (oracle.py),
  on either card, or a sync-mode acknowledgement came while the secondary's card did not
  hold the write;
- outside_writes: a request reached past the end of a card (volume + metadata block);
- primary_changed: the primary suffered no fault, yet a block of its volume differs from
  what the application wrote there;
- unsettled: the pair never got back to paired, synced and idle (liveness);
- spin: a node's background work never yielded;
- bad_reads: an application read returned data no acknowledged (or later) write put
  there (app.py);
- lost_at_primary_death: at the moment the primary dies (power loss), a write it had
  forwarded in the session still up and that the secondary confirmed durable (T_WACK:
  what sync mode acknowledges, and what async mode's primary counts as on the secondary)
  is not on the secondary's card;
- silent_repair: a silent bit flip on the primary's card, in a region that was clean and
  that no resync took since, was copied to the secondary (the design's direction: the
  primary's card is the truth) without a scan reporting a `mismatch` for that block.
"""
import random

import sdmirror.fwpath

sdmirror.fwpath.install()

from mirror.config import Config  # noqa: E402
from mirror.node import META_BLOCKS  # noqa: E402
from mirror.primary import Primary  # noqa: E402
from mirror.secondary import Secondary  # noqa: E402

from .app import App  # noqa: E402
from .board import Board  # noqa: E402
from .card import BLOCK, Card  # noqa: E402
from . import fast  # noqa: E402
from .faults import PROFILES, Injector, make_plan  # noqa: E402
from .link import UART_BPS, Link  # noqa: E402
from .oracle import Oracle  # noqa: E402
from .sparse import SparseImage  # noqa: E402
from .world import Runaway, World  # noqa: E402

ALGS = ("crc32", "md5", "sha1", "sha256", "crc32-mpeg2")
CHECKS = ("diverged", "lost_acked_writes", "outside_writes", "primary_changed", "unsettled",
          "bad_reads", "lost_at_primary_death", "silent_repair")
_PROBE_MS = 250
_DEFAULT_RATE = Config().scan_rate


def make_params(rng):
    """Everything random about a scenario except the run itself (JSON-friendly)."""
    vol = rng.choice((rng.randint(1, 16), rng.randint(16, 64), rng.randint(64, 160)))
    cfg = {
        "alg": rng.choice(ALGS), "comparer": rng.choice(("secondary", "primary")),
        "mode": rng.choice(("sync", "async")),
        "key": rng.randbytes(rng.randint(16, 32)).hex() if rng.random() < 0.5 else None,
        "region_blocks": rng.choice((0, 1, 2, 4, 8)), "window": rng.randint(1, 8),
        "frame_blocks": rng.randint(1, 8), "chunk_blocks": rng.randint(1, 8),
        "cache_bytes": rng.choice((4, 16, 64, 256, 2048)),
        "epoch_bytes": rng.choice((512, 4096, 65536)), "max_epochs": rng.randint(1, 4),
        "whole_run": rng.randint(1, 4),
        "scan_period_ms": rng.choice((0, 0, rng.randint(1000, 8000))),
    }
    eth = rng.random() < 0.4
    link = {"kind": "eth" if eth else "uart",
            "bandwidth": rng.randint(100000, 1000000) if eth else UART_BPS,
            "latency_ms": rng.uniform(0.2, 80) if eth else rng.uniform(0.05, 3)}
    cards = [{"read_ms": rng.uniform(0.1, 1), "xfer_ms": rng.uniform(0.01, 0.1),
              "write_ms": rng.uniform(0.1, 1), "busy_ms": rng.uniform(0.2, 3)} for _ in "ps"]
    t_active = rng.uniform(3000, 40000)
    return {
        "volume_blocks": vol, "secondary_extra": rng.randint(1, 8) if rng.random() < 0.1 else 0,
        "initial": rng.choice(("same", "blank", "differ")), "cfg": cfg, "link": link,
        "cards": cards, "t_active": t_active,
        "app": {"pattern": rng.choice(("random", "sequential", "hotspot")),
                "max_blocks": rng.randint(1, 16), "gap_ms": rng.uniform(5, 500)},
        "profile": rng.choice(PROFILES),
    }


# What the first campaigns never drew, from random sources of their own (so a seed's older
# draws, and so the scenario of every recorded seed, stay as they were): the flat scan,
# settings that differ between the boards (within what the handshake accepts), and faults:
# authentic malformed messages, metadata reads failing at boot. Sessions cross the 16-bit
# sequence wrap in ordinary seeds (their numbers start from the nonces).
def explore_params(seed, params):
    x = random.Random("explore-p-%d" % seed)
    cfg = params["cfg"]
    if x.random() < 0.15:
        cfg["scan_mode"] = "flat"
    if x.random() < 0.3:
        s = {"window": x.randint(1, 8), "chunk_blocks": x.randint(1, 8),
             "epoch_bytes": x.choice((512, 4096, 65536)), "max_epochs": x.randint(1, 4)}
        params["cfg_s"] = s
    explore_actlog(seed, cfg)
    explore_pace(seed, cfg)
    explore_large(seed, params)
    # the primary's list of the writes made while its bitmap records (listed.py, 1,024 runs
    # by default): drawn in half the seeds, often tiny so that it overflows (a source of its
    # own); off (rp2040's setting: every dirty region compared) in a quarter
    w = random.Random("explore-l-%d" % seed)
    if w.random() < 0.5:
        cfg["listed_max"] = w.choice((1, 3, 16, 1024, 1024))
    elif w.random() < 0.5:
        cfg["listed_max"] = 0


def explore_pace(seed, cfg):
    """The periodic scan's pace (cfg.scan_rate, sched.py ScanPace): the default in most
    scenarios, unpaced or a random rate in the others (its own random source)."""
    x = random.Random("explore-r-%d" % seed)
    v = x.random()
    if v < 0.2:
        cfg["scan_rate"] = 0
    elif v < 0.4:
        cfg["scan_rate"] = x.randint(1, 2000)


def scan_ms(p):
    """Virtual ms one periodic scan of the volume takes at its pace (0: unpaced, or none)."""
    rate = p["cfg"].get("scan_rate", _DEFAULT_RATE)
    return 1000.0 * p["volume_blocks"] / rate if rate and p["cfg"]["scan_period_ms"] else 0.0


def explore_actlog(seed, cfg):
    """The activity log on in most scenarios (its own random source, so the scenarios of
    recorded seeds keep their other draws), with extents of a few blocks and a small LRU
    set, so that the sim's small volumes see extents evicted and records written."""
    x = random.Random("explore-al-%d" % seed)
    if x.random() < 0.8:
        cfg["actlog"] = 1
        cfg["al_extent_blocks"] = x.choice((1, 2, 4, 8, 16, 64, 8192))
        cfg["al_extents"] = x.choice((1, 2, 3, 8, 47))
        cfg["al_backlog"] = x.choice((0, 1, 2, 12, 47))  # (drawn last: older draws stay)
    else:
        cfg["actlog"] = 0


# Large cards (8, 16, 32 GiB) in a few scenarios, key on in half of them (its own random
# source): bitmap regions, tree heights and scan spans take their sizes from the card, so a
# size-dependent bug shows only there. Sparse cards (sim/sparse.py) hold what was written,
# the oracle and the checks look only at blocks ever written (and the simulator scans
# never-written spans at once, sim/fastscan.py). Such cards read faster (a real card moves
# 10-20 MB/s) and in larger chunks, so a full scan takes ~10-30 min of virtual time. Not
# with the flat scan: a digest per block on the link, 256 MB for 32 GiB (hours of
# simulation; it is the claims' literal baseline, not a way to run a large card).
LARGE_FRACTION = 0.01
LARGE_BLOCKS = (16777216, 33554432, 67108864)  # 8, 16, 32 GiB
LARGE_MAX_EVENTS = 6000000  # World's budget is 2,000,000 (a runaway is stopped and fails)


def explore_large(seed, params):
    x = random.Random("explore-l-%d" % seed)
    if x.random() >= LARGE_FRACTION:
        return
    blocks = x.choice(LARGE_BLOCKS)
    params["volume_blocks"] = blocks
    params["large"] = {"written": x.randint(1, 200), "run": x.randint(0, 160)}
    cfg = params["cfg"]
    cfg.pop("scan_mode", None)
    # unpaced: a periodic scan of 8-32 GiB at the default pace takes weeks, and the sparse
    # card's bulk reads (sim/fastscan.py) are for unpaced scans only
    cfg["scan_rate"] = 0
    # a bitmap of at most 4 KiB (32,768 regions), as the default's
    cfg["region_blocks"] = x.choice((0, blocks // 32768, blocks // 8192))
    cfg["chunk_blocks"] = x.randint(32, 128)
    if params.get("cfg_s"):
        params["cfg_s"]["chunk_blocks"] = x.randint(32, 128)
    if cfg["key"] is None and x.random() < 0.5:
        cfg["key"] = x.randbytes(x.randint(16, 32)).hex()
    for card in params["cards"]:
        card["read_ms"] = x.uniform(0.05, 0.3)
        card["xfer_ms"] = x.uniform(0.025, 0.05)


def _images(rng, p, vol, s_blocks):
    """The primary's and the secondary's images: random data, per p["initial"] on the
    secondary; metadata blank."""
    image = rng.randbytes(vol * BLOCK) + bytes(META_BLOCKS * BLOCK)
    if p["initial"] == "same":
        return image, image[:vol * BLOCK] + bytes((s_blocks - vol) * BLOCK)
    if p["initial"] == "blank":
        return image, bytes(s_blocks * BLOCK)
    s = bytearray(image[:vol * BLOCK] + bytes((s_blocks - vol) * BLOCK))
    for _ in range(rng.randint(1, 4)):
        b = rng.randrange(vol)
        s[b * BLOCK:(b + 1) * BLOCK] = rng.randbytes(BLOCK)
    return image, bytes(s)


def _large_images(rng, p, vol, s_blocks):
    """Sparse primary and secondary images of a large scenario: a few blocks written all
    over the card and a run of them somewhere, per p["initial"] on the secondary."""
    img = SparseImage((vol + META_BLOCKS) * BLOCK)
    first = rng.randrange(vol - p["large"]["run"] + 1)
    for b in [rng.randrange(vol) for _ in range(p["large"]["written"])] + \
            list(range(first, first + p["large"]["run"])):
        img[b * BLOCK:(b + 1) * BLOCK] = rng.randbytes(BLOCK)
    s_img = SparseImage(s_blocks * BLOCK)
    if p["initial"] != "blank":
        for b, d in img.blocks.items():
            s_img[b * BLOCK:(b + 1) * BLOCK] = d
    if p["initial"] == "differ":
        for _ in range(rng.randint(1, 4)):
            b = rng.randrange(vol)
            s_img[b * BLOCK:(b + 1) * BLOCK] = rng.randbytes(BLOCK)
    return img, s_img


def explore_plan(seed, params, plan):
    x = random.Random("explore-f-%d" % seed)
    t_active = params["t_active"]
    if x.random() < 0.2:
        from mirror import proto as P
        types = [v for k, v in vars(P).items() if k.startswith("T_")] + [0x7F]
        for _ in range(x.randint(1, 3)):
            plan.append((x.uniform(0, t_active * 0.9), "malformed",
                         {"from": x.choice("ps"), "type": x.choice(types),
                          "payload": x.randbytes(x.choice((0, 1, 3, 7, 13, 40, 600))).hex()}))
    if params["profile"] in ("secondary", "primary", "mixed") and x.random() < 0.2:
        side = x.choice("ps") if params["profile"] == "mixed" else params["profile"][0]
        plan.append((x.uniform(0, t_active * 0.8), "boot_read_error_" + side,
                     {"ms": x.uniform(1, 3000), "count": x.randint(1, 2)}))
    # silent corruption on the primary's card (its own source: the draws above stay)
    c = random.Random("explore-c-%d" % seed)
    if params["cfg"]["scan_period_ms"] and params["profile"] in ("primary", "mixed") and \
            c.random() < 0.8:
        for _ in range(c.randint(1, 3)):
            plan.append((c.uniform(0, t_active * 0.9), "flip_p",
                         {"block": c.randrange(params["volume_blocks"]),
                          "bit": c.randrange(BLOCK * 8)}))
    plan.sort(key=lambda f: f[0])


def _config(params, role):
    kw = dict(params["cfg"])
    if role == "secondary":
        kw.update(params.get("cfg_s") or {})
    if kw["key"] is not None:
        kw["key"] = bytes.fromhex(kw["key"])
    if params["link"]["kind"] == "uart":
        # a board on a UART tells the controller its byte rate (baud / 10), when the
        # firmware has that setting
        try:
            return Config(role=role, link_rate=params["link"]["bandwidth"], **kw)
        except ValueError:
            pass
    return Config(role=role, **kw)


class Scenario:
    def __init__(self, seed, params=None, plan=None, verbose=False, cfg=None):
        """cfg: settings that override the seed's draws (a regression seed's args)."""
        self.seed = seed
        rng = random.Random(seed)
        self.world = w = World(rng, verbose)
        self.params = p = params if params is not None else make_params(rng)
        if params is None:
            explore_params(seed, p)
        p["cfg"].update(cfg or {})
        if p.get("large"):
            # a large card's regions hold 512-2,048 blocks: with whole_run set, each dirty
            # one is 256 KB-1 MB to send, a block per frame in some draws (seed 768915805:
            # 344 regions, 2.1 million events to settle, 70 virtual minutes)
            w.max_events = LARGE_MAX_EVENTS
        vol = p["volume_blocks"]
        s_blocks = vol + p["secondary_extra"] + META_BLOCKS
        image, s_image = (_large_images if p.get("large") else _images)(rng, p, vol, s_blocks)
        self.pcard = Card(w, "primary", vol + META_BLOCKS, image, **p["cards"][0])
        self.scard = Card(w, "secondary", s_blocks, s_image, **p["cards"][1])
        self.primary = Board(w, "primary", Primary, _config(p, "primary"), self.pcard)
        self.secondary = Board(w, "secondary", Secondary, _config(p, "secondary"), self.scard)
        lk = p["link"]
        self.link = Link(w, self.primary, self.secondary, lk["kind"], lk["bandwidth"],
                         lk["latency_ms"])
        self.oracle = Oracle(vol, image)
        self.torn_meta = []  # cards whose metadata block a power cut tore
        self.pcard.on_torn = self._torn
        self.scard.on_torn = self._torn
        a = p["app"]
        self.app = App(w, self.primary, self.oracle, self.scard, p["cfg"]["mode"], a["pattern"],
                       a["max_blocks"], a["gap_ms"], p["t_active"])
        self.injector = Injector(w, self.link, self.primary, self.secondary,
                                 on_primary_power=self._primary_dies,
                                 on_primary_flip=self._flip_primary)
        self.s_torn = {}  # volume block of the secondary's card -> time a power cut tore it
        self.flips = []  # silent flips on the primary's card: see _flip_primary
        if plan is None:
            plan = make_plan(rng, p["profile"], p["t_active"], s_blocks,
                             p["cfg"]["scan_period_ms"])
            if params is None:
                explore_plan(seed, p, plan)
        self.plan = plan
        self.settled_at = None

    def _torn(self, card, block, new, result):
        if block >= card.blocks - META_BLOCKS:
            self.torn_meta.append(card.name)
        elif card is self.pcard:
            self.oracle.torn(block, new, result)
        else:
            self.s_torn[block] = self.world.now

    # -- what happens at the moment of a fault ------------------------------------------
    def _primary_dies(self):
        """Just before the primary loses power: every write it forwarded in the session
        still up and knows durable on the secondary is on the secondary's card (or a later
        write of the block is, or a fault of the secondary's card since explains it)."""
        node = self.primary.node
        if node is not None and node.paired:
            sess = node.session.stats["sessions"]
            card = self.scard
            for w in self.oracle.writes:
                fw = w.forwarded
                if fw is None or fw[0] is not node or fw[1] != sess or \
                        w.token is None or not node.durable(w.token):
                    continue
                for b in range(w.block, w.block + w.n):
                    if card.flipped.get(b, -1) >= w.issued_at or \
                            self.s_torn.get(b, -1) >= w.issued_at:
                        continue
                    if card.block(b) not in self.oracle.newer_or_same(w, b):
                        self.world.violation(
                            "lost_at_primary_death", "write #%d (block %d) confirmed durable "
                            "by the secondary is not on its card when the primary dies" %
                            (w.id, b))
                        break
        self.app.power_lost()

    def _flip_primary(self, block, bit):
        """A silent bit flip on the primary's card (not into a write under way: that write
        would land over it). Whether only a scan can find it: the pair paired, synced, the
        block's region clean; _check_flips() looks again at the end."""
        card = self.pcard
        if card.writing(block):
            return
        card.flip(block, bit)
        self.oracle.flip(block, card.block(block), self.world.now)
        p, s = self.primary.node, self.secondary.node
        clean = p is not None and s is not None and p.paired and s.paired and \
            p.bitmap.valid and not p._need_full and not p.busy()
        if clean:
            r = p.bitmap.region_of(block)
            clean = not p.bitmap.is_dirty(r) and not p.pending.is_dirty(r)
        if clean:
            first, n = p.bitmap.region_range(p.bitmap.region_of(block))
            self.flips.append((block, self.world.now, first, first + n - 1, self._lives()))

    def _lives(self):
        """What changes when a node restarts or its session does."""
        p, s = self.primary.node, self.secondary.node
        return (p, s, p and p.session.stats["sessions"], s and s.session.stats["sessions"])

    # -- running -----------------------------------------------------------------------
    def run(self):
        w = self.world
        for line in describe(self.params, self.plan):
            w.log("setup", line)
        self.primary.power_on()
        self.secondary.power_on()
        self.injector.schedule(self.plan)
        self.app.start()
        try:
            self._run_phases()
        except Runaway:
            return self.result()  # the spin violation says it all
        return self.check()

    def _run_phases(self):
        w = self.world
        p = self.params
        w.run_until(p["t_active"])
        self.injector.quiesce()
        w.log("sim", "faults over; settling")
        vol_bytes = p["volume_blocks"] * BLOCK
        limit = p["t_active"] + 120000 + 3 * p["cfg"]["scan_period_ms"] + 3 * scan_ms(p) + \
            4000.0 * vol_bytes / p["link"]["bandwidth"]
        w.at(w.now + _PROBE_MS, self._probe)
        self._done = False
        w.run_until(limit, stop=lambda: self._done)
        if self._done:
            self.settled_at = w.now
            w.log("sim", "settled")
        else:
            w.log("sim", "did not settle by %.0f ms" % limit)

    def _probe(self):
        if self.synced() and not self._differing(stop_at_one=True):
            self._done = True
        else:
            self.world.after(_PROBE_MS, self._probe)

    def synced(self):
        """Paired, resync done on both sides, nothing in flight, application finished."""
        pb, sb = self.primary, self.secondary
        if not (pb.on and sb.on) or self.app.busy or self.pcard.pending() or self.scard.pending():
            return False
        p, s = pb.node, sb.node
        return p.paired and s.paired and not p.busy() and not s.busy() and not p._inflight \
            and s.meta.gen == p.meta.gen and s.status()["consistent"] \
            and not len(p.tx_view()) and not len(s.tx_view()) \
            and p.session.in_flight() == 0 and s.session.in_flight() == 0 \
            and not p.lost  # this campaign's read errors pass: a lost block reads again

    # -- checking ------------------------------------------------------------------------
    def check(self):
        w = self.world
        differ = self._differing()
        if differ:
            w.violation("diverged", "%d blocks differ: %s" % (len(differ), _few(differ)))
        lost = []
        changed = []
        for b in self._blocks():
            # "acknowledged" = on the primary's card when the application was told: what
            # an async write promises, and implied by a sync one (durable comes later)
            ok = self.oracle.acceptable(b, "local")
            pb, sb = self.pcard.block(b), self.scard.block(b)
            if pb not in ok or sb not in ok:
                lost.append(b)
            if not self.injector.primary_faulted and pb != self.oracle.expected_exact(b):
                changed.append(b)
        if lost:
            w.violation("lost_acked_writes", "blocks not holding an acknowledged write: %s" %
                        _few(lost))
        if changed:
            w.violation("primary_changed", "primary blocks changed without a write: %s" %
                        _few(changed))
        self._check_flips()
        if self.settled_at is None and not differ:
            w.violation("unsettled", "pair not paired/synced/idle at the end: " + self._state())
        return self.result()

    def _blocks(self):
        """The volume's blocks the checks look at: all of them, or on large (sparse) cards
        every block ever written on either card or by the application (the others are
        zeros on both cards and in the oracle)."""
        vol = self.params["volume_blocks"]
        if not self.params.get("large"):
            return range(vol)
        keys = set(self.pcard.data.touched) | set(self.scard.data.touched) | \
            set(self.oracle.written())
        return sorted(b for b in keys if b < vol)

    def _differing(self, stop_at_one=False):
        vol = self.params["volume_blocks"]
        if not self.params.get("large"):
            n = vol * BLOCK
            if stop_at_one:
                return self.pcard.data[:n] != self.scard.data[:n]
            return [b for b in range(vol) if self.pcard.block(b) != self.scard.block(b)]
        return self.pcard.data.differing(self.scard.data, vol)

    def _check_flips(self):
        """A flip only a scan could find (see _flip_primary), with the nodes and their
        session as they were, and no write into its region since: a scan found it."""
        lives = self._lives()
        for block, t, first, last, then in self.flips:
            if then != lives or self.oracle.written_since(first, last, t):
                continue  # a resync may have carried it: data, by the design
            if self.pcard.block(block) != self.scard.block(block):
                continue  # not copied: diverged says so
            if not any(tm >= t and b == block for board in (self.primary, self.secondary)
                       for tm, b in board.mismatches):
                self.world.violation("silent_repair", "block %d flipped on the primary at "
                                     "%.0f ms, copied with no scan reporting it" % (block, t))

    def _state(self):
        parts = []
        for b in (self.primary, self.secondary):
            if b.node is None:
                parts.append("%s off" % b.name)
            else:
                st = b.node.status()
                parts.append("%s link=%s busy=%s" % (b.name, st["link"], b.node.busy()))
        return ", ".join(parts)

    def result(self):
        w = self.world
        fails = sorted(w.violations)
        return {
            "seed": self.seed, "ok": not fails, "failures": fails,
            "details": {k: v[:3] for k, v in sorted(w.violations.items())},
            "faults": dict(sorted(w.faults.items())),
            "link_bytes": self.link.bytes_sent, "events": w.events_run,
            "settled_ms": None if self.settled_at is None else round(self.settled_at),
            "primary_faulted": self.injector.primary_faulted,
            "torn_meta": sorted(set(self.torn_meta)),
            "app": dict(self.app.counts),
        }


def _few(blocks):
    s = ", ".join(str(b) for b in blocks[:8])
    return s + (", ..." if len(blocks) > 8 else "")


def describe(params, plan):
    """The scenario in a few readable lines (the head of a -v trace)."""
    c = params["cfg"]
    lines = ["volume %d blocks (+%d on the secondary), initial copy: %s" %
             (params["volume_blocks"], params["secondary_extra"], params["initial"]),
             "cfg: " + ", ".join("%s=%s" % (k, c[k]) for k in sorted(c) if k != "key") +
             ", key=%s" % ("yes" if c["key"] else "no") +
             ("; secondary: " + ", ".join("%s=%s" % kv for kv in sorted(params["cfg_s"].items()))
              if params.get("cfg_s") else ""),
             "link: %(kind)s %(bandwidth)d B/s, latency %(latency_ms).1f ms" % params["link"],
             "app: %(pattern)s, up to %(max_blocks)d blocks, mean gap %(gap_ms).0f ms" %
             params["app"] + ", active for %.0f ms" % params["t_active"],
             "faults (%s): %d planned" % (params["profile"], len(plan))]
    for t, kind, fp in plan:
        args = ", ".join("%s=%s" % (k, round(v, 3) if isinstance(v, float) else v)
                         for k, v in sorted(fp.items()))
        lines.append("  at %.0f ms: %s %s" % (t, kind, args))
    return lines


def run_seed(seed, verbose=False, pure=False, cfg=None):
    if pure:
        fast.uninstall()
    else:
        fast.install()
    sc = Scenario(seed, verbose=verbose, cfg=cfg)
    res = sc.run()
    if verbose:
        res["trace"] = sc.world.lines
    return res
