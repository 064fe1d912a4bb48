"""A card that has failed, on the emulated pair running the real firmware (issue 12): the
primary's card dies (inject card-dead), the primary detaches it and serves reads and writes
from the secondary; the card answers again (inject card-back), `attach` copies what it
lacks from the secondary and the cards are identical."""
import pytest

from emupair import NEEDS_VM, block_hex, synced_eth_pair
from sdmirror.console_client import Board, synced

pytestmark = NEEDS_VM

SETTINGS = {"dead_ms": 1500, "keepalive_ms": 500, "hello_ms": 200}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    yield from synced_eth_pair(tmp_path_factory, SETTINGS)


def test_a_dead_card_is_detached_served_from_the_secondary_then_attached(pair, run_cli):
    p = pair.p
    assert p.checked("write 60 %s" % block_hex(60))["ok"]
    pair.wait_synced()
    assert p.checked("inject card-dead")["ok"]
    failed = 0
    for _ in range(20):  # writes fail until card_errors requests failed in a row
        r = p.command("write 61 %s" % block_hex(61))
        if r.get("ok"):
            break
        assert "write failed" in r["error"]
        failed += 1
    st = p.status()
    assert st["detached"] and st["card"].startswith("failed (detached)"), st["card"]
    assert 1 <= failed < 8 and st["counters"]["card_failures"] == 1
    assert p.checked("read 61")["hex"] == block_hex(61)  # from the secondary's card
    assert p.checked("read 60")["hex"] == block_hex(60)
    assert p.checked("write 62 %s" % block_hex(62))["ok"]
    assert "card_failed" in [e.get("event") for e in p.events]
    url = p.url
    status, out, err = run_cli("attach", url)  # the card still answers nothing
    assert status == 1 and "still does not answer" in err, err
    # (an emulated console serves one client at a time: the command's connection replaced
    # the pair's, so fresh ones from here on)
    with Board(url, timeout=15) as b:
        assert b.checked("inject card-back")["ok"]
    status, out, err = run_cli("attach", url, "--wait", "60")
    assert status == 0 and "card in use again" in out, err
    with Board(url, timeout=15) as b:
        st = b.wait(synced, 60, what="the pair to be coherent and idle")
        assert pair.differing() == []
        assert not st["detached"] and st["counters"]["copied_back"] > 0
        assert b.checked("read 62")["hex"] == block_hex(62)  # from our card again
        assert b.status()["counters"]["detached_reads"] == 2
