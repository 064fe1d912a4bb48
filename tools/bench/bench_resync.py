"""Issue 3: resync link bytes on a 64 MiB volume against baselines, UART goodput, write
latency under scans (the simulator; see host/sdmirror/benchmarks/resync.py)."""
NAME = "resync"


def run(jobs=1, quick=False):
    from sdmirror.benchmarks import resync
    from sdmirror.commands.bench import table
    res = resync.run(jobs=jobs, quick=quick)
    table(res)
    flat = {"coherent_link_bytes": res["coherent_link_bytes"],
            "diff100_link_bytes": res["diff100_link_bytes"],
            "uart_goodput_ratio": res["uart_goodput_ratio"],
            "scan_p99_ratio": res["scan_p99_ratio"],
            "log_p99_ratio": res["log_p99_ratio"],
            "sequential_ratio": res["sequential"]["ratio"]}
    for s in res["scattered"]:
        flat["scattered_%d_ratio" % s["k"]] = s["ratio"]
    flat["meets_goals"] = all(res["meets_goals"].values())
    flat["full"] = res
    return flat
