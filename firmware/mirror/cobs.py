"""Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999).

Frames on a byte stream (UART) are delimited by a 0x00 byte; COBS rewrites a frame so it
contains no 0x00, at a cost of at most one byte per 254 (plus one). Both directions work
on caller-owned buffers (bytes, bytearray, memoryview) and allocate nothing, so a link
driver can encode/decode into preallocated frame buffers.

The encoding is the minimal one from the paper: a block of 254 non-zero bytes that ends
the input is not followed by an extra 0x01 code byte. The decoder also accepts that
non-minimal form.

Speed: in plain Python COBS costs about 1,300 instructions a byte each way on a Cortex-M0
(5.4M to encode an 8-block frame: docs/benchmarks.md), far more than authenticating it.
Where MicroPython has the viper emitter (every board profile, the Unix VM) the loops run
as viper code: one source (_LOOPS), compiled at import with exec() as viper (the .mpy
needs no -march) or, failing that, as plain Python with ptr8() the identity. Viper indexes
raw pointers, so the encoder's wrapper checks the destination has room for the worst case
first, and the decoder checks the capacity on every write.
"""
from micropython import const

_MAX_RUN = const(0xFF)  # code byte for a full block: 254 data bytes, no implied zero


def max_encoded_len(n):
    """Worst-case encoded length of n bytes (no delimiter): n + ceil(n/254), at least 1."""
    if n <= 0:
        return 1
    return n + 1 + (n - 1) // 254


def encode_into(src, dst, off=0):
    """Encode src into dst from index off; return the index after the last byte written.

    dst needs max_encoded_len(len(src)) bytes from off (ValueError otherwise). No
    delimiter is written.
    """
    n = len(src)
    if off < 0 or off + max_encoded_len(n) > len(dst):
        raise ValueError("cobs: %d bytes need %d bytes of room at %d of %d"
                         % (n, max_encoded_len(n), off, len(dst)))
    return _enc(src, n, dst, off)


def decode_into(src, dst):
    """Decode src (one frame, no delimiter) into dst; return the decoded length.

    Returns -1 for malformed input: empty, a zero byte inside, a code running past the
    end, or dst too small. Never raises on any content of src.
    """
    return _dec(src, len(src), dst, len(dst))


# The two loops, once. A full block (code 0xFF) carries 254 data bytes and no implied
# zero; the encoder ends without a trailing code byte when the input ends with one.
_LOOPS = """
@DECORATOR
def _enc(src, n: int, dst, off: int) -> int:
    s = ptr8(src)
    d = ptr8(dst)
    code_i = off
    o = off + 1
    code = 1
    i = 0
    while i < n:
        b = s[i]
        i += 1
        if b:
            d[o] = b
            o += 1
            code += 1
            if code == 0xFF:
                d[code_i] = 0xFF
                if i == n:
                    return o
                code_i = o
                o += 1
                code = 1
        else:
            d[code_i] = code
            code_i = o
            o += 1
            code = 1
    d[code_i] = code
    return o

@DECORATOR
def _dec(src, n: int, dst, cap: int) -> int:
    s = ptr8(src)
    d = ptr8(dst)
    if n == 0:
        return -1
    i = 0
    o = 0
    while i < n:
        code = int(s[i])
        if code == 0:
            return -1
        i += 1
        end = i + code - 1
        if end > n or o + code - 1 > cap:
            return -1
        while i < end:
            b = s[i]
            if b == 0:
                return -1
            d[o] = b
            o += 1
            i += 1
        if code != 0xFF and i < n:
            if o >= cap:
                return -1
            d[o] = 0
            o += 1
    return o
"""


def _compile(viper):
    if viper:
        import micropython
        g = {"micropython": micropython}
        exec(_LOOPS.replace("@DECORATOR", "@micropython.viper"), g)
    else:
        g = {"ptr8": lambda b: b}
        exec(_LOOPS.replace("@DECORATOR\n", ""), g)
    return g["_enc"], g["_dec"]


def _agree(a, b):
    """Do two (encode, decode) pairs give the same results on a few edge cases?"""
    for src in (b"", b"\x00", b"\x11\x00\x00\x22", bytes(range(1, 256)) * 2 + b"\x00"):
        outs = []
        for enc, dec in (a, b):
            w = bytearray(max_encoded_len(len(src)) + 1)
            n = enc(src, len(src), w, 1)
            d = bytearray(len(src))
            outs.append((n, bytes(w), dec(memoryview(w)[1:n], n - 1, d, len(d)), bytes(d),
                         dec(memoryview(w)[1:n], n - 1, d, len(d) - 1)))
        if outs[0] != outs[1]:
            return False
    return True


_PY = _compile(False)
try:
    _VIPER = _compile(True)
    if not _agree(_PY, _VIPER):
        _VIPER = None
except Exception:  # CPython, or a port without the native emitter
    _VIPER = None
_enc, _dec = _VIPER or _PY
IMPL = "viper" if _VIPER else "python"
