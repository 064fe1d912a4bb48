"""The resync benchmark's machinery, at a small scale (the numbers belong to `make bench`,
not to tests): scenarios converge, baselines cost what they should relative to each other,
rsync's statistics are read right."""
import shutil

import pytest

from sdmirror.benchmarks import resync, rig


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setattr(rig, "VOLUME", 4096)
    monkeypatch.setattr(resync, "VOLUME", 4096)
    monkeypatch.setattr(resync, "SEQUENTIAL_BLOCKS", 256)


def test_lost_bitmap_scenarios_converge_and_the_tree_beats_the_flat_list(small):
    tree, images = resync.lost_bitmap(20, "sdmirror")
    flat, _ = resync.lost_bitmap(20, "flat_crc_list")
    assert tree["ideal_bytes"] == 20 * 512 and images[0] != images[1]
    assert tree["link_bytes"] < flat["link_bytes"]
    assert flat["link_bytes"] > 4096 * 4  # a checksum per block crossed the link


def test_outage_scenarios_copy_only_what_changed(small):
    writes = resync.scattered_writes(30, 1)
    ours = resync._measure(*resync._pair_after_outage(writes, "sdmirror")[:2], 30 * 512)
    coarse = resync._measure(*resync._pair_after_outage(writes, "bitmap_4k")[:2], 30 * 512)
    assert ours["link_bytes"] < coarse["link_bytes"]  # 8 blocks sent for each 1 changed
    assert 1.0 < ours["ratio"] < 2.0


def test_without_rsync_its_baselines_are_null_and_say_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no rsync on it
    a = bytes(4096)
    assert resync.rsync_all((a, a)) == {"rsync_B512": None, "rsync_B4096": None,
                                        "rsync_default": None}
    assert "apt-get install rsync" in resync.rsync_missing()


@pytest.mark.skipif(shutil.which("rsync") is None, reason="needs rsync: apt-get install rsync")
def test_rsync_wire_counts_what_rsync_reports():
    assert resync.rsync_missing() is None
    import random
    a = random.Random(1).randbytes(64 * 1024)
    b = bytearray(a)
    b[5000:5100] = bytes(100)  # the secondary's copy differs in 100 bytes
    wire = resync.rsync_wire(a, bytes(b), 512)
    assert 100 < wire < len(a) // 4  # the difference crossed, the rest did not
    assert resync.rsync_wire(a, a, 512) < wire


def test_write_latency_is_measured_with_and_without_scans(small):
    quiet, idle_reads = resync._p99_latency("async", False, 100, 40.0)
    busy, reads = resync._p99_latency("async", True, 100, 40.0)
    assert 0 < quiet and 0 < busy
    # the scan reads at its pace (cfg.scan_rate 20 blocks/s, both cards), none without it
    assert idle_reads == 0 and 16 <= reads <= 20, reads


@pytest.mark.parametrize("args, says", [
    (["--sizes", "2GiB"], "--sizes takes 64MiB,1GiB,32GiB"),
    (["--profiles", "pico"], "no profile 'pico'"),
    (["--jobs", "0"], "--jobs must be at least 1"),
])
def test_bench_scale_refuses_what_it_does_not_have(capsys, args, says):
    from sdmirror.commands import bench
    with pytest.raises(SystemExit) as e:
        bench.main(["scale"] + args)
    assert e.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and says in errors[0]  # after the usage, one line


def test_the_scale_plan_covers_every_size_profile_and_case():
    from sdmirror.benchmarks import scale
    tasks = scale.plan()
    for size, _ in scale.SIZES:
        for profile in scale.PROFILES:
            names = set(t[2] for t in tasks if t[:2] == (size, profile))
            assert {"coherent", "diff100", "k=10", "k=1000", "k=10000", "sequential",
                    "power loss"} <= names, (size, profile)
    assert ("32GiB", "default", "30%", "kept") in tasks  # the largest feasible, labelled
    assert not any(t[2] == "30%" for t in scale.plan(heavy=False))
