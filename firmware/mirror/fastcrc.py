# Native checksum engines, chosen by what was measured on each architecture
# (docs/benchmarks.md): they compute exactly the built-in functions and register under the
# same names, so a board that has them still agrees with a peer that has not.
#
#   Cortex-M (Thumb inline assembler): mirror/thumbcrc.py, crc32 and crc32-mpeg2 at about
#     9 instructions a byte. There viper is the slowest crc32 (31k instructions a block on
#     ARMv6-M, binascii 12k, Thumb 6k), and binascii allocates on 32-bit ports.
#   elsewhere with the viper emitter (x86-64 Unix VM: the emulator): the viper crc32 below,
#     slicing-by-4 over four 256-entry tables (4 KiB), several times binascii's speed there
#     (binascii walks a 16-entry table a nibble at a time). Xtensa (ESP32) is unmeasured.
#
# The viper kernels are in mirror/crck.py, precompiled for the board.
import array

_CHECK = b"\xcb\xf4\x39\x26"  # crc32(b"123456789"), big-endian


def _tables():
    t = array.array("I", bytes(4 * 1024))
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        t[i] = c
    for i in range(256):
        c = t[i]
        for k in (1, 2, 3):
            c = (c >> 8) ^ t[c & 0xFF]
            t[k * 256 + i] = c
    return t


class ViperCrc32:
    name = "crc32"
    size = 4

    def __init__(self, fn, blocks_fn, table):
        self._fn = fn
        self._blocks = blocks_fn
        self._t = table

    # The viper functions index raw pointers: nothing stops them writing past `out` or
    # reading past `data`, so every length is checked here, before the native code runs.
    def digest_into(self, data, out, off=0):
        if off < 0 or off + 4 > len(out):
            raise ValueError("crc32 digest at %d does not fit a %d-byte buffer" % (off, len(out)))
        self._fn(data, len(data), self._t, out, off)

    def digest_blocks_into(self, data, nblocks, out, off):
        """The digest of each of nblocks 512-byte blocks of data, one after another."""
        if nblocks < 0 or off < 0 or off + 4 * nblocks > len(out) or 512 * nblocks > len(data):
            raise ValueError("%d crc32 block digests at %d do not fit: %d bytes of data, "
                             "%d-byte buffer" % (nblocks, off, len(data), len(out)))
        self._blocks(data, nblocks, self._t, out, off)


def engines():
    """The native engines this MicroPython can build (each checked), fastest kind first."""
    from mirror import thumbcrc
    if thumbcrc.available():
        return [thumbcrc.Crc32(), thumbcrc.Crc32Mpeg2()]
    eng = engine()
    return [eng] if eng is not None else []


def engine():
    """The viper crc32 engine if this Python can build it (and it passes its check), else
    None."""
    try:
        from mirror import crck
        eng = ViperCrc32(crck.crc32_into, crck.crc32_blocks, _tables())
        out = bytearray(4)
        eng.digest_into(b"123456789", out, 0)
        if bytes(out) != _CHECK:
            return None
        return eng
    except Exception:  # CPython, a VM without native code: ImportError, SyntaxError
        return None
