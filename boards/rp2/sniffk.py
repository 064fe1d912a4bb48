# The sniffer engines' per-block register sequence (boards/rp2/sniffcrc.py) in Thumb inline
# assembler, ARMv6-M instructions only (the RP2040's Cortex-M0+; the RP2350's Cortex-M33
# runs them too). Driving the registers from Python cost 12,400 instructions a block on
# ARMv6-M (docs/benchmarks.md), more than computing the CRC in software; here a block costs
# about 40 instructions plus the spin while the DMA moves it.
#
# Shipped precompiled (mpy-cross -march=armv6m, by the image or the frozen build): nothing
# is compiled on the board. Where there is no Thumb assembler (CPython, the Unix and
# WebAssembly VMs) this module does not import and sniffcrc drives the registers from
# Python, which the register-level model tests (tests/firmware/test_sniffcrc.py).
#
# run(ctx, data, out): ctx[12] transfers of ctx[8] bytes each, from data on; the CRC of
# each into out[ctx[9] + 4 * i:][:4]. ctx is an array("I") of _CTX words, set up by
# SnifferCrc (addresses as words: 0x5000_0000 and up are no small ints):
#   0 SNIFF_CTRL address   1 its value (EN, DMACH, CALC)   2 SNIFF_DATA address
#   3 the channel's READ_ADDR   4 AL1_TRANS_COUNT_TRIG   5 AL1_CTRL (read: BUSY)
#   6 CTRL.BUSY mask   7 seed   8 bytes per transfer   9 offset into out
#   10 address of a 256-byte map applied to each result byte, low byte first (crc32:
#      bit-reverse and invert), or 0: the result stored big-endian as it is (MPEG-2)
#   11 polls of BUSY allowed per transfer before giving up   12 the number of transfers
# Returns 0, or 1 if a transfer was still busy after ctx[11] polls (the caller raises).
#
# Memory safety: the CPU writes only out[ctx[9]:ctx[9] + 4 * ctx[12]]; the DMA reads
# ctx[12] * ctx[8] bytes from data. SnifferCrc checks both bounds before every call.


@micropython.asm_thumb  # noqa: F821 (the decorator exists only on MicroPython)
def run(r0, r1, r2):
    ldr(r3, [r0, 48])
    ldr(r4, [r0, 36])
    add(r2, r2, r4)
    ldr(r4, [r0, 0])
    ldr(r5, [r0, 4])
    str(r5, [r4, 0])  # SNIFF_CTRL: this engine's channel and CALC mode
    label(block)
    cmp(r3, 0)
    beq(done)
    ldr(r4, [r0, 8])
    ldr(r5, [r0, 28])
    str(r5, [r4, 0])  # SNIFF_DATA = seed
    ldr(r4, [r0, 12])
    str(r1, [r4, 0])  # READ_ADDR = this transfer's bytes
    ldr(r4, [r0, 16])
    ldr(r5, [r0, 32])
    add(r1, r1, r5)
    str(r5, [r4, 0])  # TRANS_COUNT_TRIG = length: the transfer starts
    ldr(r4, [r0, 20])
    ldr(r6, [r0, 24])
    ldr(r7, [r0, 44])
    label(spin)
    sub(r7, 1)
    bmi(timeout)
    ldr(r5, [r4, 0])
    tst(r5, r6)
    bne(spin)
    ldr(r4, [r0, 8])
    ldr(r5, [r4, 0])  # the CRC
    ldr(r6, [r0, 40])
    cmp(r6, 0)
    beq(plain)
    lsl(r4, r5, 24)
    lsr(r4, r4, 24)
    add(r4, r4, r6)
    ldrb(r4, [r4, 0])
    strb(r4, [r2, 0])
    lsl(r4, r5, 16)
    lsr(r4, r4, 24)
    add(r4, r4, r6)
    ldrb(r4, [r4, 0])
    strb(r4, [r2, 1])
    lsl(r4, r5, 8)
    lsr(r4, r4, 24)
    add(r4, r4, r6)
    ldrb(r4, [r4, 0])
    strb(r4, [r2, 2])
    lsr(r4, r5, 24)
    add(r4, r4, r6)
    ldrb(r4, [r4, 0])
    strb(r4, [r2, 3])
    b(stored)
    label(plain)
    lsr(r4, r5, 24)
    strb(r4, [r2, 0])
    lsr(r4, r5, 16)
    strb(r4, [r2, 1])
    lsr(r4, r5, 8)
    strb(r4, [r2, 2])
    strb(r5, [r2, 3])
    label(stored)
    add(r2, 4)
    sub(r3, 1)
    b(block)
    label(timeout)
    mov(r0, 1)
    b(end)
    label(done)
    mov(r0, 0)
    label(end)
