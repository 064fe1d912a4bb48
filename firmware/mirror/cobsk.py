# COBS's two loops (mirror/cobs.py) as viper code, precompiled for the board (mpy-cross
# -march of its core, by `sdmirror flash` or the frozen build): nothing is compiled on
# the board. Where there is no native code (CPython, the WebAssembly VM) cobs.py runs
# this same text as plain Python (the decorators dropped, ptr8 the identity): one source.
# A full block (code 0xFF) carries 254 data bytes and no implied zero; the encoder ends
# without a trailing code byte when the input ends with one. Viper indexes raw pointers:
# cobs.encode_into checks the room first, _dec checks the capacity on every write.


@micropython.viper  # noqa: F821
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

@micropython.viper  # noqa: F821
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
