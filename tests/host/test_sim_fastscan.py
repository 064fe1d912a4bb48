"""The simulator's scan of never-written spans at once (sim/fastscan.py) changes nothing
the pair does: the same frames in the same order at the same virtual times (to 1e-6 ms: a
bulk read times its reads as a product, block by block adds them up), the same cards, with
and without it, on sparse cards small enough to run the firmware's block-by-block reads too."""
import random

import pytest

from sdmirror.benchmarks.rig import BLOCK, sparse_rig
from sdmirror.sim import fast, fastscan
from sdmirror.sim.sparse import SparseImage

import sdmirror.fwpath

sdmirror.fwpath.install()

from mirror import checksum  # noqa: E402
from mirror.tree import SpanHasher  # noqa: E402

KEY = bytes(range(32))
BLOCKS = 16384


@pytest.fixture(autouse=True)
def _restore():
    yield
    fast.uninstall()


def _tap(rig):
    frames = []
    for pipe in (rig.link.ab, rig.link.ba):
        launch = pipe._launch

        def tapped(data, t_end, pipe=pipe, launch=launch):
            frames.append((pipe.src.name, rig.world.now, bytes(data)))
            launch(data, t_end)
        pipe._launch = tapped
    return frames


def _rand(seed, k, blocks=BLOCKS):
    rng = random.Random(seed)
    return [(b, rng.randbytes(BLOCK)) for b in sorted(rng.sample(range(blocks), k))]


def full_scan(profile, seed):
    """The primary knows nothing: a full scan finds blocks written on one card only."""
    rig = sparse_rig(BLOCKS, profile, KEY, seed=seed, log=False)
    frames = _tap(rig)
    for b, data in _rand(seed, 40):
        rig.pcard.data[b * BLOCK:(b + 1) * BLOCK] = data
    for b, data in _rand(seed + 1, 5):
        rig.scard.data[b * BLOCK:(b + 1) * BLOCK] = data
    rig.boot()
    rig.run_until_synced()
    return rig, frames


def outage(profile, seed):
    """Bitmap kept: dirty regions compared by descending their trees."""
    rig = sparse_rig(BLOCKS, profile, KEY, seed=seed)
    frames = _tap(rig)
    rig.boot()
    rig.run_until_synced()
    rig.cut()
    rig.run_for(5)
    for b, data in _rand(seed, 30):
        rig.write(b, data)
    rig.mend()
    rig.run_until_synced()
    return rig, frames


def writes_during_scan(profile, seed):
    """Application writes while both cards are being scanned: every bulk read is cut by
    them, and the scan reads single blocks while the foreground is recent."""
    rig = sparse_rig(BLOCKS, profile, KEY, seed=seed, log=False)
    frames = _tap(rig)
    rig.boot()
    rng = random.Random(seed)
    for b, data in _rand(seed, 12):
        rig.run_for(rng.uniform(0.05, 1.5))
        rig.write(b, data)
    rig.run_until_synced()
    return rig, frames


def periodic(profile, seed):
    """A coherent pair's periodic scan (single-block reads) with writes now and then."""
    rig = sparse_rig(BLOCKS, profile, KEY, seed=seed, scan_period_ms=200)
    frames = _tap(rig)
    rig.boot()
    rig.run_until_synced()
    rng = random.Random(seed)
    for b, data in _rand(seed, 6):
        rig.run_for(rng.uniform(0.2, 3))
        rig.write(b, data)
    rig.run_for(20)
    return rig, frames


def _outcome(run, profile, seed, on):
    fast.install()
    if not on:
        fastscan.uninstall()
    rig, frames = run(profile, seed)
    cards = [(dict(c.data.blocks), c.blocks_read) for c in (rig.pcard, rig.scard)]
    return frames, cards, rig.counters("primary"), rig.counters("secondary")


@pytest.mark.parametrize("run", [full_scan, outage, writes_during_scan, periodic])
@pytest.mark.parametrize("profile", ["default", "stm32f4"])
def test_same_frames_at_the_same_times_with_and_without(run, profile):
    seed = {"default": 3, "stm32f4": 8}[profile]
    slow = _outcome(run, profile, seed, on=False)
    quick = _outcome(run, profile, seed, on=True)
    assert len(slow[0]) > 10 and len(slow[0]) == len(quick[0])
    for i, (a, b) in enumerate(zip(slow[0], quick[0])):
        assert a[0] == b[0] and a[2] == b[2], "frame %d differs: %r vs %r" % (i, a[:2], b[:2])
        assert abs(a[1] - b[1]) < 1e-6, "frame %d sent at %r, not %r" % (i, b[1], a[1])
    assert slow[1:] == quick[1:]


def test_bulk_reads_are_what_made_it_fast():
    """Not a vacuous cross-check: with fastscan more than half the blocks were read in bulk."""
    fast.install()
    bulk = []
    real = fastscan._feed

    def counting(self, b, end):
        for req in real(self, b, end):
            if getattr(self, "sim_bulk", None):
                bulk.append(self.sim_bulk[0])
            yield req
    fastscan._node.Node._feed = counting
    rig, _ = full_scan("default", 1)
    assert sum(bulk) > 0.5 * (rig.pcard.blocks_read + rig.scard.blocks_read)


@pytest.mark.parametrize("alg", ["crc32", "crc32-mpeg2", "sha256"])
def test_zero_subtrees_digest_as_zero_blocks_do(alg):
    """add_zeros() leaves the hasher as add_chunk() of as many zero blocks does, from any
    position, between real blocks, for spans of every height."""
    fast.install()
    engine = checksum.get(alg)
    rng = random.Random(alg)
    zero = memoryview(bytes(512 * 300))
    for span in (1, 16, 256, 4096, 65536):
        for _ in range(12):
            a, b = SpanHasher(engine, 65536), SpanHasher(engine, 65536)
            a.begin(span)
            b.begin(span)
            left = span
            while left:
                n = min(left, rng.choice((1, 3, 16, 17, 255, 256, 4096, 20000)))
                if rng.random() < 0.3:
                    blk = rng.randbytes(512)
                    a.add(blk)
                    b.add(blk)
                    n = 1
                else:
                    fastscan.add_zeros(a, n)
                    for i in range(0, n, 300):
                        k = min(300, n - i)
                        b.add_chunk(zero, k)
                left -= n
            da, db = bytearray(engine.size), bytearray(engine.size)
            a.finish_into(da, 0)
            b.finish_into(db, 0)
            assert da == db, (span, alg)


def test_untouched_runs_of_a_sparse_image():
    img = SparseImage(100 * BLOCK)
    assert img.untouched_run(0, 100) == 100
    img[10 * BLOCK:11 * BLOCK] = bytes(BLOCK)  # written with zeros: touched all the same
    img[50 * BLOCK + 7] = 1
    assert img.untouched_run(0, 100) == 10
    assert img.untouched_run(10, 100) == 0
    assert img.untouched_run(11, 100) == 39
    assert img.untouched_run(11, 30) == 19
    assert img.untouched_run(51, 100) == 49
