# Runs ON the guest (see armqemu.py): the sections bench_arm.py reports. Each engine is
# first checked against binascii / the software reference on odd lengths and unaligned
# views, so a wrong-but-fast kernel fails the benchmark instead of winning it.
import array
import binascii
import struct

from arm_probe import filled, info, measure

info()
import gc  # noqa: E402

import machine  # noqa: E402
import micropython  # noqa: E402

gc.collect()
_m0 = micropython.mem_total()
from mirror import checksum  # noqa: E402

print('{"k": "import_checksum", "insn": 0, "alloc": %d}' % (micropython.mem_total() - _m0))
from drivers import sdcrc  # noqa: E402
from mirror import auth, cobs, crck, fastcrc, thumbcrc  # noqa: E402,F401 (crck: before __F goes)
from mirror.frames import TAG, FrameCodec  # noqa: E402
from mirror.tree import SpanHasher  # noqa: E402
import sniffcrc  # noqa: E402
import sniffk  # noqa: E402,F401 (sniffcrc.kernel() finds it imported: __F is cleared below)
import uctypes  # noqa: E402

# the precompiled native modules (mpy-cross -march of this core) must have loaded natively
print('{"k": "native", "thumbk": %d, "cobsk": %d, "crck": %d, "sniffk": %d}'
      % (thumbcrc.available(), cobs.IMPL == "viper", fastcrc.engine() is not None,
         sniffcrc.kernel() is not None))
__F.clear()  # noqa: F821 (armqemu's module sources: imported now, give the heap back)
for e in fastcrc.engines():  # as a board registers them, before its codecs pick crc32
    checksum.register(e)
gc.collect()
# the frames' buffers first, while the heap is still in one piece
PAY = memoryview(filled(8 * 512 + 8, 7))
WIRE = bytearray(cobs.max_encoded_len(len(PAY)) + 64)
DEC = bytearray(len(WIRE))
BLK = filled(512 * 16)
B = memoryview(BLK)[:512]
KEY = b"k" * 32

OUT = bytearray(128)
REPS = 60


def check(eng, ref):
    o1 = bytearray(8)
    o2 = bytearray(8)
    for n in (0, 1, 2, 3, 5, 7, 63, 511, 513):
        mv = memoryview(BLK)[1:1 + n]  # unaligned, odd lengths
        eng.digest_into(mv, o1, 3)
        ref.digest_into(bytes(mv), o2, 3)
        if o1 != o2:
            raise AssertionError("%s gives a wrong digest for %d bytes" % (eng.name, n))


soft = {"crc32": checksum._Crc32Soft(), "crc32-mpeg2": checksum._Crc32Mpeg2()}
engines = [("binascii", checksum._Crc32()), ("soft", soft["crc32"]),
           ("soft", soft["crc32-mpeg2"])]
v = fastcrc.engine()
if v is not None:
    engines.append(("viper", v))
if thumbcrc.available():
    engines += [("thumb", thumbcrc.Crc32()), ("thumb", thumbcrc.Crc32Mpeg2())]
for kind, e in engines:
    ref = soft.get(e.name)
    if kind != "soft" and ref is not None:
        check(e, ref)
    slow = kind == "soft"
    measure("block:%s/%s" % (e.name, kind), lambda: e.digest_into(B, OUT, 0), 3 if slow else REPS)
for name in ("md5", "sha1", "sha256"):
    if name in checksum.names():
        e = checksum.get(name)
        measure("block:%s/hashlib" % name, lambda: e.digest_into(B, OUT, 0), REPS)

crc16s = [("python", sdcrc.crc16_py)]
if sdcrc.CRC16_IMPL != "python":
    crc16s.append((sdcrc.CRC16_IMPL, sdcrc.crc16))
for kind, fn in crc16s:
    if fn(B) != sdcrc.crc16_py(B) or fn(memoryview(BLK)[3:300]) != sdcrc.crc16_py(BLK[3:300]):
        raise AssertionError("crc16 %s is wrong" % kind)
    measure("block:crc16/%s" % kind, lambda: fn(B), 3 if kind == "python" else REPS)

# The scan pass: the tree hasher over a 16-block chunk (what a background read hands it),
# per block, with the engines the board registers, plus the SD driver's CRC16 per block.
eng = checksum.get("crc32")
h = SpanHasher(eng, 1 << 16)
CH = memoryview(BLK)


def scan_chunk():
    h.begin(1 << 16)
    h.add_chunk(CH, 16)


