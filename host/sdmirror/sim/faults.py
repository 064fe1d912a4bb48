"""Fault plans: what goes wrong, when, drawn from the scenario's random source.

A plan is a list of (time_ms, kind, params) applied during the active phase; every fault
ends by then (the link is mended, boards are powered again), so the pair can settle.
Profiles decide who may suffer: nobody, the link, the secondary, the primary, or all.
Silent bit flips hit the secondary here, only when a periodic scan is configured: the
design repairs them by scanning. Flips on the primary (flip_p) are drawn by the scenario
(scenario.py explore_plan): the primary's card is the design's source of truth, so its
flipped block is copied over, and the check is that a scan reported it.
"""
PROFILES = ("none", "link", "secondary", "primary", "mixed")
_KINDS = {
    "none": (),
    "link": ("cut", "reset", "noise"),
    "secondary": ("power_s", "write_error_s", "read_error_s", "flip_s"),
    "primary": ("power_p", "write_error_p", "read_error_p"),
    "mixed": ("cut", "reset", "noise", "power_s", "power_p", "write_error_s", "read_error_s",
              "write_error_p", "read_error_p", "flip_s"),
}


def make_plan(rng, profile, t_active, nblocks_s, scan_period):
    kinds = [k for k in _KINDS[profile] if k != "flip_s" or scan_period]
    plan = []
    if not kinds:
        return plan
    for _ in range(rng.randint(1, 5)):
        kind = rng.choice(kinds)
        t = rng.uniform(0, t_active * 0.9)
        room = t_active - t
        if kind in ("cut", "reset"):
            plan.append((t, kind, {"ms": rng.uniform(10, min(room, 20000))}))
        elif kind == "noise":
            p = {"drop": rng.choice((0, 0.02, 0.1, 0.3)), "corrupt": rng.choice((0, 0.02, 0.1)),
                 "dup": rng.choice((0, 0.05, 0.2)), "delay": rng.choice((0, 0.05, 0.2)),
                 "spike_ms": rng.uniform(50, 3000), "split": rng.choice((0, 0.1, 0.5))}
            plan.append((t, kind, {"ms": rng.uniform(100, min(room, 30000)), "p": p}))
        elif kind.startswith("power"):
            # half of the cuts wait for the board's next card write and strike while it
            # is being programmed: a torn write (only k bytes of a block land)
            plan.append((t, kind, {"ms": rng.uniform(1, min(room, 10000)),
                                   "mid_write": rng.random() < 0.5}))
        elif kind.startswith("write_error") or kind.startswith("read_error"):
            plan.append((t, kind, {"count": rng.randint(1, 3), "ms": rng.uniform(1, 500)}))
        elif kind == "flip_s":
            plan.append((t, kind, {"block": rng.randrange(nblocks_s), "bit": rng.randrange(4096)}))
    plan.sort(key=lambda f: f[0])
    return plan


def power_on(link, board, other):
    """Power returns to `board`; on Ethernet the rebooted board opens a new TCP connection,
    and its peer (`other`) drops the old one."""
    board.power_on()
    if link.kind == "eth" and link.transport:
        other.transport(False)
        other.transport(True)


