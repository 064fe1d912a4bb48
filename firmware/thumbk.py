# The Thumb CRC kernel of mirror/thumbcrc.py, precompiled for the board (mpy-cross
# -march=armv6m or the core's own arch, by `sdmirror flash` or the frozen build): nothing
# is compiled on the board. Only ARMv6-M instructions (the Thumb-1 subset of the RP2040's
# Cortex-M0+), so it runs on every Cortex-M; an image for another architecture leaves
# this module out (host/sdmirror/firmware_image.py) and thumbcrc.available() is False.
#
# One loop serves the reflected CRC-32 and the MSB-first CRCs (MPEG-2, the SD card's
# CRC-16 in the top half): an MSB-first register kept byte-swapped steps exactly like a
# reflected one (crc >> 24 is the swapped register's low byte, crc << 8 its >> 8), so its
# table is stored byte-swapped and its result written little-endian. Per byte:
# crc = T[(crc ^ b) & 0xFF] ^ (crc >> 8).
#
# crc(data, ctl, table, out): ctl = array("I") [n, runs, off, init, xorout, little]: runs
# consecutive runs of n bytes of data, each from init, xor xorout at the end, its 4 bytes
# into out[off + 4 * i:] big-endian (little-endian if `little`). table: 256 words.
# Registers: r0 data, r1 scratch (ctl kept on the stack), r2 table, r3 out, r4 the CRC,
# r5 bytes left, r6 n, r7 runs left.
#
# Memory safety: reads runs * n bytes of data and writes 4 * runs bytes at out[off:];
# thumbcrc checks both bounds before every call.


@micropython.asm_thumb  # noqa: F821 (the decorator exists only on MicroPython)
def crc(r0, r1, r2, r3):
    ldr(r4, [r1, 8])
    add(r3, r3, r4)
    ldr(r7, [r1, 4])
    ldr(r6, [r1, 0])
    push({r1})
    label(run)
    cmp(r7, 0)
    beq(done)
    pop({r1})
    push({r1})
    ldr(r4, [r1, 12])
    mov(r5, r6)
    label(quad)
    cmp(r5, 4)
    blt(single)
    ldrb(r1, [r0, 0])
    eor(r1, r4)
    lsl(r1, r1, 24)
    lsr(r1, r1, 22)
    add(r1, r1, r2)
    ldr(r1, [r1, 0])
    lsr(r4, r4, 8)
    eor(r4, r1)
    ldrb(r1, [r0, 1])
    eor(r1, r4)
    lsl(r1, r1, 24)
    lsr(r1, r1, 22)
    add(r1, r1, r2)
    ldr(r1, [r1, 0])
    lsr(r4, r4, 8)
    eor(r4, r1)
    ldrb(r1, [r0, 2])
    eor(r1, r4)
    lsl(r1, r1, 24)
    lsr(r1, r1, 22)
    add(r1, r1, r2)
    ldr(r1, [r1, 0])
    lsr(r4, r4, 8)
    eor(r4, r1)
    ldrb(r1, [r0, 3])
    eor(r1, r4)
    lsl(r1, r1, 24)
    lsr(r1, r1, 22)
    add(r1, r1, r2)
    ldr(r1, [r1, 0])
    lsr(r4, r4, 8)
    eor(r4, r1)
    add(r0, 4)
    sub(r5, 4)
    b(quad)
    label(single)
    cmp(r5, 0)
    beq(store)
    ldrb(r1, [r0, 0])
    eor(r1, r4)
    lsl(r1, r1, 24)
    lsr(r1, r1, 22)
    add(r1, r1, r2)
    ldr(r1, [r1, 0])
    lsr(r4, r4, 8)
    eor(r4, r1)
    add(r0, 1)
    sub(r5, 1)
    b(single)
    label(store)
    pop({r1})
    push({r1})
    ldr(r5, [r1, 16])
    eor(r4, r5)
    ldr(r5, [r1, 20])
    cmp(r5, 0)
    bne(little)
    lsr(r1, r4, 24)
    strb(r1, [r3, 0])
    lsr(r1, r4, 16)
    strb(r1, [r3, 1])
    lsr(r1, r4, 8)
    strb(r1, [r3, 2])
    strb(r4, [r3, 3])
    b(stored)
    label(little)
    strb(r4, [r3, 0])
    lsr(r1, r4, 8)
    strb(r1, [r3, 1])
    lsr(r1, r4, 16)
    strb(r1, [r3, 2])
    lsr(r1, r4, 24)
    strb(r1, [r3, 3])
    label(stored)
    add(r3, 4)
    sub(r7, 1)
    b(run)
    label(done)
    pop({r1})
    mov(r0, 0)
