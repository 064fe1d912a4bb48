"""fatimg (pyfatfs) reads card images whose FAT MicroPython's own VfsFat wrote, as the
firmware's `fs mkfs` / `fs write` do: names as written, bytes, the demo's file check, and the
damage it must not pass. mtools and fsck.vfat, where installed, are extra oracles on the
same images (skipped otherwise, naming the package)."""
import json
import shutil
import struct
import subprocess

import pytest

import fatoracle
from emupair import MICROPYTHON, NEEDS_VM
from sdmirror.demo import fatimg

pytestmark = NEEDS_VM

# Run by MicroPython: a card of N blocks + the board's 2 metadata blocks, file-backed, with
# a FAT made by vfs.VfsFat on its first N blocks (as the console's `fs mkfs` does).
MAKER = r"""
import json, sys, vfs
spec = json.loads(sys.argv[2])
class Card:
    def __init__(self, path, n):
        self.n = n
        self.f = open(path, "w+b")
        self.f.seek((n + 2) * 512 - 1)
        self.f.write(b"\0")
    def readblocks(self, b, buf):
        self.f.seek(b * 512)
        self.f.readinto(buf)
    def writeblocks(self, b, buf):
        self.f.seek(b * 512)
        self.f.write(buf)
    def ioctl(self, op, arg):
        return self.n if op == 4 else 512 if op == 5 else 0
card = Card(sys.argv[1], spec["blocks"])
vfs.VfsFat.mkfs(card)
fs = vfs.VfsFat(card)
for d in spec["dirs"]:
    fs.mkdir(d)
for path, size, seed in spec["files"]:
    with fs.open(path, "wb") as f:
        f.write(bytes((i * 31 + seed) & 255 for i in range(size)))
card.f.close()
"""
FILES = [("/rec001.bin", 10240, 1), ("/notes.txt", 1, 2), ("/Mixed Name.TXT", 700, 3),
         ("/logs/a.log", 3000, 4), ("/logs/empty.dat", 0, 5)]


def content(size, seed):
    return bytes((i * 31 + seed) & 255 for i in range(size))


WRITTEN = {p: fatimg.sha256(content(n, s)) for p, n, s in FILES}


