"""Link model: two directions, each a wire with a bandwidth and a one-way latency.

A board's runtime hands the wire one frame at a time (bytes up to and including the 0x00
delimiter, as COBS frames are cut); the wire is busy for len/bandwidth, then the bytes
arrive latency later, in order. Faults:
- cut: the cable is cut, bytes are lost, both transports stay up (the sessions notice the
  silence); `reset` also signals transport_down/up to both nodes (a TCP connection reset);
- noise (for a while, with per-frame probabilities): drop, corrupt (one bit), duplicate,
  delay spike, split (toxiproxy's slicer: the frame arrives in pieces at different times).
Every byte put on the wire is counted in `bytes_sent` (link_bytes), whatever its fate.
"""
UART_BPS = 11520  # 115200 baud, 8N1: 10 bits a byte


class Pipe:
    def __init__(self, world, link, src, dst, bandwidth, latency_ms):
        self.world = world
        self.link = link
        self.src = src
        self.dst = dst
        self.bandwidth = bandwidth  # bytes/s
        self.latency_ms = latency_ms
        self._busy = False
        self._last_arrival = 0.0
        self.bytes_sent = 0
        self.frames_sent = 0
        self.on_frame = None  # hook(pipe, frames_sent) after each frame goes on the wire

    def kick(self):
        """Take the next frame the source has to send, if the wire is free."""
        if self._busy:
            return
        node = self.src.node
        if node is None:
            return
        mv = node.tx_view()
        if not len(mv):
            return
        data = bytes(mv)
        del mv  # (a view held over tx_done() would pin a resizable buffer)
        z = data.find(b"\x00")
        if z >= 0 and z + 1 < len(data):
            data = data[:z + 1]
        n = len(data)
        node.tx_done(n)
        self.bytes_sent += n
        self.frames_sent += data.count(b"\x00")
        self._busy = True
        wire_ms = n * 1000.0 / self.bandwidth
        self.world.after(wire_ms, self._free)
        self._launch(data, self.world.now + wire_ms)
        if self.on_frame is not None:
            self.on_frame(self, self.frames_sent)

    def _free(self):
        self._busy = False
        self.kick()
        if not self._busy:
            self.src.wire_free()

    def _launch(self, data, t_end):
        link = self.link
        if link.cut:
            return  # into the void
        t = t_end + self.latency_ms
        noise = link.noise
        if noise is not None:
            rng = self.world.rng
            who = "%s>%s" % (self.src.name[0], self.dst.name[0])
            if rng.random() < noise["drop"]:
                self.world.fault("drop", who, len(data), "bytes")
                return
            if rng.random() < noise["corrupt"]:
                buf = bytearray(data)
                i = rng.randrange(len(buf))
                buf[i] ^= 1 << rng.randrange(8)
                data = bytes(buf)
                self.world.fault("corrupt", who, "byte", i)
            if rng.random() < noise["delay"]:
                spike = rng.uniform(10, noise["spike_ms"])
                t += spike
                self.world.fault("delay", who, "%.0f ms" % spike)
            if len(data) > 1 and rng.random() < noise["split"]:
                pieces = min(len(data) - 1, rng.randint(1, 3))
                cuts = sorted(rng.sample(range(1, len(data)), pieces))
                self.world.fault("split", who, len(cuts) + 1, "pieces")
                prev = 0
                for c in cuts + [len(data)]:
                    t += rng.uniform(0, 20)
                    self._arrive(data[prev:c], t)
                    prev = c
                data = None
            elif rng.random() < noise["dup"]:
                self.world.fault("duplicate", who, len(data), "bytes")
                self._arrive(data, t)
        if data is not None:
            self._arrive(data, t)

    def _arrive(self, data, t):
        t = max(t, self._last_arrival)  # a stream keeps its order, even through a spike
        self._last_arrival = t
        self.world.at(t, self._deliver, data, self.link.epoch)

    def _deliver(self, data, epoch):
        if epoch != self.link.epoch:
            return  # cut or reset while in flight
        self.dst.receive(data)


class Link:
    def __init__(self, world, a, b, kind="uart", bandwidth=UART_BPS, latency_ms=1.0,
                 bandwidth_back=None, latency_back=None):
        self.world = world
        self.kind = kind
        self.cut = False
        self.noise = None
        self.epoch = 0  # bumped when bytes in flight are lost (cut, reset)
        self.transport = True  # what the nodes are told (reset toggles it)
        self.ab = Pipe(world, self, a, b, bandwidth, latency_ms)
        self.ba = Pipe(world, self, b, a, bandwidth_back or bandwidth,
                       latency_ms if latency_back is None else latency_back)
        self.pipes = {a.name: self.ab, b.name: self.ba}
        self.boards = (a, b)
        a.link = self
        b.link = self
        a.pipe = self.ab
        b.pipe = self.ba

    @property
    def bytes_sent(self):
        return self.ab.bytes_sent + self.ba.bytes_sent

    def kick(self, board):
        self.pipes[board.name].kick()

    def set_cut(self, cut):
        self.world.log("link", "cable cut" if cut else "cable mended")
        if cut:
            self.world.fault("link_cut")
            self.epoch += 1
        self.cut = cut

    def set_transport(self, up):
        """A connection reset (down) or a new connection (up): both nodes are told."""
        self.world.log("link", "transport up" if up else "transport down (reset)")
        if not up:
            self.world.fault("link_reset")
            self.epoch += 1
        self.transport = up
        for b in self.boards:
            b.transport(up)

    def set_noise(self, noise):
        self.world.log("link", "noise %s" % (noise,) if noise else "noise off")
        self.noise = noise
