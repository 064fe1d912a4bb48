"""The demo's story, told by the emulated pair itself.

  0. pairing       two blank cards: a full scan with the hash tree confirms them coherent
  1. writes        the primary's application makes a FAT filesystem and writes files; every
                   write is mirrored
  2. link cut      the cable is cut, the application keeps writing (the primary records the
                   changed regions in its dirty bitmap), the cable comes back: bitmap resync
  3. power loss    the cable is cut again, more writes, then the primary loses power (and
                   with it the RAM bitmap): its activity log on the card names the extents
                   that may hold unconfirmed writes, and only those are compared
  4. corruption    bits flip on the secondary's card behind its back, in blocks that hold
                   file data; the periodic scan (scan_period_ms) finds and repairs them
  5. trouble       the primary's card develops unreadable blocks (reads heal from the
                   secondary); the primary dies, the secondary is promoted, the old primary
                   returns and is demoted (trouble.py)

Each phase is measured (see measure.py) and the report written (report.py). The emulator
runs in OUT/emu, cleaned first and stopped at the end whatever happens.
"""
import datetime
import os
import shutil
import time

from rich.console import Console
from rich.progress import (BarColumn, Progress, ProgressColumn, SpinnerColumn, TaskProgressColumn,
                           TextColumn, TimeElapsedColumn, TimeRemainingColumn)
from rich.text import Text

from sdmirror import pairkey
from sdmirror.console_client import Board, ConsoleError, synced
from sdmirror.emu import Emulator
from sdmirror.emu.rundir import RunDir
from sdmirror.verify import BLOCK, sha256_of_volume, volume_blocks

from . import fatimg, measure, report, trouble

MiB = 1 << 20


class DemoError(Exception):
    """The story could not go on (one line)."""


# What each run is made of. The full run uses a UART link: the slow medium where saving
# bytes matters. The periodic scan runs unpaced (scan_rate 0): at the default pace (20
# blocks/s, README *Settings*) one scan of 64 MiB takes 1.8 hours, longer than a demo.
FULL = {
    "mode": "uart", "image_size": 64 * MiB,
    "settings": {"scan_period_ms": 15000, "scan_rate": 0},
    "files": [("/rec001.bin", 24576), ("/rec002.bin", 16384), ("/rec003.bin", 32768),
              ("/rec004.bin", 8192), ("/rec005.bin", 12288), ("/rec006.bin", 20480)],
    "outage": [("/rec007.bin", 16384), ("/rec008.bin", 8192), ("/rec002.bin", 16384)],
    "power": [("/rec009.bin", 12288), ("/rec004.bin", 8192)],
    "corrupt": 4, "timeout": 300.0,
}
QUICK = {
    "mode": "eth", "image_size": 8 * MiB,
    "settings": {"scan_period_ms": 4000, "scan_rate": 0, "dead_ms": 2000, "keepalive_ms": 500},
    "files": [("/rec001.bin", 8192), ("/rec002.bin", 4096), ("/rec003.bin", 6144)],
    "outage": [("/rec004.bin", 4096), ("/rec002.bin", 4096)],
    "power": [("/rec005.bin", 4096)],
    "corrupt": 2, "timeout": 60.0,
}
EVENTS_SHOWN = ("paired", "synced", "scan_done", "mismatch", "refused", "generation", "fatal")


class RateColumn(ProgressColumn):
    """The task's speed in its own unit (task.fields: unit, scale)."""

    def render(self, task):
        speed = task.speed
        if speed is None:
            return Text("", style="cyan")
        scale = task.fields.get("scale", 1)
        unit = task.fields.get("unit", "")
        v = speed * scale
        if unit == "B":
            text = "%.1f KB/s" % (v / 1000) if v >= 1000 else "%.0f B/s" % v
        else:
            text = "%.0f %s/s" % (v, unit)
        return Text(text, style="cyan")


