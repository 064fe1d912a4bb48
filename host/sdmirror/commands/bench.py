"""`sdmirror bench resync [--json]`: resync benchmarks in the simulator (see
sdmirror/benchmarks/resync.py): link bytes on a 64 MiB volume against the seed's flat CRC
list, a 4 KiB-per-bit bitmap and rsync, UART goodput, and write latency under scans."""
import argparse
import json
import sys

EXAMPLE = """examples:
  sdmirror bench resync --json > resync.json
  sdmirror bench scale --jobs 2     # 64 MiB - 32 GiB, key on, three board profiles
  sdmirror bench scale --quick      # 64 MiB only, no 4 KiB-bitmap baselines
  sdmirror bench scale --sizes 32GiB --profiles default --skip-heavy

Takes a few minutes (every scenario runs a 64 MiB pair in virtual time). rsync baselines
need rsync installed (apt-get install rsync); without it they are null (n/a in the table)
and the rest runs as usual."""


def table(res):
    from rich.console import Console
    from rich.table import Table
    t = Table(title="resync on a 64 MiB volume (link bytes, both directions)")
    for col in ("scenario", "sdmirror", "ideal", "ratio", "goal", "flat CRC list",
                "4 KiB bitmap", "rsync -B 512", "rsync -B 4096", "rsync default"):
        t.add_column(col, justify="left" if col == "scenario" else "right")
    b = res["baselines"]

    def row(name, key, ours, ideal, goal):
        r = b["rsync"].get(key) or {}
        t.add_row(name, "{:,}".format(ours), "{:,}".format(ideal) if ideal else "-",
                  "%.3f" % (ours / ideal) if ideal else "-", goal,
                  "{:,}".format(b["flat_crc_list"][key]), "{:,}".format(b["bitmap_4k"][key]),
                  *["{:,}".format(r[k]) if r.get(k) is not None else "n/a"
                    for k in ("rsync_B512", "rsync_B4096", "rsync_default")])
    g = res["goals"]
    row("coherent, bitmap lost", "coherent", res["coherent_link_bytes"], 0,
        "<= {:,} B".format(g["coherent_link_bytes"]))
    row("100 blocks differ, bitmap lost", "diff100", res["diff100_link_bytes"], 51200,
        "<= {:,} B".format(g["diff100_link_bytes"]))
    for s in res["scattered"]:
        row("%d scattered writes, bitmap kept" % s["k"], "scattered_%d" % s["k"],
            s["link_bytes"], s["ideal_bytes"], "<= %.2f x" % g["scattered_ratio"])
    q = res["sequential"]
    row("4 MiB sequential write, bitmap kept", "sequential", q["link_bytes"], q["ideal_bytes"],
        "<= %.2f x" % g["sequential_ratio"])
    console = Console(width=max(Console().width, 170))  # ten columns: keep them readable in logs
    console.print(t)
    if b.get("rsync_missing"):
        console.print(b["rsync_missing"])
    console.print("UART goodput: %.3f of 11,520 B/s (goal >= %.2f)" % (
        res["uart_goodput_ratio"], g["uart_goodput_ratio"]))
    for gap, per in sorted(res["scan_latency"].items(), key=lambda kv: float(kv[0])):
        for mode in ("async", "sync"):
            m = per[mode]
            console.print("write p99 with/without the periodic scan, writer every %s ms, %s: "
                          "%.3f (%s / %s ms, %d writes; scan %s blocks/s) (goal <= %.1f)" % (
                              gap, mode, m["ratio"], m["p99_ms_scanning"], m["p99_ms_no_scan"],
                              m["writes"], m["scan_blocks_per_s"], g["scan_p99_ratio"]))
    for mode in ("async", "sync"):
        m = res["log_latency"][mode]
        console.print("write p99 with/without the activity log, writer every 40 ms, quiet, %s: "
                      "%.3f (%s / %s ms; log in 1-region extents, none kept: %s ms, %.3f) "
                      "(goal <= %.1f)" % (mode, m["ratio"], m["p99_ms_extents"],
                                          m["p99_ms_off"], m["p99_ms_regions"],
                                          m["ratio_regions"], g["log_p99_ratio"]))
    console.print("meets goals: %s" % res["meets_goals"])


