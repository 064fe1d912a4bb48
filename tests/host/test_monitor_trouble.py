"""`sdmirror monitor` shows issue 12's state (the card, detached or in use, the promise,
heals, lost blocks, a refusal) from a board's status, as `sdmirror status` does."""
from rich.console import Console

from sdmirror.commands import monitor, status


def _render(st):
    v = monitor.BoardView("socket://x", None)
    v.status = st
    con = Console(width=160, record=True, file=open("/dev/null", "w"))
    con.print(monitor.render_board(v))
    return con.export_text()


BASE = {"role": "primary", "link": "paired", "generation": "00112233", "dirty_regions": 0,
        "bitmap_valid": True, "syncing": False, "promise": "sync, degraded=refuse (500 ms)",
        "card": "ok", "lost": [], "counters": {}, "link_stats": {}}


def test_monitor_shows_a_card_in_use_and_the_promise():
    out = _render(BASE)
    assert "card" in out and "in use" in out
    assert "sync, degraded=refuse (500 ms)" in out
    assert "blocks lost" not in out and "histories" not in out


def test_monitor_shows_a_detached_card_heals_lost_blocks_and_a_refusal():
    st = dict(BASE, card="failed (detached): 8 card requests failed in a row", lost=[7],
              refusal="histories diverged: sdmirror settle PORT --discard-this-side",
              counters={"healed_reads": 3, "detached_reads": 5, "detached_writes": 2,
                        "lost_blocks": 1})
    out = _render(st)
    assert "failed (detached): 8 card requests failed in a row" in out
    assert "3 reads healed" in out and "5 reads, 2 writes served by the secondary" in out
    assert "1 blocks lost" in out and "[7]" in out
    assert "histories diverged" in out


def test_monitor_of_a_secondary_has_no_card_row_but_shows_a_refusal():
    st = {"role": "secondary", "link": "up", "consistent": True, "counters": {},
          "refusal": "primary refused: stale", "link_stats": {}}
    out = _render(st)
    assert "in use" not in out and "primary refused: stale" in out


def test_status_names_the_detached_card_and_how_to_attach():
    st = dict(BASE, card="failed (detached): x")
    text = dict(status.lines(st))
    assert text["card"].startswith("failed (detached): x") and "attach" in text["card"]
    assert dict(status.lines(BASE))["card"] == "in use"
