# The shape of every message a node accepts, checked before any handler looks inside it.
#
# A frame reaches a node only once its CRC (and, with a key, its HMAC) is good, but a good
# frame is not a well-formed message: a peer with a bug, or anyone who can put bytes on an
# unkeyed link, can send a T_DONE of no bytes, a T_SUMS whose span is not a power of 16, a
# T_WRITE of 100 bytes. Each rule below bounds every length and index the handler will use,
# so the handlers may unpack without checks of their own; a message that breaks one is
# dropped and counted (Node.counters["bad_messages"]), never raised out of receive().
# Ranges against the volume (which blocks a write may touch) are the handler's business:
# they depend on state (the volume size agreed at the handshake), see Secondary._apply.
import struct

from mirror import proto as P
from mirror.tree import FANOUT

UNCONF_MAX = 47  # actlog.CAPACITY: a T_UNCONF names at most the extents of one log


def span_ok(span, max_span):
    """span is a power of 16 no larger than max_span (what the node's hasher can do)."""
    if span < 1 or span > max_span:
        return False
    while span % FANOUT == 0:
        span //= FANOUT
    return span == 1


def _entries(p, pos, ds, data):
    """From pos to the very end: {start u32, n u16} entries (n >= 1), each followed by
    n * ds bytes of digests (T_SUMS; ds = 0: T_SUMREQ, T_BREQ), or by n blocks of data
    (data: T_DATA). Returns the number of items (digests, blocks) in all, -1 if malformed."""
    end = len(p)
    total = 0
    while pos < end:
        if pos + P.ENTRY > end:
            return -1
        n = p[pos + 4] | p[pos + 5] << 8  # not unpack_from: a tuple per entry (per block)
        if n < 1:
            return -1
        total += n
        pos += P.ENTRY + n * (512 if data else ds)
    return total if pos == end else -1


# exact payload lengths of the fixed-size messages (T_ROOT: 1 + digest size)
_FIXED = {P.T_WACK: 4, P.T_BARRIER: 1, P.T_DONE: 1, P.T_START: 16, P.T_SYNCED: 8,
          P.T_SCAN: 13, P.T_ROOT: 1, P.T_RREQ: P.RREQ_SIZE}


def problem(ftype, p, dsize, max_span, frame_blocks):
    """Why message (ftype, payload p) is malformed (a few words), or None if it is good.

    dsize: the agreed digest size; max_span: the largest span this node can digest;
    frame_blocks: the most data blocks one message may carry."""
    n = len(p)
    want = _FIXED.get(ftype)
    if want is not None:
        if n != want + (dsize if ftype == P.T_ROOT else 0):
            return "type 0x%02x of %d bytes" % (ftype, n)
        if ftype == P.T_SCAN and not span_ok(struct.unpack_from("<I", p, 9)[0], max_span):
            return "scan span"
        return None
    if ftype == P.T_WRITE:
        if n < 8 + 512 or (n - 8) % 512 or (n - 8) // 512 > frame_blocks:
            return "write of %d bytes" % (n - 8)
    elif ftype == P.T_DATA:
        if not 0 < _entries(p, P.DATA_HDR, 0, True) <= frame_blocks:
            return "data entries"
    elif ftype == P.T_SUMS or ftype == P.T_SUMREQ:
        if n < P.SUMS_HDR or not span_ok(struct.unpack_from("<I", p, 2)[0], max_span) or \
                _entries(p, P.SUMS_HDR, dsize if ftype == P.T_SUMS else 0, False) < 0:
            return "digest entries"
    elif ftype == P.T_RDATA:  # rid u32, status u8, then whole blocks (none if failed)
        if n < P.RDATA_HDR or (n - P.RDATA_HDR) % 512 or \
                (n - P.RDATA_HDR) // 512 > frame_blocks:
            return "read data of %d bytes" % n
    elif ftype == P.T_BREQ:
        if n < 1 or _entries(p, 1, 0, False) < 0:
            return "block request"
    elif ftype == P.T_UNCONF:  # the ranges of an activity log: at most its capacity
        if n < 8 or n % 8 or n // 8 > UNCONF_MAX:
            return "unconfirmed ranges of %d bytes" % n
    elif ftype != P.T_REFUSE:
        return "unknown type 0x%02x" % ftype
    return None


def text(p):
    """A peer's text (a refusal reason) for our logs: UTF-8 if it is, else its hex."""
    try:
        return bytes(p).decode()
    except UnicodeError:
        import binascii
        return "(not UTF-8) " + binascii.hexlify(bytes(p)).decode()
