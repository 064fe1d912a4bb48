"""Frame authentication: HMAC-SHA256 (RFC 2104), built on hashlib.

MicroPython ships no hmac module, and its hashlib objects have no copy(), so the keyed
inner/outer midstates cannot be cached: each MAC hashes the 64-byte padded key twice.
"""
from micropython import const
import hashlib

_BLOCK = const(64)  # SHA-256 block size
_IPAD = const(0x36)
_OPAD = const(0x5C)
_SESSION_LABEL = b"sdmirror-session"


def hmac_sha256(key, msg, msg2=None):
    """HMAC-SHA256 of msg (followed by msg2, if given) under key; 32 bytes.

    msg2 lets a caller MAC header + payload without concatenating them.
    """
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()  # RFC 2104: long keys are hashed first
    k = bytearray(_BLOCK)
    k[0:len(key)] = key
    for i in range(_BLOCK):
        k[i] ^= _IPAD
    h = hashlib.sha256(k)
    h.update(msg)
    if msg2 is not None:
        h.update(msg2)
    inner = h.digest()
    for i in range(_BLOCK):
        k[i] ^= _IPAD ^ _OPAD  # turn the inner pad into the outer one in place
    h = hashlib.sha256(k)
    h.update(inner)
    return h.digest()


def equal(a, b):
    """Compare two byte strings in time independent of where they differ."""
    n = len(a)
    if n != len(b):
        return False
    d = 0
    for i in range(n):
        d |= a[i] ^ b[i]
    return d == 0


def session_key(key, nonce_a, nonce_b):
    """Per-session key: HMAC-SHA256(key, b"sdmirror-session" + nonce_a + nonce_b)."""
    return hmac_sha256(key, _SESSION_LABEL + bytes(nonce_a) + bytes(nonce_b))
