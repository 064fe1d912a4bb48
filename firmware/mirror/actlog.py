# The activity log (DRBD's idea): on the primary's card, a bounded set of extents (runs of
# extent_blocks blocks, coarser than the bitmap's regions, as DRBD's AL extents: 16 MiB
# by default) that may hold writes the secondary has not confirmed. It is persisted before
# the first write into an extent not yet in it, so after a primary power loss (the RAM
# bitmap gone) only those extents need comparing. When more extents are unconfirmed than
# the log holds (a long outage), or nothing is known (a full scan under way), the log says
# FULL and the next boot falls back to the full scan, as it does when the log cannot be
# read (claim 18).
#
# A record is a metadata write, and an application write that needs one waits for it: so
# the log keeps the extents used most recently (up to `hot`, an LRU set) even once their
# writes are confirmed, and a writer that stays within them writes no record at all. The
# price: after a power loss the hot extents are compared too (a coherent extent costs its
# blocks read on both cards and a few digests on the link).
#
# It lives in the metadata block (meta.py) after the metadata record, so both are written
# together, to the two slots in turn: a torn write spoils only the slot being written, and
# the other slot holds the log before it. Layout at LOG_OFFSET of each metadata block:
#
#   magic "AL" | version u8 | flags u8 | extent_blocks u32 | count u16 | seq u32
#   | extents u32*count | crc32 u32 (of the log's bytes)
#
# seq is the sequence number of the metadata record the log was written with, and a boot
# takes the log only beside that record. A torn write can complete the record and leave
# the slot's older log behind it (simulator seeds 785727097, 785727688, 785731516: a
# power cut 48 bytes into the block). No CRC can catch that pairing: a CRC over a record
# followed by its own CRC is the same constant (0x2144DF1C for crc32) for every record,
# so even a CRC over the whole block cannot tell the new record from the old one.
#
# API (the primary drives it; a failover, demote or settle may read it too):
#   admit(block, n)        may a write to blocks [block, block + n) go to the card now? If
#                          not, their extents are wanted in the next record, which the
#                          caller writes (begin_record, pack_into); retry once it lands.
#   pack_into(buf, seq)    write the record being made durable into a metadata block.
#   landed(ok)             a metadata write carrying the latest packed record completed.
#   load(buf, seq)         (extent_blocks, extents) of a metadata block's log, or None if
#                          it is missing, damaged, FULL or not record seq's: compare all.
# Admission is conservative: an extent counts as logged only when it is in the record on
# the card and in the record being written (a power cut may leave either on the card).
import binascii
import struct
from micropython import const

# The metadata record (meta.py) and its list of lost blocks take the first 302 bytes of
# the block (lost list at 40: count u16, up to LOST_MAX = 64 block numbers, crc32); the log
# follows: 304 + 14 + 4 * CAPACITY + 4 = 510 bytes of the 512.
CAPACITY = const(47)
LOG_OFFSET = const(304)
F_FULL = const(1)
_MAGIC = b"AL"
_VERSION = const(2)  # 1: regions, no seq (a version 1 log reads as missing: a full scan)
_HDR = "<2sBBIHI"
_HDR_SIZE = const(14)


def _find(arr, n, r):
    for i in range(n):
        if arr[i] == r:
            return i
    return -1