class Injector:
    """Applies a plan to the world's link and boards."""

    def __init__(self, world, link, primary, secondary, on_primary_power=None,
                 on_primary_flip=None):
        self.world = world
        self.link = link
        self.boards = {"p": primary, "s": secondary}
        self.on_primary_power = on_primary_power  # called just before the primary dies
        self.on_primary_flip = on_primary_flip  # flip_p: (block, bit) -> the flip was made
        self.primary_faulted = False
        self._cuts = 0
        self._resets = 0
        self._noise_owner = None
        self.active = True  # faults still allowed (False once the active phase is over)

    def schedule(self, plan):
        for t, kind, params in plan:
            self.world.at(t, self.apply, kind, params)

    def apply(self, kind, params):
        w = self.world
        if kind == "cut":
            self._cuts += 1
            if self._cuts == 1:
                self.link.set_cut(True)
            w.after(params["ms"], self._end_cut)
        elif kind == "reset":
            self._resets += 1
            if self._resets == 1:
                self.link.set_transport(False)
            w.after(params["ms"], self._end_reset)
        elif kind == "noise":
            token = object()
            self._noise_owner = token
            self.link.set_noise(params["p"])
            w.after(params["ms"], self._end_noise, token)
        elif kind == "malformed":
            self._malformed(params)
        else:
            side = kind[-1]
            board = self.boards[side]
            if side == "p":
                self.primary_faulted = True
            if kind.startswith("boot_read_error"):
                # a power cycle whose boot finds the card failing reads (the metadata slots
                # are the first thing read): the burst starts just before power returns
                self.power_cycle(board, params["ms"])
                w.after(params["ms"] * 0.999, board.card.error_burst, params["count"], 0, 50.0)
                self.world.fault("boot_read_error", board.name)
            elif kind.startswith("power") and params.get("mid_write"):
                self._arm_mid_write(board, params["ms"])
            elif kind.startswith("power"):
                self.power_cycle(board, params["ms"])
            elif kind.startswith("write_error"):
                board.card.error_burst(0, params["count"], params["ms"])
            elif kind.startswith("read_error"):
                board.card.error_burst(params["count"], 0, params["ms"])
            elif kind == "flip_s":
                board.card.flip(params["block"], params["bit"])
            elif kind == "flip_p":
                self.on_primary_flip(params["block"], params["bit"])

    def _malformed(self, params):
        """A message of any type and payload, sent by a board's own session: CRC-valid,
        authentic, in sequence: what a peer with a bug sends. The receiver must drop it
        (and start the session over), never stop or write outside its volume."""
        board = self.boards[params["from"]]
        node = board.node
        if node is None or not board.on or not node.session.can_send():
            return
        payload = bytes.fromhex(params["payload"])
        peer = self.boards["s" if params["from"] == "p" else "p"].node
        from mirror import msgcheck
        if len(payload) > node.cfg.max_payload or peer is None or msgcheck.problem(
                params["type"], payload, peer.dsize, peer._max_span, peer.cfg.frame_blocks) is None:
            return  # a well-formed message is no fault (an authentic peer may send it)
        node.session.send(params["type"], payload, self.world.now)
        self.world.fault("malformed", board.name)
        board._after()

    def power_cycle(self, board, off_ms, k=None):
        if not board.on:
            return  # already off: this fault adds nothing
        self.world.fault("power_loss", board.name)
        if board.node.busy():
            # (a subset of power_loss: cut while a resync or scan was under way)
            self.world.fault("power_loss_mid_sync", board.name)
        if board is self.boards["p"]:
            self.primary_faulted = True
            if self.on_primary_power is not None:
                self.on_primary_power()
        board.power_off(k)
        self.world.after(off_ms, self._power_on, board)

    def _arm_mid_write(self, board, off_ms):
        card = board.card

        def on_start(card, kind, block, n):
            if kind != "w":
                return
            card.on_start = None
            t = card.write_ms + self.world.rng.uniform(0, card.busy_ms * n)
            self.world.after(t, self._cut_if_active, board, off_ms)
        card.on_start = on_start

    def _cut_if_active(self, board, off_ms):
        if self.active:
            self.power_cycle(board, off_ms)

    def _power_on(self, board):
        power_on(self.link, board, self.boards["s" if board is self.boards["p"] else "p"])

    def _end_cut(self):
        self._cuts -= 1
        if self._cuts == 0:
            self.link.set_cut(False)

    def _end_reset(self):
        self._resets -= 1
        if self._resets == 0:
            self.link.set_transport(True)

    def _end_noise(self, token):
        if self._noise_owner is token:
            self.link.set_noise(None)

    def quiesce(self):
        """End of the active phase: injected card errors that never struck are withdrawn."""
        self.active = False
        for b in self.boards.values():
            b.card.fail_writes = 0
            b.card.fail_reads = 0
            b.card.on_start = None
