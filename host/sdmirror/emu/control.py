"""A tiny JSON-lines control channel on 127.0.0.1.

Protocol: the client connects, writes one JSON object per line, and reads one JSON object per
line back. Every request has a ``"cmd"`` key; the other keys are the command's arguments::

    -> {"cmd": "drop", "p": 0.1}
    <- {"ok": true, "drop": 0.1}
    -> {"cmd": "nonsense"}
    <- {"ok": false, "error": "unknown command 'nonsense' (known: ...)"}

A server is a table of handlers ``name -> callable(**kwargs) -> dict``. Several components (the
link proxy, the emulator supervisor) add their handlers to one server, so a run has a single
control port. ``ControlClient(port).send(cmd, **kw)`` is the client side.
"""
import json
import os
import select
import socket
import threading
import time

HOST = "127.0.0.1"
MAX_LINE = 64 * 1024          # a request line longer than this closes the connection
MAX_CLIENTS = 16              # further connections are accepted and closed at once
IDLE_TIMEOUT = 60.0           # an idle client is dropped after this many seconds


class ControlError(Exception):
    """A control request failed: the server answered ok=false, or could not be reached."""


class ControlServer:
    """Serve JSON-lines commands on 127.0.0.1:port from one background thread."""

    def __init__(self, handlers=None, port=0, name="control"):
        self.handlers = dict(handlers or {})
        self.name = name
        self._want_port = port
        self.port = None
        self._listener = None
        self._thread = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def add_handlers(self, handlers):
        with self._lock:
            self.handlers.update(handlers)

    def start(self):
        lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind((HOST, self._want_port))
        lst.listen(8)
        lst.setblocking(False)
        self._listener = lst
        self.port = lst.getsockname()[1]
        self._thread = threading.Thread(target=self._run, name="%s-ctl" % self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=2.0):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def dispatch(self, request):
        """Run one request dict; always returns a reply dict with an "ok" key."""
        if not isinstance(request, dict):
            return {"ok": False, "error": "request must be a JSON object"}
        cmd = request.get("cmd")
        if not isinstance(cmd, str):
            return {"ok": False, "error": "request has no \"cmd\" string"}
        with self._lock:
            fn = self.handlers.get(cmd)
            known = sorted(self.handlers)
        if fn is None:
            return {"ok": False, "error": "unknown command %r (known: %s)" % (cmd, ", ".join(known))}
        kw = {k: v for k, v in request.items() if k != "cmd"}
        try:
            result = fn(**kw)
        except TypeError as e:
            return {"ok": False, "error": "bad arguments for %s: %s" % (cmd, e)}
        except Exception as e:  # a handler's failure is the client's answer, never the server's end
            return {"ok": False, "error": str(e) or e.__class__.__name__}
        reply = {"ok": True}
        if isinstance(result, dict):
            reply.update(result)
        elif result is not None:
            reply["result"] = result
        return reply

    def _run(self):
        clients = {}  # sock -> [inbuf, last_activity]
        try:
            while not self._stop.is_set():
                socks = [self._listener] + list(clients)
                try:
                    r, _, _ = select.select(socks, [], [], 0.1)
                except (OSError, ValueError):
                    r = []
                now = time.monotonic()
                for s in r:
                    if s is self._listener:
                        try:
                            conn, _ = self._listener.accept()
                        except OSError:
                            continue
                        if len(clients) >= MAX_CLIENTS:
                            conn.close()
                            continue
                        conn.setblocking(True)
                        conn.settimeout(5.0)
                        clients[conn] = [b"", now]
                        continue
                    try:
                        data = s.recv(4096)
                    except OSError:
                        data = b""
                    if not data:
                        self._close(clients, s)
                        continue
                    st = clients[s]
                    st[0] += data
                    st[1] = now
                    if len(st[0]) > MAX_LINE and b"\n" not in st[0]:
                        self._close(clients, s)
                        continue
                    while b"\n" in st[0]:
                        line, st[0] = st[0].split(b"\n", 1)
                        if not line.strip():
                            continue
                        try:
                            req = json.loads(line.decode("utf-8"))
                        except (ValueError, UnicodeDecodeError) as e:
                            reply = {"ok": False, "error": "bad JSON: %s" % e}
                        else:
                            reply = self.dispatch(req)
                        try:
                            s.sendall((json.dumps(reply, sort_keys=True) + "\n").encode())
                        except OSError:
                            self._close(clients, s)
                            break
                for s, st in list(clients.items()):
                    if now - st[1] > IDLE_TIMEOUT:
                        self._close(clients, s)
        finally:
            for s in list(clients):
                self._close(clients, s)
            try:
                self._listener.close()
            except OSError:
                pass

    @staticmethod
    def _close(clients, s):
        clients.pop(s, None)
        try:
            s.close()
        except OSError:
            pass


class ControlClient:
    """Send commands to a ControlServer: ``ControlClient(port).send("drop", p=0.1)``.

    Each ``send`` opens a connection, sends one request, reads one reply and closes. A reply
    with ok=false, or a server that cannot be reached, raises ControlError.
    """

    def __init__(self, port, host=HOST, timeout=5.0):
        self.port = int(port)
        self.host = host
        self.timeout = timeout

    def request(self, cmd, **kw):
        """Send one command and return the reply dict, whatever its "ok" value."""
        req = dict(kw)
        req["cmd"] = cmd
        line = (json.dumps(req) + "\n").encode()
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as s:
                s.settimeout(self.timeout)
                s.sendall(line)
                buf = b""
                deadline = time.monotonic() + self.timeout
                while b"\n" not in buf:
                    if time.monotonic() > deadline:
                        raise ControlError("no reply from control port %d" % self.port)
                    chunk = s.recv(65536)
                    if not chunk:
                        raise ControlError("control port %d closed the connection" % self.port)
                    buf += chunk
                    if len(buf) > 16 * MAX_LINE:
                        raise ControlError("reply too long")
        except (OSError, socket.timeout) as e:
            raise ControlError("cannot reach control port %d: %s" % (self.port, e))
        try:
            return json.loads(buf.split(b"\n", 1)[0].decode("utf-8"))
        except ValueError as e:
            raise ControlError("bad reply from control port %d: %s" % (self.port, e))

    def send(self, cmd, **kw):
        """Send one command; return the reply dict, or raise ControlError if ok is false."""
        reply = self.request(cmd, **kw)
        if not reply.get("ok"):
            raise ControlError(reply.get("error") or "command %s failed" % cmd)
        return reply


def close_quietly(*things):
    """Close sockets (objects with close()) and file descriptors (ints), ignoring errors:
    shutting down, a peer may already have closed its end."""
    for t in things:
        if t is None:
            continue
        try:
            os.close(t) if isinstance(t, int) else t.close()
        except OSError:
            pass


def wake(fd):
    """Nudge a thread asleep in select() on the read end of a self-pipe (fd: write end)."""
    if fd is not None:
        try:
            os.write(fd, b"x")
        except OSError:
            pass