def make_image(tmp_path, blocks):
    script = tmp_path / "maker.py"
    script.write_text(MAKER)
    image = tmp_path / ("card%d.img" % blocks)
    spec = {"blocks": blocks, "dirs": ["/logs"], "files": FILES}
    r = subprocess.run([MICROPYTHON, str(script), str(image), json.dumps(spec)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return str(image)


@pytest.fixture(scope="module", params=[(2048, "FAT12"), (32768, "FAT16")],
                ids=["FAT12-1MiB", "FAT16-16MiB"])
def card(request, tmp_path_factory):
    blocks, fat_type = request.param
    return make_image(tmp_path_factory.mktemp("fat"), blocks), fat_type


def test_pyfatfs_reads_what_vfsfat_wrote(card):
    image, fat_type = card
    with fatimg.FatImage(image) as fat:
        assert fat.fat_type == fat_type and fat.warnings == []
        # the firmware's spelling: 8.3 lower case (NT bits), a long name, a subdirectory
        assert sorted(fat.files()) == sorted(p for p, _, _ in FILES)
        for path, size, seed in FILES:
            assert fat.read(path) == content(size, seed)
        text = fat.listing()
    assert text.startswith(fat_type + " filesystem")
    assert "/logs/" in text and "/Mixed Name.TXT" in text and "5 files, 13941 bytes" in text


def test_lookups_ignore_case_and_bad_paths_and_images_are_one_line_errors(card, tmp_path):
    image, _ = card
    with fatimg.FatImage(image) as fat:
        assert fat.read("/REC001.BIN") == fat.read("/rec001.bin")
        for path, why in (("/nope.txt", "no file /nope.txt"), ("/logs", "is a directory")):
            with pytest.raises(fatimg.FatError, match=why) as e:
                fat.read(path)
            assert "\n" not in str(e.value)
    blank = tmp_path / "blank.img"
    blank.write_bytes(bytes(512 * 64))
    for bad, why in ((str(blank), "holds no FAT filesystem"), (str(tmp_path / "gone.img"),
                                                               "cannot open")):
        with pytest.raises(fatimg.FatError, match=why) as e:
            fatimg.FatImage(bad)
        assert "\n" not in str(e.value)


def test_the_demos_file_check_passes_only_files_as_written(card):
    image, fat_type = card
    fin = fatimg.check_files(image, WRITTEN)
    assert fin["ok"] and fin["missing"] == [] and fin["fat_type"] == fat_type
    assert all(f["match"] for f in fin["files"]) and len(fin["files"]) == len(FILES)
    # names compare as FAT compares them
    assert fatimg.check_files(image, {"/REC001.BIN": WRITTEN["/rec001.bin"]})["ok"]
    wrong = dict(WRITTEN, **{"/notes.txt": fatimg.sha256(b"y")})
    fin = fatimg.check_files(image, wrong)
    assert not fin["ok"] and [f["path"] for f in fin["files"] if not f["match"]] == ["/notes.txt"]
    fin = fatimg.check_files(image, dict(WRITTEN, **{"/rec002.bin": WRITTEN["/notes.txt"]}))
    assert not fin["ok"] and fin["missing"] == ["/rec002.bin"]


def cut_chain(image, tmp_path, path="/rec001.bin"):
    """A copy of the image in which the file's cluster chain ends after its first cluster
    (its directory entry still gives the whole size). VfsFat's mkfs makes one FAT copy."""
    with open(image, "rb") as f:
        bs = f.read(512)
    reserved, nfats = struct.unpack_from("<H", bs, 14)[0], bs[16]
    fat_blocks = struct.unpack_from("<H", bs, 22)[0]
    with fatimg.FatImage(image) as fat:
        first = fat._entry(path).get_cluster()
        fat_type = fat.fat_type
    out = str(tmp_path / "cut.img")
    shutil.copyfile(image, out)
    with open(out, "r+b") as f:
        for copy in range(nfats):
            base = (reserved + copy * fat_blocks) * 512
            if fat_type == "FAT16":
                f.seek(base + first * 2)
                f.write(b"\xff\xff")  # end of chain
            else:  # FAT12: 12 bits an entry, two entries in three bytes
                at = base + first * 3 // 2
                f.seek(at)
                v = struct.unpack("<H", f.read(2))[0]
                v = (v & 0x000F) | 0xFFF0 if first & 1 else (v & 0xF000) | 0x0FFF
                f.seek(at)
                f.write(struct.pack("<H", v))
    return out


def test_a_cluster_chain_shorter_than_its_file_is_an_error(card, tmp_path):
    image, _ = card
    cut = cut_chain(image, tmp_path)
    with fatimg.FatImage(cut) as fat:
        with pytest.raises(fatimg.FatError, match="rec001.bin") as e:
            fat.read("/rec001.bin")
        assert "\n" not in str(e.value)
        assert fat.read("/notes.txt") == content(1, 2)  # the rest still reads
    with pytest.raises(fatimg.FatError, match="rec001.bin"):
        fatimg.check_files(cut, WRITTEN)


def test_a_volume_marked_dirty_fails_the_check_with_pyfatfs_warning(card, tmp_path):
    image, _ = card
    dirty = str(tmp_path / "dirty.img")
    shutil.copyfile(image, dirty)
    with open(dirty, "r+b") as f:  # BS_Reserved1 bit 0: NT's "not cleanly unmounted" flag
        f.seek(37)
        flags = f.read(1)[0]
        f.seek(37)
        f.write(bytes([flags | 1]))
    fin = fatimg.check_files(dirty, WRITTEN)
    assert all(f["match"] for f in fin["files"])  # the files read fine, but the volume ...
    assert not fin["ok"] and any("cleanly" in w for w in fin["warnings"])


# -- the system's tools, where installed -----------------------------------------------------
def test_mtools_reads_the_same_files(card):
    image, _ = card
    theirs = fatoracle.mtools_files(image)  # skips without mtools
    with fatimg.FatImage(image) as fat:
        ours = {p.lower(): fat.read(p) for p in fat.files()}
    assert theirs == ours


def test_fsck_vfat_finds_vfsfat_images_clean_and_damage_not(card, tmp_path):
    image, _ = card
    clean, out = fatoracle.fsck(image)  # skips without dosfstools
    assert clean, out
    clean, out = fatoracle.fsck(cut_chain(image, tmp_path))
    assert not clean, out
