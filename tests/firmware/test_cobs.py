# COBS framing (firmware/mirror/cobs.py); runs under pytest and on the VM.
from fwtest import heap_locked, randbytes, rng
from mirror import cobs


def _seq(a, b):
    """Bytes a, a+1, ..., b inclusive."""
    return bytes(range(a, b + 1))


# (decoded, encoded) from the Wikipedia article's examples (delimiter not included).
VECTORS = [
    (b"", b"\x01"),
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x00\x11\x00", b"\x01\x02\x11\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
    (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    (_seq(1, 254), b"\xff" + _seq(1, 254)),
    (b"\x00" + _seq(1, 254), b"\x01\xff" + _seq(1, 254)),
    (_seq(1, 255), b"\xff" + _seq(1, 254) + b"\x02\xff"),
    (_seq(2, 255) + b"\x00", b"\xff" + _seq(2, 255) + b"\x01\x01"),
    (_seq(3, 255) + b"\x00\x01", b"\xfe" + _seq(3, 255) + b"\x02\x01"),
]


def _encode(data):
    dst = bytearray(cobs.max_encoded_len(len(data)))
    end = cobs.encode_into(data, dst)
    return bytes(dst[:end])


def _decode(enc, cap=None):
    dst = bytearray(len(enc) if cap is None else cap)
    n = cobs.decode_into(enc, dst)
    return None if n < 0 else bytes(dst[:n])


def test_known_vectors_encode():
    for dec, enc in VECTORS:
        assert _encode(dec) == enc, dec


def test_known_vectors_decode():
    for dec, enc in VECTORS:
        assert _decode(enc) == dec, enc


def test_max_encoded_len():
    assert cobs.max_encoded_len(0) == 1
    assert cobs.max_encoded_len(1) == 2
    assert cobs.max_encoded_len(254) == 255
    assert cobs.max_encoded_len(255) == 257
    assert cobs.max_encoded_len(508) == 510
    assert cobs.max_encoded_len(509) == 512


def test_max_encoded_len_is_attained_by_zero_free_input():
    for n in (0, 1, 2, 253, 254, 255, 507, 508, 509, 1024):
        data = bytes([1 + i % 255 for i in range(n)])
        assert len(_encode(data)) == cobs.max_encoded_len(n), n


def test_encode_into_offset_returns_end_and_keeps_prefix():
    dst = bytearray(b"\xee" * 20)
    end = cobs.encode_into(b"\x11\x22\x00\x33", dst, 7)
    assert end == 12
    assert dst[7:12] == b"\x03\x11\x22\x02\x33"
    assert dst[:7] == b"\xee" * 7 and dst[12:] == b"\xee" * 8


def test_round_trip_random():
    r = rng(21)
    for trial in range(60):
        n = r.getrandbits(11)  # 0..2047
        data = randbytes(n)
        if trial % 3 == 0:  # zero-heavy
            for i in range(n):
                if data[i] < 128:
                    data[i] = 0
        elif trial % 3 == 1:  # zero-free, long runs
            for i in range(n):
                data[i] = data[i] or 1
        enc = _encode(data)
        assert 0 not in enc
        assert len(enc) <= cobs.max_encoded_len(n)
        assert _decode(enc) == bytes(data)


def test_memoryview_in_and_out():
    rng(22)
    data = randbytes(700)
    data[100] = 0
    data[400] = 0
    buf = bytearray(cobs.max_encoded_len(600) + 10)
    end = cobs.encode_into(memoryview(data)[50:650], memoryview(buf), 5)
    out = bytearray(620)
    n = cobs.decode_into(memoryview(buf)[5:end], memoryview(out)[10:])
    assert n == 600
    assert out[10:610] == data[50:650]


def test_malformed_returns_minus_one():
    for bad in (
        b"",                  # an empty frame is not an encoding of anything
        b"\x00",              # zero as a code byte
        b"\x03\x11",          # code points past the end
        b"\xff\x01\x02",      # full-block code, too short
        b"\x02\x00",          # zero inside a block
        b"\x03\x11\x22\x02\x00",
        b"\x01\x00\x01",
    ):
        assert cobs.decode_into(bad, bytearray(600)) == -1, bad


def test_dst_too_small():
    enc = _encode(b"\x11\x22\x00\x33")
    assert _decode(enc, 4) == b"\x11\x22\x00\x33"  # exact fit
    assert _decode(enc, 3) is None  # the trailing data byte does not fit
    assert _decode(enc, 2) is None  # the implied zero does not fit
    assert _decode(b"\x01", 0) == b""
    enc = _encode(_seq(1, 254))
    assert _decode(enc, 253) is None


def test_decode_accepts_non_minimal_full_block():
    # Some encoders add a 01 after a final full block; it decodes to the same data.
    assert _decode(b"\xff" + _seq(1, 254) + b"\x01") == _seq(1, 254)


def test_decode_garbage_never_raises():
    r = rng(23)
    dst = bytearray(64)
    for trial in range(300):
        junk = randbytes(r.getrandbits(7))
        if trial & 1:  # small code bytes make plausible frames that fail late
            for i in range(len(junk)):
                junk[i] = junk[i] & 0x0F
        n = cobs.decode_into(junk, dst)
        assert n == -1 or 0 <= n <= len(dst)


def test_no_allocation():
    rng(24)
    data = memoryview(randbytes(512))
    enc = bytearray(cobs.max_encoded_len(512))
    dec = bytearray(512)
    end = heap_locked(lambda: cobs.encode_into(data, enc, 0))
    src = memoryview(enc)[:end]
    n = heap_locked(lambda: cobs.decode_into(src, dec))
    assert n == 512 and dec == data


def test_viper_and_python_loops_agree_on_random_frames_and_garbage():
    # on a VM with viper the firmware runs the viper build of the loops; the plain-Python
    # build (CPython, ports without the emitter) must give the same bytes and verdicts
    if cobs._VIPER is None:
        return  # only the Python build here: the tests above cover it
    rng(31)
    for n in (0, 1, 253, 254, 255, 600):
        src = randbytes(n)
        for i in range(0, n, 7):
            src[i] = 0
        outs = []
        for enc, dec in (cobs.python_loops(), cobs._VIPER):
            w = bytearray(cobs.max_encoded_len(n) + 2)
            e = enc(src, n, w, 2)
            d = bytearray(n)
            outs.append((e, bytes(w), dec(w, len(w), d, n), dec(w[2:e], e - 2, d, n), bytes(d)))
        assert outs[0] == outs[1], n
