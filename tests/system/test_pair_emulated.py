"""The real firmware on two MicroPython VMs, each with its SD card model behind an emulated
SPI bus, joined by the emulator's UART link model: the mirror's whole story, end to end."""
import os
import subprocess

import pytest

import fatoracle
from emupair import EmuPair, block_hex
from sdmirror.demo import fatimg

pytestmark = pytest.mark.system

SETTINGS = {"scan_period_ms": 4000, "scan_rate": 0, "dead_ms": 3000, "keepalive_ms": 1000}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    pair = EmuPair(tmp_path_factory.mktemp("emu"), mode="uart", image_size="16M",
                   settings=SETTINGS, key="5ec7e75ec7e75ec7e75ec7e75ec7e75e")
    try:
        pair.wait_synced(120)
        yield pair
    finally:
        pair.close()


def test_mirrored_writes_reach_the_secondary(pair):
    for i, b in enumerate((3, 100, 2047, 30000)):
        assert pair.p.checked("write %d %s" % (b, block_hex(i)))["ok"]
    pair.wait_synced()
    assert pair.differing() == []
    out = pair.s.checked("read 2047")
    assert out["hex"] == block_hex(2)


def test_outage_writes_are_resynced_from_the_bitmap(pair):
    before = pair.p.status()["counters"]
    s_before = pair.s.status()["counters"]
    pair.emu.link("down")
    pair.p.wait(lambda st: st["link"] != "paired", 30, what="the primary to notice the outage")
    blocks = (10, 5000, 5001, 20000, 32000)
    for i, b in enumerate(blocks):
        pair.p.checked("write %d %s" % (b, block_hex(100 + i)))
    assert pair.p.status()["dirty_regions"] >= 4
    pair.emu.link("reset")  # count only the resync's bytes
    pair.emu.link("up")
    st = pair.wait_synced()
    assert pair.differing() == []
    copied = st["counters"]["blocks_copied"] - before["blocks_copied"]
    assert copied == len(blocks)  # only the changed blocks, not whole regions
    s_after = pair.s.status()["counters"]
    # the bitmap found them, not a scan: the primary sends what its record of the outage's
    # writes names (whole where the writes cover a region, else compared by region), and no
    # scan counted a mismatch on either side
    assert s_after["mismatches"] == s_before["mismatches"]
    assert st["counters"]["mismatches"] == before["mismatches"]
    dirty = len(blocks) * 512
    assert pair.link_bytes() < dirty + 4000, pair.link_bytes()


def test_primary_power_loss_during_an_outage_resyncs_the_extents_of_its_activity_log(pair):
    # (actlog=1, the default; a damaged or full log, or actlog=0: the full scan,
    # tests/firmware/test_pair.py)
    s_before = pair.s.status()["counters"]
    pair.emu.link("down")
    pair.p.wait(lambda st: st["link"] != "paired", 30, what="the outage to be noticed")
    for i, b in enumerate((77, 15000, 31000)):
        pair.p.checked("write %d %s" % (b, block_hex(200 + i)))
    pair.emu.power_cycle("primary")  # RAM, and the bitmap with it, is gone
    st = pair.p.wait(lambda st: st.get("ready"), 30, what="the primary to boot")
    assert st["bitmap_valid"]  # rebuilt from the activity log on its card
    pair.emu.link("up")
    st = pair.wait_synced()
    # counters restarted with the primary: the logged extents were scanned (a full scan
    # would have dropped them before their turn)
    assert st["counters"]["log_scans"] >= 1
    # comparing the logged extents found exactly the outage's writes
    assert pair.s.status()["counters"]["mismatches"] - s_before["mismatches"] == 3
    assert pair.differing() == []


def test_silent_corruption_on_the_secondary_is_repaired_by_the_periodic_scan(pair):
    before = pair.p.status()["counters"]["scans"]
    pair.emu.corrupt("secondary", [100, 9000, 30000], seed=5)
    assert sorted(pair.differing()) == [100, 9000, 30000]
    pair.p.wait(lambda st: st["counters"]["scans"] >= before + 1 and
                st["counters"]["blocks_copied"] > 0 and not st["scan"]["active"], 90,
                what="a periodic scan to run")
    pair.wait_synced()
    assert pair.differing() == []


def fat_files(pair):
    """`fs mkfs` and three files on the primary, once per pair, mirrored: {path: sha256 the
    primary's application reported}."""
    if getattr(pair, "fat_written", None) is None:
        assert pair.p.checked("fs mkfs", timeout=60)["ok"]
        written = {}
        for i, name in enumerate(("notes.txt", "data.bin", "log.csv")):
            r = pair.p.checked("fs write /%s %d %d" % (name, 3000 + 5000 * i, i), timeout=60)
            written["/" + name] = r["sha256"]
        pair.fat_written = written
    pair.wait_synced()
    assert pair.differing() == []
    return pair.fat_written


def test_fat_files_written_on_the_primary_are_in_the_secondarys_image(pair):
    written = fat_files(pair)
    # the secondary's image alone, read on the host by pyfatfs (not MicroPython's FatFs):
    # the names as the primary wrote them, every file's bytes those the primary reported
    fin = fatimg.check_files(pair.image("secondary"), written)
    assert sorted(f["path"] for f in fin["files"]) == sorted(written)
    assert fin["ok"] and all(f["match"] for f in fin["files"]), fin
    assert [f["bytes"] for f in sorted(fin["files"], key=lambda f: f["path"])] == [
        8000, 13000, 3000]  # data.bin, log.csv, notes.txt


def test_mtools_reads_the_secondarys_files_too(pair):
    fatoracle.need("mdir", "mcopy")  # an extra oracle: skips without mtools
    written = fat_files(pair)
    theirs = fatoracle.mtools_files(pair.image("secondary"))
    assert {p: fatimg.sha256(data) for p, data in theirs.items()} == written


def test_fsck_vfat_finds_the_secondarys_fat_clean(pair):
    fatoracle.need("fsck.vfat")  # an extra oracle: skips without dosfstools
    fat_files(pair)
    clean, out = fatoracle.fsck(pair.image("secondary"))
    assert clean, out


def test_mpremote_copies_a_file_and_soft_resets(pair, tmp_path):
    url = pair.emu.status()["boards"]["primary"]["url"]
    pair.p.close()
    src = tmp_path / "hello.txt"
    src.write_text("from the host\n")
    mpremote = os.path.join(os.path.dirname(os.sys.executable), "mpremote")
    r = subprocess.run([mpremote, "connect", url, "fs", "cp", str(src), ":hello.txt",
                        "+", "soft-reset"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (open(os.path.join(pair.run_dir, "primary", "hello.txt")).read() ==
            "from the host\n")
    from sdmirror.console_client import Board
    pair.p = Board(url, timeout=15)
    # a soft reset in the raw REPL leaves the board at its REPL (main.py does not run):
    # one more soft reset at the friendly REPL boots the firmware, as on a real board
    pair.p.restart_firmware()
    st = pair.p.wait(lambda st: st.get("ready"), 30, what="the firmware to boot again")
    assert st["role"] == "primary"
