"""``sdmirror sim`` (also ``python -m sdmirror.sim``): seeded simulation campaigns.

    sdmirror sim --seeds 1000 [--start 0] [--jobs 2] [--json]
    sdmirror sim --seeds 1 --start SEED -v          # replay one scenario with its trace
    sdmirror sim --sweep [--json]                   # linear power-loss sweep
    sdmirror sim --sweep-case 0:primary:torn:7 -v   # replay one run of the sweep
    sdmirror sim --failover --seeds 1000            # the failover campaign (failover.py)

Exit status: 0 if every scenario passed its checks, 1 if any failed, 2 on bad arguments.
"""
import argparse
import json
import sys

from . import sweep
from .campaign import CATEGORIES, default_jobs, repro_line, run_campaign
from .scenario import run_seed

PROG = "sdmirror sim"
EPILOG = """examples:
  sdmirror sim --seeds 10000 --json              # a campaign, on every CPU
  sdmirror sim --seeds 1 --start 871 -v          # replay one scenario with its trace
  sdmirror sim --sweep                           # power cut at every write and frame
  sdmirror sim --sweep-case 0:primary:torn:3 -v  # replay one run of the sweep
  sdmirror sim --failover --seeds 500            # promotions, returns, settles, bad blocks
  sdmirror sim --failover --seeds 1 --start 57 -v  # replay one failover scenario

checks: diverged, lost_acked_writes, outside_writes, primary_changed, unsettled, spin.
exit status: 0 all passed, 1 a check failed, 2 bad arguments."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        self.exit(2, "%s: error: %s (see --help)\n" % (self.prog, message))


def build_parser():
    p = _Parser(prog=PROG, description="Deterministic simulation of the mirrored pair: "
                "seeded scenarios with faults, then checks that the copies agree.",
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, metavar="N", help="number of scenarios (default 100)")
    p.add_argument("--start", type=int, default=0, metavar="S", help="first seed (default 0)")
    p.add_argument("--jobs", type=int, default=None, metavar="J",
                   help="worker processes (default: number of CPUs)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print the trace of each scenario (runs in this process)")
    p.add_argument("--sweep", action="store_true", help="run the power-loss sweep")
    p.add_argument("--failover", action="store_true",
                   help="run the failover campaign instead (promote, demote, settle, heals, "
                        "a card that fails)")
    p.add_argument("--sweep-case", metavar="C:SIDE:TRIGGER:I",
                   help="run one case of the sweep (as printed by a failing sweep)")
    p.add_argument("--pure", action="store_true",
                   help="without the simulator's speed-ups (firmware COBS and CRC code)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=N",
                   help="a setting every scenario takes whatever its seed draws, e.g. "
                   "--set actlog=1 (a regression seed's args)")
    return p


def _parse_sets(p, items):
    cfg = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            cfg[name] = int(value)
        except ValueError:
            p.error("--set %s: wants NAME=N with a whole number, e.g. --set actlog=1" % item)
    from mirror import config  # importable once .scenario is (fwpath)
    try:
        config.check(cfg)
    except ValueError as e:
        p.error("--set: %s" % e)
    return cfg


def _parse_case(p, text):
    parts = text.split(":")
    try:
        c, side, trigger, i = int(parts[0]), parts[1], parts[2], int(parts[3])
        if len(parts) != 4:
            raise ValueError
    except (ValueError, IndexError):
        p.error("--sweep-case wants CONFIG:SIDE:TRIGGER:I, e.g. 0:primary:torn:7")
    if not 0 <= c < len(sweep.CONFIGS) or side not in sweep.SIDES or \
            trigger not in sweep.TRIGGERS or i < 1:
        p.error("--sweep-case %s: config 0..%d, side %s, trigger %s, i >= 1" % (
            text, len(sweep.CONFIGS) - 1, "/".join(sweep.SIDES), "/".join(sweep.TRIGGERS)))
    return c, side, trigger, i


def main(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    if args.seeds is not None and args.seeds < 1:
        p.error("--seeds must be at least 1, not %d" % args.seeds)
    if args.start < 0:
        p.error("--start must be 0 or more, not %d" % args.start)
    if args.jobs is not None and args.jobs < 1:
        p.error("--jobs must be at least 1, not %d" % args.jobs)
    case = _parse_case(p, args.sweep_case) if args.sweep_case else None
    cfg = _parse_sets(p, args.set)
    jobs = args.jobs or default_jobs()
    if args.verbose:
        jobs = 1
    out = sys.stdout
    if case is not None:
        return _one_case(case, args, out)
    if args.failover:
        return _failover(args, jobs, out)
    run_seeds = args.seeds is not None or not args.sweep
    result = {}
    ok = True
    if run_seeds:
        n = args.seeds if args.seeds is not None else 100
        if args.verbose:
            result = _verbose_seeds(args.start, n, args.pure, args.json, out, cfg)
        else:
            result = run_campaign(args.start, n, jobs, args.pure, cfg=cfg)
        ok = result["failed"] == 0
        if not args.json:
            _print_campaign(result, out)
    if args.sweep:
        sw = sweep.run_sweep(jobs, args.pure)
        ok = ok and sw["failed"] == 0
        if not args.json:
            _print_sweep(sw, out)
        if run_seeds:
            result["sweep"] = sw
        else:
            result = sw
    if args.json:
        out.write(json.dumps(result, sort_keys=True) + "\n")
    return 0 if ok else 1


def _failover(args, jobs, out):
    from . import failover
    n = args.seeds if args.seeds is not None else 100
    if args.verbose:
        for seed in range(args.start, args.start + n):
            r = failover.run_seed(seed, verbose=True)
            out.write("== seed %d (%s)\n%s\n" % (seed, r["story"], "\n".join(r["trace"])))
            out.write("%s\n" % ("ok" if r["ok"] else "FAIL %s" % r["details"]))
        return 0
    s = failover.run_failover_campaign(args.start, n, jobs)
    if args.json:
        out.write(json.dumps(s, sort_keys=True) + "\n")
    else:
        out.write("%d failover scenarios from seed %d: %d passed, %d failed; stories %s; "
                  "settles dropping %s; demotes resynced by %s; healed reads %d "
                  "(in background %d); cards detached in %d (%d reads, %d writes served by "
                  "the secondary, %d blocks copied back)\n" % (
                      n, args.start, s["passed"], s["failed"], s["stories"],
                      s["settled_by_dropping"], s["demoted_by"], s["healed_reads"],
                      s["healed_in_background"], s["detached"]["scenarios"],
                      s["detached"]["reads"], s["detached"]["writes"],
                      s["detached"]["copied_back"]))
        for f in s["failing"][:10]:
            out.write("FAIL seed %d: %s\n  reproduce: sdmirror sim --failover --seeds 1 "
                      "--start %d -v\n" % (f["seed"], f["details"], f["seed"]))
    return 0 if s["failed"] == 0 else 1


def _verbose_seeds(start, n, pure, as_json, out, cfg=None):
    """Run seeds here, one by one, with their traces."""
    traces = {}
    results = []
    for seed in range(start, start + n):
        r = run_seed(seed, verbose=True, pure=pure, cfg=cfg)
        if as_json:
            traces[str(seed)] = r["trace"]
        else:
            out.write("== seed %d\n" % seed)
            out.write("\n".join(r["trace"]) + "\n")
            out.write("-> %s\n" % ("PASS" if r["ok"] else "FAIL: " + ", ".join(r["failures"])))
        results.append(r)
    summary = _summarize(results)
    if as_json:
        summary["traces"] = traces
    return summary


def _summarize(results):
    """The campaign summary for results computed in this process (the -v path)."""
    s = {"scenarios": len(results), "start": results[0]["seed"],
         "passed": sum(1 for r in results if r["ok"])}
    s["failed"] = len(results) - s["passed"]
    for c in CATEGORIES:
        s[c] = sum(1 for r in results if c in r["failures"])
    faults = {}
    for r in results:
        for k, v in r["faults"].items():
            faults[k] = faults.get(k, 0) + v
    s["faults"] = dict(sorted(faults.items()))
    s["failing"] = [{"seed": r["seed"], "failures": r["failures"], "details": r["details"],
                     "torn_meta": r["torn_meta"]} for r in results if not r["ok"]]
    s["failing_seeds"] = [f["seed"] for f in s["failing"]]
    s["link_bytes"] = sum(r["link_bytes"] for r in results)
    s["events"] = sum(r["events"] for r in results)
    s["seconds"] = None
    s["seeds_per_second"] = None
    return s


def _print_campaign(s, out):
    cats = ", ".join("%s %d" % (c, s[c]) for c in CATEGORIES if s.get(c))
    speed = "" if s["seconds"] is None else " in %.1f s (%.1f seeds/s)" % (
        s["seconds"], s["seeds_per_second"] or 0)
    out.write("%d scenarios from seed %d: %d passed, %d failed%s%s\n" % (
        s["scenarios"], s["start"], s["passed"], s["failed"], " (%s)" % cats if cats else "",
        speed))
    if s["faults"]:
        out.write("faults injected: %s\n" % ", ".join("%s %d" % kv for kv in s["faults"].items()))
    for f in s["failing"]:
        first = next(iter(f["details"].values()))[0] if f["details"] else ""
        out.write("FAIL seed %d: %s: %s\n  reproduce: %s\n" % (
            f["seed"], ", ".join(f["failures"]), first, repro_line(f["seed"])))


def _print_sweep(sw, out):
    out.write("power-loss sweep: %d runs (%d power cuts), %d passed, %d failed\n" % (
        sw["runs"], sw["cuts"], sw["passed"], sw["failed"]))
    for key, v in sw["by_kind"].items():
        out.write("  %-20s %4d runs, %d failed\n" % (key, v["runs"], v["failed"]))
    for f in sw["failing"]:
        first = next(iter(f["details"].values()))[0] if f["details"] else ""
        out.write("FAIL sweep %s/%s #%d (config %d): %s: %s\n  reproduce: %s\n" % (
            f["side"], f["trigger"], f["i"], f["config"], ", ".join(f["failures"]), first,
            sweep.repro_line(f)))


def _one_case(case, args, out):
    from . import fast
    if args.pure:
        fast.uninstall()
    else:
        fast.install()
    r = sweep.run_one(case, verbose=args.verbose)
    if not r["fired"]:
        # the run never reached write/frame number I: no power was cut, nothing was tested
        out.write("sweep case %d:%s:%s:%d: no power cut (the run has fewer than %d %s "
                  "events on the %s): nothing tested\n" % (
                      case[0], case[1], case[2], case[3], case[3],
                      "frame" if case[2] == "frame" else "write", case[1]))
        return 2
    if args.json:
        keep = {k: v for k, v in r.items() if k != "trace" or args.verbose}
        out.write(json.dumps(keep, sort_keys=True) + "\n")
    else:
        if args.verbose:
            out.write("\n".join(r["trace"]) + "\n")
        out.write("%s sweep case %d:%s:%s:%d%s\n" % (
            "PASS" if r["ok"] else "FAIL", case[0], case[1], case[2], case[3],
            "" if r["ok"] else ": " + ", ".join(r["failures"])))
    return 0 if r["ok"] else 1




if __name__ == "__main__":
    sys.exit(main())
