"""`sdmirror demo --quick`: the whole story on a small card over the Ethernet link model,
its report, and the emulator stopped at the end — also when the story fails."""
import json
import os
import sys

HOST_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "host")
if HOST_DIR not in sys.path:
    sys.path.insert(0, HOST_DIR)

from sdmirror import cli  # noqa: E402
from sdmirror.demo import story  # noqa: E402
from sdmirror.emu import RunDir  # noqa: E402
from emupair import NEEDS_VM  # noqa: E402

pytestmark = NEEDS_VM


def run_demo(capsys, out):
    try:
        status = cli.main(["demo", "--quick", "--out", str(out)])
    except SystemExit as e:
        status = e.code
    o, e = capsys.readouterr()
    assert "Traceback" not in o + e
    return status, o, e


def test_quick_demo_tells_the_story_and_reports(capsys, tmp_path):
    out = tmp_path / "report"
    status, o, e = run_demo(capsys, out)
    assert status == 0, e
    assert RunDir(str(out / "emu")).processes() == []          # the emulator is stopped
    with open(out / "report.json") as f:
        rep = json.load(f)
    phases = rep["phases"]
    assert [p["key"] for p in phases] == [0, 1, 2, 3, 4, 5]
    for p in phases:
        assert p["link_bytes"] == p["link_bytes_p2s"] + p["link_bytes_s2p"] > 0
        assert p["flat_crc_bytes"] == rep["run"]["nblocks"] * 4 + p["ideal_bytes"]
        assert p["ideal_bytes"] == p["differing_blocks"] * 512
    pairing, writes, cut, power, corrupt, trouble = phases
    assert pairing["differing_blocks"] == 0 and pairing["ratio_ideal"] is None
    assert pairing["link_bytes"] < pairing["flat_crc_bytes"] / 20   # the hash tree at work
    assert writes["differing_blocks"] > 0
    assert any("paired bitmap" in ev for ev in cut["events"])        # bitmap resync
    # after the primary's power loss (its RAM bitmap gone) the extents of its activity log,
    # not a full scan, drive the resync
    assert any("primary: paired bitmap" in ev for ev in power["events"])
    assert not any("paired full scan" in ev for ev in power["events"])
    assert power["blocks_copied"] >= power["differing_blocks"] > 0
    assert corrupt["blocks_copied"] >= corrupt["differing_blocks"] > 0
    assert any("scan_done periodic" in ev for ev in corrupt["events"])
    # reads healed from the secondary, then the failover and the old primary's return
    assert trouble["healed_reads"] > 0 and trouble["files_read_whole"][0] == \
        trouble["files_read_whole"][1] > 0
    fo = trouble["failover"]
    assert fo["new_generation"] != fo["old_generation"] and fo["old_primary_now"] == "secondary"
    assert "demote" in fo["old_primary_refused"]
    assert any("promoted" in ev for ev in trouble["events"])
    # the old primary, rebooted, resynced by its activity log and the new primary's bitmap
    assert fo["demote_by_log"] and any("paired bitmap" in ev for ev in trouble["events"])
    assert rep["final"]["files"] and any(f["path"] == "/after-failover.bin"
                                         for f in rep["final"]["files"])
    fin = rep["final"]
    assert fin["equal"] and fin["sha256"]["primary"] == fin["sha256"]["secondary"]
    assert fin["files"] and all(f["match"] for f in fin["files"])
    assert rep["run"]["mode"] == "eth"
    md = (out / "report.md").read_text()
    assert "| phase |" in md and fin["sha256"]["secondary"] in md and "rec001" in md
    assert (out / "link-bytes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the terminal got the same story: the table, both sha256 and the secondary's files
    assert "Cost of each phase" in o and "4. corruption" in o and "equal" in o
    assert "5. trouble" in o and "healed from the secondary" in o
    assert fin["sha256"]["primary"] in o and "rec001" in o


def test_demo_failure_stops_the_emulator(capsys, tmp_path, monkeypatch):
    def broken(self):
        raise story.DemoError("the story broke on purpose")
    monkeypatch.setattr(story.Demo, "phase1", broken)
    out = tmp_path / "report"
    status, o, e = run_demo(capsys, out)
    assert status == 1 and e.strip() == "sdmirror demo: error: the story broke on purpose"
    assert RunDir(str(out / "emu")).processes() == []
    assert not (out / "report.md").exists()
