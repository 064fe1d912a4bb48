"""Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999).

Frames on a byte stream (UART) are delimited by a 0x00 byte; COBS rewrites a frame so it
contains no 0x00, at a cost of at most one byte per 254 (plus one). Both directions work
on caller-owned buffers (bytes, bytearray, memoryview) and allocate nothing, so a link
driver can encode/decode into preallocated frame buffers.

The encoding is the minimal one from the paper: a block of 254 non-zero bytes that ends
the input is not followed by an extra 0x01 code byte. The decoder also accepts that
non-minimal form.
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

    dst needs max_encoded_len(len(src)) bytes from off. No delimiter is written.
    """
    n = len(src)
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
