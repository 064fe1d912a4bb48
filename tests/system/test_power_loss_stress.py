"""Power-loss stress on the emulated pair: kill either board's VM at random moments during
sync-mode writes, resyncs and scans. After each recovery the two cards' volumes are
byte-identical, and every write the application saw acknowledged is there (or a later
write to the same block, acknowledged or not, that raced the power loss)."""
import random
import threading
import time

import pytest

from emupair import synced_eth_pair
from sdmirror.console_client import ConsoleError

pytestmark = pytest.mark.system

ROUNDS = 20
BLOCKS = list(range(0, 4096, 97))  # a small set, so writes overwrite each other
SETTINGS = {"mode": "sync", "scan_period_ms": 2500, "scan_rate": 0, "dead_ms": 2000,
            "keepalive_ms": 500}


class Model:
    """Per block: every write attempted, in order, and whether it was acknowledged."""

    def __init__(self):
        self.writes = {b: [] for b in BLOCKS}

    def acceptable(self, block):
        hist = self.writes[block]
        last_acked = max([i for i, (_, ok) in enumerate(hist) if ok], default=-1)
        ok = {data for data, _ in hist[last_acked + 1:]} if last_acked >= 0 else \
            {data for data, _ in hist} | {bytes(512)}
        if last_acked >= 0:
            ok.add(hist[last_acked][0])
        return ok


def writer(pair, model, rng, count, stop):
    for _ in range(count):
        if stop.is_set():
            return
        b = rng.choice(BLOCKS)
        data = rng.randbytes(512)
        entry = [data, False]
        model.writes[b].append(entry)
        try:
            reply = pair.p.command("write %d %s" % (b, data.hex()), timeout=6)
        except ConsoleError:
            return  # the primary died under this write: not acknowledged
        if reply.get("ok"):
            entry[1] = True
        else:
            return


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    yield from synced_eth_pair(tmp_path_factory, SETTINGS, name="stress", timeout=120)


def test_power_loss_at_random_moments(pair):
    rng = random.Random(20261126)
    model = Model()
    t0 = time.monotonic()
    kills = {"primary": 0, "secondary": 0}
    for rnd in range(ROUNDS):
        victim = rng.choice(("primary", "secondary"))
        phase = rng.choice(("writes", "resync", "scan"))
        stop = threading.Event()
        if phase == "resync":
            pair.emu.link("down", "reset")
            writer(pair, model, rng, 5, stop)  # degraded: acknowledged at once
            pair.emu.link("up")
        elif phase == "scan":
            try:
                pair.p.command("scan", timeout=5)
            except ConsoleError:
                pass
        w = threading.Thread(target=writer, args=(pair, model, rng, 15, stop))
        w.start()
        time.sleep(rng.uniform(0.05, 1.0))
        pair.emu.power_cycle(victim)
        kills[victim] += 1
        w.join(30)
        stop.set()
        assert not w.is_alive()
        pair.wait_synced(90)
        assert pair.differing() == [], "round %d (%s, %s killed)" % (rnd, phase, victim)
        with open(pair.image("primary"), "rb") as f:
            for b in BLOCKS:
                f.seek(b * 512)
                got = f.read(512)
                assert got in model.acceptable(b), \
                    "round %d: block %d lost an acknowledged write" % (rnd, b)
    acked = sum(ok for hist in model.writes.values() for _, ok in hist)
    assert acked > ROUNDS * 5 and kills["primary"] and kills["secondary"]
    print("%d rounds, %d kills, %d writes acknowledged, %.0f s" % (
        ROUNDS, sum(kills.values()), acked, time.monotonic() - t0))
