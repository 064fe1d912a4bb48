"""The failover campaign (issue 12): seeded scenarios of a mirror in trouble, with the real
controllers in virtual time, each checked.

Every scenario pairs two boards, lets an application write and read on the primary while
blocks of the primary's card go bad (reads fail until the block is written) and read
errors come in bursts, and then plays one story:
- dead:   the primary's board dies; the secondary is promoted and the application carries
          on there; the old primary comes back (rebooted: its record of unconfirmed writes
          is gone) and is refused as a primary; `demote` makes it the new secondary;
- cut:    the link is cut and the old primary stays up, idle; promote, carry on, mend the
          link, refused, demote (its bitmap survived: a resync by regions);
- split:  the link is cut, both sides are written (the old primary keeps its application,
          the promoted one gets its own); mended, the pair refuses; `settle
          --discard-this-side` on a side picked at random drops that side's changes;
- card:   the primary's card stops answering for a while (every request fails); the
          primary detaches it (mirror/detach.py) and the application carries on, served
          from the secondary; then the card answers again and the operator's `attach`
          copies what it lacks from the secondary (a quarter of the scenarios, drawn from a
          source of their own so that recorded seeds keep their stories).
The operator's commands go through mirror/roles.py as the console's do: a command still
refused (say, the refusal has not happened yet) is tried again a little later. Half of the
commands are followed, within 3 s, by a fault while the pair settles into its new roles
(issue 11): the link cut for a while, or a board power-cycled (the one that changed role,
once it has reset into it, or the other one); and 30% of the commands have the power cut
while the board writes its new record or before it resets into the new role (_switch).

Checks (failure categories):
- lost_acked_writes: a write acknowledged while the card is detached is not on the
  secondary's card at that moment; after settling, a block holds something the surviving history does
  not allow (the application's acknowledged writes on the side that survived, from the
  promoted card's contents at promotion on); at promotion, the promoted card lacks a write
  acknowledged as durable on both cards; a block declared lost (our card lost its only
  copy) is exempt, its reads must fail;
- diverged: the cards differ after settling;
- bad_heal: a read healed from the secondary (or served by it while detached) returned
  other data than the block's last acknowledged write, or a read returned data where it
  had to fail;
- unsettled: the pair never got back to paired, synced and idle, or an operator's command
  stayed refused.
"""
import random

import sdmirror.fwpath

sdmirror.fwpath.install()

from mirror import roles  # noqa: E402
from mirror.config import Config  # noqa: E402
from mirror.heal import IDLE, OK  # noqa: E402
from mirror.node import META_BLOCKS  # noqa: E402
from mirror.primary import Primary  # noqa: E402
from mirror.secondary import Secondary  # noqa: E402

from .app import App  # noqa: E402
from .board import Board  # noqa: E402
from .card import BLOCK, Card  # noqa: E402
from . import fast  # noqa: E402
from .faults import power_on  # noqa: E402
from .link import UART_BPS, Link  # noqa: E402
from .oracle import Oracle  # noqa: E402
from .scenario import explore_actlog  # noqa: E402
from .world import Runaway, World  # noqa: E402

STORIES = ("dead", "cut", "split")  # drawn by make_params; "card" is drawn apart
CHECKS = ("lost_acked_writes", "diverged", "bad_heal", "unsettled")
_PROBE_MS = 250
_OPERATOR_MS = 200  # an operator tries a refused command again after this
_OPERATOR_TRIES = 300


