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
Where MicroPython has the viper emitter (every board profile, the Unix VM) the same loops
run as viper code, compiled at import with exec() so the .mpy needs no -march. Viper
indexes raw pointers, so the Python wrappers check every bound first: the encoder gets a
destination with room for the worst case, the decoder checks the capacity on every write.
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
    if _venc is not None:
        return _venc(src, n, dst, off)
    return _encode_py(src, n, dst, off)


def _encode_py(src, n, dst, off):
    code_i = off  # where the code byte of the current block goes
    o = off + 1
    code = 1
    i = 0
    while i < n:
        b = src[i]
        i += 1
        if b:
            dst[o] = b
            o += 1
            code += 1
            if code == _MAX_RUN:
                dst[code_i] = _MAX_RUN
                if i == n:
                    return o  # input ends with a full block: no trailing code byte
                code_i = o
                o += 1
                code = 1
        else:
            dst[code_i] = code
            code_i = o
            o += 1
            code = 1
    dst[code_i] = code
    return o


def decode_into(src, dst):
    """Decode src (one frame, no delimiter) into dst; return the decoded length.

    Returns -1 for malformed input: empty, a zero byte inside, a code running past the
    end, or dst too small. Never raises on any content of src.
    """
    if _vdec is not None:
        return _vdec(src, len(src), dst, len(dst))
    return _decode_py(src, dst)


def _decode_py(src, dst):
    n = len(src)
    if n == 0:
        return -1  # even an empty frame encodes to 01
    cap = len(dst)
    i = 0
    o = 0
    while i < n:
        code = src[i]
        if code == 0:
            return -1
        i += 1
        end = i + code - 1
        if end > n or o + code - 1 > cap:
            return -1
        while i < end:
            b = src[i]
            if b == 0:
                return -1
            dst[o] = b
            o += 1
            i += 1
        # Every block but a full one ends in a zero, except the one closing the frame.
        if code != _MAX_RUN and i < n:
            if o >= cap:
                return -1
            dst[o] = 0
            o += 1
    return o


_VIPER_SRC = """
@micropython.viper
def _venc(src, n: int, dst, off: int) -> int:
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

@micropython.viper
def _vdec(src, n: int, dst, cap: int) -> int:
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


def _viper():
    """The viper pair if this MicroPython builds them and they agree with the Python loops
    on a few edge cases, else (None, None)."""
    try:
        import micropython
        g = {"micropython": micropython}
        exec(_VIPER_SRC, g)
        enc, dec = g["_venc"], g["_vdec"]
        for src in (b"", b"\x00", b"\x11\x00\x00\x22", bytes(range(1, 256)) * 2 + b"\x00"):
            a = bytearray(max_encoded_len(len(src)) + 1)
            b = bytearray(len(a))
            na = _encode_py(src, len(src), a, 1)
            if enc(src, len(src), b, 1) != na or a != b:
                return None, None
            out = bytearray(len(src))
            if dec(memoryview(a)[1:na], na - 1, out, len(out)) != len(src) or out != src:
                return None, None
            if dec(memoryview(a)[1:na], na - 1, out, len(out) - 1) != -1 and src:
                return None, None
        return enc, dec
    except Exception:  # CPython, or a port without the native emitter
        return None, None


_venc = _vdec = None
_venc, _vdec = _viper()
IMPL = "viper" if _venc is not None else "python"
