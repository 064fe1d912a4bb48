"""Reading the FAT filesystem of a card image from the host, with pyfatfs — independently of
the firmware, which is the point: the secondary's files are checked from its card alone, by
a FAT12/16/32 implementation that is not MicroPython's (pyfatfs is pure Python, its own
code; the firmware's VfsFat is ChaN's FatFs). It is a pinned dependency in requirements.txt,
so this needs no system tool; mtools and fsck.vfat are extra oracles in the tests
(tests/system/fatoracle.py), where installed.

The filesystem the console's `fs mkfs` makes starts at block 0 of the card (no partition
table), so the image is opened at offset 0. The card's last two blocks (the board's
metadata) lie beyond the filesystem's end and are never read as part of it.
"""
import hashlib
import os
import warnings

from sdmirror.verify import BLOCK, volume_blocks

# Directory entry DIR_NTRes bits (the Windows NT convention; FatFs writes them for an 8.3
# name whose body and/or extension are all lower case instead of adding a long-name
# entry, and mtools honours them). pyfatfs ignores them and shows such names upper case.
_NT_LOWER_BODY = 0x08
_NT_LOWER_EXT = 0x10


class FatError(Exception):
    """The image could not be read as FAT, or a path is not in it (one line)."""


def _pyfatfs():
    try:
        with warnings.catch_warnings():
            # pyfatfs imports PyFilesystem2 (`fs`), whose package __init__ still calls
            # pkg_resources.declare_namespace: deprecation noise, nothing to act on here
            warnings.simplefilter("ignore")
            from pyfatfs.FatIO import FatIO
            from pyfatfs.PyFat import PyFat
    except ImportError as e:
        raise FatError("cannot import pyfatfs (%s): run `make .venv` (or pip install -r "
                       "requirements.txt)" % e) from None
    return PyFat, FatIO


def _name(entry):
    """The name as the firmware wrote it: the long name if there is one, else the 8.3 name
    with the NT lower-case bits applied."""
    if entry.lfn_entry is not None:
        return entry.get_long_name()
    name = entry.get_short_name()
    body, dot, ext = name.partition(".")
    if entry.ntres & _NT_LOWER_BODY:
        body = body.lower()
    if entry.ntres & _NT_LOWER_EXT:
        ext = ext.lower()
    return body + dot + ext


class FatImage:
    """A card image's FAT filesystem, opened read-only. Use as a context manager.

    Paths are absolute ('/logs/a.log'), spelled as the firmware wrote them; lookups are
    case-insensitive, as FAT's are."""

    def __init__(self, image):
        PyFat, self._FatIO = _pyfatfs()
        self.image = image
        self._entries = None
        try:
            fp = open(image, "rb")  # read-only: pyfatfs never marks a read-only volume dirty
        except OSError as e:
            raise FatError("cannot open %s: %s" % (image, e.strerror)) from None
        self._fat = PyFat(offset=0)
        try:
            with warnings.catch_warnings(record=True) as seen:
                # what pyfatfs finds wrong but can read past (the FAT copies differ, the
                # volume was not cleanly unmounted) comes as warnings: keep them, they
                # are findings about what the firmware wrote
                warnings.simplefilter("always")
                self._fat.set_fp(fp)
        except Exception as e:  # on garbage pyfatfs raises PyFATException, or whatever
            fp.close()          # its parser trips on (struct.error, ZeroDivisionError, ...)
            raise FatError("%s holds no FAT filesystem pyfatfs can read (%s)"
                           % (image, _one_line(e))) from None
        self.warnings = [str(w.message) for w in seen]
        self.fat_type = "FAT%d" % self._fat.fat_type

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._fat.close()

    def entries(self):
        """[(path, entry)] of every file and directory, parents before children, sorted."""
        if self._entries is None:
            out = []
            try:
                self._walk(self._fat.root_dir, "", out)
            except Exception as e:  # damaged directories: PyFATException, or a parser trip
                raise FatError("%s: the directory tree is unreadable (%s)"
                               % (self.image, _one_line(e))) from None
            self._entries = out
        return self._entries

    def _walk(self, directory, prefix, out):
        dirs, files, _ = directory.get_entries()  # the third: dot entries and volume label
        for entry in sorted(dirs + files, key=lambda e: _name(e).lower()):
            path = prefix + "/" + _name(entry)
            out.append((path, entry))
            if entry.is_directory():
                self._walk(entry, path, out)

    def files(self):
        """Paths of the regular files, in every directory."""
        return [path for path, e in self.entries() if not e.is_directory()]

    def _entry(self, path):
        want = path.rstrip("/").lower()
        for p, e in self.entries():
            if p.lower() == want:
                return e
        raise FatError("%s: no file %s in the FAT filesystem" % (self.image, path))

    def read(self, path):
        """A file's bytes."""
        entry = self._entry(path)
        if entry.is_directory():
            raise FatError("%s: %s is a directory, not a file" % (self.image, path))
        try:
            with self._FatIO(self._fat, entry.get_full_path()) as f:
                data = f.read()
        except Exception as e:  # PyFATException, OSError, or its own trips on a damaged
            # FAT (a cluster chain shorter than the file raises StopIteration in FatIO)
            raise FatError("%s: cannot read %s (%s)" % (self.image, path, _one_line(e))) from None
        if len(data) != entry.filesize:  # a cluster chain shorter than the size says
            raise FatError("%s: %s holds %d bytes, its directory entry says %d"
                           % (self.image, path, len(data), entry.filesize))
        return data

    def listing(self):
        """The tree as text, one line per entry: size, modification time, path."""
        lines = ["%s filesystem on %s" % (self.fat_type, os.path.basename(self.image))]
        total = 0
        for path, e in self.entries():
            when = e.get_mtime().strftime("%Y-%m-%d %H:%M")
            if e.is_directory():
                lines.append("%10s  %s  %s/" % ("<DIR>", when, path))
            else:
                total += e.filesize
                lines.append("%10d  %s  %s" % (e.filesize, when, path))
        lines.append("%d files, %d bytes" % (len(self.files()), total))
        return "\n".join(lines) + "\n"


def _one_line(e):
    text = str(e).strip().splitlines()
    return "%s: %s" % (type(e).__name__, text[0]) if text else type(e).__name__


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def check_files(image, written):
    """The demo's file check, on the card image alone: every file, its size and sha256, and
    whether that sha256 is the one the primary's application reported for the path
    (`written`: {path: sha256}, compared case-insensitively as FAT names are). Returns
    {"fat_type", "files": [{path, bytes, sha256, match}], "missing": [written paths not on
    the image], "listing" (text), "warnings" (what pyfatfs found wrong but read past),
    "ok": every written file there with its sha256 and no warnings}."""
    want = {p.lower(): h for p, h in written.items()}
    with FatImage(image) as fat:
        files = []
        for path in fat.files():
            data = fat.read(path)
            h = sha256(data)
            files.append({"path": path, "bytes": len(data), "sha256": h,
                          "match": want.get(path.lower()) == h})
        found = set(f["path"].lower() for f in files)
        missing = sorted(p for p in written if p.lower() not in found)
        ok = not missing and not fat.warnings and all(
            f["match"] for f in files if f["path"].lower() in want)
        return {"fat_type": fat.fat_type, "files": files, "missing": missing, "ok": ok,
                "listing": fat.listing(), "warnings": fat.warnings}


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
