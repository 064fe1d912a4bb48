"""The files a Renode pair (boards/renode/) boots from: each board's flash filesystem as a
FAT image that the .resc loads where MicroPython keeps its filesystem, and an empty card
image per board.

Why an image rather than copying files in through the REPL (as `sdmirror flash` does):
Renode models the STM32F767's flash controller with the STM32F4 sector table
(renode-infrastructure src/Emulator/Peripherals/Peripherals/MTD/STM32F4_FlashController.cs:
16 KiB sectors at 0x08000000..), but MicroPython's NUCLEO_F767ZI filesystem lives in the
F767's 32 KiB sectors 1-3, FLASH_FS at 0x08008000, 96 KiB (micropython
ports/stm32/boards/stm32f767.ld). An erase of "sector 1" in Renode would wipe
0x08004000-0x08007FFF, the firmware's own sector 0, so nothing may write to that filesystem
in Renode. A valid FAT image placed there mounts without a write (ports/stm32/main.c
init_flash_fs creates a filesystem only when none mounts), and main.py on it runs at boot.
The image also holds an empty SKIPSD file: the board's SDMMC slot is enabled in its build
(MICROPY_HW_ENABLE_SDCARD) and main.c skips mounting it when /flash/SKIPSD exists.

The FAT volume is made by MicroPython itself (the Unix VM's vfs.VfsFat: the same FatFs code
as the board), so the board reads exactly what its own port writes.
"""
import json
import os
import subprocess
import tempfile

from sdmirror import firmware_image

BOARD = "renode"
ROLES = ("primary", "secondary")
# ports/stm32/boards/stm32f767.ld: FLASH_FS (r) ORIGIN = 0x08008000, LENGTH = 96K; FAT blocks
# of 512 bytes (ports/stm32/flashbdev.c FLASH_BLOCK_SIZE).
FS_ADDRESS = 0x08008000
FS_BYTES = 96 * 1024
BLOCK = 512

# Run by MicroPython's Unix VM: argv = [script, out_image, n_blocks, list_file]; the list
# file has one "host_path<TAB>fs_path" per line (fs_path ending in / = a directory).
_VM_SCRIPT = """
import sys, vfs

class RamDisk:
    def __init__(self, n):
        self.data = bytearray(n * 512)
    def readblocks(self, b, buf, off=0):
        buf[:] = self.data[b * 512 + off : b * 512 + off + len(buf)]
    def writeblocks(self, b, buf, off=0):
        self.data[b * 512 + off : b * 512 + off + len(buf)] = buf
    def ioctl(self, op, arg):
        if op == 4:
            return len(self.data) // 512
        if op == 5:
            return 512
        return 0

out, n, listing = sys.argv[1], int(sys.argv[2]), sys.argv[3]
disk = RamDisk(n)
vfs.VfsFat.mkfs(disk)
fs = vfs.VfsFat(disk)
with open(listing) as f:
    lines = f.read().split("\\n")
for line in lines:
    if not line:
        continue
    src, dst = line.split("\\t")
    if dst.endswith("/"):
        fs.mkdir(dst[:-1])
        continue
    with open(src, "rb") as fi:
        data = fi.read()
    try:
        with fs.open(dst, "wb") as fo:
            fo.write(data)
    except OSError as e:
        print("FULL" if e.args[0] == 28 else "ERROR %s" % e, dst)
        sys.exit(3)
fs.umount() if hasattr(fs, "umount") else None
with open(out, "wb") as f:
    f.write(disk.data)
print("OK", fs.statvfs("/")[3] * fs.statvfs("/")[0])
"""


class RenodeFilesError(Exception):
    pass


def _listing(image_dir):
    """(host path, fs path) of every file under image_dir, directories first."""
    out = []
    for root, dirs, files in os.walk(image_dir):
        dirs.sort()
        rel = os.path.relpath(root, image_dir)
        if rel != ".":
            out.append((root, rel.replace(os.sep, "/") + "/"))
        for f in sorted(files):
            path = os.path.join(root, f)
            out.append((path, os.path.relpath(path, image_dir).replace(os.sep, "/")))
    return out


def fat_image(image_dir, out_path, micropython, nbytes=FS_BYTES):
    """Write a FAT volume of nbytes holding image_dir's files to out_path; returns the bytes
    left free on it. Raises RenodeFilesError if they do not fit."""
    with tempfile.TemporaryDirectory(prefix="sdmirror-renode-") as tmp:
        script = os.path.join(tmp, "mkfat.py")
        listing = os.path.join(tmp, "files.txt")
        with open(script, "w") as f:
            f.write(_VM_SCRIPT)
        with open(listing, "w") as f:
            f.write("".join("%s\t%s\n" % pair for pair in _listing(image_dir)))
        part = out_path + ".part"
        r = subprocess.run([micropython, script, part, str(nbytes // BLOCK), listing],
                           capture_output=True, text=True, timeout=120)
        words = (r.stdout.strip().splitlines() or [""])[-1].split()
        if r.returncode or not words or words[0] != "OK":
            if os.path.exists(part):
                os.remove(part)
            if words and words[0] == "FULL":
                raise RenodeFilesError(
                    "the sdmirror files do not fit the board's %d KiB flash filesystem (full at "
                    "%s): freeze more of it into the MicroPython build (manifest.py)"
                    % (nbytes // 1024, words[1]))
            raise RenodeFilesError("making the FAT image failed: %s" % (
                (r.stderr or r.stdout).strip().splitlines() or ["exit %d" % r.returncode])[-1])
        os.replace(part, out_path)
        return int(words[1])


def write_files(out_dir, conf_for, micropython):
    """Write OUT_DIR/{primary,secondary}-fs.img (firmware image + sdmirror.json + SKIPSD)
    and empty OUT_DIR/{primary,secondary}-card.img. conf_for(role) -> sdmirror.json dict.
    Returns {file name: free bytes or size} for the report."""
    os.makedirs(out_dir, exist_ok=True)
    report = {}
    with tempfile.TemporaryDirectory(prefix="sdmirror-renode-img-") as tmp:
        try:
            firmware_image.build(BOARD, tmp)
        except firmware_image.ImageError as e:
            raise RenodeFilesError(str(e)) from None
        open(os.path.join(tmp, "SKIPSD"), "w").close()
        for role in ROLES:
            with open(os.path.join(tmp, "sdmirror.json"), "w") as f:
                json.dump(conf_for(role), f)
            name = "%s-fs.img" % role
            report[name] = fat_image(tmp, os.path.join(out_dir, name), micropython)
    for role in ROLES:
        # Empty: Renode's card reads zeros past the file's end and writing there extends the
        # file (DataStorage.CreateFromFile wraps it in a padded SerializableStreamView).
        name = "%s-card.img" % role
        open(os.path.join(out_dir, name), "wb").close()
        report[name] = 0
    return report
