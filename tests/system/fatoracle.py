"""The system's FAT tools as extra oracles, where they are installed: mtools (mdir, mcopy)
and dosfstools (fsck.vfat). The demo and the default checks need neither (pyfatfs reads the
images: sdmirror/demo/fatimg.py); a test that wants one calls need(), which skips with the
Debian package to install."""
import os
import shutil
import subprocess

import pytest

PACKAGE = {"mdir": "mtools", "mcopy": "mtools", "fsck.vfat": "dosfstools"}
_ENV = dict(os.environ, MTOOLS_SKIP_CHECK="1")  # no geometry nagging about a raw card


def need(*tools):
    """The tools' paths; skips the test when one is missing, naming its package."""
    paths = []
    for tool in tools:
        exe = shutil.which(tool)
        if exe is None:
            pytest.skip("needs %s: apt-get install %s" % (tool, PACKAGE[tool]))
        paths.append(exe)
    return paths


def _run(argv, text=True):
    r = subprocess.run(argv, capture_output=True, text=text, env=_ENV, timeout=60)
    assert r.returncode == 0, "%s failed (%d): %s" % (argv[0], r.returncode, r.stderr or r.stdout)
    return r.stdout


def mtools_files(image):
    """{path: bytes} of every file in the image, as mtools reads it (paths lower-cased:
    mtools and pyfatfs may spell a short name's case differently, FAT does not care)."""
    mdir, mcopy = need("mdir", "mcopy")
    out = {}
    for line in _run([mdir, "-b", "-/", "-i", image, "::"]).splitlines():
        path = line.strip()
        if path.startswith("::/") and not path.endswith("/"):
            out[path[2:].lower()] = _run([mcopy, "-n", "-i", image, path, "-"], text=False)
    return out


def fsck(image):
    """fsck.vfat's verdict, read-only (-n): (clean, its output)."""
    (exe,) = need("fsck.vfat")
    r = subprocess.run([exe, "-n", image], capture_output=True, text=True, timeout=60)
    return r.returncode == 0, (r.stdout + r.stderr).strip()
