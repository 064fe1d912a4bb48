"""The link between two emulated boards, through a fault proxy.

Both boards are TCP *clients* of the proxy: board A connects to ``127.0.0.1:port_a``, board B
to ``127.0.0.1:port_b``, and the proxy relays bytes both ways. Either board can restart and
reconnect; a new connection on a side replaces the old one.

Modes
-----
``eth``   a plain TCP relay (optionally with faults). Models an Ethernet/TCP link: when one
          side's connection closes, the proxy closes the other side too (the end-to-end TCP
          session is gone), so each board sees its connection drop and reconnects.
          The fault unit is a *segment*: a piece of at most 1460 bytes as read from a socket.
``uart``  the same sockets, paced at ``baud / 10`` bytes per second per direction (8N1: ten
          bit times per byte; 115200 baud -> 11,520 B/s). Models a UART wire: a side that
          disconnects does not affect the other, and bytes sent toward a side that is not
          connected are lost. The fault unit is a *byte*.

Faults (settable at run time, from this process or through the control port)
-----------------------------------------------------------------------------
``down(how="blackhole")`` cut the cable. Default ``blackhole``: connections stay open but
          every byte, including the ones in flight, is lost until ``up()``. That is what a cut
          cable does to a UART and to a TCP session between distant sites (nothing arrives, no
          reset is seen; the firmware must notice by timeouts). ``how="reset"`` closes both
          connections and closes every new connection at once (connect succeeds, then EOF)
          until ``up()``: a LAN switch port going down with the peer's stack resetting.
``up()``  restore the link.
``drop(p)``     drop each unit (byte / segment) with probability p.
``corrupt(p)``  flip one random bit in each unit with probability p.
``delay(ms)``   one-way latency added to each direction.
``rate(bps)``   bandwidth cap in *bytes* per second per direction (0 = no cap); in uart mode
                the effective rate is min(baud/10, cap).
``clear()``     all faults off, link up.

The random faults come from one ``random.Random`` per direction seeded from ``seed``, so with
a fixed seed and the same byte stream the same bytes are dropped/corrupted (in uart mode the
outcome does not depend on how the stream was chunked).

Counters, per direction (``a_to_b``, ``b_to_a``): ``bytes_in`` (read from the source),
``bytes_out`` (delivered), ``dropped``, ``corrupted`` (units), ``dropped_bytes``, ``lost`` (bytes lost because
the link was down or the destination was not connected). ``stats()`` returns them with the
fault settings and connection state.

Control channel: ``LinkProxy(control_port=0)`` serves ``control.ControlServer`` with the
commands in ``handlers()`` (``stats``, ``down``, ``up``, ``drop``, ``corrupt``, ``delay``,
``rate``, ``clear``, ``reset``); ``ProxyClient(port).send("drop", p=0.1)``.
With ``state_path`` the fault settings are written to that JSON file on every change.
"""
import collections
import json
import os
import random
import select
import socket
import threading
import time

from .control import ControlClient, ControlError, ControlServer, close_quietly, wake

__all__ = ["LinkProxy", "ProxyClient", "LinkError", "ControlError", "MODES", "DOWN_HOW"]

HOST = "127.0.0.1"
MODES = ("uart", "eth")
DOWN_HOW = ("blackhole", "reset")
SEGMENT = 1460          # eth fault unit and the largest piece queued at once
PIECE_S = 0.005         # a paced direction delivers in pieces of this many seconds of wire time
TICK = 0.05             # longest select() wait of the relay loop


class LinkError(Exception):
    """Bad parameter or state of the link proxy."""


class ProxyClient(ControlClient):
    """Client of a proxy's control port: ``ProxyClient(port).send("drop", p=0.1)``."""


def _check_p(p, what):
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise LinkError("%s probability must be a number, got %r" % (what, p))
    if not 0.0 <= p <= 1.0:
        raise LinkError("%s probability must be between 0 and 1, got %g" % (what, p))
    return p


def _check_nonneg(v, what):
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise LinkError("%s must be a number, got %r" % (what, v))
    if v < 0 or v != v or v == float("inf"):
        raise LinkError("%s must be a finite number >= 0, got %r" % (what, v))
    return v


class _Side:
    def __init__(self, name):
        self.name = name
        self.listener = None
        self.conn = None
        self.connects = 0