def scale_table(res):
    """The issue 9 table: every case with its figures, then each miss and each skip."""
    from rich.console import Console
    from rich.table import Table
    t = Table(title="resync at card sizes, key on (link bytes both ways, keepalives apart)")
    for col in ("size", "profile", "scenario", "link B", "ideal B", "x ideal", "no-bitmap B",
                "4 KiB-bitmap B", "keepalive B/s", "seconds", "log regions", "reads / 2x log",
                "time / full"):
        t.add_column(col, justify="left" if col in ("size", "profile", "scenario") else "right")

    def f(v, fmt="{:,}"):
        return "-" if v is None else fmt.format(v)
    for c in res["cases"]:
        name = c["scenario"] + (" = " + c["changed"] if c.get("changed") else "")
        t.add_row(c["size"], c["profile"], name, f(c["link_bytes"]),
                  f(c["ideal_bytes"] or None), f(c.get("ratio"), "{:.3f}"),
                  f(c.get("no_bitmap_link_bytes")), f(c.get("bitmap_4k_link_bytes")),
                  f(c["keepalive_bytes_per_s"], "{:.1f}"),
                  f(c["seconds"], "{:.1f}"), f(c.get("log_regions")),
                  f(c.get("read_ratio"), "{:.3f}"), f(c.get("time_ratio"), "{:.4f}"))
    console = Console(width=max(Console().width, 190))
    console.print(t)
    g = res["goals"]
    console.print("goals: coherent <= {:,} B, 100 differ <= {:,} B, kept <= {} x ideal and <= "
                  "the no-bitmap scan, sequential <= {} x, power loss <= {} x ideal, reads <= "
                  "2 x the log's regions, time <= {} of a full scan; keepalives <= {} B/s".format(
                      g["coherent_link_bytes"], g["diff100_link_bytes"], g["kept_ratio"],
                      g["sequential_ratio"], g["powerloss_ratio"], g["powerloss_time_ratio"],
                      g["keepalive_bytes_per_s"]))
    for m in res["misses"]:
        console.print("[red]MISS[/red] " + m)
    for s in res["skipped"]:
        console.print("skipped: %s %s %s: %s" % (s["size"], s["profile"], s["scenario"],
                                                 s["reason"]))


def main(argv):
    ap = argparse.ArgumentParser(prog="sdmirror bench", description=__doc__, epilog=EXAMPLE,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", choices=["resync", "scale"], help="the benchmark to run")
    ap.add_argument("--json", action="store_true", help="print one JSON object, no table")
    ap.add_argument("--jobs", type=int, default=1,
                    help="scale: processes to spread the cases over (default 1)")
    ap.add_argument("--quick", action="store_true", help="scale: 64 MiB only, no baselines")
    ap.add_argument("--sizes", help="scale: only these sizes, e.g. 64MiB,32GiB")
    ap.add_argument("--profiles", help="scale: only these profiles, e.g. default,esp32")
    ap.add_argument("--skip-heavy", action="store_true",
                    help="scale: leave out the 30 %% changed case (minutes each at 1 GiB and up)")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        ap.error("--jobs must be at least 1, not %d" % args.jobs)
    from sdmirror.benchmarks import resync, scale
    mod, show = (resync, table) if args.name == "resync" else (scale, scale_table)
    progress = (lambda s: None) if args.json else (lambda s: print(s, file=sys.stderr))
    if args.name == "scale":
        sizes = scale.SIZES[:1] if args.quick else scale.SIZES
        profiles = scale.PROFILES
        try:
            if args.sizes:
                sizes = [(n, dict(scale.SIZES)[n]) for n in args.sizes.split(",")]
            if args.profiles:
                profiles = [scale.check_profile(n) for n in args.profiles.split(",")]
        except (KeyError, ValueError) as e:
            ap.error("--sizes takes %s; --profiles takes %s (%s)" % (
                ",".join(n for n, _ in scale.SIZES), ",".join(scale.PROFILES), e))
        res = scale.run(progress=progress, jobs=args.jobs, quick=args.quick, sizes=sizes,
                        profiles=profiles, heavy=not args.skip_heavy)
    else:
        res = mod.run(progress=progress)
    if args.json:
        print(json.dumps(res, indent=1, sort_keys=True))
    else:
        show(res)
    missed = res["misses"] if args.name == "scale" else \
        [k for k, ok in res["meets_goals"].items() if not ok]
    return 1 if missed else 0