class HealingApp(App):
    """The application, reading as MirroredVolume does: a block the card cannot read is
    asked of the secondary (when it holds the newest copy), returned and rewritten."""

    def __init__(self, *a, **kw):
        self.scenario = kw.pop("scenario")
        App.__init__(self, *a, **kw)
        self.counts.update({"healed": 0, "read_errors": 0, "detached_reads": 0,
                            "detached_writes": 0})

    # -- a detached card (mirror/detach.py), as MirroredVolume drives it --------------------
    def _detached(self):
        return getattr(self.board.node, "detached", None) is not None

    def _card_result(self, ok):
        """What MirroredVolume tells the node of each request to the card."""
        node = self.board.node
        if node.role == "primary":
            node.card_result(ok)

    def _write(self):
        if not self._detached():
            App._write(self)
            return
        block, data, life = self._admit
        self._admit = None
        w = self.oracle.issue(block, data, self.world.now)
        self.counts["writes"] += 1
        self.world.log("app", "write #%d (detached)" % w.id, "blocks %d+%d" % (block, w.n))
        self._serve_write(w, data)

    def _write_done(self, life, w, data):
        inner = App._write_done(self, life, w, data)

        def done(ok):
            if life == self._life:
                self._card_result(ok)
                if not ok and self._detached():
                    self._serve_write(w, data)  # the write that detached it: served
                    return
            inner(ok)
        return done

    def _serve_write(self, w, data):
        """Detached: the write goes to the secondary alone and completes once durable
        there (async mode too), or fails."""
        w.detached = True
        if not self.board.node.paired:
            self._write_failed(w, "no secondary")
            return
        self._op = [w, data, 0, None]
        self._forward()

    def _forward(self):
        op = self._op
        w = op[0]
        if not w.detached:
            App._forward(self)
            return
        self._forwarding = True
        try:
            while op[2] * self.fb < w.n:
                i = op[2]
                piece = memoryview(op[1])[i * self.fb * BLOCK:(i + 1) * self.fb * BLOCK]
                try:
                    token = self.board.app_write(w.block + i * self.fb, piece)
                except OSError:
                    self._write_failed(w, "no secondary")
                    return
                if token < 0:
                    return  # congested: _on_node retries
                op[2] += 1
                op[3] = token
        finally:
            self._forwarding = False
        self._await_durable(op, self._life, self.world.now + self.timeout_ms)

    def _await_durable(self, op, life, give_up):
        if op is not self._op or life != self._life:
            return  # acknowledged meanwhile (_on_node), or the power went
        node = self.board.node
        if node.durable(op[3]):
            self._ack(op[0])
        elif node.never(op[3]) or self.world.now >= give_up:
            self._write_failed(op[0], "not confirmed by the secondary")
        else:
            self.world.after(2, self._await_durable, op, life, give_up)

    def _write_failed(self, w, why):
        w.failed = True
        self.counts["errors"] += 1
        self.world.log("app", "write #%d failed: %s" % (w.id, why))
        self._next()

    def _go(self, life):
        if life != self._life:
            return
        rng = self.world.rng
        if not self.board.on or not self.board.node.ready or rng.random() >= self.read_ratio:
            if not self._detached():
                App._go(self, life)  # a write (or waiting for the node), as App does
                return
            ratio, self.read_ratio = self.read_ratio, 0.0  # App's reads would go to the card
            try:
                App._go(self, life)
            finally:
                self.read_ratio = ratio
            return
        block, n = self._pick()
        self.busy = True
        self.counts["reads"] += 1
        self.board.app_io()
        if self._detached():
            if self.board.node.is_lost(block, n):
                self._failed(block, "lost")
            else:
                self.counts["detached_reads"] += 1
                self._heal_next(life, block, n, 0)  # every block from the secondary
            return
        buf = bytearray(n * BLOCK)
        self.board.card.submit("r", block, buf, self._read_back(life, block, n, buf), fg=True)

    def _ack(self, w):
        """A sync write acknowledged: with degraded=refuse that promises both cards hold it
        (also after a resync in a later session); proven acknowledgements are recorded.
        A write served while detached promises it whatever the mode."""
        fw = w.forwarded
        node = self.board.node
        if w.detached:
            w.local = True  # completed: the history the survivor must hold
            self.counts["detached_writes"] += 1
            self._on_secondary_now(w, "acknowledged while detached")
        elif fw is not None and fw[0] is node and node.paired and \
                node.session.stats["sessions"] == fw[1]:
            self.scenario.on_both.add(w)
        elif self.board.cfg.degraded == "refuse":
            self._on_secondary_now(w, "acknowledged (degraded=refuse)")
        App._ack(self, w)

    def _on_secondary_now(self, w, what):
        """The acknowledgement promised the secondary's card holds the write: it must."""
        card = self.peer_card
        for b in range(w.block, w.block + w.n):
            if card.block(b) not in self.oracle.newer_or_same(w, b):
                self.world.violation("lost_acked_writes", "write #%d %s, block %d not on the "
                                     "secondary" % (w.id, what, b))
                return
        self.scenario.on_both.add(w)

    def _read_back(self, life, block, n, buf):
        def done(ok):
            if life != self._life:
                return
            self.board.app_io()
            self._card_result(ok)
            node = self.board.node
            if node.is_lost(block, n):
                self._failed(block, "lost")
            elif ok:
                self._check_read(block, buf)  # (App: bad_reads)
                self._next()
            else:
                self._heal_next(life, block, n, 0)
        return done

    def _heal_next(self, life, block, n, i):
        """Blocks of a failed read, one at a time, as MirroredVolume.readblocks does."""
        if i == n:
            self._next()
            return
        buf = bytearray(BLOCK)
        if self._detached():
            self._fetch(life, block, n, i, buf)
            return

        def local(ok):
            if life != self._life:
                return
            self._card_result(ok)
            if ok:
                self._heal_next(life, block, n, i + 1)
            else:
                self._fetch(life, block, n, i, buf)
        self.board.card.submit("r", block + i, buf, local, fg=True)

    def _fetch(self, life, block, n, i, buf):
        node = self.board.node
        b = block + i
        if not node.can_fetch(b, 1):
            self._failed(b, "no current copy")
            return
        reads = node.reads
        if reads.state != IDLE:  # a background heal holds the request slot
            reads.wanted = True  # (the copy onto a returned card lets us go first)
            self.world.after(2, self._retry_fetch, life, block, n, i, buf)
            return
        reads.wanted = False
        reads.start(b, memoryview(buf))
        self.board._after()
        self._await(life, block, n, i, buf, self.world.now + self.timeout_ms)

    def _retry_fetch(self, life, block, n, i, buf):
        if life == self._life and self.board.on:
            self._fetch(life, block, n, i, buf)

    def _await(self, life, block, n, i, buf, give_up):
        if life != self._life or not self.board.on:
            return
        reads = self.board.node.reads
        if not reads.done() and self.world.now < give_up:
            self.world.after(2, self._await, life, block, n, i, buf, give_up)
            return
        ok = reads.state == OK
        reads.release()
        b = block + i
        if not ok:
            self._failed(b, "unreadable on both cards")
            return
        want = self.oracle.expected_exact(b)
        if bytes(buf) != want and (not self.oracle.failed_since_local(b) or
                                   bytes(buf) not in self.oracle.acceptable(b, "local")):
            self.world.violation("bad_heal", "block %d healed with other data than its last "
                                 "acknowledged write" % b)
        if self._detached():
            self.world.log("app", "read of block %d served by the secondary" % b)
        else:
            self.counts["healed"] += 1
            self.world.log("app", "read of block %d healed from the secondary" % b)
            self.board.card.submit("w", b, bytes(buf), self._card_result, fg=True)
        self._heal_next(life, block, n, i + 1)

    def _failed(self, b, why):
        self.counts["read_errors"] += 1
        self.world.log("app", "read of block %d failed: %s" % (b, why))
        self._next()


