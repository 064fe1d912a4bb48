"""Power-loss sweep (littlefs's "linear" mode): in a small fixed scenario, cut the power of
one board at the 1st, 2nd, ... opportunity of a kind, one run per opportunity:

- `write`: right after its card's i-th write lands, before the node hears of it;
- `torn`:  in the middle of programming the first block of its i-th write (TORN_K bytes land);
- `frame`: right after it puts its i-th frame on the wire.

The board comes back 200 ms later; then the usual settle and checks. Opportunities are
counted in the active phase of an undisturbed run of the same scenario, so every one of
them is reached exactly as in that run.
"""
from .campaign import pmap
from .scenario import Scenario

BASE_SEED = 1
OFF_MS = 200
TORN_K = 16  # bytes of the torn block that land: inside the 32-byte metadata record
TRIGGERS = ("write", "torn", "frame")
SIDES = ("primary", "secondary")
_COMMON = {"region_blocks": 2, "window": 3, "frame_blocks": 2, "chunk_blocks": 4,
           "cache_bytes": 16, "epoch_bytes": 4096, "max_epochs": 2, "whole_run": 2,
           "scan_period_ms": 3000,
           # the activity log on, in extents of 2 regions, 3 kept: a primary's power cut
           # resyncs by the log, and records are written and extents evicted
           "actlog": 1, "al_extent_blocks": 4, "al_extents": 3}
CONFIGS = (
    dict(_COMMON, alg="crc32", comparer="secondary", mode="sync", key=None),
    dict(_COMMON, alg="sha256", comparer="primary", mode="async", key="73" * 16),
)


def params(cfg_index):
    cfg = CONFIGS[cfg_index]
    return {
        "volume_blocks": 24, "secondary_extra": 0, "initial": "differ", "cfg": dict(cfg),
        "link": {"kind": "uart", "bandwidth": 11520, "latency_ms": 1.0},
        "cards": [{"read_ms": 0.3, "xfer_ms": 0.05, "write_ms": 0.3, "busy_ms": 1.0}] * 2,
        "t_active": 6000.0,
        "app": {"pattern": "random", "max_blocks": 3, "gap_ms": 150.0},
        "profile": "link",
    }


PLAN = [(2500.0, "cut", {"ms": 1200.0})]  # an outage, so the bitmap resync is swept too


def _scenario(cfg_index, verbose=False):
    return Scenario(BASE_SEED, params=params(cfg_index), plan=list(PLAN), verbose=verbose)


def opportunities(cfg_index):
    """How many writes and frames each board makes in the active phase, undisturbed."""
    sc = _scenario(cfg_index)
    counts = {}

    def snapshot():
        for side, board in (("primary", sc.primary), ("secondary", sc.secondary)):
            counts[side] = {"write": board.card.writes_landed, "torn": board.card.writes_started,
                            "frame": sc.link.pipes[board.name].frames_sent}
    sc.world.at(sc.params["t_active"], snapshot)
    res = sc.run()
    if not res["ok"]:
        raise RuntimeError("the sweep's base scenario fails by itself: %s" % res["details"])
    return counts


def run_one(args, verbose=False):
    cfg_index, side, trigger, i = args
    sc = _scenario(cfg_index, verbose)
    board = sc.primary if side == "primary" else sc.secondary
    w = sc.world
    fired = []

    def cut(k=None):
        if not fired and board.on:
            fired.append(w.now)
            w.log("sweep", "power cut: %s %s #%d" % (side, trigger, i))
            sc.injector.power_cycle(board, OFF_MS, k)

    if trigger == "write":
        board.card.on_land = lambda card, b, n: card.writes_landed == i and cut()
    elif trigger == "torn":
        def on_start(card, kind, b, n):
            if kind == "w" and card.writes_started == i:
                w.after(card.write_ms + card.busy_ms / 2, cut, TORN_K)
        board.card.on_start = on_start
    else:
        def on_frame(pipe, n):
            if n == i:
                w.at(w.now, cut)
        sc.link.pipes[board.name].on_frame = on_frame
    res = sc.run()
    res.update({"config": cfg_index, "side": side, "trigger": trigger, "i": i,
                "fired": bool(fired)})
    if verbose:
        res["trace"] = w.lines
    return res


def _run_compact(args):
    r = run_one(args)
    return {k: r[k] for k in ("config", "side", "trigger", "i", "fired", "ok", "failures",
                              "details", "torn_meta")}


def run_sweep(jobs=1, pure=False):
    from . import fast
    if pure:
        fast.uninstall()
    else:
        fast.install()
    cases = []
    counts = {}
    for c in range(len(CONFIGS)):
        counts[c] = opportunities(c)
        for side in SIDES:
            for trigger in TRIGGERS:
                for i in range(1, counts[c][side][trigger] + 1):
                    cases.append((c, side, trigger, i))
    results = pmap(_run_compact, cases, jobs)
    failing = [r for r in results if not r["ok"]]
    by = {}
    for r in results:
        key = "%s/%s" % (r["side"], r["trigger"])
        e = by.setdefault(key, {"runs": 0, "failed": 0})
        e["runs"] += 1
        e["failed"] += 0 if r["ok"] else 1
    return {
        "runs": len(results), "passed": len(results) - len(failing), "failed": len(failing),
        "cuts": sum(1 for r in results if r["fired"]),
        "by_kind": dict(sorted(by.items())),
        "opportunities": {str(c): v for c, v in counts.items()},
        "failing": [{k: r[k] for k in ("config", "side", "trigger", "i", "failures", "details",
                                       "torn_meta")} for r in failing],
        "runs_detail": [{k: r[k] for k in ("config", "side", "trigger", "i", "ok", "torn_meta")}
                        for r in results],
    }


def repro_line(r):
    return "sdmirror sim --sweep-case %d:%s:%s:%d -v" % (r["config"], r["side"], r["trigger"],
                                                         r["i"])
