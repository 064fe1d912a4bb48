# Link transports over TCP: a byte stream to the other board.
#   TcpLink  - a TCP client (Ethernet, Wi-Fi, or the emulator's link proxy), reconnecting
#   TcpListenLink - the other end: accepts the primary's connection, and the next one
# The UART link is drivers/uartlink.py, apart from this module because this one imports
# `socket`, which a board without networking does not have (a plain Raspberry Pi Pico:
# ports/rp2 builds `socket` only with MICROPY_PY_NETWORK, e.g. for the Pico W).
# Every link: poll_obj (for select.poll), read() -> number of bytes received into .rx (a buffer
# allocated once) or 0, write(mv) -> bytes taken, maintain(now) -> None / "up" / "down"
# (transport state changes for the node).
import errno
import socket

_AGAIN = (errno.EAGAIN, getattr(errno, "EWOULDBLOCK", errno.EAGAIN))


class TcpLink:
    def __init__(self, host, port, retry_ms=500, rxbuf=2048):
        self.addr = socket.getaddrinfo(host, port)[0][-1]
        self._state(retry_ms, rxbuf)

    def _state(self, retry_ms, rxbuf):
        self.retry_ms = retry_ms
        self.sock = None
        self.poll_obj = None
        self.connected = False
        self.enabled = True
        self._next_try = 0
        self._lost = False
        self.rx = bytearray(rxbuf)

    def rebase(self, d):
        """The runtime's clock moved back by d ms."""
        self._next_try = max(self._next_try - d, 0)

    def maintain(self, now):
        if self._lost:
            self._lost = False
            self._drop(now)
            return "down"
        if self.connected or not self.enabled or now < self._next_try:
            return None
        s = self._open(now)
        if s is None:
            return None
        self.sock = s
        self.poll_obj = s
        self.connected = True
        return "up"

    def _open(self, now):
        """A connected, non-blocking socket, or None (try again after retry_ms)."""
        s = socket.socket()
        try:
            s.settimeout(1.0)
            s.connect(self.addr)
            s.setblocking(False)
        except OSError:
            s.close()
            self._next_try = now + self.retry_ms
            return None
        return s

    def _drop(self, now):
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.poll_obj = None
        self.connected = False
        self._next_try = now + self.retry_ms

    def read(self):
        if not self.connected:
            return 0
        try:
            n = self.sock.recv_into(self.rx) if hasattr(self.sock, "recv_into") else \
                self.sock.readinto(self.rx)
        except OSError as e:
            if e.args[0] not in _AGAIN:
                self._lost = True
            return 0
        if n is None:
            return 0  # MicroPython's readinto on a socket with nothing to read
        if not n:
            self._lost = True  # peer closed
        return n

    def write(self, mv):
        if not self.connected:
            return len(mv)  # nowhere to go: a cut cable loses bytes
        try:
            return self.sock.send(mv) or 0
        except OSError as e:
            if e.args[0] in _AGAIN:
                return 0
            self._lost = True
            return len(mv)

    def close(self, now=0):
        """Disconnect and stay down until enable()."""
        self.enabled = False
        if self.connected:
            self._lost = True

    def enable(self):
        self.enabled = True


class TcpListenLink(TcpLink):
    """Waits for the peer to connect (the secondary's side of an IP link)."""

    def __init__(self, port, rxbuf=2048):
        self._state(0, rxbuf)
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(socket.getaddrinfo("0.0.0.0", port)[0][-1])
        self._server.listen(1)
        self._server.setblocking(False)

    def _open(self, now):
        try:
            s, _ = self._server.accept()
        except OSError:
            return None
        s.setblocking(False)
        return s
