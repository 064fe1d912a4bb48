"""`sdmirror sim`: JSON output, one-line errors, reproduction lines, traces."""
import json
import re
import subprocess
import sys

import pytest

from sdmirror.sim import fast
from sdmirror.sim import cli, sweep
from sdmirror.sim.campaign import repro_line


@pytest.fixture(autouse=True)
def _firmware_code_restored():
    """The simulator swaps in faster COBS/CRC code: give later tests the firmware's own."""
    yield
    fast.uninstall()


KEYS = {"scenarios", "passed", "failed", "diverged", "lost_acked_writes", "outside_writes",
        "primary_changed", "faults", "failing_seeds", "seconds"}


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_summary_has_the_documented_keys(capsys):
    code, out, err = run(capsys, "--seeds", "6", "--start", "40", "--json", "--jobs", "1")
    data = json.loads(out)
    assert KEYS <= set(data)
    assert data["scenarios"] == 6 and data["passed"] + data["failed"] == 6
    assert code == (0 if data["failed"] == 0 else 1)
    assert isinstance(data["faults"], dict) and err == ""


@pytest.mark.parametrize("argv", [
    ["--seeds", "0"], ["--seeds", "x"], ["--start", "-1"], ["--jobs", "0"], ["--bogus"],
    ["--sweep-case", "nonsense"], ["--sweep-case", "9:primary:torn:1"],
    ["--sweep-case", "0:primary:melt:1"],
])
def test_bad_arguments_are_one_line_errors_with_status_2(capsys, argv):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    out, err = capsys.readouterr()
    assert e.value.code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("sdmirror sim: error: ")


def test_the_reproduction_line_replays_one_seed_verbosely():
    assert repro_line(1234) == "sdmirror sim --seeds 1 --start 1234 -v"
    assert sweep.repro_line({"config": 1, "side": "primary", "trigger": "torn", "i": 3}) == \
        "sdmirror sim --sweep-case 1:primary:torn:3 -v"


def test_a_failing_seed_prints_its_reproduction_line(capsys, monkeypatch):
    import sdmirror.sim.campaign as campaign

    real = campaign.run_seed

    def broken(seed, verbose=False, pure=False, cfg=None):
        r = real(seed, verbose=verbose, pure=pure, cfg=cfg)
        if seed == 41:  # pretend the checker found a divergence
            r.update(ok=False, failures=["diverged"], details={"diverged": ["1 blocks differ: 3"]})
        return r
    monkeypatch.setattr(campaign, "run_seed", broken)
    code, out, err = run(capsys, "--seeds", "3", "--start", "40", "--jobs", "1")
    assert code == 1
    assert "FAIL seed 41: diverged: 1 blocks differ: 3" in out
    assert "  reproduce: sdmirror sim --seeds 1 --start 41 -v" in out.splitlines()
    assert re.search(r"3 scenarios from seed 40: 2 passed, 1 failed \(diverged 1\)", out)


def test_verbose_prints_a_readable_trace(capsys):
    code, out, err = run(capsys, "--seeds", "1", "--start", "7", "-v")
    assert out.startswith("== seed 7\n")
    assert "setup     cfg: actlog=" in out and "alg=" in out and "power on (boot 1)" in out
    assert "link up" in out and ("-> PASS" in out or "-> FAIL" in out)


def test_verbose_trace_is_identical_between_runs(capsys):
    a = run(capsys, "--seeds", "1", "--start", "9", "-v")
    b = run(capsys, "--seeds", "1", "--start", "9", "-v")
    assert a == b


def test_sweep_case_replays_one_run(capsys):
    code, out, err = run(capsys, "--sweep-case", "0:secondary:frame:5", "--json")
    data = json.loads(out)
    assert data["side"] == "secondary" and data["trigger"] == "frame" and data["i"] == 5
    assert data["fired"] and code == (0 if data["ok"] else 1)


def test_python_dash_m_and_the_sdmirror_command():
    for cmd in ([sys.executable, "-m", "sdmirror.sim"],
                [sys.executable, "-m", "sdmirror.cli", "sim"]):
        p = subprocess.run(cmd + ["--seeds", "2", "--json", "--jobs", "1"], capture_output=True,
                           text=True, timeout=120)
        assert p.returncode in (0, 1), p.stderr
        assert json.loads(p.stdout)["scenarios"] == 2


def test_set_overrides_a_setting_and_refuses_bad_ones_in_one_line(capsys):
    code, out, err = run(capsys, "--seeds", "1", "--start", "785727688", "--set", "actlog=1",
                         "-v")
    assert code == 0 and "actlog 1 extents to compare" in out  # drawn off, set on
    for bad, why in (("actlog=2", "actlog must be a whole number from 0 to 1"),
                     ("nosuch=1", "unknown setting 'nosuch'"),
                     ("actlog", "wants NAME=N")):
        with pytest.raises(SystemExit) as e:
            run(capsys, "--seeds", "1", "--set", bad)
        err = capsys.readouterr().err
        assert e.value.code == 2 and why in err and len(err.strip().splitlines()) == 1
