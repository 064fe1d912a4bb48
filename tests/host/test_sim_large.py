"""The campaign draws large cards (8, 16, 32 GiB) and the key: their scenarios run on
sparse cards and their checks look only at blocks ever written (sim/scenario.py)."""
import random

import pytest

from sdmirror.sim import fast, scenario
from sdmirror.sim.card import BLOCK
from sdmirror.sim.oracle import Oracle
from sdmirror.sim.sparse import SparseImage


@pytest.fixture(autouse=True)
def _restore():
    yield
    fast.uninstall()


def _params(seed):
    p = scenario.make_params(random.Random(seed))
    scenario.explore_params(seed, p)
    return p


def test_some_scenarios_draw_large_cards_of_every_size_and_the_key():
    large = [p for p in map(_params, range(20000)) if p.get("large")]
    assert 100 <= len(large) <= 300  # LARGE_FRACTION of them
    assert set(p["volume_blocks"] for p in large) == set(scenario.LARGE_BLOCKS)
    assert sum(1 for p in large if p["cfg"]["key"]) > len(large) * 0.6
    assert not any(p["cfg"].get("scan_mode") == "flat" for p in large)


def _large_seed(blocks):
    return next(s for s in range(100000) if _params(s).get("large") and
                _params(s)["volume_blocks"] == blocks)


def test_a_32_gib_scenario_settles_and_its_checks_walk_only_written_blocks():
    seed = _large_seed(67108864)
    sc = scenario.Scenario(seed)
    fast.install()
    res = sc.run()
    assert res["ok"], res
    assert res["settled_ms"] is not None
    walked = sc._blocks()
    assert 0 < len(walked) < 100000  # what the application and the setup wrote, not 64 Mi
    assert set(sc.pcard.data.blocks) == set(sc.scard.data.blocks)


def test_the_sparse_checks_find_a_difference_far_out_on_the_card():
    seed = _large_seed(16777216)
    sc = scenario.Scenario(seed)
    fast.install()
    assert sc.run()["ok"]
    far = sc.params["volume_blocks"] - 5
    sc.scard.data[far * BLOCK:(far + 1) * BLOCK] = b"\x01" * BLOCK
    res = sc.check()
    assert "diverged" in res["failures"] and "lost_acked_writes" in res["failures"]
    assert str(far) in res["details"]["diverged"][0]


def test_an_oracle_over_a_sparse_image_knows_the_initial_blocks():
    img = SparseImage(1000 * BLOCK)
    img[7 * BLOCK:8 * BLOCK] = b"\x07" * BLOCK
    o = Oracle(990, img)
    img[7 * BLOCK:8 * BLOCK] = bytes(BLOCK)  # the card moves on; the oracle's copy does not
    assert o.acceptable(7, "local") == {b"\x07" * BLOCK}
    assert o.acceptable(8, "local") == {bytes(BLOCK)}
    w = o.issue(8, b"\x08" * BLOCK, 1.0)
    w.local = True
    assert o.acceptable(8, "local") == {b"\x08" * BLOCK}
    assert sorted(o.written()) == [8]