r = measure("scan:hash_16_blocks", scan_chunk, REPS // 4)
c = measure("scan:crc16_block", lambda: sdcrc.crc16(B), REPS)
print('{"k": "scan:per_block", "insn": %d, "alloc": %d, "engine": "%s", "crc16": "%s"}'
      % (r["insn"] // 16 + c["insn"], r["alloc"] // 16 + c["alloc"], type(eng).__name__,
         sdcrc.CRC16_IMPL))

# The RP2040 DMA sniffer (boards/rp2/sniffcrc.py) has no emulator here, so its figure is
# derived: the engine's own code, with its precompiled Thumb kernel (sniffk.mpy), runs on
# this core aimed at a RAM stand-in for the sniffer's and the channel's registers, and a
# Python stand-in for rp2.DMA (used once, at construction). BUSY reads 0 at once. The
# sniffer computes while the DMA moves the block (1 byte a cycle, no CPU instructions);
# the CPU spins on BUSY meanwhile: at most 512 cycles, so at most 512 instructions, added
# below. First the kernel's register writes are checked in that RAM.
class _DmaStandIn:
    channel = 0

    def pack_ctrl(self, **kw):
        return 0

    def config(self, read=None, write=None, count=None, ctrl=None, trigger=False):
        pass


if sniffcrc.kernel() is None:
    raise AssertionError("sniffk.mpy (precompiled Thumb) does not import on this guest")
_REGS = array.array("I", bytes(32))  # SNIFF_CTRL, SNIFF_DATA, READ_ADDR, COUNT_TRIG, CTRL
_a = uctypes.addressof(_REGS)


def sniffer(alg):
    e = sniffcrc.SnifferCrc(alg, _DmaStandIn(), machine.mem16, machine.mem32, "rp2040",
                            uctypes.addressof, sniffcrc.kernel())
    for i, k in ((0, 0), (1, 2), (2, 3), (3, 4), (4, 5)):
        e._ctx[k] = _a + 4 * i
    return e


for alg in ("crc32", "crc32-mpeg2"):
    sn = sniffer(alg)
    sn._ctx[7] = 0x1234 << 16 | 0x5678  # a seed that shows the result's byte order
    o = bytearray(4 * 17)
    sn.digest_blocks_into(BLK, 16, o, 4)
    r = 0x12345678
    if alg == "crc32":  # ~bitreverse32
        r = sum(((0x12345678 >> i) & 1) << (31 - i) for i in range(32)) ^ 0xFFFFFFFF
    want = bytes(4) + struct.pack(">I", r) * 16
    regs = (_REGS[0], _REGS[2], _REGS[3])
    if bytes(o) != want or regs != (sn._sniff, uctypes.addressof(BLK) + 15 * 512, 512):
        raise AssertionError("sniffk %s: out %s, SNIFF_CTRL/READ_ADDR/COUNT %s" % (alg, o, regs))
sn = sniffer("crc32")
s1 = measure("sniffer:digest_into", lambda: sn.digest_into(B, OUT, 0), REPS)
h2 = SpanHasher(sn, 1 << 16)


def scan_chunk_sniffer():
    h2.begin(1 << 16)
    h2.add_chunk(CH, 16)


r2 = measure("sniffer:hash_16_blocks", scan_chunk_sniffer, REPS // 4)
print('{"k": "scan:per_block_sniffer", "insn": %d, "alloc": %d, "spin_bound": 512}'
      % (r2["insn"] // 16 + 512 + c["insn"], r2["alloc"] // 16 + c["alloc"]))

del sn, h2, engines, soft, v, e, ref  # the heap back for the codecs' 4 KiB buffers
# Framing: one T_DATA-sized frame of 8 blocks (+ its 8-byte header), authenticated.
measure("frame:cobs_encode", lambda: cobs.encode_into(PAY, WIRE, 0), 3)
n = cobs.encode_into(PAY, WIRE, 0)
WMV = memoryview(WIRE)[:n]
measure("frame:cobs_decode", lambda: cobs.decode_into(WMV, DEC), 3)
measure("frame:hmac_sha256", lambda: auth.hmac_sha256(KEY, PAY), 3)
for framing in ("cobs", "length"):
    enc = dec = None
    gc.collect()  # 4 KiB buffers in one piece each
    enc = FrameCodec(len(PAY), TAG, lambda t: KEY, framing)
    dec = FrameCodec(len(PAY), TAG, lambda t: KEY, framing)
    buf = WIRE
    measure("frame:%s_encode_auth" % framing, lambda: enc.encode_into(buf, 0, 0x20, 1, 2, PAY), 3)
    end = enc.encode_into(buf, 0, 0x20, 1, 2, PAY)
    got = []
    dec.feed(buf, lambda t, s, a, p: got.append(len(p) == len(PAY) and binascii.crc32(p) == binascii.crc32(PAY)), end)
    if got != [True]:
        raise AssertionError("%s frame does not decode" % framing)
    measure("frame:%s_decode_auth" % framing, lambda: dec.feed(buf, lambda *a: None, end), 3)
print('{"k": "done"}')
