"""`sdmirror renode-files`: the flash filesystem images the Renode pair boots from."""
import json
import os
import subprocess

import pytest

from sdmirror import renode_fs
from sdmirror.emu.launcher import EmuError, find_micropython

KEY = "00112233445566778899aabbccddeeff"

try:
    VM = find_micropython()
except EmuError:
    VM = None

needs_vm = pytest.mark.skipif(VM is None, reason="the micropython VM is not installed")

# Mounts a FAT image in the MicroPython VM (the same FatFs the board runs) and prints its
# files with their sizes and sdmirror.json.
LIST = """
import sys, vfs, json
data = bytearray(open(sys.argv[1], "rb").read())
class D:
    def readblocks(s, b, buf, off=0):
        buf[:] = data[b * 512 + off : b * 512 + off + len(buf)]
    def writeblocks(s, b, buf, off=0):
        raise OSError(30)
    def ioctl(s, op, arg):
        return len(data) // 512 if op == 4 else (512 if op == 5 else 0)
fs = vfs.VfsFat(D())
out = {}
def walk(d):
    for name, kind, _, size in fs.ilistdir(d):
        p = d + "/" + name if d else name
        if kind == 0x4000:
            walk(p)
        else:
            out[p] = size
walk("")
with fs.open("sdmirror.json", "r") as f:
    out["conf"] = json.loads(f.read())
print(json.dumps(out))
"""


def listing(tmp_path, image):
    script = tmp_path / "list.py"
    script.write_text(LIST)
    r = subprocess.run([VM, str(script), str(image)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


@needs_vm
def test_each_board_gets_a_mountable_filesystem_with_its_role(tmp_path, run_cli):
    out = tmp_path / "renode"
    code, text, err = run_cli("renode-files", str(out), "--key", KEY, "--set", "scan_period_ms=60000")
    assert code == 0, err
    for role in renode_fs.ROLES:
        image = out / ("%s-fs.img" % role)
        assert image.stat().st_size == renode_fs.FS_BYTES
        files = listing(tmp_path, image)
        assert files["conf"] == {"role": role, "key": KEY, "settings": {"scan_period_ms": 60000}}
        assert files["SKIPSD"] == 0  # keeps MicroPython off the SDMMC slot
        assert "main.py" in files and "board.mpy" in files
        # frozen into the MicroPython build (boards/renode/manifest.py), so not here: a copy
        # here would shadow the frozen module
        assert "mirror/node.mpy" not in files and "renode_card.mpy" not in files
        assert (out / ("%s-card.img" % role)).stat().st_size == 0
    assert "KiB free" in text


@needs_vm
def test_files_that_do_not_fit_are_an_error_and_leave_nothing(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.mpy").write_bytes(b"\x00" * 80000)
    target = tmp_path / "fs.img"
    with pytest.raises(renode_fs.RenodeFilesError, match="do not fit the board's 64 KiB"):
        renode_fs.fat_image(str(src), str(target), VM, nbytes=64 * 1024)
    assert not target.exists() and not os.path.exists(str(target) + ".part")


def test_bad_options_are_one_line_errors(tmp_path, run_cli):
    code, _, err = run_cli("renode-files", str(tmp_path / "x"), "--key", "zz")
    assert code == 1 and err.strip() == "sdmirror renode-files: error: --key must be hexadecimal digits"
    code, _, err = run_cli("renode-files", str(tmp_path / "x"), "--key", KEY, "--set", "nonsense=1")
    assert code == 1 and "unknown setting 'nonsense'" in err
    (tmp_path / "file").write_text("")
    code, _, err = run_cli("renode-files", str(tmp_path / "file"), "--key", KEY)
    assert code == 1 and "is not a directory" in err
    code, _, err = run_cli("renode-files", str(tmp_path / "x"))
    assert code == 2 and "--key" in err
    assert not (tmp_path / "x").exists()
