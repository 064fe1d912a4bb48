"""The failover campaign (sim/failover.py): promotions, returns of the old primary,
settles, bad blocks and read-error bursts, a card that fails and comes back, each scenario
checked. make test runs 200
seeds; CI (SDMIRROR_SIM_SEEDS=10000) runs a tenth of its seed count."""
import os

import pytest

from sdmirror.sim import fast
from sdmirror.sim.campaign import default_jobs
from sdmirror.sim.failover import run_failover_campaign, run_seed

SEEDS = max(200, int(os.environ.get("SDMIRROR_SIM_SEEDS", "1000")) // 10)


@pytest.fixture(autouse=True)
def _firmware_code_restored():
    yield
    fast.uninstall()


def test_the_failover_campaign_passes(capsys):
    s = run_failover_campaign(0, SEEDS, jobs=default_jobs())
    with capsys.disabled():
        print("\n  failover sim: %d seeds, %d failed; stories %s; settles dropping %s; "
              "demotes by %s; healed reads %d, in background %d; detached %s" % (
                  SEEDS, s["failed"], s["stories"], s["settled_by_dropping"],
                  s["demoted_by"], s["healed_reads"], s["healed_in_background"],
                  s["detached"]))
    assert s["failed"] == 0, s["failing"][:5]
    assert all(s["stories"].get(k, 0) > SEEDS // 5 for k in ("dead", "cut", "split"))
    # a card that fails: detached, served from the secondary, attached and copied back
    d = s["detached"]
    assert s["stories"].get("card", 0) > SEEDS // 8 and d["scenarios"] > SEEDS // 10
    assert d["reads"] > 0 and d["writes"] > 0 and d["copied_back"] > 0
    assert s["settled_by_dropping"]["old"] > 0 and s["settled_by_dropping"]["new"] > 0
    # every way demote resyncs: the bitmap alone, with the old primary's log, a full scan
    assert all(n > 0 for n in s["demoted_by"].values()), s["demoted_by"]
    assert s["healed_reads"] > 0 and s["faults"].get("bad_block", 0) > SEEDS // 2
    # issue 11: faults while the pair settles into its new roles after a command
    assert s["faults"].get("cut_after_command", 0) > SEEDS // 10
    assert s["faults"].get("power_after_command", 0) > SEEDS // 5
    assert s["faults"].get("power_in_switch", 0) > SEEDS // 10


def test_a_heal_with_wrong_data_is_caught(monkeypatch):
    """The bad_heal check can fail: a secondary answering with other bytes is noticed."""
    from mirror.readserver import ReadServer
    orig = ReadServer.io_done

    def lying(self, ok, what):
        self._buf[5] ^= 0xFF  # the answer is not what the card holds
        orig(self, ok, what)
    monkeypatch.setattr(ReadServer, "io_done", lying)
    for seed in range(100):
        r = run_seed(seed)
        if r["app"].get("healed"):
            assert "bad_heal" in r["failures"]
            return
    pytest.fail("no seed healed a read")


def test_a_copy_back_with_wrong_data_is_caught(monkeypatch):
    """The checks can fail on the story "card": a copy onto the returned card that writes
    other bytes than the secondary sent is noticed."""
    from mirror.detach import Detached
    orig = Detached.answer

    def corrupting(self, ok):
        self.node._rmv[0] ^= 0xFF
        orig(self, ok)
    monkeypatch.setattr(Detached, "answer", corrupting)
    for seed in range(100):
        r = run_seed(seed)
        if r["copied_back"]:
            assert set(r["failures"]) & {"diverged", "bad_reads", "lost_acked_writes"}, r
            return
    pytest.fail("no seed copied onto a returned card")


# failover seeds that once failed, and why
REGRESSIONS = (
    777357,  # story card: detached while a full scan was owed; the new generation did not
             # follow the secondary's (diverged): now writes fail then, no new generation
    777556,  # story card: the survivor lacked acknowledged writes (found with the seed
             # above; passes since the same fix)
    2026181, 2026590, 2026599, 2026682, 2027163, 2027348,  # story card: a write served
             # while detached into a region holding unconfirmed writes on the failed card;
             # the copy back put the region's older data over them (lost_acked_writes,
             # bad_reads). Such writes now fail (can_fetch), as reads there did
    448,  # story card: the card detached only after the operator's attach (the 8th failure
          # in a row a bad block's read after the burst): never attached; the campaign's
          # operator now attaches once the card shows detached
    863,  # story dead: promotion undone by a power loss while the old primary was demoted:
          # two connected secondaries, and promote refused ("the primary is still
          # connected") for ever; promote is allowed when the peer is a secondary
)


def test_failover_seeds_that_once_failed_pass():
    for seed in REGRESSIONS:
        r = run_seed(seed)
        assert r["ok"], (seed, r["details"])


def test_a_seed_replays_the_same():
    assert run_seed(7)["faults"] == run_seed(7)["faults"]