class ActivityLog:
    def __init__(self, extent_blocks, hot=CAPACITY):
        import array
        self.extent_blocks = extent_blocks
        self.capacity = CAPACITY
        self.hot = min(hot, CAPACITY)  # extents kept once confirmed (most recent first)
        # extents of the record on the card (most recently used first), and of the one
        # being written
        self._dur = array.array("I", bytes(4 * CAPACITY))
        self._ndur = 0
        self.dur_full = True  # nothing known on the card yet: everything admitted, FULL
        self._new = array.array("I", bytes(4 * CAPACITY))
        self._nnew = 0
        self._new_full = False
        self.writing = False
        # extents wanted in the next record (asked for while a record was being written)
        self._want = array.array("I", bytes(4 * CAPACITY))
        self._nwant = 0
        self._want_full = False
        self._refresh = False
        self._seen = array.array("I", bytes(4 * CAPACITY))  # exceeds()'s scratch
        self.records = 0  # records made durable

    def extent_of(self, block):
        return block // self.extent_blocks

    # -- admission ---------------------------------------------------------------------
    def logged(self, e):
        """Extent e is in every record that a power cut could leave on the card."""
        if not (self.dur_full or _find(self._dur, self._ndur, e) >= 0):
            return False
        return not self.writing or self._new_full or _find(self._new, self._nnew, e) >= 0

    def admit(self, block, n):
        """True if a write to blocks [block, block + n) may go to the card now; else their
        extents are wanted in the next record (the caller writes it: needs_write())."""
        eb = self.extent_blocks
        first = block // eb
        last = (block + n - 1) // eb
        for e in range(first, last + 1):
            if not self.logged(e):
                break
        else:
            for e in range(first, last + 1):
                self._used(e)
            return True
        # every extent of the write, logged ones too: the next record must name them all
        # at once, or two records could keep dropping each other's extent
        for e in range(first, last + 1):
            self.want(e)
        return False

    def _used(self, e):
        """Move e to the front of the durable list: the LRU order the next record keeps."""
        d = self._dur
        i = _find(d, self._ndur, e)
        while i > 0:
            d[i] = d[i - 1]
            i -= 1
        if i == 0:
            d[0] = e

    def exceeds(self, unconfirmed, limit):
        """Would the next record name more than `limit` extents of unconfirmed writes: the
        wanted ones and `unconfirmed` (an iterable, repeats allowed; as for begin_record)?"""
        if self._want_full:
            return False  # FULL whatever happens: waiting cannot help
        s = self._seen
        n = 0
        for i in range(self._nwant):
            s[n] = self._want[i]
            n += 1
        for e in unconfirmed:
            if _find(s, n, e) < 0:
                if n >= limit or n == CAPACITY:
                    return True
                s[n] = e
                n += 1
        return n > limit

    def want(self, e):
        if self._want_full or _find(self._want, self._nwant, e) >= 0:
            return
        if self._nwant == CAPACITY:
            self._want_full = True
            return
        self._want[self._nwant] = e
        self._nwant += 1

    def want_full(self):
        """A write reached the card without admission: only FULL is safe."""
        self._want_full = True

    def refresh(self):
        """Ask for a record even if no extent is wanted (a FULL log can name extents
        again once the pair is coherent)."""
        self._refresh = True

    def needs_write(self):
        return not self.writing and (self._nwant > 0 or self._want_full or self._refresh)

    # -- records -----------------------------------------------------------------------
    def begin_record(self, unconfirmed):
        """Start the next record: the wanted extents, `unconfirmed` (an iterable of every
        extent that may hold unconfirmed writes, or None when that is not known), then the
        card's record's extents, most recently used first, while fewer than `hot`. FULL if
        the first two do not fit. The caller then writes the metadata (pack_into)."""
        n = 0
        full = self._want_full or unconfirmed is None
        new = self._new
        if not full:
            for i in range(self._nwant):
                new[n] = self._want[i]
                n += 1
            for e in unconfirmed:
                if _find(new, n, e) >= 0:
                    continue
                if n == CAPACITY:
                    full = True
                    break
                new[n] = e
                n += 1
        if not full and not self.dur_full:
            d = self._dur
            for i in range(self._ndur):
                if n >= self.hot:
                    break
                if _find(new, n, d[i]) < 0:
                    new[n] = d[i]
                    n += 1
        self._nnew = 0 if full else n
        self._new_full = full
        self._nwant = 0
        self._want_full = False
        self._refresh = False
        self.writing = True

    def pack_into(self, buf, seq):
        """The record being written (or else the one on the card) into a metadata block
        whose metadata record has sequence number seq."""
        if self.writing:
            arr, n, full = self._new, self._nnew, self._new_full
        else:
            arr, n, full = self._dur, self._ndur, self.dur_full
        o = LOG_OFFSET
        struct.pack_into(_HDR, buf, o, _MAGIC, _VERSION, F_FULL if full else 0,
                         self.extent_blocks, n, seq)
        o += _HDR_SIZE
        for i in range(n):
            struct.pack_into("<I", buf, o, arr[i])
            o += 4
        struct.pack_into("<I", buf, o, binascii.crc32(memoryview(buf)[LOG_OFFSET:o]))

    def landed(self, ok):
        """The metadata write carrying the record completed (ok) or failed (it is written
        again: the record stays the one being written)."""
        if not ok or not self.writing:
            return
        self._dur, self._new = self._new, self._dur
        self._ndur = self._nnew
        self.dur_full = self._new_full
        self.writing = False
        self.records += 1

    def extents(self):
        """The extents of the record on the card (a list; None when FULL)."""
        if self.dur_full:
            return None
        return [self._dur[i] for i in range(self._ndur)]

    def restore(self, extent_blocks, extents):
        """At boot: the card's record (load()) becomes the durable one. A record of
        another extent size (the setting changed) counts as naming nothing: the extents it
        named are in the bitmap (the caller marks them), so the next record names them."""
        self.dur_full = extents is None
        self._ndur = 0
        if extents is not None and extent_blocks == self.extent_blocks:
            for e in extents[:CAPACITY]:
                self._dur[self._ndur] = e
                self._ndur += 1


def load_slots(reads, seq):
    """load() of the metadata slot (reads: the boot's (ok, buffer) per slot) that holds
    the record of sequence number seq, the one the boot loaded."""
    from mirror.meta import Meta
    for ok, buf in reads:
        rec = Meta()
        if ok and rec.unpack(buf) and rec.seq == seq:
            return load(buf, seq)
    return None


def load(buf, seq):
    """(extent_blocks, extents) of the log in a metadata block, or None when it is
    missing, damaged, FULL or was written with another record than the block's (seq):
    then only a full scan is safe."""
    o = LOG_OFFSET
    if len(buf) < o + _HDR_SIZE + 4:
        return None
    magic, ver, flags, eb, n, lseq = struct.unpack_from(_HDR, buf, o)
    end = o + _HDR_SIZE + 4 * n
    if magic != _MAGIC or ver != _VERSION or n > CAPACITY or end + 4 > len(buf) or eb < 1:
        return None
    if binascii.crc32(memoryview(buf)[o:end]) != struct.unpack_from("<I", buf, end)[0]:
        return None
    if lseq != seq:
        return None  # a torn write left this log behind a newer record
    if flags & F_FULL:
        return None
    return eb, [struct.unpack_from("<I", buf, o + _HDR_SIZE + 4 * i)[0] for i in range(n)]
