# Link frames: header, payload, optional authentication tag, CRC-32 trailer, delimited for
# the medium.
#
#   raw  = type u8 | seq u16 | ack u16 | payload | tag (0 or 16 bytes) | crc32 u32 (LE)
#   wire, framing "cobs"   = COBS(raw) 0x00                 (a UART: bytes can be lost)
#   wire, framing "length" = len u16 | len ^ 0xFFFF u16 | raw   (TCP: an ordered stream)
#                            and with a key, raw has no crc32: the tag is the check
#
# A UART drops and corrupts single bytes, so its frames are delimited by COBS: a receiver
# resynchronises at the next 0x00. TCP delivers every byte in order or breaks the
# connection, so a length prefix is enough and the frame is built in place in the caller's
# buffer: no stuffing pass over every byte (on ARMv6-M COBS costs about as much as the rest
# of the frame). The prefix carries its complement so that a stream that still goes wrong
# (the emulator's fault proxy can drop or corrupt a TCP segment) is detected at once; the
# decoder then hunts byte by byte for the next prefix whose frame passes its check. With a
# key, that check is the HMAC tag alone: any change to a frame already fails it, and the
# CRC would cost 38k instructions more per 8-block frame on a Cortex-M0, 6% of the frame.
#
# The CRC trailer is checked through the CRC-32 residue (the CRC of a frame followed by its
# own little-endian CRC is the constant RESIDUE, a small int), so a good frame is checked
# without the heap int binascii.crc32 returns for values >= 2^30 on 32-bit ports. It is
# written by the registered `crc32` engine (mirror.checksum), which writes into the buffer.
# The decoder never raises on garbage: it drops the frame and counts why.
import binascii
import struct
from micropython import const

from mirror import auth, checksum, cobs

HEADER = const(5)
CRC = const(4)
TAG = const(16)
PREFIX = const(4)  # "length" framing: len u16 | len ^ 0xFFFF u16
_RESIDUE = const(0x2144DF1C)  # crc32(m + crc32(m) as 4 LE bytes), for every m
_HDR = "<BHH"
FRAMINGS = ("cobs", "length")


