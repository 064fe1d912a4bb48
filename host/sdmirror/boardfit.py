"""Settings that pass the rules (mirror/config.py check()) may still not work on a given
board: its heap may not hold the buffers they ask for, or its MicroPython build may lack
the hashlib algorithm they name. `flash` and `emu up` ask this module before they copy
anything, so a setting they accept is one the board can run; what it refuses, it refuses in
one line naming the setting and what this board allows.

RAM is measured, not estimated: the board's image is built as `flash` builds it and
tools/ram_probe.py runs on the MicroPython VM with the settings asked for (the controller
for a 32 GiB card, as tests/host/test_ram_budget.py measures the profiles' own settings).
The settings fit when the controller (plus the code, unless the profile is FROZEN) leaves
fakeboot.MARGIN of the profile's HEAP. The hashlib of a port's build is what the port's
fake says it is (boards/fakeports: each rule with the port source it comes from).
"""
import importlib
import json
import os
import subprocess
import sys
import tempfile

from . import fakeboot
from . import firmware_image as fi

# The settings whose values size the controller's buffers, and the values tried when
# looking for the largest (smallest, for region_blocks) that fits.
_RAM_SETTINGS = ("window", "frame_blocks", "cache_bytes", "chunk_blocks", "region_blocks")
_PORT_FAKES = {"rp2": "fake_rp2", "pyboard": "fake_stm32", "esp32": "fake_esp32"}
_HASHLIB_ALGS = ("md5", "sha1", "sha256")  # the checksum algorithms hashlib provides
_PROBE_HEAP = 8 << 20  # the VM heap the probe measures in: room above any board's


class FitError(Exception):
    pass


def port_hashes(board, boards_root=None):
    """hashlib algorithms of the board's MicroPython build, or None if not known (a profile
    without a PLATFORM the fakes model: the emulator's VM, which has them all)."""
    fake = _PORT_FAKES.get(fi.board_value(board, "PLATFORM", None, boards_root))
    if fake is None:
        return None
    from sdmirror import fwpath
    fwpath.install()  # (the fakes' card model uses the firmware's CRC code)
    root = boards_root or fi.BOARDS
    for p in (os.path.join(root, "fakeports"), root):
        if p not in sys.path:
            sys.path.append(p)
    return importlib.import_module(fake).hashes(fi.board_value(board, "MPY_BOARD", "",
                                                                boards_root))


def check_alg(board, alg, boards_root=None):
    have = port_hashes(board, boards_root)
    if have is None or alg not in _HASHLIB_ALGS or alg in have:
        return
    from mirror import checksum
    allowed = [n for n in checksum.names() if n not in _HASHLIB_ALGS or n in have]
    raise FitError("setting alg must be one of %s on board %s (its MicroPython build has no "
                   "hashlib.%s), not %r" % (", ".join(allowed), board, alg, alg))


class _Probe:
    """The board's image, built once; measure(settings) runs the probe on it."""

    def __init__(self, board, tmp, boards_root=None):
        self.board = board
        self.role = "primary"
        self.dir = os.path.join(tmp, board)
        fi.build(board, self.dir, full=True, arch=False)  # run on the VM
        self.heap = fi.board_value(board, "HEAP", None, boards_root)
        self.frozen = fi.board_value(board, "FROZEN", False, boards_root)

    def need(self, settings):
        exe = fakeboot.micropython()
        if not os.path.isfile(exe):
            raise FitError("cannot check the settings against board %s's RAM: no micropython "
                           "command at %s (make .venv installs it)" % (self.board, exe))
        r = subprocess.run([exe, "-X", "heapsize=%d" % _PROBE_HEAP,
                            os.path.join(fi.ROOT, "tools", "ram_probe.py"), json.dumps(settings),
                            self.role], cwd=self.dir, capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, MICROPYPATH=self.dir + ":.frozen"))
        if "MemoryError" in r.stdout + r.stderr:
            return _PROBE_HEAP + 1  # more than the probe's heap, more than any board's
        if r.returncode:
            last = (r.stdout + r.stderr).strip().splitlines()[-1:] or ["no output"]
            raise FitError("cannot measure the settings on board %s: %s" % (self.board, last[0]))
        m = json.loads(r.stdout.strip().splitlines()[-1])
        return m["node"] + (0 if self.frozen else m["code"]) + fakeboot.MARGIN

    def fits(self, settings):
        return self.need(settings) <= self.heap


def _limit(probe, settings, name):
    """The largest value of `name` (smallest for region_blocks) that fits with the other
    settings as given, or None if none does: a bisection, fitting being monotonic."""
    if name == "region_blocks":
        vals = [1 << i for i in range(20, -1, -1)]  # fewer blocks per bit, a larger bitmap
    else:
        lo, hi = config_range(name)
        vals = range(lo, hi + 1)
    if not probe.fits(dict(settings, **{name: vals[0]})):
        return None
    lo, hi = 0, len(vals)  # vals[lo] fits, vals[hi] (if any) does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if probe.fits(dict(settings, **{name: vals[mid]})):
            lo = mid
        else:
            hi = mid
    return vals[lo]


def config_range(name):
    from sdmirror import fwpath
    fwpath.install()
    from mirror import config
    return config._RANGES[name]


def check_ram(board, roles, settings, boards_root=None):
    """FitError of one line if the profile's SETTINGS with `settings` over them do not fit
    the board's HEAP in one of `roles`, naming the first setting asked for whose value is
    too large."""
    if fi.board_value(board, "HEAP", None, boards_root) is None:
        return
    with tempfile.TemporaryDirectory(prefix="sdmirror-fit-") as tmp:
        probe = _Probe(board, tmp, boards_root)
        settings = dict(settings or {})
        for probe.role in roles:
            need = probe.need(settings)
            if need > probe.heap:
                break
        else:
            return
        heap = probe.heap // 1024
        for name in _RAM_SETTINGS:
            if name not in settings:
                continue
            best = _limit(probe, settings, name)
            if best is None:
                continue
            word = "at least" if name == "region_blocks" else "at most"
            raise FitError("setting %s=%s needs %s KiB of board %s's %d KiB heap; %s must be "
                           "%s %d on this board with the other settings given" % (
                               name, settings[name], _kib(need), board, heap, name, word, best))
        raise FitError("the settings need %s KiB of board %s's %d KiB heap (%s): lower %s" % (
            _kib(need), board, heap, ", ".join("%s=%s" % kv for kv in sorted(settings.items()))
            or "its profile's own", " or ".join(_RAM_SETTINGS)))


def _kib(need):
    return ("more than %d" % (_PROBE_HEAP // 1024)) if need > _PROBE_HEAP else str(need // 1024)


def check(board, roles, settings, boards_root=None):
    """Both checks, the cheap one first, for the board in each of `roles`."""
    merged = dict(fi.board_value(board, "SETTINGS", {}, boards_root) or {})
    merged.update(settings or {})
    if "alg" in merged:
        check_alg(board, merged["alg"], boards_root)
    check_ram(board, roles, settings, boards_root)