class Demo:
    def __init__(self, out_dir="demo-report", quick=False, mode=None, console=None):
        self.out = os.path.abspath(out_dir)
        self.quick = quick
        self.prof = dict(QUICK if quick else FULL)
        if mode:
            self.prof["mode"] = mode
        self.settings = dict(self.prof["settings"])
        self.run_dir = os.path.join(self.out, "emu")
        self.console = console or Console()
        self.emu = None
        self.p = self.s = None
        self.phases = []
        self.written = {}  # path -> sha256 the primary's application reported
        self.t_start = None

    # ------------------------------------------------------------------ plumbing
    def say(self, text):
        self.console.print(text)

    def image(self, board):
        return RunDir(self.run_dir).image_path(board)

    def _progress(self):
        return Progress(SpinnerColumn(), TextColumn("{task.description:<20}"),
                        BarColumn(bar_width=20), TaskProgressColumn(),
                        TextColumn("{task.fields[info]}"), RateColumn(), TimeRemainingColumn(),
                        TimeElapsedColumn(), console=self.console)

    def _status(self, board, timeout=30.0):
        """A board's status, waiting (bounded) while it boots after a power cycle."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return board.checked("status", timeout=5.0)
            except ConsoleError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def prepare(self):
        if RunDir(self.run_dir).is_running():  # a previous demo that was not stopped
            Emulator(self.run_dir).down()
        shutil.rmtree(self.run_dir, ignore_errors=True)
        for name in ("report.md", "report.json", "link-bytes.png"):
            try:
                os.remove(os.path.join(self.out, name))
            except FileNotFoundError:
                pass
        os.makedirs(self.out, exist_ok=True)

    def start(self):
        # keyed, as `sdmirror emu up` and `flash` are by default: a random key per run
        self.emu = Emulator(self.run_dir, mode=self.prof["mode"], settings=self.settings,
                            image_size=self.prof["image_size"], key=pairkey.new_key())
        st = self.emu.up(timeout=30.0)
        self.emu_status = st
        self.p = Board(st["boards"]["primary"]["url"], timeout=30.0)
        self.s = Board(st["boards"]["secondary"]["url"], timeout=30.0)
        self.version = self._wait_answer(self.p).get("version")
        self._wait_answer(self.s)
        self.events = measure.EventLog({b: RunDir(self.run_dir).console_log(b)
                                        for b in ("primary", "secondary")})
        self.events.offsets = {b: 0 for b in self.events.paths}  # the boot is part of phase 0
        self.nblocks = volume_blocks(self.image("primary"))

    def _wait_answer(self, board, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                return board.check_version()
            except ConsoleError as e:
                if "does not match" in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def stop(self):
        for b in (self.p, self.s):
            if b is not None:
                b.close()
        if self.emu is not None:
            self.emu.down()

    # ------------------------------------------------------------------ waiting
    def follow(self, ph, until=synced, what="the pair to be coherent"):
        """Poll the primary until until(status) holds and the two volumes are equal, with
        progress bars for the resync (dirty regions), the scan (blocks) and the link."""
        timeout = self.prof["timeout"]
        deadline = time.monotonic() + timeout
        link0 = ph.link_start or measure.link_bytes(self.emu)  # from the phase's start
        peak = 0
        last_scan = None
        equal_wait = None
        with self._progress() as prog:
            t_link = prog.add_task("link", total=None, info="", unit="B", scale=1)
            t_sync = prog.add_task("resync (bitmap)", total=1, visible=False, info="",
                                   unit="B", scale=1)
            t_scan = prog.add_task("scan", total=1, visible=False, info="", unit="blk", scale=1)
            while True:
                st = self._status(self.p)
                now = measure.link_bytes(self.emu)
                crossed = now[0] + now[1] - link0[0] - link0[1]
                prog.update(t_link, completed=crossed, info="%s B" % "{:,}".format(crossed))
                dirty = st.get("dirty_regions") or 0
                rb = (st.get("region_blocks") or 1) * BLOCK
                if dirty > peak:
                    peak = dirty
                    prog.update(t_sync, total=peak * rb, visible=True)
                if peak:
                    prog.update(t_sync, completed=(peak - dirty) * rb,
                                info="%d/%d regions" % (peak - dirty, peak))
                scan = st.get("scan") or {}
                if scan.get("active") or (last_scan is not None and scan):
                    done, total = scan.get("done_blocks", 0), scan.get("total_blocks", 1)
                    if last_scan is None or done < last_scan:
                        prog.reset(t_scan, total=total, visible=True)
                    prog.update(t_scan, completed=done, info="%s blk" % "{:,}".format(done))
                    last_scan = done
                if until(st):
                    if not measure.differing(self.image("primary"), self.image("secondary")):
                        return st
                    # coherent by the primary's account: the secondary may still be writing
                    # its last blocks; a pair that stays apart is a failure, not a wait
                    equal_wait = equal_wait or time.monotonic() + 10.0
                    if time.monotonic() > equal_wait:
                        d = measure.differing(self.image("primary"), self.image("secondary"))
                        raise DemoError("the primary reports the pair coherent but %d block(s) "
                                        "differ (first: %s)" % (len(d), d[:8]))
                if time.monotonic() > deadline:
                    raise DemoError("timed out after %.0f s waiting for %s (primary: link %s, "
                                    "%s dirty regions, syncing %s)" % (
                                        timeout, what, st.get("link"), dirty, st.get("syncing")))
                time.sleep(0.3)

    def wait_for(self, what, predicate, timeout, interval=0.25):
        """Poll the primary's status until predicate(status), showing a spinner."""
        deadline = time.monotonic() + timeout
        with self._progress() as prog:
            task = prog.add_task(what, total=None, info="")
            while True:
                st = self._status(self.p)
                if predicate(st):
                    prog.update(task, total=1, completed=1)
                    return st
                if time.monotonic() > deadline:
                    raise DemoError("timed out after %.0f s: %s" % (timeout, what))
                time.sleep(interval)

    def write_files(self, files, label):
        total = sum(size for _, size in files)
        with self._progress() as prog:
            task = prog.add_task(label, total=total, info="", unit="B", scale=1)
            for i, (path, size) in enumerate(files):
                seed = 1000 + len(self.written) + 17 * i + size
                reply = self.p.checked("fs write %s %d %d" % (path, size, seed), timeout=60.0)
                self.written[path] = reply["sha256"]
                prog.update(task, advance=size, info=path)

    def note_events(self, ph):
        evs = self.events.since_mark()
        mism = [d for b, e, d in evs if e == "mismatch"]
        for board, ev, detail in evs:
            if ev in EVENTS_SHOWN and ev != "mismatch":
                ph.events.append("%s: %s %s" % (board, ev, detail if not isinstance(detail, dict)
                                                else ""))
        if mism:
            ph.events.append("mismatch at block(s) %s" % runs_text(mism))
        return evs

    def silence_s(self):
        """How long a side may wait before it declares a silent peer gone (session.py): an
        idle one keepalive_ms + dead_ms, the firmware's defaults unless this run sets them."""
        from sdmirror import fwpath
        fwpath.install()
        from mirror.config import Config
        cfg = Config(**self.settings)
        return (cfg.keepalive_ms + cfg.dead_ms) / 1000.0

    def wire_down_and_notice(self):
        self.emu.link("down", "blackhole")
        dead = self.silence_s()
        self.wait_for("silence > %.0f s" % dead,
                      lambda st: st.get("link") != "paired", dead + 20)

    # ------------------------------------------------------------------ phases
    def phase0(self):
        ph = measure.Phase(0, "pairing: blank cards, full scan", self.nblocks)
        self.say("\n[bold]0. Pairing.[/] Two blank %d MiB cards; the boards meet and compare "
                 "them with a full scan over the hash tree." % (self.prof["image_size"] // MiB))
        ph.differing = measure.differing(self.image("primary"), self.image("secondary"))
        ph.start(self.emu, {}, t0=self.t_up, link0=(0, 0))  # everything since the boards booted
        self.follow(ph)
        ph.stop(self.emu, self._status(self.p)["counters"])
        ph.notes.append("The boards booted, shook hands and scanned %s blocks each; the hash "
                        "tree confirmed the volumes equal." % "{:,}".format(self.nblocks))
        self.note_events(ph)
        return ph

    def phase1(self):
        ph = measure.Phase(1, "writes: mkfs + files, mirrored", self.nblocks)
        files = self.prof["files"]
        self.say("\n[bold]1. The application writes.[/] The primary makes a FAT filesystem on "
                 "the mirrored volume and writes %d files (%s bytes)." % (
                     len(files), "{:,}".format(sum(s for _, s in files))))
        self.events.mark()
        snapshot = measure.read_volume(self.image("secondary"), self.nblocks)
        ph.start(self.emu, self._status(self.p)["counters"])
        self.p.checked("fs mkfs", timeout=60.0)
        self.write_files(files, "writing files")
        st = self.follow(ph)
        ph.stop(self.emu, st["counters"])
        ph.differing = measure.differing_from(snapshot, self.image("primary"))
        del snapshot
        ph.notes.append("`fs mkfs` and %d `fs write` on the primary changed %d blocks. Each "
                        "write is mirrored as it happens (%d forwarded; %d more, made while the "
                        "link window was full, were caught up by a resync), and the FAT and "
                        "directory blocks are written again for every file, so more travels "
                        "than the final difference." % (
                            len(files), len(ph.differing), ph.counters.get("writes_forwarded", 0),
                            ph.counters.get("pull_ahead", 0)))
        self._note_scans(ph)
        self.note_events(ph)
        return ph

    def phase2(self):
        ph = measure.Phase(2, "link cut: bitmap resync", self.nblocks)
        files = self.prof["outage"]
        self.say("\n[bold]2. The link is cut.[/] The cable goes dead (every byte lost); the "
                 "primary notices the silence and keeps serving writes, recording the changed "
                 "regions in its dirty bitmap.")
        self.events.mark()
        self.wire_down_and_notice()
        self.write_files(files, "writing (link down)")
        bm = self.p.checked("bitmap 64")
        self.say("  dirty bitmap: [red]%s[/] (%d of %d regions)" % (bm["strip"], bm["dirty"],
                                                                   bm["nregions"]))
        ph.differing = measure.differing(self.image("primary"), self.image("secondary"))
        self.say("  %d blocks differ; the cable comes back." % len(ph.differing))
        ph.start(self.emu, self._status(self.p)["counters"])
        self.emu.link("up")
        st = self.follow(ph)
        ph.stop(self.emu, st["counters"])
        ph.notes.append("While the link was down the application wrote %d files; %d regions "
                        "of %d blocks were marked dirty and %d blocks differed. On reconnect "
                        "only the dirty regions were resynced." % (
                            len(files), bm["dirty"], st.get("region_blocks"), len(ph.differing)))
        self._note_scans(ph)
        self.note_events(ph)
        return ph

    def phase3(self):
        ph = measure.Phase(3, "power loss: activity log", self.nblocks)
        files = self.prof["power"]
        self.say("\n[bold]3. Power loss during an outage.[/] The cable is cut again, the "
                 "application writes, then the primary loses power: its bitmap (RAM) is gone.")
        self.events.mark()
        self.wire_down_and_notice()
        self.write_files(files, "writing (link down)")
        self.emu.power_cycle("primary")
        st = self.wait_for("primary boots", lambda st: True, 30)
        ph.differing = measure.differing(self.image("primary"), self.image("secondary"))
        self.say("  the primary is back with bitmap %s; %d blocks differ; the cable comes back." % (
            "valid" if st.get("bitmap_valid") else "lost", len(ph.differing)))
        ph.start(self.emu, st["counters"])
        self.emu.link("up")
        st = self.follow(ph)
        ph.stop(self.emu, st["counters"])
        ph.notes.append("The RAM bitmap died with the power, but the primary's activity log on "
                        "its card (the extents that may hold writes the secondary had not "
                        "confirmed, written before the first write into each) became the "
                        "bitmap at boot, and each logged extent was compared by a scan of its "
                        "hash tree (on a card of %s blocks the default extents of 16 MiB may "
                        "cover all of it; a damaged or full log falls back to the full scan); "
                        "%d blocks were copied for %d that differed." % (
                            "{:,}".format(self.nblocks), ph.blocks_copied, len(ph.differing)))
        self._note_scans(ph)
        self.note_events(ph)
        return ph

    def phase4(self):
        ph = measure.Phase(4, "silent corruption: periodic scan", self.nblocks,
                           short="corruption")
        period = self.settings["scan_period_ms"] / 1000.0
        self.say("\n[bold]4. Silent corruption.[/] Bits flip on the secondary's card in blocks "
                 "that hold file data; nobody is told. The periodic scan (every %.0f s) finds "
                 "them." % period)
        # no scan under way: the corruption must be found by the next periodic one
        self.wait_for("pair idle", lambda st: synced(st), self.prof["timeout"])
        img = self.image("secondary")
        with fatimg.FatImage(img) as fat:
            contents = {path: fat.read(path) for path in sorted(self.written)}
        where = fatimg.data_blocks(img, contents)
        targets = pick_blocks(where, self.prof["corrupt"])
        self.events.mark()
        scans0 = self._status(self.p)["counters"].get("scans", 0)
        self.emu.corrupt("secondary", [b for _, b in targets], seed=7)
        ph.differing = measure.differing(self.image("primary"), img)
        self.say("  flipped one bit in block(s) %s of the secondary's card (%s)." % (
            ", ".join(str(b) for _, b in targets),
            ", ".join(sorted(set(p for p, _ in targets)))))
        st = self.wait_for("periodic scan due",
                           lambda st: st["counters"].get("scans", 0) > scans0, period + 30,
                           interval=0.1)
        ph.start(self.emu, st["counters"])
        st = self.follow(ph)
        ph.stop(self.emu, st["counters"])
        evs = self.note_events(ph)
        found = sorted(d for _, e, d in evs if e == "mismatch")
        ph.notes.append("One bit flipped in each of %d blocks of file data on the secondary's "
                        "card. The next periodic scan found %s and repaired them from the "
                        "primary: %d blocks copied." % (
                            len(targets), "block(s) %s" % ", ".join(map(str, found)) if found
                            else "the difference", ph.blocks_copied))
        return ph

    def phase5(self):
        return trouble.phase5(self)

    def _note_scans(self, ph):
        scans = ph.counters.get("scans", 0)
        if scans and ph.key in (1, 2):
            ph.notes.append("(A periodic scan ran during this span; its bytes are included.)")

    # ------------------------------------------------------------------ the end
    def final(self):
        pimg, simg = self.image("primary"), self.image("secondary")
        sha = {"primary": sha256_of_volume(pimg), "secondary": sha256_of_volume(simg)}
        d = measure.differing(pimg, simg)
        fin = fatimg.check_files(simg, self.written)
        fin.update(sha256=sha, equal=sha["primary"] == sha["secondary"] and not d,
                   differing=len(d))
        return fin

    def run_facts(self, seconds):
        st = self.emu_status
        link = st.get("link") or {}
        if link.get("mode") == "uart":
            text = "emulated UART at %s baud (%s B/s per direction, 8N1)" % (
                link.get("baud"), "{:,}".format(int(link.get("baud", 0)) // 10))
        else:
            text = "emulated Ethernet (TCP relay through the fault proxy, no rate cap)"
        return {"quick": self.quick, "date": datetime.datetime.now().isoformat(timespec="seconds"),
                "seconds": seconds, "mode": link.get("mode"), "baud": link.get("baud"),
                "link_text": text + "; every frame authenticated (HMAC-SHA256, a random key "
                "for this run)", "image_size": self.prof["image_size"], "nblocks": self.nblocks,
                "version": self.version, "heap": st.get("heap"), "alg": self.alg,
                "settings": self.settings}

    def run(self):
        self.t_start = time.monotonic()
        self.prepare()
        self.say("[bold]sdmirror demo[/] — a mirrored SD-card volume on two emulated boards "
                 "(%s link%s); emulator in %s" % (
                     self.prof["mode"], ", quick run" if self.quick else "",
                     os.path.relpath(self.run_dir)))
        self.t_up = time.monotonic()
        try:
            self.start()
            self.alg = self._status(self.p).get("alg")
            for step in (self.phase0, self.phase1, self.phase2, self.phase3, self.phase4,
                         self.phase5):
                self.phases.append(step())
            fin = self.final()
        finally:
            self.stop()
        seconds = time.monotonic() - self.t_start
        facts = self.run_facts(seconds)
        paths = report.write(self.out, facts, self.phases, fin)
        self.show(facts, fin, paths)
        if not fin["equal"] or not fin["ok"]:
            raise DemoError("the volumes or files do not match at the end (see %s)" % paths[0])
        return facts, fin

    def show(self, facts, fin, paths):
        self.say("")
        self.console.print(report.rich_table(self.phases))
        self.say("Link: %s." % facts["link_text"])
        self.say("sha256 of the volumes: primary %s, secondary %s — [bold]%s[/]" % (
            fin["sha256"]["primary"], fin["sha256"]["secondary"],
            "equal" if fin["equal"] else "DIFFERENT"))
        self.say("The secondary's files, read from its card image with pyfatfs (an "
                 "independent FAT implementation):")
        self.console.print(Text(fin["listing"].rstrip()))
        ok = sum(1 for f in fin["files"] if f["match"])
        self.say("%d of %d files have the content the primary's application wrote." % (
            ok, len(fin["files"])))
        for path in fin["missing"]:
            self.say("[red]missing on the secondary: %s[/]" % path)
        for w in fin["warnings"]:
            self.say("[red]pyfatfs: %s[/]" % w)
        self.say("Report: %s (+ %s, %s); total %.0f s." % (
            os.path.relpath(paths[0]), os.path.basename(paths[1]), os.path.basename(paths[2]),
            facts["seconds"]))


def runs_text(blocks):
    """[1, 5, 6, 7, 9] -> '1, 5-7, 9'."""
    out = []
    for b in sorted(set(blocks)):
        if out and out[-1][1] == b - 1:
            out[-1][1] = b
        else:
            out.append([b, b])
    return ", ".join(str(a) if a == b else "%d-%d" % (a, b) for a, b in out)


def pick_blocks(where, n):
    """n (path, block) targets spread over the files: the middle block of the largest files
    first, then more from each in turn."""
    files = sorted((p for p in where if where[p]), key=lambda p: -len(where[p]))
    if not files:
        raise DemoError("found no file data blocks on the secondary's card")
    picked = []
    round_ = 0
    while len(picked) < n and round_ < 64:
        for p in files:
            blocks = where[p]
            i = (len(blocks) // 2 + round_ * 3) % len(blocks)
            if (p, blocks[i]) not in picked:
                picked.append((p, blocks[i]))
            if len(picked) == n:
                break
        round_ += 1
    return sorted(picked, key=lambda t: t[1])