class FrameCodec:
    """Encode frames into a caller's buffer; decode a byte stream into frames.

    keys: a callable ftype -> key bytes (or None) choosing which key authenticates a frame
    type (the handshake uses the long-term key, everything else the session key).
    framing: "cobs" (UART) or "length" (TCP), see the top of this module.
    context: None, or a callable (ftype, seq, ack, tx) -> bytes or None: data the HMAC
    covers after the frame's own bytes without being sent (the session's sequence laps).
    """

    def __init__(self, max_payload, tag_len, keys, framing="cobs", context=None):
        if framing not in FRAMINGS:
            raise ValueError("framing must be cobs or length, not %r" % (framing,))
        self.max_payload = max_payload
        self.tag_len = tag_len
        self.keys = keys
        self.context = context
        self.framing = framing
        self._cobs = framing == "cobs"
        self._crc32 = checksum.get("crc32")
        self.crc_len = CRC if self._cobs or not tag_len else 0
        self.max_raw = HEADER + max_payload + tag_len + self.crc_len
        self.max_wire = self.wire_size(max_payload)
        self._raw = bytearray(self.max_raw if self._cobs else 0)
        self._rawmv = memoryview(self._raw)
        self._acc = bytearray(self.max_wire)
        self._accmv = memoryview(self._acc)
        self._acc_len = 0
        self._overflow = False
        self._dec = bytearray(self.max_raw if self._cobs else 0)
        self._decmv = memoryview(self._dec)
        # Payloads are delivered at one place of one buffer (COBS: _dec from 0; length: _acc
        # from 0, a frame moved to its front first), so a view of a block run in a payload,
        # made once, serves every later frame: blocks_view() keeps them, a few at most.
        self._payload = None  # the payload being delivered, while on_frame runs
        self._home = self._decmv[HEADER:] if self._cobs else self._accmv[PREFIX + HEADER:]
        self._views = {}
        self._views_max = 2 * (max_payload // 512) + 4
        self.frames_in = 0
        self.bad_crc = 0
        self.bad_auth = 0
        self.malformed = 0

    def wire_size(self, payload_len):
        """Upper bound of the encoded size of a frame with this payload length."""
        raw = HEADER + payload_len + self.tag_len + self.crc_len
        if self._cobs:
            return cobs.max_encoded_len(raw) + 1
        return PREFIX + raw

    def encode_into(self, dst, off, ftype, seq, ack, payload):
        """Write the encoded frame at dst[off:] (a bytearray); return the index after it."""
        if self._cobs:
            end = self._build(self._raw, self._rawmv, 0, ftype, seq, ack, payload)
            off = cobs.encode_into(self._rawmv[:end], dst, off)
            dst[off] = 0
            return off + 1
        end = self._build(dst, memoryview(dst), off + PREFIX, ftype, seq, ack, payload)
        n = end - off - PREFIX
        struct.pack_into("<HH", dst, off, n, n ^ 0xFFFF)
        return end

    def _build(self, buf, mv, start, ftype, seq, ack, payload):
        """raw frame at buf[start:] (mv: a memoryview of buf); return its end."""
        struct.pack_into(_HDR, buf, start, ftype, seq, ack)
        end = start + HEADER + len(payload)
        buf[start + HEADER:end] = payload
        if self.tag_len:
            ctx = self.context(ftype, seq, ack, True) if self.context else None
            tag = auth.hmac_sha256(self.keys(ftype), mv[start:end], ctx)
            buf[end:end + self.tag_len] = tag[:self.tag_len]
            end += self.tag_len
        if not self.crc_len:
            return end
        self._crc32.digest_into(mv[start:end], buf, end)  # big-endian: the trailer is LE
        buf[end], buf[end + 3] = buf[end + 3], buf[end]
        buf[end + 1], buf[end + 2] = buf[end + 2], buf[end + 1]
        return end + CRC

    def feed(self, data, on_frame, n=-1):
        """Consume received bytes (data[:n], a bytes or bytearray: a runtime may pass its
        reusable receive buffer); call on_frame(ftype, seq, ack, payload_mv) per good frame.

        payload_mv is valid only during the call.
        """
        if n < 0:
            n = len(data)
        if self._cobs:
            self._feed_cobs(data, on_frame, n)
        else:
            self._feed_length(data, on_frame, n)

    def _feed_cobs(self, data, on_frame, n):
        pos = 0
        mv = memoryview(data)
        while pos < n:
            z = data.find(b"\x00", pos, n)
            stop = n if z < 0 else z
            take = stop - pos
            if not self._overflow:
                if self._acc_len + take > self.max_wire:
                    self._overflow = True
                else:
                    self._acc[self._acc_len:self._acc_len + take] = mv[pos:stop]
                    self._acc_len += take
            if z < 0:
                return
            self._cobs_end(on_frame)
            pos = z + 1

    def _cobs_end(self, on_frame):
        size = self._acc_len
        overflow = self._overflow
        self._acc_len = 0
        self._overflow = False
        if overflow:
            self.malformed += 1
            return
        if size == 0:
            return  # back-to-back delimiters: idle fill, not an error
        n = cobs.decode_into(self._accmv[:size], self._dec)
        if n < HEADER + self.tag_len + CRC:
            self.malformed += 1
            return
        self._deliver(self._dec, self._decmv, 0, n, on_frame)

    def _feed_length(self, data, on_frame, n):
        acc = self._acc
        pos = 0
        mv = memoryview(data)
        while pos < n:
            have = self._acc_len
            take = min(n - pos, self.max_wire - have)
            acc[have:have + take] = mv[pos:pos + take]
            self._acc_len = have + take
            pos += take
            self._scan_acc(on_frame)

    def _scan_acc(self, on_frame):
        """Deliver the complete frames at the front of the accumulator; when a prefix or a
        frame is bad, skip one byte and hunt for the next prefix."""
        acc = self._acc
        start = 0
        have = self._acc_len
        shortest = HEADER + self.tag_len + self.crc_len
        while have - start >= PREFIX:
            size, check = struct.unpack_from("<HH", acc, start)
            if size ^ check != 0xFFFF or size < shortest or size > self.max_raw:
                if not self._overflow:
                    self._overflow = True  # now hunting: count one loss, not every byte
                    self.malformed += 1
                start += 1
                continue
            if have - start < PREFIX + size:
                break  # the rest of this frame is still on its way
            if start:
                # every payload from the same place (blocks_view): the rest to the front
                # first (a frame is seldom not at the front already)
                have = self._to_front(start, have)
                start = 0
            if self._deliver(acc, self._accmv, PREFIX, size, on_frame):
                self._overflow = False
                start += PREFIX + size
            else:
                self._overflow = True  # counted by _deliver
                start += 1
        if start:
            self._to_front(start, have)  # keep the unconsumed tail

    def _to_front(self, start, have):
        """Move acc[start:have] to the front (a C memmove, within one buffer); its length."""
        n = have - start
        self._acc[0:n] = self._accmv[start:have]
        self._acc_len = n
        return n

    def _deliver(self, buf, mv, start, size, on_frame):
        """Check a raw frame at buf[start:start+size]; call on_frame if it is good."""
        body = start + size - self.crc_len
        if self.crc_len and binascii.crc32(mv[start:start + size]) != _RESIDUE:
            self.bad_crc += 1
            return False
        ftype, seq, ack = struct.unpack_from(_HDR, buf, start)
        if self.tag_len:
            body -= self.tag_len
            key = self.keys(ftype)
            if key is None:
                self.bad_auth += 1
                return False
            ctx = self.context(ftype, seq, ack, False) if self.context else None
            tag = auth.hmac_sha256(key, mv[start:body], ctx)
            if not auth.equal(tag[:self.tag_len], mv[body:body + self.tag_len]):
                self.bad_auth += 1
                return False
        self.frames_in += 1
        p = self._payload = mv[start + HEADER:body]
        on_frame(ftype, seq, ack, p)
        self._payload = None
        return True

    def blocks_view(self, p, pos, count):
        """p[pos:pos + count * 512] without a new memoryview per call when p is the payload
        being delivered (a resync writes one run of blocks a frame entry, and each view is
        a heap object): its views are kept by (pos, count) and made once; when there are
        more kinds than a frame's entries make, they are dropped and made again."""
        end = pos + count * 512
        if p is not self._payload or end > len(p) or pos < 0 or not 0 < count < 128:
            return p[pos:end]
        key = pos * 128 + count  # < 2^23: a small int on any port
        v = self._views.get(key)
        if v is None:
            if len(self._views) >= self._views_max:
                self._views.clear()
            v = self._views[key] = self._home[pos:end]
        return v
