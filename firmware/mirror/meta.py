# The metadata: the last two blocks of each card, outside the mirrored volume. They hold
# the generation id of the data on the card, so that a pair never resyncs in the wrong
# direction (a stale primary over a newer secondary) and notices when both sides were
# written while apart (diverged histories).
#
#   magic 8s | version u8 | role u8 | flags u8 | pad u8 | gen 8s | parent 8s | seq u32 | crc32
#
# Two slots, written alternately (record n goes to slot n % 2): a power cut that tears a
# write spoils only the slot being written, and the other still holds the record before
# it. At boot the valid record with the highest sequence number wins.
#
# Generation rules (primary side):
# - a new generation (parent := old) starts at the first write made while the peer is not
#   known to hold the current one (link down), so at most one new id per outage;
# - the secondary takes the primary's generation when a resync completes (T_SYNCED) and
#   marks itself inconsistent while a resync towards a newer generation is under way.
import binascii
import struct
from micropython import const

MAGIC = b"SDMIRROR"
VERSION = const(2)
SLOTS = const(2)
PEER_SYNCED = const(1)  # primary: the secondary holds this generation
CONSISTENT = const(2)   # secondary: the data is a complete copy of `gen`
TOOK_OVER = const(4)    # primary: promoted, not yet booted as one (its bitmap starts clean)
ZERO = bytes(8)
# what a refusal over diverged histories tells the operator to do (roles.py)
SETTLE_HINT = "on the side whose changes are to be dropped run " \
              "'sdmirror settle PORT --discard-this-side'"
_FMT = "<8sBBBx8s8sI"
_SIZE = const(32)
# After the record: the primary's lost blocks (heal.py: its card lost their newest data;
# reads of them fail until written), count u16 at _LOST_AT, block numbers u32, then a
# CRC-32 of the record's seq and that part. Older firmware ignores these bytes. The seq
# ties the list to its record: a torn write can complete the record and leave the slot's
# older list behind it, and a CRC of the list alone (or of the whole block: the record ends
# in its own CRC, after which a CRC's state is the same for every record) would pass.
_LOST_AT = const(40)
_SEQ_AT = const(28)
LOST_MAX = const(64)


class Meta:
    def __init__(self):
        self.role = 0
        self.flags = 0
        self.gen = ZERO
        self.parent = ZERO
        self.seq = 0  # records written so far; the next goes to slot (seq + 1) % 2
        self.lost = []  # block numbers (primary): see _LOST_AT

    def pack_into(self, buf):
        for i in range(len(buf)):
            buf[i] = 0
        struct.pack_into(_FMT, buf, 0, MAGIC, VERSION, self.role, self.flags,
                         self.gen, self.parent, self.seq)
        struct.pack_into("<I", buf, _SIZE, binascii.crc32(memoryview(buf)[:_SIZE]))
        n = len(self.lost)
        struct.pack_into("<H", buf, _LOST_AT, n)
        for i in range(n):
            struct.pack_into("<I", buf, _LOST_AT + 2 + 4 * i, self.lost[i])
        end = _LOST_AT + 2 + 4 * n
        struct.pack_into("<I", buf, end, _lost_crc(buf, end))

    def unpack(self, buf):
        """Load from a metadata block; False (and a blank state) if it holds none."""
        self.__init__()
        if bytes(buf[:8]) != MAGIC:
            return False
        if binascii.crc32(memoryview(buf)[:_SIZE]) != struct.unpack_from("<I", buf, _SIZE)[0]:
            return False
        magic, ver, self.role, self.flags, self.gen, self.parent, self.seq = \
            struct.unpack_from(_FMT, buf, 0)
        n = struct.unpack_from("<H", buf, _LOST_AT)[0]
        end = _LOST_AT + 2 + 4 * n
        if n <= LOST_MAX and _lost_crc(buf, end) == struct.unpack_from("<I", buf, end)[0]:
            self.lost = [struct.unpack_from("<I", buf, _LOST_AT + 2 + 4 * i)[0]
                         for i in range(n)]
        return ver == VERSION


def _lost_crc(buf, end):
    mv = memoryview(buf)
    return binascii.crc32(mv[_LOST_AT:end], binascii.crc32(mv[_SEQ_AT:_SEQ_AT + 4]))


def load(slots):
    """The newest valid record among the slots: slots is a list of (read_ok, buffer).
    Returns (Meta, state): state "ok", "blank" (every slot read, none holds a record: a new
    card) or "unreadable" (a slot could not be read). A slot that could not be read is not
    an absent slot: it may hold the newest record, and taking the other (older) one would
    put the card on a generation its peer has left, so the pair would refuse to resync
    ("histories diverged"). The caller reads again, and refuses to go on if it cannot."""
    best = None
    for ok, buf in slots:
        if not ok:
            return Meta(), "unreadable"
        m = Meta()
        if m.unpack(buf) and (best is None or m.seq > best.seq):
            best = m
    if best is not None:
        return best, "ok"
    return Meta(), "blank"


def relation(p_gen, p_parent, s_gen, s_parent):
    """How a secondary's history relates to the primary's: 'same', 'behind' (resync it),
    'blank', 'newer' (secondary is ahead: refuse) or 'diverged' (refuse)."""
    if s_gen == p_gen:
        return "same"
    if s_gen == ZERO:
        return "blank"
    if s_gen == p_parent:
        return "behind"
    if s_parent == p_gen:
        return "newer"
    return "diverged"
