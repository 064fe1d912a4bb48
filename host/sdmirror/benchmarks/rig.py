"""Two simulated boards, their cards and a link, in virtual time, for benchmarks.

Cards are 64 MiB images in memory, or sparse (sim/sparse.py) for 8-32 GiB: `sparse_rig`
builds a pair of any size, board profile and key that starts coherent, as a pair whose
primary restarted cleanly does (matching metadata, an empty activity log).

Built from the simulator's parts (sdmirror.sim: World, Card, Board, Link) with no faults,
so a benchmark scenario is a script: start, cut the link, write, mend, run until synced,
read the link's byte counters.
"""
import importlib.util
import os
import random

from sdmirror import fwpath

fwpath.install()

from mirror import actlog  # noqa: E402
from mirror.bitmap import DirtyBitmap  # noqa: E402
from mirror.config import Config  # noqa: E402
from mirror.meta import CONSISTENT, PEER_SYNCED, Meta  # noqa: E402
from mirror.node import META_BLOCKS  # noqa: E402
from mirror.primary import Primary  # noqa: E402
from mirror.secondary import Secondary  # noqa: E402

from sdmirror.sim.board import Board  # noqa: E402
from sdmirror.sim.card import BLOCK, Card  # noqa: E402
from sdmirror.sim.link import UART_BPS, Link  # noqa: E402
from sdmirror.sim.sparse import SparseImage  # noqa: E402
from sdmirror.sim.world import World  # noqa: E402

VOLUME = 131072  # 64 MiB of 512-byte blocks
# An SD card on SPI at about 25 MHz: 0.2 ms to move a block, a command's latency, and the
# programming time of a write.
CARD_TIMING = {"read_ms": 0.1, "xfer_ms": 0.2, "write_ms": 0.3, "busy_ms": 0.8}
ETH_BPS = 1000000
LINKS = {"uart": (UART_BPS, 1.0), "eth": (ETH_BPS, 5.0)}


