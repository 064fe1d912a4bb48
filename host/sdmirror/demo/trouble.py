"""The demo's fifth phase: a mirror in trouble (issue 12).

  5. trouble   blocks of the primary's card that hold file data turn unreadable; the
               application reads its files and gets them whole (each bad block healed from
               the secondary and rewritten); then the primary's board dies: the secondary is
               promoted (`sdmirror promote`), the application carries on there, and the old
               primary comes back, is refused as a primary and is demoted (`sdmirror
               demote`) into the new pair's secondary, resynced by the new primary's bitmap
               plus the extents of its own activity log (its record of unconfirmed writes,
               on its card across the reboot); a full scan if that record is missing.

After this phase the board named "secondary" in the emulator is the primary: the demo's
console clients are swapped to match.
"""
import contextlib
import io
import time

from sdmirror import cli
from sdmirror.console_client import Board, synced

from . import fatimg, measure

SHOWN = ("healed", "unreadable", "unreadable_both", "lost", "refused", "paired", "synced",
         "promoted", "fatal")


def _host(demo, *argv):
    """Run a host command as an operator would; its output goes into the story."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        status = cli.main(list(argv))
    text = buf.getvalue().strip()
    demo.say("  [dim]$ sdmirror %s[/]" % " ".join(argv))
    for line in text.splitlines():
        demo.say("    " + line)
    if status:
        from .story import DemoError
        raise DemoError("sdmirror %s failed: %s" % (" ".join(argv), text))
    return text


def _reconnect(demo):
    """The host commands took the consoles (an emulated console serves one client): open
    the demo's own again, the primary's client on whichever board now leads."""
    for b in (demo.p, demo.s):
        b.close()
    urls = {n: demo.emu_status["boards"][n]["url"] for n in ("primary", "secondary")}
    demo.p = Board(urls[demo.lead], timeout=30.0)
    demo.s = Board(urls["secondary" if demo.lead == "primary" else "primary"], timeout=30.0)


def phase5(demo):
    ph = measure.Phase(5, "trouble: healed reads, failover", demo.nblocks, short="trouble")
    demo.lead = "primary"
    demo.say("\n[bold]5. A mirror in trouble.[/] Blocks of the primary's card that hold file "
             "data turn unreadable (an ECC error: reads fail until the block is written).")
    demo.wait_for("pair idle", lambda st: synced(st), demo.prof["timeout"])
    demo.events.mark()
    c0 = demo._status(demo.p)["counters"]
    img = demo.image("primary")
    with fatimg.FatImage(img) as fat:
        contents = {path: fat.read(path) for path in sorted(demo.written)}
    from .story import pick_blocks
    targets = pick_blocks(fatimg.data_blocks(img, contents), demo.prof["corrupt"])
    for _, b in targets:
        demo.p.checked("inject bad-block %d" % b)
    demo.say("  block(s) %s of the primary's card are unreadable (%s)." % (
        ", ".join(str(b) for _, b in targets), ", ".join(sorted(set(p for p, _ in targets)))))
    whole = 0
    for path in sorted(set(p for p, _ in targets)):
        reply = demo.p.checked("fs read %s" % path, timeout=60.0)
        whole += reply["sha256"] == demo.written[path]
    healed = demo._status(demo.p)["counters"].get("healed_reads", 0) - c0.get("healed_reads", 0)
    demo.say("  the application read those files: %d of %d whole (sha256 as written); %d "
             "read(s) healed from the secondary and rewritten." % (
                 whole, len(set(p for p, _ in targets)), healed))
    ph.notes.append("%d blocks of file data turned unreadable on the primary's card; the "
                    "application's reads of them were served from the secondary and the "
                    "blocks rewritten: healed_reads %d, files read whole %d of %d." % (
                        len(targets), healed, whole, len(set(p for p, _ in targets))))
    ph.extra["healed_reads"] = healed
    ph.extra["files_read_whole"] = [whole, len(set(p for p, _ in targets))]

    demo.say("  Now the primary's board dies (its link goes silent).")
    old_gen = demo._status(demo.p)["generation"]
    demo.emu.link("down", "blackhole")
    dead = demo.silence_s()  # the secondary is idle: keepalive_ms + dead_ms
    _wait_board(demo, demo.s, lambda st: st.get("link") != "paired", dead + 20,
                "the secondary to notice")
    s_url = demo.s.url
    p_url = demo.p.url
    _host(demo, "promote", s_url)
    demo.lead = "secondary"
    _reconnect(demo)
    st = demo._status(demo.p)
    demo.say("  the secondary leads: generation %s (parent %s)." % (st["generation"], old_gen))
    extra = [("/after-failover.bin", 4096)]
    demo.write_files(extra, "writing (new primary)")
    ph.notes.append("The primary's board died; `sdmirror promote` made the secondary the "
                    "primary under generation %s (its parent: %s) and the application wrote "
                    "%s there." % (st["generation"], old_gen, extra[0][0]))
    ph.extra["failover"] = {"old_generation": old_gen, "new_generation": st["generation"]}

    demo.say("  The old primary comes back (rebooted) and the link with it.")
    ph.start(demo.emu, demo._status(demo.p)["counters"])  # the span measured: the resync
    demo.emu.power_cycle("primary")
    demo.emu.link("up")
    st = _wait_board(demo, demo.s, lambda st: "demote" in (st.get("refusal") or ""), 60,
                     "the old primary to be refused")
    refusal = st["refusal"]
    demo.say("  refused as a primary: %s" % refusal)
    ph.differing = measure.differing(demo.image("primary"), demo.image("secondary"))
    demoted = _host(demo, "demote", p_url)
    _reconnect(demo)
    st = demo.follow(ph)
    ph.stop(demo.emu, st["counters"])
    demo.say("  the old primary follows: the pair is coherent again (%d blocks copied)." %
             ph.blocks_copied)
    by_log = "activity log" in demoted
    ph.notes.append("The old primary came back, was refused as a primary (generation ids) "
                    "and `sdmirror demote` made it the new secondary; %s, and the new "
                    "primary copied %d blocks for %d that differed. (The board named "
                    "secondary leads now: the resync's bytes are in the s->p column.)" % (
                        "its activity log, on its card across the reboot, named the extents "
                        "of its unconfirmed writes: they were compared with the regions of the "
                        "new primary's bitmap, no full scan" if by_log else
                        "it had no usable record of its unconfirmed writes, so the new primary "
                        "ran a full scan", ph.blocks_copied, len(ph.differing)))
    evs = demo.events.since_mark()
    for board, ev, detail in evs:
        if ev in SHOWN:
            ph.events.append("%s: %s %s" % (board, ev, "" if isinstance(detail, dict)
                                            else detail))
    ph.extra["failover"]["old_primary_refused"] = refusal
    ph.extra["failover"]["demote_by_log"] = by_log
    ph.extra["failover"]["old_primary_now"] = demo._status(demo.s)["role"]
    return ph


def _wait_board(demo, board, pred, timeout, what):
    deadline = time.monotonic() + timeout
    with demo._progress() as prog:
        task = prog.add_task(what, total=None, info="")
        while True:
            st = demo._status(board)
            if pred(st):
                prog.update(task, total=1, completed=1)
                return st
            if time.monotonic() > deadline:
                from .story import DemoError
                raise DemoError("timed out after %.0f s: %s" % (timeout, what))
            time.sleep(0.25)
