# Dirty-region bitmap (firmware/mirror/bitmap.py); runs under pytest and on the VM.
from fwtest import heap_locked, raises, rng
from mirror.bitmap import DirtyBitmap


def _dirty_list(bm):
    out = []
    r = bm.next_dirty(0)
    while r >= 0:
        out.append(r)
        r = bm.next_dirty(r + 1)
    return out


def test_default_region_size_32gib():
    bm = DirtyBitmap(2 ** 26)  # 32 GiB of 512-byte blocks
    assert bm.region_blocks == 2048
    assert bm.nregions == 32768
    assert bm.nbytes == 4096
    assert len(bm.bits) == 4096


def test_default_region_size_64mib():
    bm = DirtyBitmap(131072)
    assert bm.region_blocks == 4
    assert bm.nregions == 32768


def test_default_region_size_small_and_boundary():
    assert DirtyBitmap(1000).region_blocks == 1
    assert DirtyBitmap(32768).region_blocks == 1
    bm = DirtyBitmap(32769)
    assert bm.region_blocks == 2 and bm.nregions == 16385
    bm = DirtyBitmap(1)
    assert bm.nregions == 1 and bm.nbytes == 1


def test_explicit_region_size():
    bm = DirtyBitmap(100, 8)
    assert bm.region_blocks == 8
    assert bm.nblocks == 100
    assert bm.nregions == 13
    assert bm.nbytes == 2


def test_bad_geometry_raises():
    for nblocks, r in ((0, 0), (-5, 0), (100, 3), (100, 6), (100, -4), (100, 12)):
        e = raises(ValueError, DirtyBitmap, nblocks, r)
        assert "\n" not in str(e)


def test_fresh_bitmap_is_clean_and_valid():
    bm = DirtyBitmap(100, 8)
    assert bm.count() == 0
    assert bm.next_dirty() == -1
    assert bm.valid
    assert bm.check()


def test_mark_across_region_boundaries():
    bm = DirtyBitmap(100, 8)
    bm.mark(7, 2)  # blocks 7, 8: regions 0 and 1
    assert bm.is_dirty(0) and bm.is_dirty(1) and not bm.is_dirty(2)
    assert bm.count() == 2
    bm.mark(16)  # region 2
    bm.mark(17, 3)  # region 2 again: no double count
    assert bm.count() == 3
    bm.mark(30, 20)  # blocks 30..49: regions 3..6
    assert _dirty_list(bm) == [0, 1, 2, 3, 4, 5, 6]
    assert bm.count() == 7
    bm.mark(99)  # last block of the short last region
    assert bm.is_dirty(12)
    assert bm.count() == 8
    assert bm.check()


def test_mark_zero_count_is_noop():
    bm = DirtyBitmap(100, 8)
    bm.mark(50, 0)
    bm.mark(100, 0)
    assert bm.count() == 0


def test_mark_out_of_range_raises():
    bm = DirtyBitmap(100, 8)
    for block, count in ((-1, 1), (100, 1), (99, 2), (0, 101), (0, -1)):
        raises(ValueError, bm.mark, block, count)
    assert bm.count() == 0


def test_region_range_and_region_of():
    bm = DirtyBitmap(100, 8)
    assert bm.region_range(0) == (0, 8)
    assert bm.region_range(11) == (88, 8)
    assert bm.region_range(12) == (96, 4)  # clipped at the end of the volume
    raises(ValueError, bm.region_range, 13)
    raises(ValueError, bm.region_range, -1)
    assert bm.region_of(0) == 0
    assert bm.region_of(7) == 0
    assert bm.region_of(8) == 1
    assert bm.region_of(99) == 12
    raises(ValueError, bm.region_of, 100)
    raises(ValueError, bm.region_of, -1)


def test_region_index_out_of_range_raises():
    bm = DirtyBitmap(100, 8)
    for r in (-1, 13, 16):  # 16: inside the byte array but past the last region
        raises(ValueError, bm.is_dirty, r)
        raises(ValueError, bm.clear, r)


def test_next_dirty_order_and_start():
    bm = DirtyBitmap(5000, 1)
    regions = [4999, 0, 7, 8, 9, 15, 16, 1000, 1001, 2047, 4096]
    for r in regions:
        bm.mark(r)
    assert _dirty_list(bm) == sorted(regions)
    assert bm.next_dirty(1) == 7
    assert bm.next_dirty(10) == 15  # start in the middle of a byte
    assert bm.next_dirty(17) == 1000
    assert bm.next_dirty(4097) == 4999
    assert bm.next_dirty(5000) == -1
    assert bm.next_dirty(123456) == -1
    raises(ValueError, bm.next_dirty, -1)


