"""Issue 12: sync acknowledgements not on the secondary, degraded=continue vs refuse, on
the simulated pair with link outages (see host/sdmirror/benchmarks/sync_promise.py)."""
NAME = "sync_promise"


def run():
    from sdmirror.benchmarks import sync_promise
    res = sync_promise.run()
    flat = {}
    for mode in ("continue", "refuse"):
        r = res[mode]
        for k in ("writes", "acked", "acked_not_on_secondary", "failed_to_application",
                  "link_cuts"):
            flat["%s_%s" % (mode, k)] = r[k]
    flat["goal_misses"] = sum(1 for ok in res["meets_goals"].values() if not ok)
    flat["meets_goals"] = not flat["goal_misses"]
    flat["full"] = res
    return flat
