# Checksum engine registry (firmware/mirror/checksum.py); runs under pytest and on the VM.
import binascii
import hashlib

from fwtest import heap_locked, randbytes, raises, rng
from mirror import checksum


CHECK = b"123456789"
# Catalogue check values (reveng CRC catalogue; hashlib digests of b"123456789").
CHECK_VALUES = {
    "crc32": "cbf43926",
    "crc32-mpeg2": "0376e6e7",
    "md5": "25f9e794323b453885f5181f1b624d0b",
    "sha1": "f7c3bc1d808e04732adf679965ccc34ca7ae3441",
    "sha256": "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
}
EMPTY_VALUES = {
    "crc32": "00000000",
    "crc32-mpeg2": "ffffffff",  # init value, no final xor
    "md5": "d41d8cd98f00b204e9800998ecf8427e",
    "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}
SIZES = {"crc32": 4, "crc32-mpeg2": 4, "md5": 16, "sha1": 20, "sha256": 32}
# md5 and sha1 exist only on builds that have them (py/mpconfig.h: with MICROPY_PY_SSL, so
# not on a Pyboard, nor on the WebAssembly port); sha256 everywhere
HASHES = tuple(n for n in ("md5", "sha1", "sha256") if hasattr(hashlib, n))
for _n in ("md5", "sha1"):
    if _n not in HASHES:
        CHECK_VALUES.pop(_n)
        EMPTY_VALUES.pop(_n)
NAMES = ["crc32", "crc32-mpeg2"] + list(HASHES)


def _mpeg2_bitwise(data):
    """Bit-at-a-time CRC-32/MPEG-2, straight from the definition (no table)."""
    c = 0xFFFFFFFF
    for b in data:
        c ^= b << 24
        for _ in range(8):
            if c & 0x80000000:
                c = ((c << 1) ^ 0x04C11DB7) & 0xFFFFFFFF
            else:
                c = (c << 1) & 0xFFFFFFFF
    return c


def _be32(c):
    return bytes([(c >> 24) & 0xFF, (c >> 16) & 0xFF, (c >> 8) & 0xFF, c & 0xFF])


def test_builtin_names_sorted():
    assert checksum.names() == NAMES


def test_engine_attributes():
    for name in checksum.names():
        e = checksum.get(name)
        assert e.name == name
        assert e.size == SIZES[name]


def test_check_values():
    for name in CHECK_VALUES:
        assert binascii.hexlify(checksum.digest(name, CHECK)).decode() == CHECK_VALUES[name], name


def test_empty_input():
    for name in EMPTY_VALUES:
        assert binascii.hexlify(checksum.digest(name, b"")).decode() == EMPTY_VALUES[name], name


def test_digest_into_writes_exactly_size_bytes_at_offset():
    for name in checksum.names():
        e = checksum.get(name)
        out = bytearray(b"\xaa" * (e.size + 10))
        e.digest_into(CHECK, out, 3)
        assert out[:3] == b"\xaa\xaa\xaa", name
        assert out[3 + e.size:] == b"\xaa" * 7, name
        assert bytes(out[3:3 + e.size]) == checksum.digest(name, CHECK), name


def test_digest_into_default_offset_and_memoryview_out():
    for name in checksum.names():
        e = checksum.get(name)
        buf = bytearray(e.size + 4)
        e.digest_into(CHECK, memoryview(buf)[2:])  # writable memoryview, off defaults to 0
        assert bytes(buf[2:2 + e.size]) == checksum.digest(name, CHECK), name
        assert buf[:2] == b"\x00\x00"


def test_input_types_agree():
    rng(11)
    block = randbytes(600)
    for name in checksum.names():
        want = checksum.digest(name, bytes(block[40:552]))
        assert checksum.digest(name, block[40:552]) == want, name  # bytearray
        assert checksum.digest(name, memoryview(block)[40:552]) == want, name


def test_crc32_is_binascii_big_endian():
    rng(12)
    for n in (0, 1, 3, 4, 5, 511, 512, 513, 1500):
        data = randbytes(n)
        assert checksum.digest("crc32", data) == _be32(binascii.crc32(data) & 0xFFFFFFFF)


def test_crc32_mpeg2_matches_bitwise_definition():
    r = rng(13)
    for _ in range(40):
        data = randbytes(r.getrandbits(10))
        assert checksum.digest("crc32-mpeg2", data) == _be32(_mpeg2_bitwise(data))


def test_crc32_mpeg2_table():
    e = checksum.get("crc32-mpeg2")
    t = [(e._hi[i] << 16) | e._lo[i] for i in range(256)]
    assert len(t) == 256
    assert t[0] == 0
    assert t[1] == 0x04C11DB7
    for i in (2, 0x80, 0xFF):
        assert t[i] == _mpeg2_bitwise(bytes([i])) ^ _mpeg2_bitwise(b"\x00")  # linearity


def test_crc32_mpeg2_is_not_crc32():
    # Same polynomial, different reflection/init/xorout: the names must not be confused.
    assert checksum.digest("crc32-mpeg2", CHECK) != checksum.digest("crc32", CHECK)


def test_hash_engines_match_hashlib():
    rng(14)
    for n in (1, 55, 56, 64, 512, 1000):
        data = randbytes(n)
        for name in HASHES:
            assert checksum.digest(name, data) == getattr(hashlib, name)(data).digest()


def test_crc_engines_do_not_allocate():
    rng(15)
    block = memoryview(randbytes(512))
    out = bytearray(8)
    for name in ("crc32", "crc32-mpeg2"):
        e = checksum.get(name)
        heap_locked(lambda: e.digest_into(block, out, 2))
        assert bytes(out[2:6]) == checksum.digest(name, block)


def test_get_unknown_names_it_and_the_known_ones():
    e = raises(ValueError, checksum.get, "crc64")
    msg = str(e)
    assert "crc64" in msg
    for name in checksum.names():
        assert name in msg
    assert "\n" not in msg


class _Fake:
    def __init__(self, name, byte):
        self.name = name
        self.size = 4
        self.byte = byte

    def digest_into(self, data, out, off=0):
        for i in range(4):
            out[off + i] = self.byte


def test_register_replaces_by_name():
    orig = checksum.get("crc32-mpeg2")
    try:
        fake = _Fake("crc32-mpeg2", 0x5A)
        checksum.register(fake)
        assert checksum.get("crc32-mpeg2") is fake
        assert checksum.digest("crc32-mpeg2", CHECK) == b"\x5a\x5a\x5a\x5a"
        assert checksum.names() == NAMES
    finally:
        checksum.register(orig)
    assert checksum.get("crc32-mpeg2") is orig


def test_register_new_name():
    try:
        checksum.register(_Fake("test-fake", 1))
        assert "test-fake" in checksum.names()
        assert checksum.names() == sorted(checksum.names())
        assert checksum.digest("test-fake", b"") == b"\x01\x01\x01\x01"
    finally:
        checksum._engines.pop("test-fake", None)
    raises(ValueError, checksum.get, "test-fake")


def test_digest_accepts_engine_object():
    e = checksum.get("sha256")
    assert checksum.digest(e, CHECK) == checksum.digest("sha256", CHECK)
    assert isinstance(checksum.digest(e, CHECK), bytes)
