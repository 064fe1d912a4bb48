# HMAC-SHA256 and session keys (firmware/mirror/auth.py); runs under pytest and on the VM.
import binascii
import hashlib

from fwtest import randbytes, rng
from mirror import auth

# RFC 4231 test cases 1-4, 6 and 7 (case 5 is about truncated output, which we don't use).
RFC4231 = [
    (b"\x0b" * 20, b"Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131,
     b"This is a test using a larger than block-size key and a larger than block-size data."
     b" The key needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
]


def _hex(b):
    return binascii.hexlify(b).decode()


def test_rfc4231_vectors():
    for key, msg, want in RFC4231:
        mac = auth.hmac_sha256(key, msg)
        assert isinstance(mac, bytes) and len(mac) == 32
        assert _hex(mac) == want, want


def test_rfc4231_vectors_split_with_msg2():
    for key, msg, want in RFC4231:
        for cut in (0, 1, len(msg) // 2, len(msg)):
            assert _hex(auth.hmac_sha256(key, msg[:cut], msg[cut:])) == want


def test_buffer_types():
    key, msg, want = RFC4231[3]
    mac = auth.hmac_sha256(memoryview(bytearray(key)), bytearray(msg[:10]), memoryview(msg)[10:])
    assert _hex(mac) == want


def test_long_key_is_hashed_first():
    rng(41)
    msg = randbytes(100)
    for n in (65, 100, 200):
        key = randbytes(n)
        assert auth.hmac_sha256(key, msg) == auth.hmac_sha256(hashlib.sha256(key).digest(), msg)
    # A 64-byte key is used as is, not hashed.
    key = randbytes(64)
    assert auth.hmac_sha256(key, msg) != auth.hmac_sha256(hashlib.sha256(key).digest(), msg)


def test_key_zero_padding():
    # RFC 2104 pads short keys with zeros to the block size, so these are the same key.
    assert auth.hmac_sha256(b"k", b"m") == auth.hmac_sha256(b"k\x00\x00", b"m")
    assert auth.hmac_sha256(b"k", b"m") != auth.hmac_sha256(b"K", b"m")


def test_empty_key_and_message():
    # Python: hmac.new(b"", b"", hashlib.sha256).hexdigest()
    assert _hex(auth.hmac_sha256(b"", b"")) == (
        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")


def test_equal():
    assert auth.equal(b"", b"")
    assert auth.equal(b"abc", bytearray(b"abc"))
    assert auth.equal(memoryview(b"xabc")[1:], b"abc")
    assert not auth.equal(b"abc", b"abd")
    assert not auth.equal(b"abc", b"bbc")
    assert not auth.equal(b"abc", b"ab")
    assert not auth.equal(b"", b"a")
    mac = auth.hmac_sha256(b"k", b"m")
    for i in range(32):
        bad = bytearray(mac)
        bad[i] ^= 0x80
        assert not auth.equal(mac, bad)


def test_session_key():
    key = b"shared secret"
    na = b"\x01" * 16
    nb = b"\x02" * 16
    sk = auth.session_key(key, na, nb)
    assert isinstance(sk, bytes) and len(sk) == 32
    assert sk == auth.hmac_sha256(key, b"sdmirror-session" + na + nb)
    assert auth.session_key(key, bytearray(na), memoryview(nb)) == sk
    assert auth.session_key(key, nb, na) != sk  # order matters: each side knows its role
    assert auth.session_key(b"other", na, nb) != sk


def test_alternating_keys_and_a_changed_key_buffer_give_the_right_macs():
    # the padded keys are kept for the last key: switching keys, or reusing a bytearray
    # with new contents, must never reuse stale pads
    import binascii
    ka, kb = b"a" * 32, b"b" * 70
    ref_a = auth.hmac_sha256(ka, b"msg")
    ref_b = auth.hmac_sha256(kb, b"msg")
    assert ref_a != ref_b
    for _ in range(3):
        assert auth.hmac_sha256(ka, b"msg") == ref_a
        assert auth.hmac_sha256(kb, b"msg") == ref_b
    buf = bytearray(ka)
    assert auth.hmac_sha256(buf, b"msg") == ref_a
    buf[0] ^= 1
    assert auth.hmac_sha256(buf, b"msg") != ref_a
    assert binascii.hexlify(auth.hmac_sha256(b"key", b"The quick brown fox jumps over the lazy dog")) == \
        b"f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"  # the Wikipedia example
