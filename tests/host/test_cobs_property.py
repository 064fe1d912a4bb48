# COBS properties on arbitrary data, and a decoder that never raises on arbitrary input.
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mirror import cobs

# Zero-heavy and zero-free data exercise both block kinds; plain binary mixes them.
DATA = st.one_of(
    st.binary(max_size=2048),
    st.lists(st.sampled_from([0, 0, 0, 1, 255]), max_size=1200).map(bytes),
    st.lists(st.integers(1, 255), max_size=1200).map(bytes),
)


def encode(data, off=0):
    dst = bytearray(off + cobs.max_encoded_len(len(data)))
    end = cobs.encode_into(data, dst, off)
    return bytes(dst[off:end])


@settings(max_examples=300, deadline=None)
@given(data=DATA, off=st.integers(0, 8))
def test_round_trip(data, off):
    enc = encode(data, off)
    assert 0 not in enc
    assert len(enc) <= cobs.max_encoded_len(len(data))
    dst = bytearray(len(data))
    assert cobs.decode_into(enc, dst) == len(data)
    assert bytes(dst) == data


@settings(max_examples=100, deadline=None)
@given(data=st.lists(st.integers(1, 255), max_size=1200).map(bytes))
@example(data=bytes(range(1, 255)))
@example(data=bytes(range(1, 255)) * 2)
def test_bound_is_tight_for_zero_free_data(data):
    assert len(encode(data)) == cobs.max_encoded_len(len(data))


@settings(max_examples=200, deadline=None)
@given(data=DATA.filter(lambda d: len(d) > 0))
def test_dst_one_byte_short_fails_cleanly(data):
    enc = encode(data)
    dst = bytearray(len(data) - 1)
    assert cobs.decode_into(enc, dst) == -1


@settings(max_examples=500, deadline=None)
@given(junk=st.one_of(st.binary(max_size=600),
                      st.lists(st.integers(0, 8), max_size=64).map(bytes)),
       cap=st.integers(0, 700))
def test_decode_never_raises(junk, cap):
    dst = bytearray(cap)
    n = cobs.decode_into(junk, dst)
    assert n == -1 or 0 <= n <= cap
    if n >= 0:
        # Whatever decodes re-encodes to something that decodes to the same bytes.
        again = bytearray(n)
        assert cobs.decode_into(encode(bytes(dst[:n])), again) == n and again == dst[:n]
    if 0 in junk or not junk:
        assert n == -1
