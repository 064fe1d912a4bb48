"""What the fuzzers feed: one input (bytes) into a live, paired node or into the console.

A finding is an exception out of node.receive()/tick()/idle()/io_done() or out of the
console (Console.feed, or a command that raised what its checks did not foresee: the
console's internal_errors counter), which on a board is a stopped mirror. Both the
coverage-guided fuzzer (run.py, atheris) and the hypothesis tests (tests/security) use it.

Node inputs (first byte: the mode; the rest, the body):
  0/1  raw bytes into the primary / the secondary, as if from the wire;
  2/3  one message the peer's session sends to the primary / the secondary: body[0] is the
       type, body[1:] the payload. It goes out through the peer's own session, so it is
       CRC-valid, authentic under the session key when keyed, and in sequence: exactly the
       "authentic malformed message" a buggy or compromised peer sends.
Between inputs the pair runs a few steps; every RESYNC_EVERY inputs, or when the pair fell
apart, it is brought back to paired (bounded), so inputs keep reaching paired handlers.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for p in (os.path.join(ROOT, "host"), os.path.join(ROOT, "tests", "firmware")):
    if p not in sys.path:
        sys.path.insert(0, p)

from sdmirror import fwpath  # noqa: E402

fwpath.install()

import gc  # noqa: E402

if not hasattr(gc, "mem_free"):  # CPython runs the console here: MicroPython's gc calls
    gc.mem_free = lambda: 0
    gc.mem_alloc = lambda: 0

KEY = b"fuzz-key-0123456789abcdef-fuzz!!"
RESYNC_EVERY = 64


class NodeTarget:
    """A synced pair (keyed or not) that takes one input at a time."""

    def __init__(self, keyed, nblocks=64):
        from pairkit import synced_pair
        kw = {"key": KEY} if keyed else {}
        self.keyed = keyed
        self.pair = synced_pair(nblocks, seed=7, region_blocks=4, cache_bytes=64, **kw)
        self.n = 0

    def _recover(self):
        pair = self.pair
        if not pair.link_up:
            pair.connect()
        for _ in range(3000):
            if pair.primary.paired and pair.secondary.paired:
                return
            pair.step(5)

    def feed(self, data):
        """One input; raises what the node raised (the finding)."""
        if len(data) < 1:
            return
        pair = self.pair
        mode = data[0] & 3
        body = data[1:]
        if mode < 2:
            side = pair.p if mode == 0 else pair.s
            side.node.receive(body, pair.now)
        elif len(body) >= 1:
            src = pair.s if mode == 2 else pair.p
            s = src.node.session
            if s.can_send() and len(body) - 1 <= s.cfg.max_payload:
                s.send(body[0], body[1:], pair.now)
        pair.step(2)
        pair.step(2)
        self.n += 1
        if self.n % RESYNC_EVERY == 0 or not pair.primary.paired:
            self._recover()


class _Out:
    def __init__(self):
        self.replies = 0

    def write(self, s):
        if s != "\n":
            self.replies += 1


class _Stream:
    def __init__(self):
        self.data = b""
        self.pos = 0

    def read(self, n):
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b


class _Board:
    NAME = "fuzz"
    DIAGNOSTICS = True  # inject's code is fuzzed too (it acts on the RAM cards)


class _Rt:
    def __init__(self, side):
        self.node = side.node
        self.card = side.card


class ConsoleTarget:
    """A console over one side of a synced pair; an input is one or more lines. The
    commands that end the run on purpose (inject reboot, role changes that reset the
    board, Ctrl-C) are left out: they are not a parse path."""

    SKIP = (b"reboot", b"promote", b"demote", b"settle")

    def __init__(self, role="primary"):
        from console import Console
        from pairkit import synced_pair
        self.pair = synced_pair(64, seed=8)
        side = self.pair.p if role == "primary" else self.pair.s
        self.out = _Out()
        self.stream = _Stream()
        self.console = Console(_Rt(side), _Board(), side.card, self.stream, self.out)

    def feed(self, data):
        for word in self.SKIP:
            if word in data:
                return
        con = self.console
        # Ctrl-C (0x03) stops the firmware on purpose (the REPL follows): not a finding
        self.stream.data = bytes(data[:4096]).replace(b"\x03", b"") + b"\n"
        self.stream.pos = 0
        before = con.internal_errors
        for _ in range(len(self.stream.data)):
            con.feed()
        if con.internal_errors != before:
            raise AssertionError("console command raised an unforeseen exception: %r" %
                                 bytes(data[:200]))
