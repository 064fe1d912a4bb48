"""Resync benchmarks on a 64 MiB volume in the simulator (issue 3), beside baselines run on
the same image pairs: the seed's flat per-block CRC list, a DRBD-style bitmap of 4 KiB per
bit without refinement, and rsync. Link bytes are every byte of every frame, both
directions, counted by the simulator's link from the moment the pair can talk again.
"""
import os
import random
import re
import shutil
import subprocess
import tempfile

from sdmirror.benchmarks.rig import BLOCK, VOLUME, Rig, random_volume, sparse_rig

SEED = 20261126
SCATTERED = (10, 1000, 10000)
SEQUENTIAL_BLOCKS = 8192  # 4 MiB
GOALS = {"coherent_link_bytes": 1024, "diff100_link_bytes": 100000, "scattered_ratio": 1.25,
         "sequential_ratio": 1.02, "uart_goodput_ratio": 0.95, "scan_p99_ratio": 1.2,
         "log_p99_ratio": 1.2}

# the methods compared on every scenario: our defaults, and the baselines as settings of
# the same firmware (so the same link model counts their bytes)
METHODS = {
    "sdmirror": {},
    "flat_crc_list": {"scan_mode": "flat"},  # claims 13/16 literally; no bitmap kept
    # 4 KiB per bit, regions sent whole (no list of the written blocks: listed_max 0)
    "bitmap_4k": {"region_blocks": 8, "whole_run": 1, "listed_max": 0},
}


def _pair_after_outage(writes, method, link="eth"):
    """A synced pair; the link is cut; `writes` (block, data) land on the primary; the link
    is mended. Returns (rig, bytes before mending, images before the resync)."""
    vol = random_volume(SEED)
    rig = Rig(vol, vol, link=link, seed=SEED, **METHODS[method])
    rig.boot()
    rig.run_until_synced()
    rig.cut()
    rig.run_until_unpaired()
    for block, data in writes:
        rig.write(block, data)
    if method == "flat_crc_list":
        rig.primary.node.bitmap.invalidate()  # the seed's method keeps no bitmap
    before = (bytes(rig.pcard.data[:VOLUME * BLOCK]), bytes(rig.scard.data[:VOLUME * BLOCK]))
    rig.run_for(1)
    start = rig.link_bytes()
    rig.mend()
    return rig, start, before


def _measure(rig, start, ideal):
    seconds = rig.run_until_synced()
    if rig.differing():
        raise RuntimeError("the copies differ after the resync")
    link = rig.link_bytes() - start
    out = {"link_bytes": link, "ideal_bytes": ideal, "seconds": round(seconds, 2),
           "line_rate_floor_s": round(ideal / rig.bandwidth, 2)}
    if ideal:
        out["ratio"] = round(link / ideal, 4)
    return out


def _stream(*key):
    """A random stream of its own: data drawn from the volume's stream would also appear
    elsewhere in the volume, where rsync's rolling checksum would find it."""
    return random.Random(repr(("sdmirror-bench",) + key))


def scattered_writes(k, seed):
    rng = _stream("scattered", k, seed)
    return [(b, rng.randbytes(BLOCK)) for b in sorted(rng.sample(range(VOLUME), k))]


def sequential_writes(seed):
    rng = _stream("sequential", seed)
    first = rng.randrange(VOLUME - SEQUENTIAL_BLOCKS)
    return [(first + i, rng.randbytes(8 * BLOCK)) for i in range(0, SEQUENTIAL_BLOCKS, 8)]


def lost_bitmap(differ, method):
    """Bitmap lost (primary rebooted): equal volumes, or `differ` blocks differ."""
    p = random_volume(SEED)
    s = bytearray(p)
    rng = _stream("differ", differ)
    for b in rng.sample(range(VOLUME), differ):
        s[b * BLOCK:(b + 1) * BLOCK] = rng.randbytes(BLOCK)
    rig = Rig(p, s, seed=SEED, **METHODS[method])
    rig.boot()  # a booting primary has no bitmap: full scan
    return _measure(rig, 0, differ * BLOCK), (bytes(p), bytes(s))


