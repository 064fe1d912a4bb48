# The secondary's side of reads served by the peer (heal.py): answers T_RREQ from its
# card, one request at a time, from one buffer. The read is issued behind the writes
# already received (storage requests complete in order), so it returns the newest data.
import struct
from micropython import const

from mirror import proto as P
from mirror.node import A_READ, IO_OWNED

_SERVE_QUEUE = const(4)


class ReadServer:
    def __init__(self, node):
        self.node = node
        self.q = []  # (rid, block, count) waiting, oldest first
        self._buf = bytearray(P.RDATA_HDR + node.cfg.frame_blocks * 512)
        self._mv = memoryview(self._buf)
        self._cur = None  # the request being read from the card
        self._busy = False
        self._reply = 0  # bytes of _buf to send, 0: none

    def on_request(self, p):
        if len(p) < P.RREQ_SIZE or len(self.q) >= _SERVE_QUEUE:
            return  # a well-behaved primary asks one at a time
        self.q.append(struct.unpack_from("<IIH", p, 0))
        self._next()

    def _next(self):
        if self._busy or self._reply or not self.q:
            return
        rid, block, n = self.q[0]
        struct.pack_into("<IB", self._buf, 0, rid, 1)
        node = self.node
        if n < 1 or n > node.cfg.frame_blocks or block + n > node.nblocks:
            self._reply = P.RDATA_HDR  # refused: status 1
            self.flush()
            return
        self._busy = True
        self._cur = self.q[0]
        node._io.append((IO_OWNED, self, 0))
        node.emit(A_READ, block, self._mv[P.RDATA_HDR:P.RDATA_HDR + n * 512])

    def io_done(self, ok, what):
        self._busy = False
        cur = self._cur
        self._cur = None
        if cur is None or not self.q or self.q[0] is not cur:
            self._next()  # the session that asked is gone
            return
        self._buf[4] = 0 if ok else 1
        self._reply = P.RDATA_HDR + (cur[2] * 512 if ok else 0)
        self.flush()

    def flush(self):
        if self._reply and self.node._send_now(P.T_RDATA, self._mv[:self._reply]):
            self._reply = 0
            self.q.pop(0)
            self._next()

    def lost(self):
        self.q = []
        self._cur = None
        self._reply = 0
