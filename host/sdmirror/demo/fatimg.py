"""Reading the FAT filesystem of a card image from the host, with mtools — independently of
the firmware, which is the point: the secondary's files are checked from its card alone.

The filesystem the console's `fs mkfs` makes starts at block 0 of the card (no partition
table), so `mdir -i IMAGE ::` reads it directly. The card's last two blocks (the board's
metadata) lie beyond the filesystem's end and are never touched by mtools.
"""
import hashlib
import os
import shutil
import subprocess

from sdmirror.verify import BLOCK, volume_blocks

_ENV = dict(os.environ, MTOOLS_SKIP_CHECK="1")  # no geometry nagging about a raw card


class FatError(Exception):
    pass


def check_tools():
    missing = [t for t in ("mdir", "mcopy") if shutil.which(t) is None]
    if missing:
        raise FatError("mtools is not installed (%s missing): apt-get install mtools"
                       % ", ".join(missing))


def _run(argv):
    r = subprocess.run(argv, capture_output=True, env=_ENV, timeout=60)
    if r.returncode:
        err = (r.stderr or r.stdout).decode("utf-8", "replace").strip().splitlines()
        raise FatError("%s failed: %s" % (argv[0], err[-1] if err else "status %d" % r.returncode))
    return r.stdout


def listing(image):
    """mdir's own listing of the root directory (text, as a user would see it)."""
    return _run(["mdir", "-i", image, "::"]).decode("utf-8", "replace")


def files(image):
    """Paths (e.g. '/data0.bin') of the files in the root directory."""
    out = _run(["mdir", "-i", image, "-b", "::"]).decode("utf-8", "replace")
    return [line.strip()[2:] for line in out.splitlines() if line.strip().startswith("::/")]


def read(image, path):
    """A file's bytes, read from the image."""
    return _run(["mcopy", "-n", "-i", image, "::" + path, "-"])


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def data_blocks(image, contents):
    """Where files live on the card: {path: [block numbers of its whole 512-byte pieces]}.

    Found by content: every full block of each file is looked up among the image's blocks
    (the demo's files are pseudo-random, so a block's content is unique). This needs no FAT
    parsing and proves the blocks hold that file's data."""
    want = {}
    for path, data in contents.items():
        for i in range(len(data) // BLOCK):
            want.setdefault(data[i * BLOCK:(i + 1) * BLOCK], (path, i))
    found = {path: [None] * (len(data) // BLOCK) for path, data in contents.items()}
    n = volume_blocks(image)
    zero = bytes(BLOCK)
    chunk = 2048
    with open(image, "rb") as f:
        for first in range(0, n, chunk):
            buf = f.read(min(chunk, n - first) * BLOCK)
            for i in range(len(buf) // BLOCK):
                piece = buf[i * BLOCK:(i + 1) * BLOCK]
                if piece == zero:
                    continue
                hit = want.get(piece)
                if hit is not None:
                    found[hit[0]][hit[1]] = first + i
    return {path: [b for b in blocks if b is not None] for path, blocks in found.items()}