# -- rsync baseline ------------------------------------------------------------------------
def rsync_missing():
    """Why the rsync baselines are null (a line to print), or None when rsync is installed:
    rsync is an optional oracle, the benchmark runs without it."""
    if shutil.which("rsync") is None:
        return "rsync not installed (apt-get install rsync): rsync baselines skipped"
    return None


def rsync_wire(primary, secondary, block_size=None):
    """Bytes rsync sends plus receives to bring `secondary` to `primary` (local transfer,
    delta algorithm forced); None when rsync is not installed."""
    exe = shutil.which("rsync")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "src", "vol.img"), os.path.join(tmp, "dst", "vol.img")
        os.makedirs(os.path.dirname(src))
        os.makedirs(os.path.dirname(dst))
        with open(src, "wb") as f:
            f.write(primary)
        with open(dst, "wb") as f:
            f.write(secondary)
        args = [exe, "--no-whole-file", "--inplace", "--stats", "-I"]
        if block_size:
            args += ["-B", str(block_size)]
        r = subprocess.run(args + [src, dst], capture_output=True, text=True, timeout=600)
        if r.returncode:
            raise RuntimeError("rsync failed: " + r.stderr.strip()[-200:])
        sent = int(re.search(r"Total bytes sent: ([\d,.]+)", r.stdout).group(1).replace(",", "").replace(".", ""))
        recv = int(re.search(r"Total bytes received: ([\d,.]+)", r.stdout).group(1).replace(",", "").replace(".", ""))
        with open(dst, "rb") as f:
            if f.read() != primary:
                raise RuntimeError("rsync did not reproduce the image")
        return sent + recv


def rsync_all(images):
    out = {}
    for name, bs in (("rsync_B512", 512), ("rsync_B4096", 4096), ("rsync_default", None)):
        out[name] = rsync_wire(images[0], images[1], bs)
    return out


# -- the scenarios ---------------------------------------------------------------------------
def run(progress=print, jobs=1, quick=False):
    res = {"volume_bytes": VOLUME * BLOCK, "goals": GOALS, "baselines": {}}
    base = res["baselines"]
    base["rsync_missing"] = rsync_missing()
    if base["rsync_missing"]:
        progress(base["rsync_missing"])

    def note(name):
        progress("  " + name)

    for differ, key in ((0, "coherent"), (100, "diff100")):
        for method in METHODS:
            note("%s, bitmap lost: %s" % (key, method))
            m, images = lost_bitmap(differ, method)
            if method == "sdmirror":
                res[key + "_link_bytes"] = m["link_bytes"]
                res[key] = m
            else:
                base.setdefault(method, {})[key] = m["link_bytes"]
        base.setdefault("rsync", {})[key] = rsync_all(images)

    res["scattered"] = []
    for k in SCATTERED:
        writes = scattered_writes(k, SEED)
        for method in METHODS:
            note("scattered k=%d: %s" % (k, method))
            rig, start, images = _pair_after_outage(writes, method)
            m = _measure(rig, start, k * BLOCK)
            if method == "sdmirror":
                res["scattered"].append(dict(m, k=k))
            else:
                base.setdefault(method, {})["scattered_%d" % k] = m["link_bytes"]
        base["rsync"]["scattered_%d" % k] = rsync_all(images)

    writes = sequential_writes(SEED)
    for method in METHODS:
        note("sequential 4 MiB: %s" % method)
        rig, start, images = _pair_after_outage(writes, method)
        m = _measure(rig, start, SEQUENTIAL_BLOCKS * BLOCK)
        if method == "sdmirror":
            res["sequential"] = m
        else:
            base.setdefault(method, {})["sequential"] = m["link_bytes"]
    base["rsync"]["sequential"] = rsync_all(images)

    note("UART goodput: 4 MiB sequential resync at 115200 baud")
    res["uart_goodput_ratio"], res["uart_goodput"] = uart_goodput(writes)
    note("application write latency with and without the periodic scan")
    res["scan_p99_ratio"], res["scan_latency"] = scan_latency(
        tuple((g, 200) for g, _ in WRITERS) if quick else WRITERS, jobs)
    note("application write latency with and without the activity log")
    res["log_p99_ratio"], res["log_latency"] = log_latency(200 if quick else 2000, jobs)
    res["time_to_coherence_s"] = {
        "coherent": res["coherent"]["seconds"], "diff100": res["diff100"]["seconds"],
        "sequential": res["sequential"]["seconds"],
        "sequential_line_rate_floor": res["sequential"]["line_rate_floor_s"]}
    for s in res["scattered"]:
        res["time_to_coherence_s"]["scattered_%d" % s["k"]] = s["seconds"]
    res["meets_goals"] = meets(res)
    return res


