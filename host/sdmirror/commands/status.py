"""`sdmirror status PORT`: one board's role, link, generation, dirty regions, scan
progress, counters and checksum engine, from its console's `status` and `stats` replies."""
import json

from sdmirror.clitools import Parser, add_port, add_timeout, connect, human_bytes, run

EXAMPLE = """examples:
  sdmirror status /dev/ttyACM0
  sdmirror status socket://127.0.0.1:40287 --json     # an emulated board (sdmirror emu status)

Exit status: 0 when the board answered, 1 when it could not be reached, did not answer as
the sdmirror firmware does, or runs firmware of another version than these host tools."""

# counters worth a line of their own when non-zero: they mean trouble
ERROR_COUNTERS = ("mismatches", "io_errors", "refused", "dropped_writes", "unreadable_both",
                  "lost_blocks", "degraded_refused", "card_failures")
ERROR_LINK = ("retransmits", "bad_crc", "bad_auth", "malformed", "timeouts", "gap_in")


def build_parser():
    p = Parser(prog="sdmirror status", description=__doc__, epilog=EXAMPLE)
    add_port(p)
    p.add_argument("--json", action="store_true", help="print the status as one JSON object")
    add_timeout(p)
    return p


def read(board):
    """status with the stats reply under "stats" (memory, card counters)."""
    st = board.status()
    st.pop("cmd", None)
    stats = board.command("stats")
    if "error" not in stats:
        stats.pop("cmd", None)
        st["stats"] = stats
    return st


def scan_text(scan):
    if not scan:
        return "none yet"
    done, total = scan.get("done_blocks", 0), scan.get("total_blocks", 0) or 1
    if scan.get("active"):
        return "running: %d of %d blocks (%.0f%%)" % (done, total, 100.0 * done / total)
    return "idle (last pass: %d of %d blocks)" % (done, total)


def lines(st):
    """(label, text) pairs describing a status reply."""
    out = [("board", "%s, firmware %s, role %s" % (st.get("board"), st.get("version"),
                                                   st.get("role")))]
    ls = st.get("link_stats") or {}
    out.append(("link", "%s (sessions %s, %s frames / %s out)" % (
        st.get("link"), ls.get("sessions", 0), ls.get("frames_out", 0),
        human_bytes(ls.get("bytes_out", 0)))))
    out.append(("generation", str(st.get("generation"))))
    out.append(("checksum", str(st.get("alg"))))
    nb = st.get("nblocks") or 0
    out.append(("volume", "%d blocks (%.1f MiB)" % (nb, nb * 512 / 1048576.0)))
    if st.get("role") == "primary":
        out.append(("dirty", "%s regions of %s blocks (bitmap %s)" % (
            st.get("dirty_regions"), st.get("region_blocks"),
            "valid" if st.get("bitmap_valid") else "LOST: the next resync is a full scan")))
        out.append(("syncing", "%s (epochs %s, writes in flight %s)" % (
            "yes" if st.get("syncing") else "no", st.get("epochs"), st.get("inflight"))))
        if st.get("card"):
            out.append(("card", "in use" if st["card"] == "ok" else st["card"] +
                        " (sdmirror console PORT, then: attach)"))
        if st.get("promise"):
            out.append(("promise", st["promise"]))
        c = st.get("counters") or {}
        out.append(("heal", "%d reads healed from the secondary, %d blocks in the background"
                    "%s" % (c.get("healed_reads", 0), c.get("healed_blocks", 0),
                            ", LOST (reads fail until written): %s" % st["lost"]
                            if st.get("lost") else "")))
    else:
        out.append(("consistent", "yes" if st.get("consistent") else "no (resync pending)"))
    if st.get("refusal"):
        out.append(("refused", st["refusal"]))
    out.append(("scan", scan_text(st.get("scan"))))
    counters = st.get("counters") or {}
    out.append(("counters", ", ".join("%s %s" % (k, counters[k]) for k in sorted(counters))))
    trouble = [k for k in ERROR_COUNTERS if counters.get(k)] + \
        [k for k in ERROR_LINK if ls.get(k)]
    out.append(("errors", ", ".join("%s %s" % (k, counters.get(k, ls.get(k))) for k in trouble)
                or "none"))
    stats = st.get("stats") or {}
    if "mem_free" in stats:
        out.append(("memory", "%s free, %s used" % (human_bytes(stats["mem_free"]),
                                                   human_bytes(stats.get("mem_alloc")))))
    return out


def _main(args):
    with connect(args.port, args.timeout) as board:
        st = read(board)
    if args.json:
        print(json.dumps(st, sort_keys=True))
        return 0
    print(args.port)
    for label, text in lines(st):
        print("  %-11s %s" % (label, text))
    return 0


def main(argv):
    args = build_parser().parse_args(argv)
    return run("sdmirror status", _main, args)
