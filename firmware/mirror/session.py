# The link session: authenticated handshake and reliable, in-order delivery of messages
# over a byte stream that may drop, corrupt, duplicate, delay or split data.
#
# Handshake: each side sends HELLO(version, established, my_nonce, peer_nonce, info). A side
# is established once it receives a HELLO echoing its own fresh nonce, which proves the peer
# is live (not a replay). With a shared key, HELLO frames are tagged with the long-term key
# and every later frame with a per-session key derived from both nonces, so frames from an
# older session (or a replay) fail authentication.
#
# Delivery: go-back-N sliding window, 16-bit sequence numbers, cumulative acks piggybacked on
# every frame (a bare ACK when there is nothing to send), retransmission on an adaptive
# timeout (SRTT/RTTVAR as in TCP, Karn's rule, exponential backoff), duplicates dropped.
# Liveness: any frame is proof of life. A side sends a keepalive (a bare ACK) only when it
# has sent nothing for keepalive_ms. A peer that owes us an acknowledgement (frames of ours
# in flight) is declared gone after dead_ms of silence; an idle peer owes us its keepalive
# by keepalive_ms, and once that is overdue we probe it (an ACK asking for an immediate
# answer, a few times within dead_ms, so one lost keepalive does not end the session): it
# is declared gone after keepalive_ms + dead_ms of silence. A peer owing us an ack is
# probed too when silent for a quarter of dead_ms. Detecting a silent peer within
# T needs a frame every T from each side, 2 x 25-27 bytes keyed: the default keepalive of
# 30 s keeps an idle or long-scanning pair at <= 1.8 B/s (issue 9's goal: 2 B/s), and a
# pair with writes in flight still notices a dead link within dead_ms (8 s).
#
# Replays within a session: the 16-bit numbers wrap every 65,536 frames (32 MiB of
# single-block writes), and a frame recorded one lap earlier would then be taken for the
# expected one. So each side also counts the laps of both numbers, and the HMAC of every
# session frame covers (sender's end, seq lap, seq, ack lap, ack), the 48-bit values as
# both sides reconstruct them (as SRTP's rollover counter): the wire is unchanged, and a
# frame from another lap, or reflected back to its sender, fails authentication. Under one
# session key no (role, seq, lap) repeats for 2^47 frames.
# Each direction starts its numbers at a value taken from the sender's nonce (_isn); with
# a key, 256 or fewer before the wrap: a session's numbers wrap early, and the simulator
# crosses the wrap in ordinary seeds rather than only in 65,536-frame ones.
#
# A HELLO with an unknown nonce while a session is up may be the peer restarting, or an
# old HELLO replayed (it is authentic: the long-term key made it). It does not tear the
# session down: this side answers with a fresh nonce of its own (a challenge) and moves to
# the new session only when an established HELLO echoes that nonce, which no recording can.
import hashlib
import struct
from micropython import const

from mirror import auth
from mirror.frames import TAG, FrameCodec

T_HELLO = const(1)  # unsequenced, long-term key
T_ACK = const(2)  # unsequenced, session key: ack / keepalive; seq 1: a probe, answer now
VERSION = const(1)
NONCE = const(16)

DOWN = const(0)
HANDSHAKE = const(1)
UP = const(2)

_HELLO_HDR = const(2 + 2 * NONCE)
_NO_NONCE = bytes(NONCE)
_CHALLENGES = const(16)  # challenge HELLOs sent for one unknown nonce (one per hello_ms)
_CTX = "<BiHiH"  # the sender's end, seq lap, seq, ack lap, ack: MACed, never sent


def _seq_diff(a, b):
    """a - b in 16-bit sequence space."""
    return (a - b) & 0xFFFF


def _lap_of(v, ref, ref_lap):
    """The lap of 16-bit number v, the nearest in 48-bit space to ref (of lap ref_lap)."""
    if _seq_diff(v, ref) < 0x8000:
        return ref_lap + 1 if v < ref else ref_lap
    return ref_lap - 1 if v > ref else ref_lap