def make_params(rng):
    vol = rng.choice((rng.randint(8, 32), rng.randint(32, 160)))
    mode = rng.choice(("sync", "async"))
    cfg = {"alg": rng.choice(("crc32", "md5", "sha256")),
           "comparer": rng.choice(("secondary", "primary")), "mode": mode,
           "degraded": rng.choice(("continue", "refuse")) if mode == "sync" else "continue",
           "degraded_ms": 10000, "region_blocks": rng.choice((0, 1, 4, 8)),
           "window": rng.randint(2, 8), "frame_blocks": rng.randint(1, 8),
           "chunk_blocks": rng.randint(1, 8), "dead_ms": 3000, "keepalive_ms": 1000,
           "scan_period_ms": rng.choice((0, rng.randint(2000, 8000)))}
    eth = rng.random() < 0.4
    return {"volume_blocks": vol, "story": rng.choice(STORIES), "cfg": cfg,
            "link": {"kind": "eth" if eth else "uart",
                     "bandwidth": rng.randint(100000, 1000000) if eth else UART_BPS,
                     "latency_ms": rng.uniform(0.2, 40) if eth else rng.uniform(0.05, 3)},
            "bad_blocks": rng.randint(0, 4), "bursts": rng.randint(0, 2),
            "drop": rng.choice(("old", "new")),
            "old_writes_apart": rng.random() < 0.5,
            "t": [rng.uniform(2000, 8000), rng.uniform(3000, 10000), rng.uniform(2000, 8000)],
            "app": {"max_blocks": rng.randint(1, 8), "gap_ms": rng.uniform(10, 300)}}


