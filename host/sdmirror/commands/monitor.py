"""`sdmirror monitor PORT PORT`: a live view of both boards of a pair — link state,
generation, a strip of the primary's dirty bitmap, resync and scan progress bars with rate
and ETA, the error counters, and a mirror in trouble: the primary's card (in use, or failed
and detached: served from the secondary), the sync promise in force, reads healed, blocks
lost, a refusal. For an emulated pair it adds the emulator's own count of
the bytes that crossed the link. Ctrl-C quits.
"""
import time

from rich.console import Console, Group
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from sdmirror.clitools import ToolError, Parser, add_port, add_timeout, connect, human_bytes, run
from sdmirror.console_client import ConsoleError

EXAMPLE = """examples:
  sdmirror monitor /dev/ttyACM0 /dev/ttyACM1
  sdmirror monitor socket://127.0.0.1:40287 socket://127.0.0.1:41545 --interval 0.5
  sdmirror monitor socket://127.0.0.1:40287 socket://127.0.0.1:41545 --once   # one frame

The two ports may be given in either order; each board says its role."""

STRIP = 40  # bitmap characters
LINK_STYLE = {"paired": "bold green", "up": "yellow", "handshake": "yellow", "down": "bold red"}
ERRORS = (("mismatches", "counters"), ("io_errors", "counters"), ("refused", "counters"),
          ("retransmits", "link_stats"), ("bad_crc", "link_stats"),
          ("bad_auth", "link_stats"), ("timeouts", "link_stats"))
WORK = ("writes_forwarded", "writes_applied", "blocks_copied", "resync_blocks", "rechecks",
        "scans", "pull_ahead", "degraded_acks")


def build_parser():
    p = Parser(prog="sdmirror monitor", description=__doc__.split("\n\n")[0], epilog=EXAMPLE)
    add_port(p, "port_a")
    add_port(p, "port_b")
    p.add_argument("--once", action="store_true",
                   help="print one frame (two samples --interval apart, for the rates) and exit")
    p.add_argument("--interval", type=float, default=1.0, metavar="S",
                   help="seconds between samples (default 1)")
    p.add_argument("--run-dir", metavar="DIR",
                   help="emulator run of the pair, for its link byte counts (default: found "
                        "from the ports, if they are emulated)")
    add_timeout(p)
    return p


class Rate:
    """A smoothed rate of a growing quantity, and the time left to reach a total."""

    def __init__(self):
        self.last = None
        self.rate = None

    def update(self, value, now):
        if self.last is not None and value is not None:
            v0, t0 = self.last
            if now > t0 and value >= v0:
                r = (value - v0) / (now - t0)
                self.rate = r if self.rate is None else 0.5 * self.rate + 0.5 * r
            elif value < v0:  # a new pass started, or the board rebooted
                self.rate = None
        self.last = (value, now)

    def eta(self, remaining):
        if not self.rate or remaining is None or remaining <= 0:
            return None
        return remaining / self.rate


class BoardView:
    """What the monitor knows of one board, sample after sample."""

    def __init__(self, url, board):
        self.url = url
        self.board = board
        self.status = None
        self.bitmap = None
        self.error = None
        self.scan_rate = Rate()
        self.resync_rate = Rate()
        self.peak_dirty = 0   # dirty regions when this resync began (the bar's total)

    def sample(self, timeout):
        now = time.monotonic()
        try:
            if self.board is None:  # lost earlier (power cycle, cable): try again
                self.board = connect(self.url, timeout)
            st = self.board.status()
            bm = self.board.command("bitmap %d" % STRIP) if st.get("role") == "primary" else None
        except ConsoleError as e:
            self.error = str(e)
            if self.board is not None:
                self.board.close()
                self.board = None
            return
        self.error = None
        self.status = st
        self.bitmap = bm if bm and "error" not in bm else None
        scan = st.get("scan") or {}
        self.scan_rate.update(scan.get("done_blocks") if scan.get("active") else None, now)
        dirty = st.get("dirty_regions") or 0
        if st.get("role") == "primary":
            if dirty > self.peak_dirty or not (st.get("syncing") or dirty):
                self.peak_dirty = dirty
            self.resync_rate.update(self.peak_dirty - dirty, now)

    def close(self):
        if self.board is not None:
            self.board.close()


