"""tools/bench/bench_arm.py without an ARM firmware image: it skips and says what to set;
with an image that is not there it fails naming it; a goal miss makes make bench exit 1.
The instruction counts themselves belong to `make bench` with the images (docs/benchmarks.md)."""
import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "tools", "bench")


def _load(name):
    sys.path.insert(0, BENCH)
    spec = importlib.util.spec_from_file_location(name, os.path.join(BENCH, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_skips_saying_what_to_set_without_an_image(monkeypatch):
    for var in ("SDMIRROR_ARM_FIRMWARE", "SDMIRROR_ARM_M0_FIRMWARE"):
        monkeypatch.delenv(var, raising=False)
    res = _load("bench_arm").run()
    assert list(res) == ["skipped"]
    assert "SDMIRROR_ARM_M0_FIRMWARE" in res["skipped"] or "qemu-system-arm" in res["skipped"]


def test_a_missing_image_is_named(monkeypatch, tmp_path):
    bench = _load("bench_arm")
    if bench.shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    monkeypatch.setenv("SDMIRROR_ARM_M0_FIRMWARE", str(tmp_path / "nope.elf"))
    with pytest.raises(bench.armqemu.QemuError, match="nope.elf"):
        bench.run()


def test_goal_misses_make_the_runner_exit_1(monkeypatch, capsys):
    run = _load("run")

    class Missed:
        NAME = "fake"

        @staticmethod
        def run():
            return {"goal_misses": 1, "missed": "x > 1"}

    monkeypatch.setattr(run, "discover", lambda: iter([Missed]))
    assert run.main([]) == 1
    assert "fake" in capsys.readouterr().out