def profile_settings(name):
    """The controller settings of a board profile (boards/NAME/board.py SETTINGS); the
    default profile is the firmware's defaults."""
    if name == "default":
        return {}
    path = os.path.join(fwpath.BOARDS, name, "board.py")
    if not os.path.exists(path):
        raise ValueError("no board profile %r (boards/%s/board.py)" % (name, name))
    spec = importlib.util.spec_from_file_location("profile_" + name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return dict(mod.SETTINGS)


def _synced_metadata(image, blocks, role, region_blocks, log):
    """Metadata of a coherent pair into a sparse image: the same generation on both cards,
    the secondary consistent, the primary's activity log empty (log) or absent (the
    primary boots knowing nothing: a full scan)."""
    m = Meta()
    m.role = 1 if role == "primary" else 2
    m.flags = PEER_SYNCED if role == "primary" else CONSISTENT
    m.gen = b"bench\x00\x00\x01"
    m.seq = 1
    buf = bytearray(BLOCK)
    m.pack_into(buf)
    if role == "primary" and log:
        al = actlog.ActivityLog(region_blocks)
        al.restore(region_blocks, [])
        al.pack_into(buf, m.seq)
    image[(blocks + (m.seq & 1)) * BLOCK:(blocks + 1 + (m.seq & 1)) * BLOCK] = buf


def sparse_rig(blocks, profile="default", key=None, link="eth", seed=0, log=True, **settings):
    """A coherent pair of sparse cards of `blocks` blocks (unwritten: zeros). log=False:
    the primary has no activity log, so its first pairing is a full scan."""
    cfg = profile_settings(profile)
    cfg.update(settings)
    if key is not None:
        cfg["key"] = key
    rb = DirtyBitmap(blocks, cfg.get("region_blocks", 0)).region_blocks
    images = []
    for role in ("primary", "secondary"):
        img = SparseImage((blocks + META_BLOCKS) * BLOCK)
        _synced_metadata(img, blocks, role, rb, log)
        images.append(img)
    return Rig(images[0], images[1], link=link, seed=seed, **cfg)


def random_volume(seed, blocks=VOLUME):
    return bytearray(random.Random(seed).randbytes(blocks * BLOCK))


class Rig:
    def __init__(self, primary_volume, secondary_volume, link="eth", seed=0, **settings):
        self.world = w = World(random.Random(seed))
        w.max_events = 10 ** 9  # long runs are the point here, not a runaway
        self.sparse = isinstance(primary_volume, SparseImage)
        if self.sparse:  # whole card images, metadata included
            self.blocks = len(primary_volume) // BLOCK - META_BLOCKS
            images = (primary_volume, secondary_volume)
        else:
            self.blocks = len(primary_volume) // BLOCK
            meta = bytes(META_BLOCKS * BLOCK)
            images = (bytes(primary_volume) + meta, bytes(secondary_volume) + meta)
        self.pcard = Card(w, "primary", self.blocks + META_BLOCKS, images[0], **CARD_TIMING)
        self.scard = Card(w, "secondary", self.blocks + META_BLOCKS, images[1], **CARD_TIMING)
        bps, latency = LINKS[link]
        if link == "uart":
            settings.setdefault("link_rate", bps)
        self.primary = Board(w, "primary", Primary, Config(role="primary", **settings),
                             self.pcard)
        self.secondary = Board(w, "secondary", Secondary,
                               Config(role="secondary", **settings), self.scard)
        self.link = Link(w, self.primary, self.secondary, link, bps, latency)
        self.bandwidth = bps

    # -- driving -----------------------------------------------------------------------
    def boot(self):
        self.primary.power_on()
        self.secondary.power_on()

    def synced(self):
        p, s = self.primary.node, self.secondary.node
        return (p.paired and s.paired and not p.busy() and not s.busy() and not p._inflight
                and s.meta.gen == p.meta.gen and s.status()["consistent"]
                and not len(p.tx_view()) and not len(s.tx_view())
                and p.session.in_flight() == 0 and s.session.in_flight() == 0
                and not self.pcard.pending() and not self.scard.pending())

    def run_until_synced(self, limit_s=3600):
        """Run until the pair is coherent and idle; returns the virtual seconds it took."""
        w = self.world
        t0 = w.now
        if not w.run_until(t0 + limit_s * 1000.0, stop=self.synced):
            raise RuntimeError("the pair did not get back in sync within %d s" % limit_s)
        return (w.now - t0) / 1000.0

    def run_until(self, cond, limit_s=3600):
        w = self.world
        if not w.run_until(w.now + limit_s * 1000.0, stop=cond):
            raise RuntimeError("condition not reached within %d s" % limit_s)

    def run_for(self, seconds):
        self.world.run_until(self.world.now + seconds * 1000.0)

    def run_until_unpaired(self, limit_s=120):
        """Run until both sides noticed a cut link (an idle pair: keepalive_ms + dead_ms)."""
        p, s = self.primary, self.secondary
        self.run_until(lambda: not p.node.paired and not s.node.paired, limit_s)

    def cut(self):
        self.link.set_cut(True)

    def mend(self):
        self.link.set_cut(False)

    def write(self, block, data):
        """An application write on the primary: the local card, then the controller."""
        n = len(data) // BLOCK
        node = self.primary.node
        if not node.admit(block, n, self.world.now):
            self.run_until(lambda: node.admit(block, n, self.world.now), limit_s=60)
        self.pcard.data[block * BLOCK:(block + n) * BLOCK] = data
        token = self.primary.app_write(block, data)
        if token < 0:
            raise RuntimeError("write refused (sync mode, congested): not in a benchmark")
        return token

    # -- measuring -----------------------------------------------------------------------
    def link_bytes(self):
        return self.link.bytes_sent

    def keepalive_bytes(self):
        """Liveness bytes (keepalives sent while nothing else was) of the nodes running."""
        return sum(b.node.session.stats["keepalive_bytes"] for b in (self.primary, self.secondary)
                   if b.node is not None)

    def counters(self, side="primary"):
        return dict((self.primary if side == "primary" else self.secondary).node.counters)

    def differing(self):
        a, b = self.pcard.data, self.scard.data
        if self.sparse:
            return a.differing(b, self.blocks)
        return [i for i in range(self.blocks)
                if a[i * BLOCK:(i + 1) * BLOCK] != b[i * BLOCK:(i + 1) * BLOCK]]
