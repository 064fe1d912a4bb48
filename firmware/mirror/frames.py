# Link frames: header, payload, optional authentication tag, CRC-32 trailer, COBS-delimited.
#
#   raw  = type u8 | seq u16 | ack u16 | payload | tag (0 or 16 bytes) | crc32 u32
#   wire = COBS(raw) 0x00
#
# The same framing runs on a UART byte stream and inside a TCP connection, so one decoder
# serves both. The decoder never raises on garbage: it drops the frame and counts why.
import binascii
import struct
from micropython import const

from mirror import auth, cobs

HEADER = const(5)
CRC = const(4)
TAG = const(16)
_HDR = "<BHH"


class FrameCodec:
    """Encode frames into a caller's buffer; decode a byte stream into frames.

    keys: a callable ftype -> key bytes (or None) choosing which key authenticates a frame
    type (the handshake uses the long-term key, everything else the session key).
    """

    def __init__(self, max_payload, tag_len, keys):
        self.max_payload = max_payload
        self.tag_len = tag_len
        self.keys = keys
        self.max_raw = HEADER + max_payload + tag_len + CRC
        self.max_wire = cobs.max_encoded_len(self.max_raw) + 1
        self._raw = bytearray(self.max_raw)
        self._rawmv = memoryview(self._raw)
        self._acc = bytearray(self.max_wire)
        self._accmv = memoryview(self._acc)
        self._acc_len = 0
        self._overflow = False
        self._dec = bytearray(self.max_raw)
        self._decmv = memoryview(self._dec)
        self.frames_in = 0
        self.bad_crc = 0
        self.bad_auth = 0
        self.malformed = 0

    def wire_size(self, payload_len):
        """Upper bound of the encoded size of a frame with this payload length."""
        return cobs.max_encoded_len(HEADER + payload_len + self.tag_len + CRC) + 1

    def encode_into(self, dst, off, ftype, seq, ack, payload):
        """Write the encoded frame (with its 0x00 delimiter) at dst[off:]; return the end."""
        raw = self._raw
        n = len(payload)
        struct.pack_into(_HDR, raw, 0, ftype, seq, ack)
        end = HEADER + n
        raw[HEADER:end] = payload
        if self.tag_len:
            key = self.keys(ftype)
            tag = auth.hmac_sha256(key, self._rawmv[:end])
            raw[end:end + self.tag_len] = tag[:self.tag_len]
            end += self.tag_len
        struct.pack_into("<I", raw, end, binascii.crc32(self._rawmv[:end]))
        end += CRC
        off = cobs.encode_into(self._rawmv[:end], dst, off)
        dst[off] = 0
        return off + 1

    def feed(self, data, on_frame, n=-1):
        """Consume received bytes (data[:n], a bytes or bytearray: a runtime may pass its
        reusable receive buffer); call on_frame(ftype, seq, ack, payload_mv) per good frame.

        payload_mv is valid only during the call.
        """
        pos = 0
        if n < 0:
            n = len(data)
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
            self._frame_end(on_frame)
            pos = z + 1

    def _frame_end(self, on_frame):
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
        body = n - CRC
        if binascii.crc32(self._decmv[:body]) != struct.unpack_from("<I", self._dec, body)[0]:
            self.bad_crc += 1
            return
        ftype, seq, ack = struct.unpack_from(_HDR, self._dec, 0)
        if self.tag_len:
            body -= self.tag_len
            key = self.keys(ftype)
            if key is None:
                self.bad_auth += 1
                return
            tag = auth.hmac_sha256(key, self._decmv[:body])
            if not auth.equal(tag[:self.tag_len], self._decmv[body:body + self.tag_len]):
                self.bad_auth += 1
                return
        self.frames_in += 1
        on_frame(ftype, seq, ack, self._decmv[HEADER:body])
