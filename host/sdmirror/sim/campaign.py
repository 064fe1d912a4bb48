"""Many seeded scenarios, over several processes; one summary.

Each seed is an independent scenario, so the summary does not depend on how seeds are
spread over processes: results are gathered in seed order and only `seconds` (wall time
of the campaign, outside the simulation) differs between runs.
"""
import multiprocessing
import os
import time

from .scenario import CHECKS, run_seed

CATEGORIES = CHECKS + ("spin", "outside_reads")


def default_jobs():
    return os.cpu_count() or 1


def pmap(fn, items, jobs):
    """fn over items, in order; in `jobs` worker processes when jobs > 1."""
    items = list(items)
    if jobs <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    chunk = max(1, min(50, len(items) // (jobs * 8)))
    ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    with ctx.Pool(min(jobs, len(items))) as pool:
        return pool.map(fn, items, chunksize=chunk)


def _one(args):
    seed, pure, cfg = args
    r = run_seed(seed, pure=pure, cfg=cfg)
    return {k: r[k] for k in ("seed", "ok", "failures", "details", "faults", "link_bytes",
                              "events", "torn_meta")}


def run_campaign(start, count, jobs=1, pure=False, seeds=None, cfg=None):
    """Seeds start..start+count-1, or the list `seeds` (a regression set) if given; cfg:
    settings every scenario takes, whatever its seed draws."""
    if seeds is not None:
        start, count = (seeds[0] if seeds else 0), len(seeds)
    else:
        seeds = range(start, start + count)
    t0 = time.monotonic()
    results = pmap(_one, [(s, pure, cfg) for s in seeds], jobs)
    seconds = time.monotonic() - t0
    summary = {"scenarios": count, "start": start, "passed": 0, "failed": 0}
    for c in CATEGORIES:
        summary[c] = 0
    faults = {}
    failing = []
    link_bytes = events = 0
    for r in results:
        link_bytes += r["link_bytes"]
        events += r["events"]
        for k, v in r["faults"].items():
            faults[k] = faults.get(k, 0) + v
        if r["ok"]:
            summary["passed"] += 1
            continue
        summary["failed"] += 1
        for c in r["failures"]:
            summary[c] = summary.get(c, 0) + 1
        failing.append({"seed": r["seed"], "failures": r["failures"], "details": r["details"],
                        "torn_meta": r["torn_meta"]})
    summary.update({
        "faults": dict(sorted(faults.items())),
        "failing_seeds": [f["seed"] for f in failing],
        "failing": failing,
        "link_bytes": link_bytes,
        "events": events,
        "seconds": round(seconds, 3),
        "seeds_per_second": round(count / seconds, 1) if seconds > 0 else None,
    })
    return summary


def repro_line(seed):
    return "sdmirror sim --seeds 1 --start %d -v" % seed