def _isn(nonce, keyed):
    """The first number of a direction, from its sender's nonce. Keyed: within 256 of the
    wrap, so every session longer than that crosses it and the lap code runs early in
    ordinary sessions (and the simulator's), not after 65,536 frames; frames of another
    session fail authentication whatever their numbers. Unkeyed, nothing tells sessions
    apart but the numbers: all 16 bits, so a late frame of the last session is unlikely
    to carry the number the new one expects."""
    return 0xFF00 | nonce[0] if keyed else nonce[0] | nonce[1] << 8


class Session:
    """Reliable session; `upper` receives on_message(ftype, payload), on_established(info)
    and on_lost(reason). Outgoing bytes accumulate in a buffer the runtime drains."""

    def __init__(self, cfg, upper, nonce_seed):
        self.cfg = cfg
        self.upper = upper
        self.key = cfg.key
        self._session_key = None
        w = cfg.window
        self.window = w
        self._ack_every = max(2, w // 2)
        self.codec = FrameCodec(cfg.max_payload, TAG if cfg.key else 0, self._key_for,
                                cfg.framing, self._context)
        self._dir = 1  # which end of the session we are: 1 if our nonce is the lower
        self._ctx = bytearray(struct.calcsize(_CTX))
        self._slots = [bytearray(cfg.max_payload) for _ in range(w)]
        self._slot_len = [0] * w
        self._slot_type = bytearray(w)
        self._slot_time = [0] * w
        self._slot_retx = bytearray(w)
        self._txcap = 2 * self.codec.max_wire
        self._tx = bytearray(self._txcap)
        self._txmv = memoryview(self._tx)
        self._txh = 0
        self._txt = 0
        self._hello = bytearray(_HELLO_HDR + 64)
        self._nonce_seed = bytes(nonce_seed)
        self._nonce_count = 0
        self.nonce = bytes(NONCE)
        self.peer_nonce = None
        self._challenge = None  # our fresh nonce, sent to a HELLO of an unknown peer nonce
        self._unproven = None  # ...that nonce
        self._challenge_due = 0
        self._challenge_tries = 0
        self.state = DOWN
        self.rto = cfg.rto_init_ms
        self._now = 0  # the time of the bytes receive() is handling
        self._srtt = -1
        self._rttvar = 0
        self.stats = {"frames_out": 0, "bytes_out": 0, "retransmits": 0, "dup_in": 0,
                      "gap_in": 0, "hellos_out": 0, "timeouts": 0, "sessions": 0,
                      "challenges": 0, "keepalive_bytes": 0}
        self._keepalive = False  # the due ack is a keepalive (nothing else was sent)
        self._probe = False  # the due ack asks the peer for an immediate answer
        self._reset_seq(0)

    # -- state -------------------------------------------------------------------------
    def _reset_seq(self, now):
        # numbers start from the nonces (see the top); laps count their wraps, and _nslot
        # is the window slot of _next (seq % window would not do: 65,536 is no multiple
        # of a window of 6, and slots would collide across the wrap)
        keyed = self.key is not None
        isn = _isn(self.nonce, keyed)
        self._base = isn
        self._next = isn
        self._txpos = isn
        self._wire = 0  # wire_size() of the frames base..txpos, kept as they move (_timeout)
        self._next_lap = 0
        self._base_lap = 0
        self._nslot = 0
        self._expect = _isn(self.peer_nonce, keyed) if self.peer_nonce else 0
        self._expect_lap = 0
        self._ack_due = -1
        self._ack_count = 0
        self._last_rx = now
        self._last_tx = now
        self._owed = now  # since when the peer owes us an ack (frames of ours in flight)
        self._probe_due = now
        self._hello_due = now
        if self._txt > self._txh:
            # a frame may be half-sent: a delimiter makes the peer drop just that one
            self._tx[0] = 0
            self._txt = 1
        else:
            self._txt = 0
        self._txh = 0

    def rebase(self, d):
        """The runtime's clock moved back by d ms (it does so every few days so that times
        stay small ints on 32-bit ports): shift every stored time with it. A past time
        older than the new epoch becomes 0, still older than any timeout here."""
        self._last_rx = max(self._last_rx - d, 0)
        self._last_tx = max(self._last_tx - d, 0)
        self._owed = max(self._owed - d, 0)
        self._probe_due = max(self._probe_due - d, 0)
        self._hello_due = max(self._hello_due - d, 0)
        if self._ack_due >= 0:  # -1: no acknowledgement due
            self._ack_due = max(self._ack_due - d, 0)
        self._now = max(self._now - d, 0)
        self._challenge_due = max(self._challenge_due - d, 0)
        st = self._slot_time
        for i in range(len(st)):
            st[i] = max(st[i] - d, 0)

    def _fresh_nonce(self):
        self._nonce_count += 1
        h = hashlib.sha256(self._nonce_seed)
        h.update(struct.pack("<I", self._nonce_count))
        return h.digest()[:NONCE]

    def _new_nonce(self):
        self.nonce = self._fresh_nonce()
        self.peer_nonce = None
        self._session_key = None
        self._challenge = None

    def _key_for(self, ftype):
        return self.key if ftype == T_HELLO else self._session_key

    def _context(self, ftype, seq, ack, tx):
        """What the HMAC of a session frame covers beyond its bytes (see the top)."""
        if ftype == T_HELLO:
            return None
        if tx:
            role = self._dir
            seq_lap = _lap_of(seq, self._next, self._next_lap)
            ack_lap = self._expect_lap  # a frame always carries our current _expect
        else:
            role = 3 - self._dir
            seq_lap = _lap_of(seq, self._expect, self._expect_lap)
            ack_lap = _lap_of(ack, self._base, self._base_lap)
        if ftype == T_ACK:
            seq_lap = 0  # an ack's seq field is not a number (0)
        struct.pack_into(_CTX, self._ctx, 0, role, seq_lap, seq, ack_lap, ack)
        return self._ctx

    def _slot(self, seq):
        """The window slot of seq, a number in the window (at most `window` before _next)."""
        return (self._nslot - _seq_diff(self._next, seq)) % self.window

    @property
    def established(self):
        return self.state == UP

    # -- events from the runtime -----------------------------------------------------
    def open(self, now):
        """The transport is up (TCP connected, UART present): start the handshake."""
        self._reset_seq(now)
        self._new_nonce()
        self.state = HANDSHAKE
        self._send_hello(now)

    def close(self, now, reason="transport down"):
        """The transport went away."""
        was_up = self.state == UP
        self.state = DOWN
        self._reset_seq(now)
        if was_up:
            self.upper.on_lost(reason)

    def restart(self, now, reason):
        """Drop the session and handshake afresh (the upper layer hit an error)."""
        self._restart(now, reason)
        self._send_hello(now)

    def _restart(self, now, reason):
        was_up = self.state == UP
        self.state = HANDSHAKE
        self._reset_seq(now)
        self._new_nonce()
        if was_up:
            self.upper.on_lost(reason)

    def receive(self, data, now, n=-1):
        if self.state == DOWN:
            return
        self._now = now
        self.codec.feed(data, self._on_frame, n)
        # Frames, yes; a bare ack waits for the next tick, so that an answer the upper
        # layer sends in the meantime (a write confirmation) carries it instead.
        self.pump(now, False)

    def tick(self, now):
        st = self.state
        if st == DOWN:
            return
        if st == HANDSHAKE:
            if now >= self._hello_due:
                self._send_hello(now)
            return
        if now > self._dead_at():
            self.stats["timeouts"] += 1
            self._restart(now, "peer silent")
            self._send_hello(now)
            return
        if now >= self._probe_at():
            self._probe_due = now + max(self.cfg.rto_min_ms, self.cfg.dead_ms // 4)
            self._ack_due = now
            self._keepalive = self._probe = True
        if self._txpos != self._base:
            slot = self._slot(self._base)
            if now - self._slot_time[slot] >= self._timeout():
                self._go_back(now)
        if self._challenge is not None and now >= self._challenge_due:
            self._challenge_again(now)
        if self._ack_due < 0 and now - self._last_tx >= self.cfg.keepalive_ms:
            self._ack_due = now
            self._keepalive = True
        self.pump(now)

    def next_deadline(self):
        """Earliest time at which tick() has something to do (None: nothing scheduled)."""
        st = self.state
        if st == DOWN:
            return None
        if st == HANDSHAKE:
            return self._hello_due
        # _dead_at() and _probe_at() inlined, term for term: the runtime asks after every
        # event (runtime.py's poll loop, each pass), so two calls fewer count on a board
        cfg = self.cfg
        if self._txpos != self._base:  # the peer owes us an ack
            owed = max(self._last_rx, self._owed)
            t = min(owed + cfg.dead_ms + 1,
                    self._slot_time[self._slot(self._base)] + self._timeout())
            t = min(t, max(owed + cfg.dead_ms // 4, self._probe_due))
        else:
            quiet = self._last_rx + cfg.keepalive_ms
            t = min(quiet + cfg.dead_ms + 1, max(quiet + self.rto, self._probe_due))
        t = min(t, self._ack_due if self._ack_due >= 0 else self._last_tx + cfg.keepalive_ms)
        if self._challenge is not None:
            t = min(t, self._challenge_due)
        return t

    def _dead_at(self):
        """The last moment the peer may stay silent (see the top)."""
        if self._txpos != self._base:  # it owes us an ack
            return max(self._last_rx, self._owed) + self.cfg.dead_ms
        return self._last_rx + self.cfg.keepalive_ms + self.cfg.dead_ms

    def _probe_at(self):
        """When to probe a silent peer: an idle one when its keepalive is one RTO late; one
        that owes us an ack after a quarter of dead_ms (our retransmissions back off to
        rto_max, and it has nothing of its own to send: the probe's answer carries its ack)."""
        if self._txpos != self._base:
            t = max(self._last_rx, self._owed) + self.cfg.dead_ms // 4
        else:
            t = self._last_rx + self.cfg.keepalive_ms + self.rto
        return max(t, self._probe_due)

    # -- sending -----------------------------------------------------------------------
    def can_send(self):
        return self.state == UP and _seq_diff(self._next, self._base) < self.window

    def in_flight(self):
        return _seq_diff(self._next, self._base)

    def begin(self):
        """The buffer of the next window slot, to fill with a payload; None if full."""
        if not self.can_send():
            return None
        return self._slots[self._nslot]

    def commit(self, ftype, n, now):
        """Send the payload written into begin()'s buffer (n bytes) as message ftype."""
        slot = self._nslot
        if self._txpos == self._base:  # from now on the peer owes us an ack
            self._owed = now
        self._slot_len[slot] = n
        self._slot_type[slot] = ftype
        self._slot_retx[slot] = 0
        self._nslot = (slot + 1) % self.window
        self._next = (self._next + 1) & 0xFFFF
        if self._next == 0:
            self._next_lap += 1
        self.pump(now)

    def send(self, ftype, payload, now):
        buf = self.begin()
        if buf is None:
            return False
        n = len(payload)
        buf[:n] = payload
        self.commit(ftype, n, now)
        return True

    def _room(self, nbytes):
        if self._txcap - self._txt >= nbytes:
            return True
        if self._txh:
            n = self._txt - self._txh
            self._tx[:n] = bytes(self._txmv[self._txh:self._txt])
            self._txh = 0
            self._txt = n
        return self._txcap - self._txt >= nbytes

    def _emit(self, ftype, seq, payload, now):
        codec = self.codec
        end = codec.encode_into(self._tx, self._txt, ftype, seq, self._expect, payload)
        self.stats["frames_out"] += 1
        self.stats["bytes_out"] += end - self._txt
        if self._keepalive:
            self._keepalive = False  # liveness only: counted apart (benchmarks report it)
            if ftype == T_ACK:
                self.stats["keepalive_bytes"] += end - self._txt
        self._txt = end
        self._last_tx = now
        self._ack_due = -1
        self._ack_count = 0
        self._probe = False

    def pump(self, now, acks=True):
        """Move window frames (and a due ack) into the transmit buffer as room allows."""
        if self.state != UP:
            return
        codec = self.codec
        while self._txpos != self._next:
            slot = self._slot(self._txpos)
            n = self._slot_len[slot]
            size = codec.wire_size(n)
            if not self._room(size):
                return
            self._slot_time[slot] = now
            self._emit(self._slot_type[slot], self._txpos,
                       memoryview(self._slots[slot])[:n], now)
            self._txpos = (self._txpos + 1) & 0xFFFF
            self._wire += size
        if acks and 0 <= self._ack_due <= now and self._room(codec.wire_size(0)):
            self._emit(T_ACK, 1 if self._probe else 0, b"", now)

    def _timeout(self):
        """How long the oldest unacknowledged frame may wait. On a slow link (link_rate
        bytes/s known, as on a UART) add the wire time of everything in flight: those bytes
        queue in the UART and its driver, ahead of the acknowledgement, and an RTT learnt
        from small frames knows nothing of them."""
        rate = self.cfg.link_rate
        if not rate:
            return self.rto
        # (the sum is kept as frames go out and are acknowledged, not added up here: the
        # runtime asks for next_deadline() after every event, and this with it)
        return self.rto + self._wire * 1000 // rate

    def _go_back(self, now):
        """Retransmission timeout: resend the whole window from its oldest frame."""
        n = _seq_diff(self._txpos, self._base)
        self.stats["retransmits"] += n
        for i in range(n):
            self._slot_retx[self._slot((self._base + i) & 0xFFFF)] = 1
        self._txpos = self._base
        self._wire = 0
        self.rto = min(self.rto * 2, self.cfg.rto_max_ms)
        self.pump(now)

    def tx_view(self):
        """Bytes waiting to go out on the transport."""
        return self._txmv[self._txh:self._txt]

    def tx_done(self, n):
        """The runtime wrote n bytes of tx_view() to the transport."""
        self._txh += n
        if self._txh >= self._txt:
            self._txh = 0
            self._txt = 0

    # -- handshake -----------------------------------------------------------------------
    def _send_hello(self, now, challenge=None):
        """Our HELLO; or, given challenge (our fresh nonce), one that echoes the unknown
        peer nonce self._unproven and asks for an answer (established 0)."""
        info = self.upper.hello_info()
        h = self._hello
        h[0] = VERSION
        h[1] = 1 if self.state == UP and challenge is None else 0
        h[2:2 + NONCE] = challenge or self.nonce
        echo = self._unproven if challenge else self.peer_nonce
        h[2 + NONCE:_HELLO_HDR] = echo if echo else bytes(NONCE)
        n = _HELLO_HDR + len(info)
        if n > len(h):
            raise ValueError("hello info too long")
        h[_HELLO_HDR:n] = info
        self._hello_due = now + self.cfg.hello_ms
        if self._room(self.codec.wire_size(n)):
            end = self.codec.encode_into(self._tx, self._txt, T_HELLO, 0, 0,
                                         memoryview(h)[:n])
            self.stats["hellos_out"] += 1
            self.stats["bytes_out"] += end - self._txt
            self._txt = end
            self._last_tx = now

    def _on_hello(self, p, now):
        if len(p) < _HELLO_HDR or p[0] != VERSION:
            self.codec.malformed += 1
            return
        peer_est = p[1]
        their = bytes(p[2:2 + NONCE])
        echo = bytes(p[2 + NONCE:_HELLO_HDR])
        if self.state == UP and their != self.peer_nonce:
            challenge = self._challenge
            if challenge is None or echo != challenge or not peer_est:
                # A peer starting afresh echoes nothing (or, still handshaking, our
                # challenge): challenge it. One echoing anything else is a recording
                # (or a live peer's own challenge, sent to a replayed nonce): ignore it.
                if echo == _NO_NONCE or echo == challenge:
                    self._challenge_hello(their, now)
                return
            # it echoed our fresh nonce: a live peer in a new session; start ours afresh
            # too, with the nonce it has already answered
            self._restart(now, "peer restarted")
            self.nonce = challenge
        new_peer = their != self.peer_nonce
        self.peer_nonce = their
        reply = new_peer or not peer_est
        if self.state != UP and echo == self.nonce:
            lo, hi = (self.nonce, their) if self.nonce < their else (their, self.nonce)
            self._dir = 1 if lo is self.nonce else 2
            if self.key:
                self._session_key = auth.session_key(self.key, lo, hi)
            self.state = UP
            self.stats["sessions"] += 1
            self._reset_seq(now)
            if reply:  # before any data frame, or the peer (not yet up) would drop them
                self._send_hello(now)
                reply = False
            self.upper.on_established(p[_HELLO_HDR:])
        if reply:
            self._send_hello(now)

    def _challenge_hello(self, their, now):
        """A HELLO of nonce `their` while up: keep the session, and send a fresh nonce for
        the peer to echo (at most one per hello_ms: a flood of replays sends little)."""
        self.stats["challenges"] += 1
        if self._challenge is None:
            self._challenge = self._fresh_nonce()
            self._challenge_tries = 0
        self._unproven = their
        if now >= self._challenge_due:
            self._challenge_again(now)

    def _challenge_again(self, now):
        """(Re)send the challenge: a restarted peer answers each one, so a lost answer is
        made good by the next; a recording never answers, and after _CHALLENGES tries the
        challenge is dropped (the session it would have replaced was never in doubt)."""
        if self._challenge_tries >= _CHALLENGES:
            self._challenge = None
            return
        self._challenge_tries += 1
        self._challenge_due = now + self.cfg.hello_ms
        due = self._hello_due
        self._send_hello(now, self._challenge)
        self._hello_due = due

    # -- receiving -----------------------------------------------------------------------
    def _on_frame(self, ftype, seq, ack, payload):
        now = self._now
        if ftype == T_HELLO:
            self._on_hello(payload, now)
            return
        if self.state != UP:
            return
        self._last_rx = now
        self._on_ack(ack, now)
        if ftype == T_ACK:
            if seq:  # a probe: answer at once (a plain ACK, never a probe: no ping-pong)
                self._ack_due = now
                self._keepalive = True
            return
        d = _seq_diff(seq, self._expect)
        if d == 0:
            self._expect = (self._expect + 1) & 0xFFFF
            if self._expect == 0:
                self._expect_lap += 1
            self._ack_count += 1
            # ack every half window (the sender keeps the pipe full), else after a delay
            full = self._ack_count >= self._ack_every
            self._ack_due = now if full else now + self.cfg.ack_delay_ms
            self.upper.on_message(ftype, payload)
        elif d >= 0x8000:
            self.stats["dup_in"] += 1
            self._ack_due = now
        else:
            self.stats["gap_in"] += 1
            self._ack_due = now

    def _on_ack(self, ack, now):
        n = _seq_diff(ack, self._base)
        if n == 0 or n > _seq_diff(self._txpos, self._base):
            return
        last = self._slot((ack - 1) & 0xFFFF)
        if not self._slot_retx[last]:
            self._rtt_sample(now - self._slot_time[last])
        self._base_lap = _lap_of(ack, self._base, self._base_lap)
        wire_size = self.codec.wire_size
        lens = self._slot_len
        slot = self._slot(self._base)  # the frames acknowledged sit in consecutive slots
        for _ in range(n):
            self._wire -= wire_size(lens[slot])
            slot = (slot + 1) % self.window
        self._base = ack
        self.upper.on_window()

    def _rtt_sample(self, r):
        if self._srtt < 0:
            self._srtt = r
            self._rttvar = r // 2
        else:
            self._rttvar = (3 * self._rttvar + abs(self._srtt - r)) // 4
            self._srtt = (7 * self._srtt + r) // 8
        rto = self._srtt + max(4 * self._rttvar, 10)
        self.rto = max(self.cfg.rto_min_ms, min(rto, self.cfg.rto_max_ms))

