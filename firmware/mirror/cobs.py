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
Where MicroPython has native code (every board profile, the Unix VM) the loops run as
viper code precompiled for the board (mirror/cobsk.py); elsewhere that same text runs as
plain Python with ptr8() the identity (python_loops()). Viper indexes raw pointers, so
the encoder's wrapper checks the destination has room for the worst case first, and the
decoder checks the capacity on every write.
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


def python_loops():
    """(_enc, _dec) as plain Python: cobsk.py's text without its decorators (CPython, a VM
    without native code; the tests cross-check it against the viper build)."""
    from kernelsrc import python_build
    return python_build(__file__.rsplit("/", 1)[0] + "/cobsk.py", ("_enc", "_dec"))


try:
    from mirror import cobsk
    _VIPER = (cobsk._enc, cobsk._dec)
except Exception as e:  # CPython, a VM without native code: ImportError, SyntaxError
    _VIPER = None
    _why = e
try:
    _enc, _dec = _VIPER or python_loops()
except (OSError, ImportError):  # no cobsk.py (or kernelsrc) either: say why the native one failed
    raise ImportError("cobs: no native loops (%r) and no cobsk.py to run" % (_why,))
IMPL = "viper" if _VIPER else "python"