class FailoverScenario:
    def __init__(self, seed, verbose=False):
        self.seed = seed
        rng = random.Random(seed)
        self.world = w = World(rng, verbose)
        self.params = p = make_params(rng)
        explore_actlog(seed, p["cfg"])  # the log on in most (a source of its own)
        if random.Random("failover-card-%d" % seed).random() < 0.25:
            p["story"] = "card"  # (its own source: the other draws stay as they were)
        vol = p["volume_blocks"]
        image = rng.randbytes(vol * BLOCK) + bytes(META_BLOCKS * BLOCK)
        self.cards = {"A": Card(w, "A", vol + META_BLOCKS, image),
                      "B": Card(w, "B", vol + META_BLOCKS, bytes(image))}
        self.boards = {"A": Board(w, "A", Primary, self._cfg("primary"), self.cards["A"]),
                       "B": Board(w, "B", Secondary, self._cfg("secondary"), self.cards["B"])}
        lk = p["link"]
        self.link = Link(w, self.boards["A"], self.boards["B"], lk["kind"], lk["bandwidth"],
                         lk["latency_ms"])
        self.oracles = {"A": Oracle(vol, image)}  # the history each board wrote as primary
        for card in self.cards.values():
            card.on_torn = self._torn
        self.apps = {}
        self.survivor = "A"
        self.dropped = None  # the side whose changes settle discarded
        self.demoted = None  # how demote resynced the old primary (roles.demoted_meta)
        self.promoted_at = None
        self.on_both = set()  # writes the secondary's card was seen to hold when acknowledged
        self.attach_owed = False  # story card: the attach came before the detach (_attach)
        # faults after an operator's command: a source of their own, so that the stories
        # of recorded seeds are drawn as they were
        self.frng = random.Random("failover-d-%d" % seed)

    def _torn(self, card, block, new, result):
        """A power cut tore a write on this card: what it left is one more version."""
        oracle = self.oracles.get(card.name)
        if oracle is not None and block < self.params["volume_blocks"]:
            oracle.torn(block, new, result)

    def _cfg(self, role):
        kw = dict(self.params["cfg"])
        if self.params["link"]["kind"] == "uart":
            kw["link_rate"] = self.params["link"]["bandwidth"]
        return Config(role=role, **kw)

    def _app(self, name, peer, oracle, t_stop):
        a = self.params["app"]
        app = HealingApp(self.world, self.boards[name], oracle, self.cards[peer],
                         self.params["cfg"]["mode"], "random", a["max_blocks"], a["gap_ms"],
                         t_stop, read_ratio=0.3, timeout_ms=20000, scenario=self)
        self.apps[name] = app
        app.start()
        return app

    # -- the story -------------------------------------------------------------------------
    def run(self):
        w = self.world
        p = self.params
        w.log("setup", "story %s, volume %d blocks, cfg %s" % (
            p["story"], p["volume_blocks"], p["cfg"]))
        for b in self.boards.values():
            b.power_on()
        t1, t2, t3 = p["t"]
        self._app("A", "B", self.oracles["A"], t1)
        rng = w.rng
        for _ in range(p["bad_blocks"]):
            w.at(rng.uniform(0, t1 + t2), self._bad_block)
        for _ in range(p["bursts"]):
            w.at(rng.uniform(0, t1), self.cards["A"].error_burst, rng.randint(1, 3), 0,
                 rng.uniform(1, 300))
        w.at(t1, self._split)
        try:
            w.run_until(t1 + t2 + t3 + 5000)
            limit = w.now + 180000 + 4000.0 * p["volume_blocks"] * BLOCK / p["link"]["bandwidth"]
            self._done = False
            w.at(w.now + _PROBE_MS, self._probe)
            w.run_until(limit, stop=lambda: self._done)
        except Runaway:
            return self.result()
        return self.check()

    def _primary_name(self):
        for name, b in self.boards.items():
            if b.on and b.node.role == "primary" and (name == self.survivor or
                                                      self.dropped is None):
                return name
        return self.survivor

    def _bad_block(self):
        name = self._primary_name()
        self.cards[name].make_bad(self.world.rng.randrange(self.params["volume_blocks"]))

    def _split(self):
        w = self.world
        story = self.params["story"]
        t2 = self.params["t"][1]
        if story == "card":
            # every request to the card fails for t2 (a pulled or failing card)
            self.cards["A"].error_burst(10 ** 9, 10 ** 9, t2)
            w.fault("card_dead", "A")
            self.apps["A"].t_stop = w.now + t2 + self.params["t"][2]
            w.at(w.now + t2 + 1, self._operator, self._attach)
            return
        if story == "dead":
            self.apps["A"].power_lost()
            self.boards["A"].power_off()
            w.log("sim", "the primary's board dies")
        else:
            self.link.set_cut(True)
            if story == "cut" or not self.params["old_writes_apart"]:
                self.apps["A"].t_stop = w.now  # its application stops (or moves over)
            else:
                self.apps["A"].t_stop = w.now + t2  # it keeps writing, cut off
        self._operator(self._promote)
        w.at(w.now + t2, self._rejoin)

    def _promote(self):
        s = self.boards["B"]
        if not s.on or roles.promote_problem(s.node) is not None:
            return False
        snapshot = bytes(self.cards["B"].data[:self.params["volume_blocks"] * BLOCK])
        self._check_promoted(snapshot)
        roles.promoted_meta(s.node)
        t3 = self.params["t"][2]

        def started():
            self.oracles["B"] = Oracle(self.params["volume_blocks"], snapshot)
            self.survivor = "B"
            self.promoted_at = self.world.now
            self._app("B", "A", self.oracles["B"], self.world.now + t3)
        self._switch(s, Primary, self._cfg("primary"), started, self._promote)
        return True

    def _check_promoted(self, snapshot):
        """Every write acknowledged as on both cards is on the promoted card (degraded=continue
        acknowledges writes on the primary alone while the secondary is away: those may be
        lost by a failover, as with DRBD)."""
        oracle = self.oracles["A"]
        lost = []
        for b in range(self.params["volume_blocks"]):
            if snapshot[b * BLOCK:(b + 1) * BLOCK] not in \
                    oracle.acceptable_if(b, self.on_both.__contains__) and \
                    not self._lost_on("A", b):
                lost.append(b)
        if lost:
            self.world.violation("lost_acked_writes", "promoted card lacks durable writes: "
                                 "blocks %s" % lost[:8])

    def _lost_on(self, name, b):
        board = self.boards[name]
        return board.on and board.node.role == "primary" and b in board.node.lost

    def _rejoin(self):
        w = self.world
        story = self.params["story"]
        if story == "dead":
            self.boards["A"].power_on()  # comes back rebooted, still configured as primary
        else:
            self.link.set_cut(False)
        if story == "split" and self.params["old_writes_apart"]:
            w.after(self.params["t"][2] + 1000, self._operator, self._settle)
        else:
            self._operator(self._demote)

    def _attach(self):
        """The operator's `attach` once the card answers again (firmware/cardcmds.py)."""
        a = self.boards["A"]
        if not a.on:
            return False
        node = a.node
        if node.detached is None:
            # The card may still be detached later: cfg.card_errors failures in a row,
            # counted across a quiet card's return (a bad block read after the burst,
            # failover seed 448). The operator attaches once status shows it (_probe).
            self.world.log("operator", "attach: the card was not detached")
            self.attach_owed = True
            return True
        self.attach_owed = False
        if node.attach(a.card.blocks, self.world.now) is not None:
            return False  # still copying from an earlier attach, or refused: later
        a._after()
        return True

    def _demote(self):
        a = self.boards["A"]
        if not a.on or not a.node.refusal or roles.demote_problem(a.node) is not None:
            return False
        self.demoted = roles.demoted_meta(a.node)[1]  # bitmap, log or full (roles.py)
        self._retire_app("A")
        self._switch(a, Secondary, self._cfg("secondary"), None, self._demote)
        return True

    def _settle(self):
        name = "A" if self.params["drop"] == "old" else "B"
        board = self.boards[name]
        if not board.on or roles.settle_problem(board.node) is not None:
            return False
        self.dropped = name
        self.survivor = "B" if name == "A" else "A"
        self._retire_app(name)
        roles.settled_meta(board.node)
        self._switch(board, Secondary, self._cfg("secondary"), None, self._settle)
        return True

    def _fault_after(self, switched):
        x = self.frng
        if x.random() >= 0.5:
            return
        kind = x.choice(("cut", "power_switched", "power_other"))
        name = switched if kind == "power_switched" else ("A" if switched == "B" else "B")
        # (50 ms at least: the switched board has written its record and reset by then)
        self.world.after(x.uniform(50, 3000), self._fault, kind, name, x.uniform(10, 3000))

    def _fault(self, kind, name, ms):
        w = self.world
        if kind == "cut":
            if self.link.cut:
                return  # the story's own cut: it mends it
            w.fault("cut_after_command")
            self.link.set_cut(True)
            w.after(ms, self.link.set_cut, False)
            return
        board = self.boards[name]
        if not board.on:
            return
        w.fault("power_after_command", name)
        app = self.apps.get(name)
        if app is not None and app.board is board:
            app.power_lost()  # it resumes once the node is ready again (App._on_node)
        board.power_off()
        w.after(ms, power_on, self.link, board, self.boards["A" if name == "B" else "B"])

    def _switch(self, board, cls, cfg, then, cmd):
        """board.switch(); or, for 30% of the commands, the power cut while the board
        writes its new record (half of the cuts: torn or not landed) or once it has landed
        but before the reset into the new role (firmware/rolecmds.py: the role is
        remembered after the record): it boots in its old role, and the operator gives
        the command again."""
        x = self.frng
        if x.random() >= 0.3:
            board.switch(cls, cfg, then)
            return
        w = self.world
        board.node._write_meta()
        card = board.card
        off = x.uniform(10, 2000)

        def cut():
            w.fault("power_in_switch", board.name)
            board.power_off()
            w.after(off, back)

        def back():
            power_on(self.link, board, self.boards["A" if board.name == "B" else "B"])
            w.after(_OPERATOR_MS, self._operator, cmd)
        if x.random() < 0.5:
            w.after(x.uniform(0, card.write_ms + card.busy_ms), cut)  # tearing the record
        else:
            def landed():
                if card.pending():
                    w.after(1, landed)
                else:
                    cut()
            w.after(0, landed)

    def _retire_app(self, name):
        """The board is about to change role: its application is gone."""
        app = self.apps.get(name)
        if app is not None:
            app.power_lost()
            app.t_stop = self.world.now
            if app._on_node in self.boards[name].listeners:
                self.boards[name].listeners.remove(app._on_node)

    def _operator(self, cmd, tries=0):
        if cmd():
            self.world.log("operator", cmd.__name__.strip("_") + " done")
            if cmd != self._attach:  # (a reset while detached is refused: README)
                self._fault_after({"_promote": "B", "_demote": "A"}.get(cmd.__name__,
                                                                       self.dropped))
            return
        if tries >= _OPERATOR_TRIES:
            self.world.violation("unsettled", "%s stayed refused" % cmd.__name__.strip("_"))
            return
        self.world.after(_OPERATOR_MS, self._operator, cmd, tries + 1)

    # -- settling and checking ------------------------------------------------------------
    def _pair(self):
        """(primary board, secondary board) once the roles are sorted out, else None."""
        a, b = self.boards["A"], self.boards["B"]
        if not (a.on and b.on):
            return None
        for p, s in ((a, b), (b, a)):
            if p.node.role == "primary" and s.node.role == "secondary":
                return p, s
        return None

    def _probe(self):
        a = self.boards["A"]
        if self.attach_owed and a.on and a.node.role == "primary" and \
                a.node.detached is not None:
            self.attach_owed = False
            self._operator(self._attach)
        pair = self._pair()
        if pair is not None and self._synced(*pair) and not self._differing():
            self._done = True
        else:
            self.world.after(_PROBE_MS, self._probe)

    def _differing(self):
        """Blocks the two cards hold differently, but for those lost on the primary
        (heal.py: not copied, scans take them as zeros; reads of them fail)."""
        n = self.params["volume_blocks"] * BLOCK
        a, b = self.cards["A"], self.cards["B"]
        if a.data[:n] == b.data[:n]:
            return []
        return [i for i in range(self.params["volume_blocks"]) if a.block(i) != b.block(i)
                and not self._lost_on("A", i) and not self._lost_on("B", i)]

    def _synced(self, pb, sb):
        if any(app.busy for app in self.apps.values() if app.board is pb) or \
                pb.card.pending() or sb.card.pending():
            return False
        p, s = pb.node, sb.node
        if p.detached is not None:
            return False  # the story "card" ends with the card in use again (attach)
        return p.paired and s.paired and not p.busy() and not s.busy() and not p._inflight \
            and s.meta.gen == p.meta.gen and s.status()["consistent"] \
            and p.session.in_flight() == 0 and s.session.in_flight() == 0

    def check(self):
        w = self.world
        vol = self.params["volume_blocks"]
        if not self._done:
            w.violation("unsettled", "the pair did not settle")
        differ = self._differing()
        if differ:
            w.violation("diverged", "%d blocks differ: %s" % (len(differ), differ[:8]))
        name = self.survivor
        oracle = self.oracles.get(name)
        if oracle is not None:
            lost = [b for b in range(vol) if self.cards[name].block(b) not in
                    oracle.acceptable(b, "local") and not self._lost_on(name, b)]
            if lost:
                w.violation("lost_acked_writes", "the survivor (%s) lacks acknowledged "
                            "writes: blocks %s" % (name, lost[:8]))
        return self.result()

    def result(self):
        w = self.world
        fails = sorted(w.violations)
        counts = {}
        for app in self.apps.values():
            for k, v in app.counts.items():
                counts[k] = counts.get(k, 0) + v
        primaries = [b.node for b in self.boards.values() if b.on and b.node.role == "primary"]
        healed = sum(n.counters.get("healed_blocks", 0) for n in primaries)
        return {"seed": self.seed, "ok": not fails, "failures": fails,
                "details": {k: v[:3] for k, v in sorted(w.violations.items())},
                "story": self.params["story"], "dropped": self.dropped,
                "demoted": self.demoted,
                "faults": dict(sorted(w.faults.items())), "app": counts,
                "healed_in_background": healed, "link_bytes": self.link.bytes_sent,
                "card_failures": sum(n.counters.get("card_failures", 0) for n in primaries),
                "copied_back": sum(n.counters.get("copied_back", 0) for n in primaries),
                "events": w.events_run, "torn_meta": []}