class _Direction:
    def __init__(self, name, src, dst, rng):
        self.name = name
        self.src = src
        self.dst = dst
        self.rng = rng
        self.queue = collections.deque()   # [deliver_at, bytes]
        self.queued = 0
        self.wire_free_at = 0.0
        self.last_deliver_at = 0.0
        self.stats = dict(bytes_in=0, bytes_out=0, dropped=0, dropped_bytes=0, corrupted=0, lost=0)

    def clear_queue(self):
        n = self.queued
        self.queue.clear()
        self.queued = 0
        self.stats["lost"] += n
        return n


class LinkProxy:
    """Fault-injecting relay between two TCP clients (see the module docstring)."""

    def __init__(self, mode="uart", baud=115200, port_a=0, port_b=0, seed=None,
                 control_port=None, state_path=None, names=("a", "b"), log_path=None):
        if mode not in MODES:
            raise LinkError("link mode must be one of %s, got %r" % ("/".join(MODES), mode))
        baud = int(baud)
        if baud <= 0:
            raise LinkError("baud must be > 0")
        self.mode = mode
        self.baud = baud
        self.seed = seed
        self.names = tuple(names)
        self.state_path = state_path
        self.log_path = log_path
        self._logf = None
        self._want = (port_a, port_b)
        self._want_control = control_port
        self.control = None
        self.port_a = self.port_b = None
        self._a = _Side(self.names[0])
        self._b = _Side(self.names[1])
        base = random.Random(seed)
        s1, s2 = base.getrandbits(64), base.getrandbits(64)
        self._dirs = (_Direction("%s_to_%s" % self.names, self._a, self._b, random.Random(s1)),
                      _Direction("%s_to_%s" % self.names[::-1], self._b, self._a, random.Random(s2)))
        self._down = False
        self._down_how = "blackhole"
        self._drop = 0.0
        self._corrupt = 0.0
        self._delay = 0.0      # seconds
        self._rate = 0.0       # bytes/s cap, 0 = none
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = None
        self._wake_r = self._wake_w = None
        self._kick_close = False
        self.started_at = None

    # ------------------------------------------------------------------ life cycle
    def start(self):
        for side, port in ((self._a, self._want[0]), (self._b, self._want[1])):
            lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lst.bind((HOST, port))
            lst.listen(4)
            lst.setblocking(False)
            side.listener = lst
        self.port_a = self._a.listener.getsockname()[1]
        self.port_b = self._b.listener.getsockname()[1]
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.started_at = time.monotonic()
        if self.log_path:
            self._logf = open(self.log_path, "a", buffering=1)
        self._event("start: mode %s, %s on port %d, %s on port %d" % (
            self.mode, self._a.name, self.port_a, self._b.name, self.port_b))
        self._thread = threading.Thread(target=self._run, name="linkproxy", daemon=True)
        self._thread.start()
        if self._want_control is not None:
            self.control = ControlServer(self.handlers(), port=self._want_control, name="link").start()
        self._save()
        return self

    def stop(self, timeout=2.0):
        if self.control is not None:
            self.control.stop(timeout)
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        for side in (self._a, self._b):
            close_quietly(side.conn, side.listener)
            side.conn = side.listener = None
        close_quietly(self._wake_r, self._wake_w)
        self._wake_r = self._wake_w = None
        self._event("stop")
        if self._logf is not None:
            self._logf.close()
            self._logf = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def control_port(self):
        return self.control.port if self.control is not None else None

    @property
    def effective_rate(self):
        """Bytes per second each direction is paced at (0 = unpaced)."""
        rates = []
        if self.mode == "uart":
            rates.append(self.baud / 10.0)
        if self._rate:
            rates.append(self._rate)
        return min(rates) if rates else 0.0

    # ------------------------------------------------------------------ faults API
    def down(self, how="blackhole"):
        if how not in DOWN_HOW:
            raise LinkError("down mode must be one of %s, got %r" % ("/".join(DOWN_HOW), how))
        with self._lock:
            self._down = True
            self._down_how = how
            for d in self._dirs:
                d.clear_queue()
            if how == "reset":
                self._kick_close = True
        self._wake()
        self._save()
        return self.faults()

    def up(self):
        with self._lock:
            self._down = False
        self._save()
        return self.faults()

    def drop(self, p):
        p = _check_p(p, "drop")
        with self._lock:
            self._drop = p
        self._save()
        return self.faults()

    def corrupt(self, p):
        p = _check_p(p, "corrupt")
        with self._lock:
            self._corrupt = p
        self._save()
        return self.faults()

    def delay(self, ms):
        ms = _check_nonneg(ms, "delay (ms)")
        with self._lock:
            self._delay = ms / 1000.0
        self._save()
        return self.faults()

    def rate(self, bps):
        bps = _check_nonneg(bps, "rate (bytes/s)")
        with self._lock:
            self._rate = bps
        self._save()
        return self.faults()

    def clear(self):
        with self._lock:
            self._down = False
            self._drop = self._corrupt = self._delay = self._rate = 0.0
        self._save()
        return self.faults()

    def reset_counters(self):
        with self._lock:
            for d in self._dirs:
                for k in d.stats:
                    d.stats[k] = 0
        return self.stats()

    def faults(self):
        with self._lock:
            return {"down": self._down, "down_how": self._down_how, "drop": self._drop,
                    "corrupt": self._corrupt, "delay_ms": self._delay * 1000.0,
                    "rate": self._rate}

    def stats(self):
        with self._lock:
            out = {"mode": self.mode, "baud": self.baud, "seed": self.seed,
                   "effective_rate": self.effective_rate,
                   "ports": {self._a.name: self.port_a, self._b.name: self.port_b},
                   "connected": {self._a.name: self._a.conn is not None,
                                 self._b.name: self._b.conn is not None},
                   "connects": {self._a.name: self._a.connects, self._b.name: self._b.connects},
                   "faults": self.faults()}
            for d in self._dirs:
                st = dict(d.stats)
                st["queued"] = d.queued
                out[d.name] = st
            return out

    def handlers(self):
        """Control-channel commands: name -> callable(**kw) -> dict."""
        def _stats():
            return {"stats": self.stats()}
        return {
            "stats": _stats,
            "status": _stats,
            "down": lambda how="blackhole": {"faults": self.down(how)},
            "up": lambda: {"faults": self.up()},
            "drop": lambda p: {"faults": self.drop(p)},
            "corrupt": lambda p: {"faults": self.corrupt(p)},
            "delay": lambda ms: {"faults": self.delay(ms)},
            "rate": lambda bps: {"faults": self.rate(bps)},
            "clear": lambda: {"faults": self.clear()},
            "reset": lambda: {"stats": self.reset_counters()},
        }

    def command(self, cmd, **kw):
        """Run a control command in-process; same replies as the control channel."""
        srv = ControlServer(self.handlers())
        req = dict(kw)
        req["cmd"] = cmd
        return srv.dispatch(req)

    # ------------------------------------------------------------------ internals
    def _event(self, text):
        if self._logf is not None:
            try:
                self._logf.write("%s %s\n" % (time.strftime("%H:%M:%S"), text))
            except (OSError, ValueError):
                pass

    def _save(self):
        self._event("faults: %s" % json.dumps(self.faults(), sort_keys=True))
        if not self.state_path:
            return
        data = {"mode": self.mode, "baud": self.baud, "seed": self.seed,
                "ports": {self._a.name: self.port_a, self._b.name: self.port_b},
                "control_port": self.control_port, "faults": self.faults()}
        tmp = "%s.tmp%d" % (self.state_path, os.getpid())
        try:
            with open(tmp, "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(tmp, self.state_path)
        except OSError:
            pass

    def _wake(self):
        wake(self._wake_w)

    def _cap(self):
        # stop reading from a source when this many bytes wait in its direction's queue
        r = self.effective_rate
        if r:
            return max(256, int(r * 0.25))
        return 1 << 20

    def _close_conn(self, side, why=""):
        if side.conn is not None:
            self._event("%s disconnected%s" % (side.name, ": " + why if why else ""))
            try:
                side.conn.close()
            except OSError:
                pass
            side.conn = None
        for d in self._dirs:
            if d.dst is side:
                d.clear_queue()

    def _accept(self, side):
        try:
            conn, _ = side.listener.accept()
        except OSError:
            return
        if self._down and self._down_how == "reset":
            self._event("%s connection refused (link down, reset)" % side.name)
            conn.close()
            return
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if side.conn is not None:
            self._close_conn(side, "replaced by a new connection")
        side.conn = conn
        side.connects += 1
        self._event("%s connected (#%d)" % (side.name, side.connects))

    def _faults(self, d, piece):
        """Apply drop/corrupt to one piece; returns the bytes that go on."""
        drop, corrupt, rng = self._drop, self._corrupt, d.rng
        if not drop and not corrupt:
            return piece
        if self.mode == "eth":
            if drop and rng.random() < drop:
                d.stats["dropped"] += 1
                d.stats["dropped_bytes"] += len(piece)
                return b""
            if corrupt and rng.random() < corrupt:
                b = bytearray(piece)
                i = rng.randrange(len(b))
                b[i] ^= 1 << rng.randrange(8)
                d.stats["corrupted"] += 1
                return bytes(b)
            return piece
        out = bytearray()
        rand = rng.random
        for byte in piece:
            if drop and rand() < drop:
                d.stats["dropped"] += 1
                d.stats["dropped_bytes"] += 1
                continue
            if corrupt and rand() < corrupt:
                byte ^= 1 << rng.randrange(8)
                d.stats["corrupted"] += 1
            out.append(byte)
        return bytes(out)

    def _ingest(self, d, data, now):
        d.stats["bytes_in"] += len(data)
        if self._down:
            d.stats["lost"] += len(data)
            return
        rate = self.effective_rate
        size = max(1, min(SEGMENT, int(rate * PIECE_S))) if rate else SEGMENT
        for i in range(0, len(data), size):
            piece = data[i:i + size]
            if rate:
                start = max(now, d.wire_free_at)
                d.wire_free_at = start + len(piece) / rate
                at = d.wire_free_at + self._delay
            else:
                at = now + self._delay
            at = max(at, d.last_deliver_at)   # a wire never reorders
            d.last_deliver_at = at
            piece = self._faults(d, piece)
            if piece:
                d.queue.append([at, piece])
                d.queued += len(piece)

    def _deliver(self, d, now):
        while d.queue and d.queue[0][0] <= now:
            at, piece = d.queue[0]
            if d.dst.conn is None:
                d.queue.popleft()
                d.queued -= len(piece)
                d.stats["lost"] += len(piece)
                continue
            try:
                n = d.dst.conn.send(piece)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self._peer_gone(d.dst, "send failed: %s" % e)
                return
            d.stats["bytes_out"] += n
            d.queued -= n
            if n < len(piece):
                d.queue[0][1] = piece[n:]
                return
            d.queue.popleft()

    def _peer_gone(self, side, why):
        self._close_conn(side, why)
        if self.mode == "eth":
            other = self._b if side is self._a else self._a
            self._close_conn(other, "peer %s gone (eth: end-to-end session reset)" % side.name)

    def _run(self):
        sides = (self._a, self._b)
        while not self._stop.is_set():
            with self._lock:
                if self._kick_close:
                    self._kick_close = False
                    for s in sides:
                        self._close_conn(s, "link down (reset)")
                now = time.monotonic()
                rlist = [self._wake_r] + [s.listener for s in sides if s.listener is not None]
                wlist = []
                timeout = TICK
                cap = self._cap()
                for d in self._dirs:
                    if d.src.conn is not None and d.queued < cap:
                        rlist.append(d.src.conn)
                    if d.queue:
                        due = d.queue[0][0] - now
                        if due <= 0:
                            if d.dst.conn is not None:
                                wlist.append(d.dst.conn)
                            else:
                                timeout = 0
                        else:
                            timeout = min(timeout, due)
            try:
                r, _w, _ = select.select(rlist, wlist, [], max(0.0, timeout))
            except (OSError, ValueError):
                r = []   # a socket was closed under us; rebuild the lists
            with self._lock:
                now = time.monotonic()
                if self._wake_r in r:
                    try:
                        os.read(self._wake_r, 4096)
                    except OSError:
                        pass
                for side in sides:
                    if side.listener is not None and side.listener in r:
                        self._accept(side)
                for d in self._dirs:
                    c = d.src.conn
                    if c is not None and c in r:
                        try:
                            data = c.recv(SEGMENT if self.mode == "eth" else 4096)
                        except (BlockingIOError, InterruptedError):
                            continue
                        except OSError as e:
                            data = str(e)
                        if not data or isinstance(data, str):
                            self._peer_gone(d.src, data or "closed by the board")
                            continue
                        self._ingest(d, data, now)
                now = time.monotonic()
                for d in self._dirs:
                    self._deliver(d, now)