def uart_goodput(writes):
    """Payload rate of the bulk resync over the UART, against the wire's 11,520 B/s."""
    rig, start, _ = _pair_after_outage(writes, "sdmirror", link="uart")
    copied0 = rig.counters()["blocks_copied"]
    w = rig.world
    # time the bulk transfer itself: from pairing again to coherence
    if not w.run_until(w.now + 600000, stop=lambda: rig.primary.node.paired):
        raise RuntimeError("the pair did not reconnect")
    t0 = w.now
    rig.run_until_synced()
    payload = (rig.counters()["blocks_copied"] - copied0) * BLOCK
    rate = payload / ((w.now - t0) / 1000.0)
    return round(rate / rig.bandwidth, 4), {"payload_bytes": payload, "seconds":
                                            round((w.now - t0) / 1000.0, 1),
                                            "bytes_per_s": round(rate)}


# writers: mean gap between writes (ms) and how many writes: at least 1,000 each, so the p99
# is the 10th-largest latency, not the largest. The cards are sparse (sim/sparse.py) and
# key on: the simulator scans their never-written spans at once (sim/fastscan.py, the same
# frames and times as block by block), which is what makes 3,000 s of scans back to back
# affordable. quick=True (make bench QUICK=1): 200 writes each, for development only.
WRITERS = ((40.0, 2000), (400.0, 1000), (3000.0, 1000))
P99_BLOCKS = 131072  # 64 MiB
P99_KEY = bytes(range(100, 132))


def scan_latency(writers=WRITERS, jobs=1):
    """p99 of application write latency (local card in async mode; durable on the secondary
    in sync mode), with a periodic scan running back to back versus none, for writers of
    several mean gaps. Returns (worst ratio, {"gap_ms": {mode: figures}})."""
    runs = [(mode, scanning, writes, gap_ms) for gap_ms, writes in writers
            for mode in ("async", "sync") for scanning in (False, True)]
    if jobs > 1:
        import multiprocessing
        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            p99s = pool.starmap(_p99_latency, runs)
    else:
        p99s = [_p99_latency(*r) for r in runs]
    p99 = dict(zip(runs, p99s))
    out = {}
    worst = 0.0
    for gap_ms, writes in writers:
        per = out["%d" % gap_ms] = {}
        for mode in ("async", "sync"):
            quiet = p99[(mode, False, writes, gap_ms)][0]
            busy, reads = p99[(mode, True, writes, gap_ms)]
            per[mode] = {"p99_ms_no_scan": round(quiet, 3), "p99_ms_scanning": round(busy, 3),
                         "ratio": round(busy / quiet, 3), "writes": writes,
                         "scan_blocks_per_s": reads}
            worst = max(worst, per[mode]["ratio"])
    return worst, out


# The activity log's cost on the 40 ms writer (quiet: no scan; random blocks of the 64 MiB
# card): p99 with the log off, on as configured by default (4 extents of 16 MiB kept: the
# whole card), and on with extents of one bitmap region and none kept once confirmed (the
# log as session 2 built it: a record before nearly every write of this writer).
LOG_CASES = (("off", {"actlog": 0}), ("extents", {"actlog": 1}),
             ("regions", {"actlog": 1, "al_extent_blocks": 1, "al_extents": 1}))


