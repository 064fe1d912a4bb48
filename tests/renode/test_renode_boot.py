"""The flash filesystem image that `sdmirror renode-files` writes (what the .resc loads at
0x08008000) boots on the MicroPython VM as MicroPython's stm32 port would boot it: mounted
as /flash, main.py run from it, the firmware frozen in (boards/renode/manifest.py), with the
stm32 call shapes
(vm_machine.py) and Renode's card model behind the SPI bus (renode_sdcard.py), as primary
and as secondary, up to the console's first `status` reply. Nothing may write to /flash
(in Renode that would erase the firmware, see host/sdmirror/renode_fs.py)."""
import json
import os
import select
import shutil
import subprocess
import time

import pytest

from sdmirror import firmware_image, renode_fs
from sdmirror.emu.launcher import EmuError, find_micropython

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = "00112233445566778899aabbccddeeff"

# main.c init_flash_fs, in short: mount the image on /flash (read-only here: a write is
# reported and refused), chdir there, run main.py.
BOOT = """
import sys, os, vfs
f = open(sys.argv[1], "rb")
f.seek(0, 2)
size = f.tell()
class Flash:
    def readblocks(self, b, buf, off=0):
        f.seek(b * 512 + off)
        f.readinto(buf)
    def writeblocks(self, b, buf, off=0):
        print("FLASH-WRITE", b)
        raise OSError(30)
    def ioctl(self, op, arg):
        return size // 512 if op == 4 else (512 if op == 5 else 0)
vfs.mount(vfs.VfsFat(Flash()), "/flash")
os.chdir("/flash")
sys.path[:0] = ["/flash"]
exec(open("main.py").read(), {"__name__": "__main__"})
"""

try:
    VM = find_micropython()
except EmuError:
    VM = None


def read_json_line(proc, want, deadline):
    """The first JSON line on proc's stdout for which want(obj) holds; fails on a fatal
    event, a flash write or the deadline."""
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if not r:
            continue
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            text = line.decode(errors="replace").strip()
            assert not text.startswith("FLASH-WRITE"), text
            if text.startswith("{"):
                obj = json.loads(text)
                assert obj.get("event") != "fatal", obj
                if want(obj):
                    return obj
    raise AssertionError("no such line before the deadline; last output: %r" % buf[-300:])


@pytest.mark.skipif(VM is None, reason="the micropython VM is not installed")
@pytest.mark.parametrize("role", renode_fs.ROLES)
def test_the_image_boots_from_flash_in_the_profiles_heap(tmp_path, role):
    renode_fs.write_files(str(tmp_path), lambda r: {"role": r, "key": KEY, "settings": {}}, VM)
    fakes = tmp_path / "fakes"
    fakes.mkdir()
    shutil.copy(os.path.join(HERE, "vm_machine.py"), str(fakes / "machine.py"))
    shutil.copy(os.path.join(HERE, "renode_sdcard.py"), str(fakes / "renode_sdcard.py"))
    # what the MicroPython build freezes (boards/renode/manifest.py), importable after /flash;
    # its native kernels compiled for this VM, which cannot run the board's armv7emdp code
    frozen = tmp_path / "frozen"
    firmware_image.build("renode", str(frozen), full=True, arch=False)
    (tmp_path / "boot.py").write_text(BOOT)
    # frozen bytecode stays in flash on the board; the VM loads it into its heap: give it room
    # (tests/host/test_ram_budget.py holds the profile's HEAP to the controller's data)
    heap = firmware_image.board_value("renode", "HEAP") + 192 * 1024
    proc = subprocess.Popen(
        [VM, "-X", "heapsize=%d" % heap, str(tmp_path / "boot.py"),
         str(tmp_path / ("%s-fs.img" % role))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=dict(os.environ, MICROPYPATH="%s:%s" % (fakes, frozen)), cwd=str(tmp_path))
    try:
        deadline = time.monotonic() + 60
        boot = read_json_line(proc, lambda o: o.get("event") == "boot", deadline)
        assert boot["detail"]["role"] == role and boot["detail"]["board"] == "renode"
        assert boot["detail"]["blocks"] == 16384 - 2  # CARD_BLOCKS less the two metadata blocks
        proc.stdin.write(b"status\n")
        proc.stdin.flush()
        st = read_json_line(proc, lambda o: o.get("cmd") == "status", deadline)
        assert st["role"] == role and st["board"] == "renode" and st["nblocks"] == 16382
    finally:
        proc.kill()
        proc.wait(10)
