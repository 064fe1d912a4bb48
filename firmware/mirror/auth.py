"""Frame authentication: HMAC-SHA256 (RFC 2104), built on hashlib.

MicroPython ships no hmac module, and its hashlib objects have no copy(), so the keyed
inner/outer midstates cannot be cached: each MAC hashes the 64-byte padded key twice. The
padded keys themselves are kept for the last key used (a session MACs every frame with
one key): building them is two 64-step Python loops, 19k instructions on a Cortex-M0.
"""
from micropython import const
import hashlib

_BLOCK = const(64)  # SHA-256 block size
_IPAD = const(0x36)
_OPAD = const(0x5C)
_SESSION_LABEL = b"sdmirror-session"


_pads_key = None
_ipad = bytearray(_BLOCK)
_opad = bytearray(_BLOCK)


def _pads(key):
    """Set _ipad and _opad to the padded key blocks of key (kept for the last key)."""
    global _pads_key
    if key is not _pads_key and key != _pads_key:
        k = key
        if len(k) > _BLOCK:
            k = hashlib.sha256(k).digest()  # RFC 2104: long keys are hashed first
        for i in range(_BLOCK):
            b = k[i] if i < len(k) else 0
            _ipad[i] = b ^ _IPAD
            _opad[i] = b ^ _OPAD
        _pads_key = bytes(key)


def hmac_sha256(key, msg, msg2=None):
    """HMAC-SHA256 of msg (followed by msg2, if given) under key; 32 bytes.

    msg2 lets a caller MAC header + payload without concatenating them.
    """
    _pads(key)
    h = hashlib.sha256(_ipad)
    h.update(msg)
    if msg2 is not None:
        h.update(msg2)
    inner = h.digest()
    h = hashlib.sha256(_opad)
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