def log_latency(writes=2000, jobs=1, gap_ms=40.0):
    """p99 write latency with and without the activity log. Returns (worst ratio of the
    default log to none, {mode: figures})."""
    runs = [(mode, False, writes, gap_ms, P99_BLOCKS, settings)
            for mode in ("async", "sync") for _, settings in LOG_CASES]
    if jobs > 1:
        import multiprocessing
        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            p99s = pool.starmap(_p99_latency, runs)
    else:
        p99s = [_p99_latency(*r) for r in runs]
    out = {}
    worst = 0.0
    for i, mode in enumerate(("async", "sync")):
        per = out[mode] = {"writes": writes}
        for j, (name, _) in enumerate(LOG_CASES):
            per["p99_ms_" + name] = round(p99s[i * len(LOG_CASES) + j][0], 3)
        per["ratio"] = round(per["p99_ms_extents"] / per["p99_ms_off"], 3)
        per["ratio_regions"] = round(per["p99_ms_regions"] / per["p99_ms_off"], 3)
        worst = max(worst, per["ratio"])
    return worst, out


def _p99_latency(mode, scanning, count, gap_ms, blocks=P99_BLOCKS, settings=None):
    """(p99 write latency in ms, blocks per second the busier card read in the background
    while the writer ran). scanning: periodic scans back to back (scan_period_ms=1) at the
    default pace (cfg.scan_rate), which takes 64 MiB in 44 minutes: the writers' runs see
    one scan under way, not several."""
    from sdmirror.sim import fast
    fast.install()
    rig = sparse_rig(blocks, "default", P99_KEY, seed=SEED, mode=mode,
                     scan_period_ms=1 if scanning else 0, **(settings or {}))
    rig.boot()
    # the first resync done (with scans back to back the pair is never idle again)
    rig.run_until(lambda: rig.primary.node.paired and not rig.primary.node._syncing,
                  limit_s=10 ** 5)
    w, board, card = rig.world, rig.primary, rig.pcard
    rng = random.Random(SEED)
    lat = []
    waiting = []  # (token, started) of sync writes not yet durable

    def check(_board):
        node = board.node
        while waiting and node.durable(waiting[0][0]):
            lat.append(w.now - waiting.pop(0)[1])

    board.listeners.append(check)

    def write(t=None, block=None, data=None):
        if t is None:
            t = w.now
            block = rng.randrange(blocks)
            data = rng.randbytes(BLOCK)
        if not board.node.admit(block, 1, w.now):  # the activity log first
            w.after(0.05, write, t, block, data)
            return
        board.app_io()

        def landed(ok):
            token = board.app_write(block, data)
            if mode == "async":
                lat.append(w.now - t)
            else:
                waiting.append((token, t))
                check(board)
        card.submit("w", block, data, landed, fg=True)

    t0 = w.now
    read0 = (rig.pcard.blocks_read, rig.scard.blocks_read)
    for i in range(count):
        w.at(w.now + (i + 1) * gap_ms * rng.uniform(0.5, 1.5), write)
    w.run_until(w.now + count * gap_ms * 2 + 5000)
    reads = max(rig.pcard.blocks_read - read0[0], rig.scard.blocks_read - read0[1])
    per_s = round(reads / ((w.now - t0) / 1000.0), 1)
    if scanning and per_s < 1:
        raise RuntimeError("no scan ran during the latency run")
    lat.sort()
    return lat[int(len(lat) * 0.99) - 1], per_s


def meets(res):
    g = GOALS
    return {
        "coherent": res["coherent_link_bytes"] <= g["coherent_link_bytes"],
        "diff100": res["diff100_link_bytes"] <= g["diff100_link_bytes"],
        "scattered": all(s["ratio"] <= g["scattered_ratio"] for s in res["scattered"]),
        "sequential": res["sequential"]["ratio"] <= g["sequential_ratio"],
        "uart_goodput": res["uart_goodput_ratio"] >= g["uart_goodput_ratio"],
        "scan_p99": res["scan_p99_ratio"] <= g["scan_p99_ratio"],
        "log_p99": res["log_p99_ratio"] <= g["log_p99_ratio"],
    }
