# DirtyBitmap against a Python set model under random operation sequences, and the damage
# guard against every single and double bit flip of a random state.
from hypothesis import given, settings
from hypothesis import strategies as st

from mirror.bitmap import DirtyBitmap

GEOMETRY = st.tuples(st.integers(1, 5000), st.sampled_from([0, 1, 2, 4, 8, 16, 64, 1024]))
OPS = st.lists(st.tuples(st.sampled_from(["mark", "mark", "mark", "clear", "mark_all", "clear_all"]),
                         st.integers(0, 10 ** 6), st.integers(0, 300)), max_size=60)


def dirty_list(bm):
    out, r = [], bm.next_dirty(0)
    while r >= 0:
        out.append(r)
        r = bm.next_dirty(r + 1)
    return out


def apply(bm, model, ops):
    R = bm.region_blocks
    for op, a, b in ops:
        if op == "mark":
            block = a % bm.nblocks
            count = min(b, bm.nblocks - block)
            bm.mark(block, count)
            model.update(range(block // R, (block + count - 1) // R + 1) if count else ())
        elif op == "clear":
            region = a % bm.nregions
            bm.clear(region)
            model.discard(region)
        elif op == "mark_all":
            bm.mark_all()
            model.update(range(bm.nregions))
        else:
            bm.clear_all()
            model.clear()


@settings(max_examples=200, deadline=None)
@given(geometry=GEOMETRY, ops=OPS, starts=st.lists(st.integers(0, 6000), max_size=10))
def test_matches_set_model(geometry, ops, starts):
    nblocks, R = geometry
    bm = DirtyBitmap(nblocks, R)
    assert bm.nregions * bm.region_blocks >= nblocks > (bm.nregions - 1) * bm.region_blocks
    if R == 0:
        assert bm.nregions <= 32768
    model = set()
    apply(bm, model, ops)
    assert bm.count() == len(model)
    assert dirty_list(bm) == sorted(model)
    for r in range(bm.nregions):
        assert bm.is_dirty(r) == (r in model)
    for s in starts:
        want = min((r for r in model if r >= s), default=-1)
        assert bm.next_dirty(s) == want
    assert bm.check() and bm.valid
    covered = 0
    for r in range(bm.nregions):
        first, n = bm.region_range(r)
        assert first == covered and 1 <= n <= bm.region_blocks
        assert bm.region_of(first) == r and bm.region_of(first + n - 1) == r
        covered += n
    assert covered == nblocks


@settings(max_examples=300, deadline=None)
@given(nblocks=st.one_of(st.integers(1, 2 ** 27), st.sampled_from([2 ** k for k in range(28)])))
def test_default_region_is_the_smallest_power_of_two_within_4kib(nblocks):
    bm = DirtyBitmap(nblocks)
    R = bm.region_blocks
    assert R & (R - 1) == 0
    assert -(-nblocks // R) == bm.nregions <= 32768 and bm.nbytes <= 4096
    assert R == 1 or -(-nblocks // (R // 2)) > 32768


@settings(max_examples=100, deadline=None)
@given(geometry=GEOMETRY, ops=OPS, data=st.data())
def test_any_one_or_two_flipped_bits_are_detected(geometry, ops, data):
    nblocks, R = geometry
    bm = DirtyBitmap(nblocks, R)
    apply(bm, set(), ops)
    assert bm.check()
    nbits = bm.nbytes * 8  # padding bits included: a set padding bit is damage too
    flips = data.draw(st.lists(st.integers(0, nbits - 1), min_size=1, max_size=2, unique=True))
    for f in flips:
        bm.bits[f >> 3] ^= 1 << (f & 7)
    assert not bm.check()
    assert not bm.valid


@settings(max_examples=100, deadline=None)
@given(geometry=GEOMETRY, data=st.data())
def test_smashed_canary_is_detected(geometry, data):
    bm = DirtyBitmap(*geometry)
    canary = list(range(4)) + list(range(4 + bm.nbytes, 8 + bm.nbytes))
    idx = data.draw(st.sampled_from(canary))
    bm.raw[idx] ^= data.draw(st.integers(1, 255))
    assert not bm.check()
