"""Simulator campaign speed of two checkouts, side by side: seeds per CPU-second.

    python tools/simspeed.py --base /tmp/base --start 5000 --count 400 --rounds 3

Each round runs run_campaign(start, count, jobs=1) once per checkout, each in a child
process, alternating (the machine is shared: load changes between runs; alternating lets
both see the same), and takes the child's user+sys CPU time. Then, once per checkout, the
same range under cProfile counts Python function calls per seed: a figure that does not
depend on the machine's load (CPU seconds do). Prints a table and a JSON line; both
checkouts must give the same campaign summary (seed results), or it exits 1.
"""
import argparse
import json
import os
import resource
import subprocess
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CHILD = r"""
import cProfile, json, pstats, sys
sys.path.insert(0, sys.argv[1] + "/host")
from sdmirror.sim.campaign import run_campaign
start, count, prof = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
if prof:
    pr = cProfile.Profile()
    pr.enable()
r = run_campaign(start, count, jobs=1)
calls = None
if prof:
    pr.disable()
    calls = pstats.Stats(pr).total_calls
r.pop("seconds"); r.pop("seeds_per_second")
print(json.dumps({"summary": r, "calls": calls}, sort_keys=True))
"""


def _run(root, start, count, prof=False):
    """(user+sys CPU seconds of the child, its output)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", _CHILD, root, str(start), str(count),
                          "1" if prof else "0"], capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode:
        sys.exit("simspeed: the campaign of %s failed: %s" % (root, out.stderr.strip()[-300:]))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, json.loads(out.stdout)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", required=True, help="the checkout to compare with (e.g. main)")
    p.add_argument("--root", default=HERE, help="the other checkout (default: this one)")
    p.add_argument("--start", type=int, default=5000)
    p.add_argument("--count", type=int, default=400)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    roots = {"base": os.path.abspath(args.base), "this": os.path.abspath(args.root)}
    for r in roots.values():
        if not os.path.isdir(os.path.join(r, "host", "sdmirror", "sim")):
            p.error("%s holds no host/sdmirror/sim: give a checkout of sdmirror" % r)
    if args.count < 1 or args.rounds < 1:
        p.error("--count and --rounds must be at least 1")
    cpu = {"base": [], "this": []}
    summary = {}
    for _ in range(args.rounds):
        for name, root in roots.items():
            t, out = _run(root, args.start, args.count)
            cpu[name].append(t)
            summary[name] = out["summary"]
    calls = {n: _run(r, args.start, args.count, prof=True)[1]["calls"] // args.count
             for n, r in roots.items()}
    res = {"start": args.start, "count": args.count, "rounds": args.rounds,
           "same_results": summary["base"] == summary["this"]}
    print("%-5s %-14s %-14s %-16s %s" % ("tree", "cpu min (s)", "cpu sum (s)",
                                         "seeds/cpu-s", "python calls/seed"))
    for n in roots:
        rate = args.count * args.rounds / sum(cpu[n])
        res[n] = {"cpu_s": [round(t, 2) for t in cpu[n]], "seeds_per_cpu_s": round(rate, 1),
                  "calls_per_seed": calls[n]}
        print("%-5s %-14.2f %-14.2f %-16.1f %d" % (n, min(cpu[n]), sum(cpu[n]), rate, calls[n]))
    res["speedup"] = round(sum(cpu["base"]) / sum(cpu["this"]), 3)
    res["calls_ratio"] = round(calls["this"] / calls["base"], 3)
    print("speed-up %.3fx (CPU), Python calls %.3f of base, same seed results: %s" % (
        res["speedup"], res["calls_ratio"], res["same_results"]))
    print(json.dumps(res, sort_keys=True))
    return 0 if res["same_results"] else 1


if __name__ == "__main__":
    sys.exit(main())