def run_seed(seed, verbose=False, pure=False):
    if pure:
        fast.uninstall()
    else:
        fast.install()
    sc = FailoverScenario(seed, verbose=verbose)
    res = sc.run()
    if verbose:
        res["trace"] = sc.world.lines
    return res


def _one(seed):
    r = run_seed(seed)
    return {k: r[k] for k in ("seed", "ok", "failures", "details", "story", "dropped",
                              "demoted", "faults", "app", "healed_in_background",
                              "card_failures", "copied_back")}


def run_failover_campaign(start, count, jobs=1):
    """count seeds from start; a summary with the stories played and what the checks saw."""
    from .campaign import pmap
    results = pmap(_one, range(start, start + count), jobs)
    summary = {"scenarios": count, "start": start, "passed": 0, "failed": 0, "stories": {},
               "settled_by_dropping": {"old": 0, "new": 0}, "healed_reads": 0,
               "demoted_by": {"bitmap": 0, "log": 0, "full": 0},
               "healed_in_background": 0, "read_errors": 0, "faults": {}, "failing": [],
               "detached": {"scenarios": 0, "reads": 0, "writes": 0, "copied_back": 0}}
    for r in results:
        summary["stories"][r["story"]] = summary["stories"].get(r["story"], 0) + 1
        if r["dropped"]:
            summary["settled_by_dropping"]["old" if r["dropped"] == "A" else "new"] += 1
        if r["demoted"]:
            summary["demoted_by"][r["demoted"]] += 1
        summary["healed_reads"] += r["app"].get("healed", 0)
        summary["read_errors"] += r["app"].get("read_errors", 0)
        summary["healed_in_background"] += r["healed_in_background"]
        d = summary["detached"]
        d["scenarios"] += 1 if r["card_failures"] else 0
        d["reads"] += r["app"].get("detached_reads", 0)
        d["writes"] += r["app"].get("detached_writes", 0)
        d["copied_back"] += r["copied_back"]
        for k, v in r["faults"].items():
            summary["faults"][k] = summary["faults"].get(k, 0) + v
        if r["ok"]:
            summary["passed"] += 1
        else:
            summary["failed"] += 1
            summary["failing"].append({"seed": r["seed"], "failures": r["failures"],
                                       "details": r["details"]})
    return summary
