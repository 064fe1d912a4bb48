# An operator changes a board's role (DRBD: `drbdadm primary`, `drbdadm secondary`,
# `connect --discard-my-data`). Each command first says whether it may run (a one-line
# reason if not, and then nothing is changed), then gives the metadata record the board
# continues with; the board writes it and resets into its new role (rolecmds.py).
#
# - promote (a secondary whose primary is gone): it leads from now on, under a new
#   generation whose parent is the one it holds, with a clean dirty bitmap of its own.
#   Only a complete copy may lead (CONSISTENT): a card caught mid-resync holds a mixture.
# - demote (an old primary, back after a failover): it follows the new primary, which
#   resyncs the regions written on either side since the split. If it knows it holds
#   nothing the secondary lacked at the split (its bitmap survived, and is empty, and the
#   secondary had confirmed its generation) it keeps its generation and says it is a
#   consistent copy: the new primary then resyncs only the regions in its own bitmap. Else,
#   if its activity log names the extents of its unconfirmed writes (it survives a reset:
#   it is on the card) and the generation the new primary was promoted from is known, it
#   takes that generation, keeps the log on its card and sends it at each pairing
#   (T_UNCONF) until the resync is over: the new primary resyncs its bitmap's regions plus
#   those extents. Otherwise (no log, a FULL or damaged one, or an unknown split point) it
#   comes back blank and the new primary runs a full scan (the hash tree makes that cheap
#   on the link; it reads both cards once).
# - settle --discard-this-side (a split: both written while apart): this side follows,
#   blank, so the survivor overwrites every block that differs, its diverged regions.
import hashlib
import struct

from mirror.meta import CONSISTENT, PEER_SYNCED, SETTLE_HINT, TOOK_OVER, ZERO, relation


def new_gen(node, why):
    h = hashlib.sha256(node.entropy)
    h.update(why)
    h.update(struct.pack("<I", node.meta.seq))
    h.update(node.meta.gen)
    return h.digest()[:8]


def split_problem(node):
    """Both boards primary: which of them was promoted says what to do (generation ids)."""
    peer = node.peer
    rel = relation(node.meta.gen, node.meta.parent, peer["gen"], peer["parent"])
    if rel == "newer":
        return "the peer is a primary promoted from this board's history: this board is " \
               "the old primary; make it follow with 'sdmirror demote PORT' (its writes " \
               "since the split are dropped)"
    if rel in ("behind", "same", "blank"):
        return "the peer is an old primary of this board's history: make it follow with " \
               "'sdmirror demote PORT' on the peer"
    return "both boards were written as primaries while apart: " + SETTLE_HINT + \
        " (or 'sdmirror demote PORT' on the old primary)"


def promote_problem(node):
    if node.role != "secondary":
        return "this board is already the primary"
    if node.paired or node.link_state() == "up" and not node.split and \
            not _peer_secondary(node):
        return "the primary is still connected: promote only when it is gone " \
               "(stop it or cut the link first)"
    if not node.ready:
        return "the card's metadata is not loaded yet: try again"
    if node.meta.gen == ZERO or not node.meta.flags & CONSISTENT:
        return "this card holds no complete copy (a resync never finished): promoting " \
               "it would serve a mixture of old and new blocks"
    return None


def _peer_secondary(node):
    """Connected and refused as two secondaries (say, an old primary demoted while the
    promotion that had refused it was undone by a power loss, failover seed 863): no
    primary is connected, and nothing but a promotion makes one of them the primary."""
    peer = node.peer
    return node.refusal is not None and peer is not None and \
        peer["role"] == 2  # ROLE_CODE["secondary"] (node.py)


def promoted_meta(node):
    m = node.meta
    m.lost = []
    m.role = 1
    m.parent = m.gen
    m.gen = new_gen(node, b"promote")
    m.flags = TOOK_OVER  # the primary it boots as knows its card is the whole truth
    return m


def demote_problem(node):
    if node.role != "primary":
        return "this board is already a secondary"
    if node.paired:
        return "this board is paired with its secondary: demote only an old primary " \
               "whose secondary was promoted"
    if not node.ready:
        return "the card's metadata is not loaded yet: try again"
    return None


def unconfirmed(node):
    """Might this primary hold writes its secondary never had? (True unless it knows.)"""
    bm = node.bitmap
    return not bm.valid or bm.count() > 0 or node.pending.count() > 0 or \
        bool(node._inflight) or not node.meta.flags & PEER_SYNCED


def split_gen(node):
    """The generation the new primary was promoted from (its parent), or None if not
    known: the peer's, when it is a primary of our history (it refused us); else ours,
    if our secondary had confirmed it (PEER_SYNCED: no newer one of ours can be on it)."""
    m = node.meta
    peer = node.peer
    if peer is not None and peer["role"] == 1 and peer["parent"] != ZERO and \
            peer["parent"] in (m.gen, m.parent):
        return peer["parent"]
    if m.flags & PEER_SYNCED:
        return m.gen
    return None


def demoted_meta(node):
    """The record a demoted primary continues with, and how it will be resynced:
    "bitmap" (the new primary's), "log" (that and our activity log's extents) or "full"."""
    m = node.meta
    how = "full"
    gen = ZERO
    if not unconfirmed(node):
        how = "bitmap"
        gen = m.gen
    elif node.cfg.actlog and node.actlog.extents() is not None and \
            not node.actlog.writing and not node.actlog.needs_write():
        # (a record on its way or due, a FULL one perhaps: the card's may be short of it)
        gen = split_gen(node) or ZERO
        if gen != ZERO:
            how = "log"  # the log stays on the card (Primary._pack_meta_extra): T_UNCONF
    m.lost = []  # the new primary's copies are written over them
    m.role = 2
    m.parent = ZERO
    m.gen = gen  # ZERO: no record of what differs, the new primary scans everything
    m.flags = CONSISTENT if how != "full" else 0
    return m, how


def settle_problem(node):
    if node.paired:
        return "the pair is paired: there is no split to settle"
    if not node.split:
        return "no split to settle: the pair has not refused over diverged histories " \
               "(status shows why it is not paired)"
    return None


def settled_meta(node):
    m = node.meta
    m.lost = []
    m.role = 2
    m.gen = ZERO
    m.parent = ZERO
    m.flags = 0
    return m
