# Frame codec: round trips, byte-stream splitting, and garbage that must never raise.
from fwtest import randbytes, rng

import binascii
import struct

from mirror.frames import PREFIX, FrameCodec

KEY = b"k" * 32


def codec(key=None, max_payload=600, framing="cobs"):
    return FrameCodec(max_payload, 16 if key else 0, lambda ftype: key, framing)


def encode(c, frames):
    buf = bytearray(c.wire_size(c.max_payload) * len(frames))
    end = 0
    for ftype, seq, ack, payload in frames:
        end = c.encode_into(buf, end, ftype, seq, ack, payload)
    return bytes(buf[:end])


def feed(c, data):
    got = []
    c.feed(data, lambda t, s, a, p: got.append((t, s, a, bytes(p))))
    return got


def test_round_trip_several_frames():
    rng(1)
    frames = [(0x20, i, 1000 + i, bytes(randbytes(i * 37))) for i in range(8)]
    c = codec()
    assert feed(c, encode(c, frames)) == frames
    assert c.frames_in == 8


def test_frames_split_at_every_byte():
    frames = [(0x30, 7, 9, b"\x00\x01\x00hello\x00"), (0x31, 8, 9, b"")]
    c = codec(KEY)
    data = encode(c, frames)
    got = []
    for i in range(len(data)):
        got += feed(c, data[i:i + 1])
    assert got == frames


def test_corrupted_frame_is_dropped_and_counted():
    c = codec()
    good = encode(c, [(0x20, 1, 2, b"payload bytes")])
    for i in range(len(good) - 1):
        bad = bytearray(good)
        bad[i] ^= 0x10
        if bad[i] == 0:
            continue  # that would just split the frame; covered by the garbage test
        assert feed(c, bytes(bad)) == []
    assert c.bad_crc + c.malformed > 0
    assert feed(c, good) == [(0x20, 1, 2, b"payload bytes")]


def test_garbage_never_raises():
    rng(2)
    c = codec(KEY)
    for n in (1, 2, 5, 50, 700, 3000):
        feed(c, bytes(randbytes(n)))
    # the decoder is still in sync afterwards
    assert feed(c, b"\x00" + encode(c, [(0x21, 3, 4, b"ok")])) == [(0x21, 3, 4, b"ok")]


def test_oversize_frame_is_malformed_then_recovers():
    c = codec(max_payload=64)
    before = c.malformed
    assert feed(c, b"\x05" * 500 + b"\x00") == []
    assert c.malformed == before + 1
    assert feed(c, encode(c, [(0x20, 0, 0, b"x")])) == [(0x20, 0, 0, b"x")]


def test_wrong_key_fails_authentication():
    sender = codec(KEY)
    receiver = codec(b"K" * 32)
    assert feed(receiver, encode(sender, [(0x20, 1, 1, b"secret")])) == []
    assert receiver.bad_auth == 1


def test_tampered_payload_with_recomputed_crc_fails_authentication():
    # an attacker can fix the CRC but not the tag
    plain = codec()
    keyed = codec(KEY)
    forged = encode(plain, [(0x20, 1, 1, b"evil" + bytes(16))])
    assert feed(keyed, forged) == []
    assert keyed.bad_auth == 1


def test_no_key_frames_carry_no_tag():
    c = codec()
    assert len(encode(c, [(0x20, 0, 0, b"")])) < len(encode(codec(KEY), [(0x20, 0, 0, b"")]))


# -- "length" framing (TCP): length prefix, no COBS ----------------------------------------

def test_length_framing_round_trip_split_at_every_byte():
    rng(3)
    frames = [(0x20, i, 70 + i, bytes(randbytes(i * 53))) for i in range(6)]
    frames.append((0x30, 7, 9, b"\x00\x01\x00hello\x00"))
    c = codec(KEY, framing="length")
    data = encode(c, frames)
    assert feed(c, data) == frames
    got = []
    for i in range(len(data)):
        got += feed(c, data[i:i + 1])
    assert got == frames
    assert c.malformed == 0 and c.bad_crc == 0


def test_length_frame_is_prefix_plus_raw_with_a_little_endian_crc32():
    c = codec(framing="length")
    wire = encode(c, [(0x21, 0x1234, 0x5678, b"payload")])
    raw = wire[PREFIX:]
    assert len(wire) == PREFIX + 5 + 7 + 4 == c.wire_size(7)
    assert struct.unpack_from("<HH", wire, 0) == (len(raw), len(raw) ^ 0xFFFF)
    assert raw[:5] == struct.pack("<BHH", 0x21, 0x1234, 0x5678)
    assert struct.unpack_from("<I", raw, len(raw) - 4)[0] == binascii.crc32(raw[:-4])


