"""Run every benchmark in tools/bench/bench_*.py and report the results.

    python tools/bench/run.py [NAME ...] [--json FILE] [--jobs N] [--quick]

A benchmark module exposes NAME (str) and run() -> dict of metric -> value. Results are
printed as a table and as one JSON object {NAME: {metric: value}} (also written to FILE).
A result with a non-zero "goal_misses" (or a benchmark that raises) makes the exit status 1.
A run() that takes `jobs` (processes to spread its cases over) or `quick` (a subset for
development: the smallest card, fewer samples; never the figures to record) gets them.
"""
import argparse
import glob
import importlib.util
import inspect
import json
import os
import sys

from rich.console import Console
from rich.table import Table

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "host"))
from sdmirror import fwpath  # noqa: E402

fwpath.install()  # benchmarks import the firmware as the tests do


def discover():
    for path in sorted(glob.glob(os.path.join(HERE, "bench_*.py"))):
        name = os.path.basename(path)[:-3]
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        yield mod


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="run only benchmarks whose NAME contains one of these")
    ap.add_argument("--json", help="also write the combined JSON here")
    ap.add_argument("--jobs", type=int, default=1, help="processes per benchmark (default 1)")
    ap.add_argument("--quick", action="store_true",
                    help="a subset for development (make bench QUICK=1); not the figures to record")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        ap.error("--jobs must be at least 1, not %d" % args.jobs)
    console = Console()
    mods = [m for m in discover() if not args.names or any(n in m.NAME for n in args.names)]
    if not mods:
        console.print("no benchmarks found (tools/bench/bench_*.py)")
        return 0
    results, failed = {}, []
    table = Table(title="sdmirror benchmarks")
    for col in ("benchmark", "metric", "value"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for mod in mods:
        console.print("running %s ..." % mod.NAME)
        try:
            params = inspect.signature(mod.run).parameters
            opts = {"jobs": args.jobs, "quick": args.quick}
            results[mod.NAME] = res = mod.run(**{k: v for k, v in opts.items() if k in params})
        except Exception:
            console.print_exception()
            failed.append(mod.NAME)
            continue
        if res.get("goal_misses"):
            failed.append(mod.NAME)
        for metric, value in res.items():
            table.add_row(mod.NAME, str(metric), "%.4g" % value if isinstance(value, float) else str(value))
    console.print(table)
    text = json.dumps(results, indent=2, sort_keys=True)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    missed = [n for n, r in results.items() if r.get("meets_goals") is False]
    if missed:
        console.print("[red]goals missed: %s[/red]" % ", ".join(missed))
    if failed:
        console.print("[red]failed: %s[/red]" % ", ".join(failed))
    return 1 if failed or missed else 0


if __name__ == "__main__":
    sys.exit(main())
