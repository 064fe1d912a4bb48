"""`make fuzz SECONDS=N`: coverage-guided fuzzing (atheris, libFuzzer's engine) of what a
board takes from outside: link bytes and messages into a paired primary and secondary,
keyed and unkeyed, and console lines. The targets run at the same time, each in its own
process for N seconds (the OS spreads them over the CPUs: on 2 cores three targets of 600 s
take 1,200 CPU seconds in 600 s); at the end one line per target (executions, findings)
and a JSON summary.

    python tools/fuzz/run.py --seconds 600 [--targets node-unkeyed,node-keyed,console]

A finding (an exception out of a node or the console) is written to
tools/fuzz/findings/TARGET-N.bin (replay: --replay FILE --targets TARGET) and counted; the
run goes on. Exit status 1 if there was any finding, 2 on bad arguments.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ("node-unkeyed", "node-keyed", "console")
FINDINGS = os.path.join(HERE, "findings")


def make_target(name):
    sys.path.insert(0, HERE)
    import harness
    if name == "node-unkeyed":
        return harness.NodeTarget(False)
    if name == "node-keyed":
        return harness.NodeTarget(True)
    return harness.ConsoleTarget()


def child(name, seconds, stats_path):
    """Run one target under atheris for `seconds`; write {"execs", "findings"} to stats_path."""
    import atheris
    with atheris.instrument_imports():
        sys.path.insert(0, HERE)
        import harness  # noqa: F401  (instrumented: the firmware it imports too)
        from mirror import msgcheck, node, primary, secondary, session, frames  # noqa: F401
        import console  # noqa: F401
    target = make_target(name)
    stats = {"target": name, "execs": 0, "findings": 0, "first": None}
    t_end = time.monotonic() + seconds
    last = [0.0]

    def save():
        with open(stats_path, "w") as f:
            json.dump(stats, f)

    def one(data):
        stats["execs"] += 1
        try:
            target.feed(data)
        except Exception:
            stats["findings"] += 1
            os.makedirs(FINDINGS, exist_ok=True)
            path = os.path.join(FINDINGS, "%s-%d.bin" % (name, stats["findings"]))
            with open(path, "wb") as f:
                f.write(data)
            if stats["first"] is None:
                stats["first"] = traceback.format_exc().strip().splitlines()[-1] + " (" + path + ")"
        now = time.monotonic()
        if now > last[0] + 0.5:
            last[0] = now
            save()
            if now > t_end:
                os._exit(0)

    save()
    max_len = 600 if name == "console" else 4200  # console lines are fed byte by byte
    atheris.Setup([sys.argv[0], "-max_total_time=%d" % (seconds + 60), "-max_len=%d" % max_len,
                   "-rss_limit_mb=1024", "-print_final_stats=0", "-close_fd_mask=3",
                   # libFuzzer's own artifacts (slow-unit-*, crash-*) go with the findings
                   "-artifact_prefix=" + FINDINGS + os.sep], one)
    atheris.Fuzz()


def replay(name, path):
    target = make_target(name)
    with open(path, "rb") as f:
        target.feed(f.read())
    print("replayed %s on %s: no exception" % (path, name))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="tools/fuzz/run.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=60, help="seconds each target runs, all at once (default 60)")
    ap.add_argument("--targets", default=",".join(TARGETS), help="comma-separated: " +
                    ", ".join(TARGETS))
    ap.add_argument("--replay", metavar="FILE", help="feed one saved input to the target")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child[0], int(args.child[1]), args.child[2])
    names = [t for t in args.targets.split(",") if t]
    bad = [t for t in names if t not in TARGETS]
    if bad or not names:
        print("fuzz: unknown target %s; targets: %s" % (", ".join(bad) or "(none)",
                                                       ", ".join(TARGETS)), file=sys.stderr)
        return 2
    if args.seconds < 1:
        print("fuzz: --seconds must be at least 1", file=sys.stderr)
        return 2
    if args.replay:
        return replay(names[0], args.replay)
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("fuzz: atheris is not installed: `make fuzz` installs it "
              "(requirements-fuzz.txt)", file=sys.stderr)
        return 2
    os.makedirs(FINDINGS, exist_ok=True)
    t0 = time.monotonic()
    running = []
    for name in names:
        stats_path = os.path.join(FINDINGS, ".%s.json" % name)
        running.append((name, stats_path, subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--child", name, str(args.seconds),
             stats_path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    results = []
    for name, stats_path, proc in running:
        try:
            proc.wait(timeout=max(1, args.seconds + 300 - (time.monotonic() - t0)))
        except subprocess.TimeoutExpired:
            proc.kill()  # (its last saved stats still count)
            proc.wait()
        with open(stats_path) as f:
            st = json.load(f)
        os.remove(stats_path)
        st["seconds"] = round(time.monotonic() - t0, 1)
        results.append(st)
        print("%-13s %9d executions in %5.0f s (%6.0f/s), %d findings%s" % (
            name, st["execs"], st["seconds"], st["execs"] / max(st["seconds"], 0.1),
            st["findings"], (": " + st["first"]) if st["first"] else ""))
    total = sum(r["execs"] for r in results)
    found = sum(r["findings"] for r in results)
    print("total: %d executions, %d findings" % (total, found))
    print(json.dumps({"fuzz": results, "executions": total, "findings": found}))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
