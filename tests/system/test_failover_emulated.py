"""A mirror in trouble, on the emulated pair running the real firmware (issue 12): a bad
block healed from the secondary, the host commands promote / demote / settle with their
refusals, a failover and the old primary's return as the new secondary."""
import json

import pytest

from emupair import NEEDS_VM, block_hex, synced_eth_pair
from sdmirror.console_client import Board, synced

pytestmark = NEEDS_VM

SETTINGS = {"dead_ms": 1500, "keepalive_ms": 500, "hello_ms": 200}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    yield from synced_eth_pair(tmp_path_factory, SETTINGS)


def _urls(pair):
    return pair.p.url, pair.s.url


def _ask(url, line):
    """One command on a fresh connection (an emulated console serves one client at a
    time: the host commands' own connections replace the pair's)."""
    with Board(url, timeout=15) as b:
        return b.command(line)


def _wait(url, pred, timeout, what):
    with Board(url, timeout=15) as b:
        return b.wait(pred, timeout, what=what)


def test_a_bad_block_on_the_primary_is_read_from_the_secondary_and_rewritten(pair):
    assert pair.p.checked("write 50 %s" % block_hex(50))["ok"]
    pair.wait_synced()
    assert pair.p.checked("inject bad-block 50")["ok"]
    assert pair.p.checked("read 50")["hex"] == block_hex(50)
    c = pair.p.status()["counters"]
    assert c["healed_reads"] == 1
    assert pair.p.checked("read 50")["hex"] == block_hex(50)  # rewritten: reads again
    assert pair.p.status()["counters"]["healed_reads"] == 1
    assert "bad-block needs an emulated card" not in pair.s.command("inject bad-block 1").get(
        "error", "")


def test_wrong_uses_are_refused_with_one_line_and_change_nothing(pair, run_cli):
    purl, surl = _urls(pair)
    gens = (_ask(purl, "status")["generation"], _ask(surl, "status")["generation"])
    status, out, err = run_cli("promote", purl)
    assert status == 1 and "already the primary" in err and len(err.splitlines()) == 1
    status, out, err = run_cli("promote", surl)
    assert status == 1 and "still connected" in err
    status, out, err = run_cli("demote", purl)
    assert status == 1 and "paired" in err
    status, out, err = run_cli("settle", surl, "--discard-this-side", "--yes")
    assert status == 1 and "paired" in err
    assert _ask(surl, "settle")["error"].startswith("usage: settle --discard-this-side")
    assert (_ask(purl, "status")["generation"], _ask(surl, "status")["generation"]) == gens
    assert pair.differing() == []


def test_failover_then_the_old_primary_returns_as_the_new_secondary(pair, run_cli):
    purl, surl = _urls(pair)
    _wait(purl, synced, 30, "coherence")
    old_gen = _ask(purl, "status")["generation"]
    pair.emu.link("down")  # the primary is gone, as far as the secondary can tell
    _wait(surl, lambda st: st.get("link") in ("down", "handshake"), 20,
          "the secondary to notice")
    status, out, err = run_cli("promote", surl, "--json")
    assert status == 0, err
    res = json.loads(out)
    assert res["role"] == "primary" and res["parent"] == old_gen
    assert res["status"]["role"] == "primary" and res["generation"] != old_gen
    assert _ask(surl, "write 70 %s" % block_hex(70))["ok"]  # the application carries on
    pair.emu.power_cycle("primary")  # the old primary comes back (its RAM bitmap lost)
    pair.emu.link("up")
    st = _wait(purl, lambda st: "demote" in (st.get("refusal") or ""), 30,
               "the old primary to be refused")
    assert st["role"] == "primary" and st["link"] != "paired"
    status, out, err = run_cli("demote", purl)
    assert status == 0, err
    # its activity log survived the power cycle: no full scan (the new primary's bitmap,
    # plus the log's extents if it names any)
    assert "now secondary" in out and "full scan" not in out and "bitmap" in out
    _wait(surl, synced, 60, "the new pair to resync")
    assert pair.differing() == []
    assert _ask(purl, "read 70")["hex"] == block_hex(70)
    assert _ask(purl, "status")["role"] == "secondary"


def test_settle_needs_the_flag_and_confirmation(pair, run_cli):
    purl, surl = _urls(pair)
    status, out, err = run_cli("settle", surl)
    assert status == 2 and "--discard-this-side" in err
    status, out, err = run_cli("settle", surl, "--discard-this-side")
    assert status == 1 and "not confirmed" in err