def test_clear_and_count():
    bm = DirtyBitmap(64, 1)
    for r in range(0, 64, 3):
        bm.mark(r)
    n = bm.count()
    assert n == 22
    bm.clear(3)
    bm.clear(3)  # idempotent
    bm.clear(4)  # was clean
    assert bm.count() == n - 1
    assert not bm.is_dirty(3)
    assert bm.next_dirty(1) == 6
    assert bm.check()


def test_mark_all_and_clear_all():
    bm = DirtyBitmap(100, 8)  # 13 regions: the last byte is partly padding
    bm.mark_all()
    assert bm.count() == 13
    assert _dirty_list(bm) == list(range(13))
    assert bm.bits[1] == 0x1F  # padding bits stay clear
    assert bm.check()
    bm.clear(5)
    assert bm.count() == 12 and bm.check()
    bm.clear_all()
    assert bm.count() == 0 and bm.next_dirty() == -1 and bm.check()


def test_big_volume_last_region():
    bm = DirtyBitmap(2 ** 26)
    bm.mark(2 ** 26 - 1)
    assert bm.next_dirty() == 32767
    assert bm.region_range(32767) == (2 ** 26 - 2048, 2048)
    bm.mark_all()
    assert bm.count() == 32768
    assert bm.check()


def test_check_detects_flipped_bit_set():
    bm = DirtyBitmap(1000, 4)
    bm.mark(10, 40)
    assert bm.check()
    bm.bits[20] ^= 0x10  # a clean region turns dirty behind the bitmap's back
    assert not bm.check()
    assert not bm.valid


def test_check_detects_flipped_bit_cleared():
    bm = DirtyBitmap(1000, 4)
    bm.mark(0, 1000)
    bm.bits[3] ^= 0x01
    assert not bm.check()


def test_check_detects_two_flips_that_keep_the_count():
    bm = DirtyBitmap(1000, 4)
    bm.mark(8)  # region 2
    bm.bits[0] = 0x02  # region 2 lost, region 1 gained: count unchanged
    assert bm.count() == 1
    assert not bm.check()


def test_check_detects_smashed_canaries():
    for idx in (0, 3, -1, -4):
        bm = DirtyBitmap(1000, 4)
        bm.raw[idx] ^= 0xFF
        assert not bm.check(), idx


def test_check_detects_padding_bit():
    bm = DirtyBitmap(100, 8)  # regions 8..12 live in byte 1, bits 5..7 are padding
    bm.bits[1] |= 0x80
    assert not bm.check()


def test_damage_is_sticky():
    bm = DirtyBitmap(1000, 4)
    bm.bits[2] ^= 0x04
    assert not bm.check()
    bm.bits[2] ^= 0x04  # restoring the bit does not make the bitmap trustworthy again
    assert not bm.check()
    bm.clear_all()  # a full rewrite does
    assert bm.valid and bm.check()


def test_invalidate():
    bm = DirtyBitmap(1000)
    bm.mark(5)
    bm.invalidate()
    assert not bm.valid
    assert not bm.check()
    assert bm.is_dirty(5)  # the bits stay readable; the planner just must not trust them
    bm.mark_all()
    assert bm.valid and bm.check()


def test_hot_paths_do_not_allocate():
    bm = DirtyBitmap(2 ** 26)
    heap_locked(lambda: bm.mark(123456, 5000))
    assert heap_locked(lambda: bm.next_dirty(0)) == 60
    assert heap_locked(lambda: bm.is_dirty(62))
    heap_locked(lambda: bm.clear(61))
    assert heap_locked(lambda: bm.count()) == 2
    assert heap_locked(lambda: bm.next_dirty(61)) == 62
    assert bm.check()


def test_random_against_list_model():
    r = rng(31)
    bm = DirtyBitmap(777, 4)  # 195 regions, last one has 1 block
    model = [False] * bm.nregions
    for _ in range(400):
        op = r.getrandbits(2)
        if op == 3:
            reg = r.getrandbits(8) % bm.nregions
            bm.clear(reg)
            model[reg] = False
        else:
            block = r.getrandbits(10) % 777
            count = 1 + r.getrandbits(5) % min(32, 777 - block)
            bm.mark(block, count)
            for reg in range(block // 4, (block + count - 1) // 4 + 1):
                model[reg] = True
    assert bm.count() == sum(1 for d in model if d)
    assert _dirty_list(bm) == [i for i in range(len(model)) if model[i]]
    for i in range(len(model)):
        assert bm.is_dirty(i) == model[i]
    assert bm.check()
