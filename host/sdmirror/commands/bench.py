"""`sdmirror bench resync [--json]`: resync benchmarks in the simulator (see
sdmirror/benchmarks/resync.py): link bytes on a 64 MiB volume against the seed's flat CRC
list, a 4 KiB-per-bit bitmap and rsync, UART goodput, and write latency under scans."""
import argparse
import json
import sys

EXAMPLE = """example:
  sdmirror bench resync --json > resync.json

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
    lat = res["scan_latency"]
    console.print(
        "UART goodput: %.3f of 11,520 B/s (goal >= %.2f)\n"
        "write latency p99 with/without the periodic scan: sync %.3f (%s / %s ms), "
        "async %.3f (%s / %s ms) (goal <= %.1f)\nmeets goals: %s" % (
            res["uart_goodput_ratio"], g["uart_goodput_ratio"], lat["sync"]["ratio"],
            lat["sync"]["p99_ms_scanning"], lat["sync"]["p99_ms_no_scan"], lat["async"]["ratio"],
            lat["async"]["p99_ms_scanning"], lat["async"]["p99_ms_no_scan"],
            g["scan_p99_ratio"], res["meets_goals"]))


def main(argv):
    ap = argparse.ArgumentParser(prog="sdmirror bench", description=__doc__, epilog=EXAMPLE,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", choices=["resync"], help="the benchmark to run")
    ap.add_argument("--json", action="store_true", help="print one JSON object, no table")
    args = ap.parse_args(argv)
    from sdmirror.benchmarks import resync
    res = resync.run(progress=(lambda s: None) if args.json else
                     (lambda s: print(s, file=sys.stderr)))
    if args.json:
        print(json.dumps(res, indent=1, sort_keys=True))
    else:
        table(res)
    return 0
