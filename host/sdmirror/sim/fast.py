"""Speed-ups for the simulator that leave the controller's behaviour unchanged.

- crc32-mpeg2: registered through mirror.checksum.register(), exactly as a board with a
  CRC unit registers its hardware engine under that name (crcmod's C code here).
- crc32 that knows the digest of a zero block: an unwritten block of a sparse card
  (sim/sparse.py) costs a comparison, not a CRC, and whole chunks go in one call
  (digest_blocks_into, as the firmware's viper engine offers).
- scans of never-written spans of sparse cards at once (sim/fastscan.py).
- COBS: mirror.cobs.encode_into/decode_into rewritten with slices instead of a Python
  loop per byte. Same outputs for every input, malformed ones included
  (tests/host/test_sim_models.py checks both against the firmware's functions).

`install()` is idempotent; `sdmirror sim --pure` runs without it.
"""
import binascii

import sdmirror.fwpath

sdmirror.fwpath.install()

from mirror import checksum, cobs  # noqa: E402

from . import fastscan  # noqa: E402

_MAX_RUN = 0xFF
_installed = False
ORIGINAL = {"encode_into": cobs.encode_into, "decode_into": cobs.decode_into,
            "crc32-mpeg2": checksum.get("crc32-mpeg2"), "crc32": checksum.get("crc32")}


def encode_into(src, dst, off=0):
    data = bytes(src)
    n = len(data)
    o = off
    i = 0
    while True:
        stop = min(i + 254, n)
        z = data.find(b"\x00", i, stop)
        if z < 0:
            run = stop - i
            dst[o] = run + 1
            dst[o + 1:o + 1 + run] = data[i:stop]
            o += 1 + run
            i = stop
            if run == 254 and i < n:
                continue  # a full block: the next one starts without an implied zero
            return o
        run = z - i
        dst[o] = run + 1
        dst[o + 1:o + 1 + run] = data[i:z]
        o += 1 + run
        i = z + 1


def decode_into(src, dst):
    data = bytes(src)
    n = len(data)
    if n == 0 or b"\x00" in data:
        return -1
    cap = len(dst)
    i = 0
    o = 0
    while i < n:
        code = data[i]
        i += 1
        end = i + code - 1
        if end > n or o + code - 1 > cap:
            return -1
        dst[o:o + code - 1] = data[i:end]
        o += code - 1
        i = end
        if code != _MAX_RUN and i < n:
            if o >= cap:
                return -1
            dst[o] = 0
            o += 1
    return o


class Crc32Mpeg2:
    name = "crc32-mpeg2"
    size = 4

    def __init__(self):
        import crcmod.predefined
        self._fn = crcmod.predefined.mkCrcFun("crc-32-mpeg")

    def digest_into(self, data, out, off=0):
        c = self._fn(bytes(data))
        out[off:off + 4] = c.to_bytes(4, "big")


class Crc32:
    """crc32 (binascii's), with whole chunks of zero blocks answered from one digest."""
    name = "crc32"
    size = 4
    _ZBLOCK = bytes(512)
    _ZDIG = binascii.crc32(_ZBLOCK).to_bytes(4, "big")
    _ZCHUNKS = [bytes(512 * n) for n in range(65)]

    def digest_into(self, data, out, off=0):
        out[off:off + 4] = binascii.crc32(data).to_bytes(4, "big")

    def digest_blocks_into(self, data, nblocks, out, off):
        if nblocks <= 64 and bytes(data[:nblocks * 512]) == self._ZCHUNKS[nblocks]:
            out[off:off + 4 * nblocks] = self._ZDIG * nblocks
            return
        for i in range(nblocks):
            out[off + 4 * i:off + 4 * i + 4] = \
                binascii.crc32(data[i * 512:(i + 1) * 512]).to_bytes(4, "big")


def install():
    global _installed
    if _installed:
        return
    checksum.register(Crc32Mpeg2())
    checksum.register(Crc32())
    cobs.encode_into = encode_into
    cobs.decode_into = decode_into
    fastscan.install()
    _installed = True


def uninstall():
    global _installed
    checksum.register(ORIGINAL["crc32-mpeg2"])
    checksum.register(ORIGINAL["crc32"])
    cobs.encode_into = ORIGINAL["encode_into"]
    cobs.decode_into = ORIGINAL["decode_into"]
    fastscan.uninstall()
    _installed = False