def _eta(seconds):
    if seconds is None:
        return "ETA -"
    seconds = int(seconds + 0.5)
    return "ETA %d:%02d" % (seconds // 60, seconds % 60)


def _progress(done, total, rate_text, eta):
    """A bar with percentage, rate and ETA, as one cell."""
    pct = 100.0 * done / total if total else 100.0
    g = Table.grid(padding=(0, 1))
    g.add_row(ProgressBar(total=max(total, 1), completed=min(done, max(total, 1)), width=28),
              Text("%3.0f%%  %s  %s" % (pct, rate_text, _eta(eta)), style="cyan"))
    return g


def scan_active(st):
    return bool((st.get("scan") or {}).get("active"))


def trouble_rows(st):
    """(label, Text) rows of issue 12's state: the card, the promise, heals, lost blocks,
    a refusal. Empty lines are left out, except the card and promise of a primary."""
    rows = []
    c = st.get("counters") or {}
    if st.get("role") == "primary":
        card = st.get("card") or "ok"
        rows.append(("card", Text("in use" if card == "ok" else card,
                                  style="green" if card == "ok" else "bold red")))
        if st.get("promise"):
            rows.append(("promise", Text(st["promise"])))
        heals = c.get("healed_reads", 0) + c.get("healed_blocks", 0)
        if heals or c.get("detached_reads") or c.get("detached_writes"):
            rows.append(("healed", Text(
                "%d reads healed, %d blocks in the background; detached: %d reads, %d writes "
                "served by the secondary" % (c.get("healed_reads", 0), c.get("healed_blocks", 0),
                                             c.get("detached_reads", 0),
                                             c.get("detached_writes", 0)), style="yellow")))
        if st.get("lost") or c.get("lost_blocks"):
            rows.append(("lost", Text("%d blocks lost so far; reads fail until written: %s" % (
                c.get("lost_blocks", 0), st.get("lost") or "none now"), style="bold red")))
    if st.get("refusal"):
        rows.append(("refused", Text(st["refusal"], style="bold red")))
    return rows


def render_board(v):
    st = v.status
    if st is None:
        return Panel(Text(v.error or "no answer yet", style="red"), title=v.url)
    role = st.get("role", "?")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    link = st.get("link", "?")
    grid.add_row("link", Text.assemble((link, LINK_STYLE.get(link, "")),
                                       ("   generation %s" % st.get("generation"), "dim")))
    if v.error:
        grid.add_row("console", Text("no answer (showing the last status)", style="red"))
    for label, text in trouble_rows(st):
        grid.add_row(label, text)
    if role == "primary":
        bm = v.bitmap or {}
        strip = Text()
        for c in bm.get("strip", ""):
            strip.append(c, style="bold red" if c == "#" else "dim")
        strip.append("  %s/%s regions dirty" % (st.get("dirty_regions"), bm.get("nregions", "?")))
        if not st.get("bitmap_valid"):
            strip.append(" (LOST: full scan next)", style="red")
        grid.add_row("bitmap", strip)
        dirty = st.get("dirty_regions") or 0
        if st.get("syncing") or dirty:
            rb = st.get("region_blocks") or 1
            rate = v.resync_rate.rate
            rate_text = "%s/s" % human_bytes(rate * rb * 512) if rate else "-/s"
            if link == "paired" and not v.peak_dirty:
                grid.add_row("resync", Text("full scan: both sides compare every block"
                                            if scan_active(st) else "confirming", style="yellow"))
            elif link == "paired":
                grid.add_row("resync", _progress(v.peak_dirty - dirty, v.peak_dirty, rate_text,
                                                 v.resync_rate.eta(dirty)))
            else:
                grid.add_row("resync", Text("waiting for the link", style="yellow"))
        else:
            grid.add_row("resync", Text("coherent" if link == "paired" else "-",
                                        style="green" if link == "paired" else "dim"))
    else:
        grid.add_row("copy", Text("consistent" if st.get("consistent") else "resync pending",
                                  style="green" if st.get("consistent") else "yellow"))
    scan = st.get("scan") or {}
    if scan.get("active"):
        done, total = scan.get("done_blocks", 0), scan.get("total_blocks", 0)
        rate = v.scan_rate.rate
        grid.add_row("scan", _progress(done, total, "%s blk/s" % ("%.0f" % rate if rate else "-"),
                                       v.scan_rate.eta(total - done)))
    else:
        grid.add_row("scan", Text("idle (%s passes)" % (st.get("counters") or {}).get("scans", 0),
                                  style="dim"))
    c = st.get("counters") or {}
    ls = st.get("link_stats") or {}
    grid.add_row("work", ", ".join("%s %s" % (k, c[k]) for k in WORK if k in c))
    errs = Text()
    for name, where in ERRORS:
        n = (st.get(where) or {}).get(name, 0)
        errs.append("%s %s  " % (name, n), style="bold red" if n else "dim")
    grid.add_row("errors", errs)
    grid.add_row("link out", "%s frames, %s" % (ls.get("frames_out", 0),
                                                human_bytes(ls.get("bytes_out", 0))))
    return Panel(grid, title="%s  %s" % (role, v.url), title_align="left")


def render_emulator(emu_stats):
    if not emu_stats:
        return Text("")
    link = emu_stats.get("link") or {}
    stats = link.get("stats") or {}
    faults = link.get("faults") or {}
    on = [k for k in ("down", "drop", "corrupt", "delay_ms", "rate") if faults.get(k)]
    parts = ["%s %s" % (k.replace("_", " "), human_bytes((stats.get(k) or {}).get("bytes_out")))
             for k in ("primary_to_secondary", "secondary_to_primary")]
    return Text("emulated link (%s%s): %s; faults: %s" % (
        link.get("mode"), " %s baud" % link.get("baud") if link.get("mode") == "uart" else "",
        ", ".join(parts), ", ".join(on) or "none"), style="dim")


def frame(views, emu_stats):
    order = sorted(views, key=lambda v: 0 if (v.status or {}).get("role") == "primary" else 1)
    return Group(*[render_board(v) for v in order], render_emulator(emu_stats))


class _Emu:
    """The emulator run of the pair, when there is one: its link counters."""

    def __init__(self, url, run_dir):
        self.emu = None
        try:
            from sdmirror import emu_runs
            self.emu = emu_runs.find(url, run_dir)[0]
        except Exception:  # not emulated: the view simply has no emulator line
            if run_dir:
                raise

    def stats(self):
        if self.emu is None:
            return None
        try:
            return self.emu.status()
        except Exception:
            return None


def _monitor(args):
    if args.interval <= 0:
        raise ToolError("--interval must be > 0")
    if args.port_a == args.port_b:
        raise ToolError("give the two boards of a pair (both ports are %s)" % args.port_a)
    views = []
    try:
        for url in (args.port_a, args.port_b):
            views.append(BoardView(url, connect(url, args.timeout)))
        roles = [v.board.status().get("role") for v in views]
        if roles[0] == roles[1]:
            raise ToolError("both boards say they are %s: give the two boards of a pair" % roles[0])
        emu = _Emu(args.port_a, args.run_dir)
        console = Console()
        if args.once:
            for i in range(2):
                for v in views:
                    v.sample(args.timeout)
                if i == 0:
                    time.sleep(args.interval)
            console.print(frame(views, emu.stats()))
            return 0
        from rich.live import Live
        with Live(frame(views, None), console=console, refresh_per_second=4,
                  screen=False) as live:
            while True:
                for v in views:
                    v.sample(args.timeout)
                live.update(frame(views, emu.stats()))
                time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0
    finally:
        for v in views:
            v.close()


def main(argv):
    args = build_parser().parse_args(argv)
    return run("sdmirror monitor", _monitor, args)
