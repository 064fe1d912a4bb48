# Viper CRC kernels, precompiled for the board (mpy-cross -march of its core, by
# `sdmirror flash` or the frozen build): nothing is compiled on the board. Where there is
# no native code (CPython, the WebAssembly VM) this module does not import and the callers
# use other engines. Used where they are the fastest measured (docs/benchmarks.md): the
# x86-64 Unix VM of the emulator, and the ESP32 (Xtensa, unmeasured); on Cortex-M the
# Thumb kernel (firmware/thumbk.py) is faster.
#
#   crc32_blocks, crc32_into  mirror/fastcrc.py's crc32 (slicing-by-4 over 4 KiB of tables)
#   crc16                     drivers/sdcrc.py's CRC-16/XMODEM (two 256-byte tables)
#
# They index raw pointers: their callers check every length before they run.


@micropython.viper  # noqa: F821
def crc32_blocks(data, nblk: int, t, out, off: int):
    # the crc32 of each of nblk consecutive 512-byte blocks, big-endian, into out[off:]
    p = ptr8(data)
    tab = ptr32(t)
    o = ptr8(out)
    b = 0
    while b < nblk:
        i = b << 9
        end = i + 512
        crc = uint(0xFFFFFFFF)
        while i < end:
            crc ^= uint(p[i]) | (uint(p[i + 1]) << 8) | (uint(p[i + 2]) << 16) | (uint(p[i + 3]) << 24)
            crc = (uint(tab[768 + (crc & 0xFF)]) ^ uint(tab[512 + ((crc >> 8) & 0xFF)]) ^
                   uint(tab[256 + ((crc >> 16) & 0xFF)]) ^ uint(tab[(crc >> 24) & 0xFF])) & uint(0xFFFFFFFF)
            i += 4
        crc ^= uint(0xFFFFFFFF)
        k = off + (b << 2)
        o[k] = (crc >> 24) & 0xFF
        o[k + 1] = (crc >> 16) & 0xFF
        o[k + 2] = (crc >> 8) & 0xFF
        o[k + 3] = crc & 0xFF
        b += 1

@micropython.viper  # noqa: F821
def crc32_into(data, n: int, t, out, off: int):
    p = ptr8(data)
    tab = ptr32(t)
    o = ptr8(out)
    crc = uint(0xFFFFFFFF)
    i = 0
    while i + 4 <= n:
        crc ^= uint(p[i]) | (uint(p[i + 1]) << 8) | (uint(p[i + 2]) << 16) | (uint(p[i + 3]) << 24)
        crc = (uint(tab[768 + (crc & 0xFF)]) ^ uint(tab[512 + ((crc >> 8) & 0xFF)]) ^
               uint(tab[256 + ((crc >> 16) & 0xFF)]) ^ uint(tab[(crc >> 24) & 0xFF])) & uint(0xFFFFFFFF)
        i += 4
    while i < n:
        crc = (uint(tab[(crc ^ uint(p[i])) & 0xFF]) ^ (crc >> 8)) & uint(0xFFFFFFFF)
        i += 1
    crc ^= uint(0xFFFFFFFF)
    o[off] = (crc >> 24) & 0xFF
    o[off + 1] = (crc >> 16) & 0xFF
    o[off + 2] = (crc >> 8) & 0xFF
    o[off + 3] = crc & 0xFF

@micropython.viper  # noqa: F821
def crc16(buf, t16hi, t16lo) -> int:
    n = int(len(buf))
    p = ptr8(buf)
    hi = ptr8(t16hi)
    lo = ptr8(t16lo)
    crc = 0
    i = 0
    while i < n:
        j = ((crc >> 8) ^ p[i]) & 0xFF
        crc = (((crc & 0xFF) ^ hi[j]) << 8) | lo[j]
        i += 1
    return crc
