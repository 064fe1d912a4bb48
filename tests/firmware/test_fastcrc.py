# The viper crc32 engine computes exactly binascii.crc32 (it registers under that name).
import binascii
import struct

from fwtest import randbytes, rng, skip

from mirror import checksum, fastcrc, thumbcrc


def test_viper_crc32_equals_binascii_on_random_lengths():
    eng = fastcrc.engine()
    if eng is None:
        skip("no viper emitter on this Python (CPython): boards fall back to binascii")
    rng(5)
    out = bytearray(8)
    for n in (0, 1, 2, 3, 4, 5, 7, 8, 63, 64, 511, 512, 513, 4096):
        data = randbytes(n)
        eng.digest_into(data, out, 2)
        assert bytes(out[2:6]) == struct.pack(">I", binascii.crc32(data)), n
    mv = memoryview(randbytes(1024))
    eng.digest_into(mv[512:], out, 0)
    assert bytes(out[:4]) == struct.pack(">I", binascii.crc32(bytes(mv[512:])))


def test_engine_is_none_or_correct():
    eng = fastcrc.engine()
    assert eng is None or (eng.name == "crc32" and eng.size == 4)


def test_bulk_block_digests_equal_one_by_one():
    eng = fastcrc.engine()
    if eng is None:
        skip("no viper emitter on this Python (CPython)")
    rng(6)
    data = randbytes(5 * 512)
    out = bytearray(24)
    eng.digest_blocks_into(data, 5, out, 4)
    for i in range(5):
        blk = bytes(data[i * 512:(i + 1) * 512])
        assert bytes(out[4 + 4 * i:8 + 4 * i]) == struct.pack(">I", binascii.crc32(blk))


def _expect_value_error(fn, *args):
    try:
        fn(*args)
    except ValueError:
        return
    raise AssertionError("no ValueError for %r" % (args[1:],))


def test_lengths_are_checked_before_the_native_code_runs():
    # issue 9: on the emulated pair (region_blocks 2048) a digest offset past the frame
    # buffer reached the viper code, which wrote past the buffer and corrupted the heap.
    eng = fastcrc.engine()
    if eng is None:
        skip("no viper emitter on this Python (CPython)")
    data = bytes(2 * 512)
    out = bytearray(12)
    _expect_value_error(eng.digest_into, data, out, 9)
    _expect_value_error(eng.digest_into, data, out, -1)
    _expect_value_error(eng.digest_blocks_into, data, 2, out, 5)  # 8 bytes at 5 of 12
    _expect_value_error(eng.digest_blocks_into, data, 3, bytearray(64), 0)  # data short
    _expect_value_error(eng.digest_blocks_into, data, -1, out, 0)
    eng.digest_blocks_into(data, 2, out, 4)  # exactly fits
    eng.digest_into(memoryview(data)[:512], out, 8)
    assert bytes(out[4:8]) == bytes(out[8:12])  # two zero blocks, one digest


def test_engines_compute_the_functions_they_are_named_after():
    rng(7)
    data = randbytes(700)
    for eng in fastcrc.engines():
        for n in (0, 1, 5, 512, 700):
            assert checksum.digest(eng, data[:n]) == checksum.digest(eng.name, data[:n])


def test_thumb_tables_equal_the_reference_tables():
    # the Thumb kernels' tables (little-endian words), built without ints >= 2^16
    ref = fastcrc._tables()
    words = struct.unpack("<256I", thumbcrc.table_le(0xEDB8, 0x8320, True))
    assert list(words) == [ref[i] for i in range(256)]
    mp = checksum.get("crc32-mpeg2")
    words = struct.unpack("<256I", thumbcrc.table_le(0x04C1, 0x1DB7, False))
    assert list(words) == [(mp._hi[i] << 16) | mp._lo[i] for i in range(256)]
    from drivers import sdcrc
    words = struct.unpack("<256I", thumbcrc.table_le(0x1021, 0, False))
    assert [w >> 16 for w in words] == [(sdcrc._T16HI[i] << 8) | sdcrc._T16LO[i]
                                        for i in range(256)]
    assert all(w & 0xFFFF == 0 for w in words)
    # byte-swapped, as the kernel's one loop takes an MSB-first table
    swapped = struct.unpack(">256I", thumbcrc.table_le(0x04C1, 0x1DB7, False, True))
    assert list(swapped) == [(mp._hi[i] << 16) | mp._lo[i] for i in range(256)]


def test_thumb_kernels_exist_only_on_cortex_m():
    import sys
    if sys.implementation.name != "micropython" or sys.platform != "qemu":
        assert not thumbcrc.available()  # CPython, Unix VM: viper or binascii instead


def test_soft_crc32_equals_binascii():
    # the 32-bit ports' fallback (16-bit halves, no heap int)
    rng(8)
    eng = checksum._Crc32Soft()
    out = bytearray(6)
    for n in (0, 1, 2, 3, 4, 9, 64, 513):
        data = randbytes(n)
        eng.digest_into(memoryview(data), out, 1)
        assert bytes(out[1:5]) == struct.pack(">I", binascii.crc32(data)), n
