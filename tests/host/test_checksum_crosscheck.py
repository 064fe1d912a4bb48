# Every checksum engine against independent implementations (crcmod, hashlib, binascii),
# on random data of random lengths, through the same buffer shapes the firmware uses.
import binascii
import hashlib

import crcmod.predefined
from hypothesis import given, settings
from hypothesis import strategies as st

from mirror import checksum

_CRC32 = crcmod.predefined.mkCrcFun("crc-32")
_MPEG2 = crcmod.predefined.mkCrcFun("crc-32-mpeg")

# name -> reference function returning the expected digest bytes
REFERENCE = {
    "crc32": lambda d: _CRC32(d).to_bytes(4, "big"),
    "crc32-mpeg2": lambda d: _MPEG2(d).to_bytes(4, "big"),
    "md5": lambda d: hashlib.md5(d).digest(),
    "sha1": lambda d: hashlib.sha1(d).digest(),
    "sha256": lambda d: hashlib.sha256(d).digest(),
}


def test_every_registered_engine_has_a_reference():
    # A new built-in engine must be added here, or it would go unchecked.
    assert set(checksum.names()) == set(REFERENCE)


def test_crcmod_references_agree_with_catalogue():
    assert _CRC32(b"123456789") == 0xCBF43926 == binascii.crc32(b"123456789")
    assert _MPEG2(b"123456789") == 0x0376E6E7


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(sorted(REFERENCE)), data=st.binary(min_size=0, max_size=2048))
def test_engine_matches_reference(name, data):
    assert checksum.digest(name, data) == REFERENCE[name](data)


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(sorted(REFERENCE)), data=st.binary(min_size=0, max_size=2048),
       lead=st.integers(0, 16), off=st.integers(0, 16))
def test_digest_into_memoryview_slice_at_offset(name, data, lead, off):
    e = checksum.get(name)
    src = bytearray(lead) + bytearray(data) + b"\x55" * 3  # data inside a bigger buffer
    out = bytearray(b"\xcc" * (off + e.size + 5))
    e.digest_into(memoryview(src)[lead:lead + len(data)], memoryview(out), off)
    assert bytes(out[off:off + e.size]) == REFERENCE[name](data)
    assert out[:off] == b"\xcc" * off and out[off + e.size:] == b"\xcc" * 5


@settings(max_examples=50, deadline=None)
@given(data=st.binary(min_size=0, max_size=2048))
def test_mpeg2_over_32bit_words_as_a_crc_unit_sees_them(data):
    # The STM32F4 unit consumes 32-bit words MSB first; packing bytes big-endian into words
    # must give the byte-wise result (whole words only: the unit has no byte mode).
    data = data[:len(data) & ~3]
    c = 0xFFFFFFFF
    for i in range(0, len(data), 4):
        c ^= int.from_bytes(data[i:i + 4], "big")
        for _ in range(32):
            c = ((c << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if c & 0x80000000 else (c << 1) & 0xFFFFFFFF
    assert checksum.digest("crc32-mpeg2", data) == c.to_bytes(4, "big")