def test_cobs_frame_carries_the_same_raw_frame():
    from mirror import cobs
    a = encode(codec(), [(0x22, 1, 2, b"abc\x00def")])
    b = encode(codec(framing="length"), [(0x22, 1, 2, b"abc\x00def")])
    out = bytearray(len(a))
    n = cobs.decode_into(a[:-1], out)
    assert bytes(out[:n]) == b[PREFIX:]


def test_keyed_length_frames_carry_the_tag_as_their_only_check():
    c = codec(KEY, framing="length")
    wire = encode(c, [(0x22, 1, 2, b"abc")])
    assert len(wire) == PREFIX + 5 + 3 + 16 == c.wire_size(3)
    assert len(encode(codec(KEY), [(0x22, 1, 2, b"abc")])) > len(wire)  # COBS keeps the CRC
    bad = bytearray(wire)
    bad[PREFIX + 6] ^= 1
    assert feed(c, bytes(bad) + wire) == [(0x22, 1, 2, b"abc")]
    assert c.bad_auth == 1 and c.bad_crc == 0


def test_length_framing_recovers_after_corruption_and_lost_bytes():
    rng(4)
    c = codec(KEY, framing="length")
    frames = [(0x20, i, i, bytes(randbytes(100 + i))) for i in range(5)]
    data = bytearray(encode(c, frames))
    cut = len(encode(c, frames[:1]))
    # frame 1: a flipped bit in its payload; frame 3: 10 bytes lost (a dropped segment)
    bad = bytearray(data)
    bad[cut + PREFIX + 20] ^= 0x04
    third = len(encode(c, frames[:3]))
    bad = bad[:third + 30] + bad[third + 40:]
    got = feed(c, bytes(bad))
    assert got == [frames[0], frames[2], frames[4]]
    assert c.bad_auth >= 1  # keyed: the tag is the check
    assert feed(c, encode(c, frames[:1])) == frames[:1]


def test_length_framing_every_single_corruption_loses_at_most_that_frame():
    c = codec(framing="length")
    one = encode(c, [(0x20, 1, 2, b"abcdefgh")])
    two = encode(c, [(0x21, 3, 4, b"ijkl")])
    for i in range(len(one)):
        bad = bytearray(one)
        bad[i] ^= 0x81
        assert feed(c, bytes(bad) + two) == [(0x21, 3, 4, b"ijkl")], i


def test_length_framing_garbage_never_raises_and_resyncs():
    rng(5)
    c = codec(KEY, max_payload=64, framing="length")
    for n in (1, 3, 4, 5, 50, 700, 3000):
        feed(c, bytes(randbytes(n)))
    # whatever the garbage left half-read, the next frames are found again
    good = encode(c, [(0x21, 3, 4, b"ok")] * 3)
    got = feed(c, bytes(200) + good)
    assert got[-1] == (0x21, 3, 4, b"ok")
    assert c.malformed > 0


def test_a_payloads_block_views_are_made_once_and_show_each_frames_bytes():
    # Secondary._on_data writes each entry of a frame from codec.blocks_view: one view a
    # (position, count) kept across frames, so it must show the frame being delivered,
    # whatever framing and however the stream was cut (length: several frames a read,
    # a frame across reads, each moved to the front of the buffer before delivery)
    rng(5)
    for framing in ("cobs", "length"):
        c = codec(KEY, max_payload=3 * 512 + 16, framing=framing)
        # small frames between (no blocks): several complete frames in one read
        frames = [(0x33, i, 0, bytes(randbytes(8 + 512 * (i % 4)))) for i in range(12)]
        data = encode(c, frames)
        seen = []
        views = {}

        def on_frame(t, s, a, p):
            for pos, count in ((8, 1), (8, 2), (520, 1)):
                if pos + count * 512 <= len(p):
                    v = c.blocks_view(p, pos, count)
                    assert bytes(v) == bytes(p[pos:pos + count * 512])
                    assert views.setdefault((pos, count), v) is v  # made once
            assert bytes(c.blocks_view(p, 8, 9)) == bytes(p[8:])  # past the end: a slice
            seen.append(bytes(p))

        for cut in (len(data), 700, 37):
            del seen[:]
            for i in range(0, len(data), cut):
                c.feed(data[i:i + cut], on_frame)
            assert seen == [f[3] for f in frames], (framing, cut)
        other = bytearray(600)  # not the payload being delivered: a slice of it
        assert c.blocks_view(other, 8, 1) is not c.blocks_view(other, 8, 1)


def test_unknown_framing_is_refused():
    from fwtest import raises
    e = raises(ValueError, FrameCodec, 100, 0, lambda t: None, "slip")
    assert "framing" in str(e)
