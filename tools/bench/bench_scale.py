"""Issue 9: resync at 64 MiB, 1 GiB and 32 GiB with the link key on, default and
esp32/stm32f4 profiles; every figure against its goal (host/sdmirror/benchmarks/scale.py).
The write p99 under scans for sparse writers is part of bench_resync."""
NAME = "scale"


def run(jobs=1, quick=False):
    from sdmirror.benchmarks import scale
    from sdmirror.commands.bench import scale_table
    res = scale.run(jobs=jobs, quick=quick, sizes=scale.SIZES[:1] if quick else scale.SIZES)
    scale_table(res)
    flat = {"cases": len(res["cases"]), "skipped": len(res["skipped"]),
            "goal_misses": len(res["misses"]), "meets_goals": not res["misses"], "full": res}
    return flat
