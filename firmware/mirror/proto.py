# Message types carried by the session, and their payload layouts (little-endian).
# Types below 0x10 belong to the session itself (HELLO, ACK).
from micropython import const

# Pairing
T_START = const(0x10)    # P->S  gen 8s, parent 8s: the primary's history; resync begins
T_REFUSE = const(0x11)   # P->S  reason (utf-8): the pair will not resync, and why
T_SYNCED = const(0x12)   # P->S  gen 8s: the secondary is coherent with this generation
                         # S->P  gen 8s: ...and its card now says so (metadata written)
T_UNCONF = const(0x13)   # S->P  {start u32, count u32}*: a demoted old primary's record of
                         # its unconfirmed writes (roles.py): compare these blocks too
# Mirrored writes
T_WRITE = const(0x20)    # P->S  wid u32, block u32, data
T_WACK = const(0x21)     # S->P  wid u32: every write and repair up to wid is durable
# Comparison (either side may compare; see node.py)
T_SUMS = const(0x30)     # tag u8, flags u8, span u32, {start u32, n u16, n digests}*
T_SUMREQ = const(0x31)   # tag u8, flags u8, span u32, {start u32, n u16}*
T_BREQ = const(0x32)     # S->P  tag u8, {block u32, count u16}*
T_DATA = const(0x33)     # P->S  tag u8, flags u8, wid u32, {block u32, count u16, data}*
T_SCAN = const(0x34)     # P->S  tag u8, start u32, count u32, gsize u32: run a scan pass
T_ROOT = const(0x35)     # tag u8, root digest: the sender's pass is complete
T_BARRIER = const(0x36)  # P->S  tag u8: all root work of epoch `tag` has been sent
T_DONE = const(0x37)     # S->P  tag u8: epoch `tag` is complete on the secondary
# Reads served by the peer (heal.py): a block the primary's card cannot give
T_RREQ = const(0x40)     # P->S  rid u32, block u32, count u16: read these from your card
T_RDATA = const(0x41)    # S->P  rid u32, status u8 (0 = read, else failed), data

F_REPLY = const(1)       # SUMS/DATA flag: answers a SUMREQ/BREQ (not unsolicited)
F_RECHECK = const(2)     # SUMREQ/SUMS flag: a re-check of a block written meanwhile

SUMS_HDR = const(6)
SUMREQ_HDR = const(6)
ENTRY = const(6)         # start u32 + n u16
DATA_HDR = const(6)
RREQ_SIZE = const(10)
RDATA_HDR = const(5)
