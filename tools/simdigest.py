"""Digest of each simulator seed's result and verbose trace: "same results" before and after.

    python tools/simdigest.py --start 5000 --count 400 > after.txt
    python tools/simdigest.py --root /tmp/base --start 5000 --count 400 > before.txt
    diff before.txt after.txt          # no output: every seed did the same thing

One line per seed: the seed, its settings over the draws (regression seeds), a SHA-256 of
its whole result dict (failures, details, faults, counts, link bytes, events, settled_ms,
...) and one of its verbose trace (every line the scenario logged, with its virtual time).
--root runs another checkout's simulator (e.g. main at a branch point, `git archive` into a
directory): its host/ goes first on sys.path. --regressions adds the seeds of
tests/host/sim_regressions.txt (with their settings); --sweep K every K-th case of the
power-loss sweep (sim/sweep.py); --pure runs without the simulator's speed-ups. Seeds run in one process, one after
the other (each is independent: tests/host/test_sim_determinism.py).
"""
import argparse
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGRESSIONS = os.path.join(HERE, "tests", "host", "sim_regressions.txt")


def regression_seeds(path=REGRESSIONS):
    """(seed, settings) of every line of the regression file."""
    out = []
    with open(path) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                seed, args = line.split()[:2]
                cfg = None if args == "-" else \
                    dict((k, int(v)) for k, v in (a.split("=") for a in args.split(",")))
                out.append((int(seed), cfg))
    return out


def digest(run_seed, seed, cfg=None, pure=False):
    """(digest of the result dict, digest of the trace, the result) of one verbose run."""
    return _digest(run_seed(seed, verbose=True, cfg=cfg, pure=pure))


def _digest(r):
    trace = r.pop("trace")
    res = hashlib.sha256(json.dumps(r, sort_keys=True, default=repr).encode()).hexdigest()
    tr = hashlib.sha256("\n".join(trace).encode()).hexdigest()
    return res[:16], tr[:16], r


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=HERE, help="checkout whose simulator runs (default: this)")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--seeds", default="", help="comma-separated seeds besides the range")
    p.add_argument("--regressions", action="store_true", help="add sim_regressions.txt's seeds")
    p.add_argument("--sweep", type=int, default=0, metavar="K",
                   help="add every K-th case of the power-loss sweep")
    p.add_argument("--pure", action="store_true", help="without the simulator's speed-ups")
    args = p.parse_args(argv)
    host = os.path.join(os.path.abspath(args.root), "host")
    if not os.path.isdir(os.path.join(host, "sdmirror", "sim")):
        p.error("--root %s holds no host/sdmirror/sim: give a checkout of sdmirror" % args.root)
    sys.path.insert(0, host)
    from sdmirror.sim.scenario import run_seed
    todo = [(s, None) for s in range(args.start, args.start + args.count)]
    todo += [(int(s), None) for s in args.seeds.split(",") if s.strip()]
    if args.regressions:
        todo += regression_seeds()
    for seed, cfg in todo:
        res, tr, r = digest(run_seed, seed, cfg, args.pure)
        print("%d %s %s %s ok=%s events=%d" % (
            seed, "-" if cfg is None else ",".join("%s=%d" % kv for kv in sorted(cfg.items())),
            res, tr, r["ok"], r["events"]), flush=True)
    if args.sweep > 0:
        _sweep(args.sweep, args.pure)
    return 0


def _sweep(stride, pure):
    from sdmirror.sim import fast, sweep
    if pure:
        fast.uninstall()
    else:
        fast.install()
    k = 0
    for c in range(len(sweep.CONFIGS)):
        counts = sweep.opportunities(c)
        for side in sweep.SIDES:
            for trigger in sweep.TRIGGERS:
                for i in range(1, counts[side][trigger] + 1):
                    k += 1
                    if k % stride:
                        continue
                    res, tr, r = _digest(sweep.run_one((c, side, trigger, i), verbose=True))
                    print("sweep %d:%s:%s:%d %s %s ok=%s events=%d" % (
                        c, side, trigger, i, res, tr, r["ok"], r["events"]), flush=True)


if __name__ == "__main__":
    sys.exit(main())
