"""Offline comparison of two card images, block by block, with checksums computed on the
host (crcmod, hashlib) independently of the firmware's own engines.

Each card's last blocks hold that board's metadata (role, generation), which differs by
design; when an image carries it, it is left out and the mirrored volumes are compared.
"""
import hashlib
import os

import crcmod.predefined

from sdmirror import fwpath

fwpath.install()
from mirror.node import META_BLOCKS  # noqa: E402  (the metadata slots ending each card)

BLOCK = 512
META_MAGIC = b"SDMIRROR"
ALGORITHMS = ("crc32", "crc32-mpeg2", "md5", "sha1", "sha256")
_CRC = {"crc32": "crc-32", "crc32-mpeg2": "crc-32-mpeg"}


class VerifyError(Exception):
    """A problem with the inputs (missing or unusable image): exit status 2."""


def block_digest(alg):
    """A function block -> digest bytes, for one of ALGORITHMS."""
    if alg in _CRC:
        fn = crcmod.predefined.mkCrcFun(_CRC[alg])
        return lambda data: fn(data).to_bytes(4, "big")
    if alg in ("md5", "sha1", "sha256"):
        return lambda data: hashlib.new(alg, data).digest()
    raise VerifyError(f"unknown algorithm '{alg}'; choose one of {', '.join(ALGORITHMS)}")


def _has_meta(f, nblocks):
    for slot in range(META_BLOCKS):
        f.seek((nblocks - META_BLOCKS + slot) * BLOCK)
        if f.read(len(META_MAGIC)) == META_MAGIC:
            return True
    return False


def volume_blocks(path):
    """Blocks of the mirrored volume in an image (all but the metadata blocks, if present)."""
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise VerifyError(f"cannot read image {path}: {e.strerror}") from None
    if size < BLOCK or size % BLOCK:
        raise VerifyError(f"{path} is {size} bytes, not a whole number of 512-byte blocks")
    n = size // BLOCK
    with open(path, "rb") as f:
        return n - META_BLOCKS if n > META_BLOCKS and _has_meta(f, n) else n


def compare(path_a, path_b, alg="crc32", nblocks=None, progress=None):
    """Differing block numbers of the two images' volumes, and the number compared."""
    digest = block_digest(alg)
    if nblocks is None:
        na, nb = volume_blocks(path_a), volume_blocks(path_b)
        if na != nb:
            raise VerifyError(f"volumes differ in size: {na} blocks in {path_a}, {nb} in "
                              f"{path_b} (use --blocks N to compare the first N)")
        nblocks = na
    differ = []
    chunk = 2048
    with open(path_a, "rb") as fa, open(path_b, "rb") as fb:
        for first in range(0, nblocks, chunk):
            n = min(chunk, nblocks - first)
            a = fa.read(n * BLOCK)
            b = fb.read(n * BLOCK)
            if len(a) < n * BLOCK or len(b) < n * BLOCK:
                raise VerifyError(f"an image is shorter than {nblocks} blocks")
            if a != b:  # equal bytes have equal digests: only differing chunks need them
                for i in range(n):
                    blk = slice(i * BLOCK, (i + 1) * BLOCK)
                    if digest(a[blk]) != digest(b[blk]):
                        differ.append(first + i)
            if progress:
                progress(first + n, nblocks)
    return differ, nblocks


def sha256_of_volume(path, nblocks=None):
    """sha256 of an image's volume (metadata block excluded when present)."""
    n = volume_blocks(path) if nblocks is None else nblocks
    h = hashlib.sha256()
    with open(path, "rb") as f:
        left = n * BLOCK
        while left:
            data = f.read(min(left, 1 << 20))
            h.update(data)
            left -= len(data)
    return h.hexdigest()
