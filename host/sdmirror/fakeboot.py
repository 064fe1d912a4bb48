"""Boot a board profile's image on the MicroPython VM with its port's fakes (the host side
of tools/fakeboot.py): build what `sdmirror flash --board NAME` deploys, write its
sdmirror.json, start the VM in the board's own heap and talk to its console.

The heap: the VM runs with -X heapsize = the profile's HEAP minus a margin (MARGIN = 24 KiB
kept for FAT buffers, console replies and queued messages), plus what the VM holds that the
board does not: the fakes and the SD card model (`harness`), and for a FROZEN profile the
frozen modules, which its build keeps in flash (`frozen`: what importing them takes in the
VM's heap). Both are measured by the harness itself in the same VM. A boot that succeeds in
that heap, fragmentation included, peaks at no more than HEAP - margin of the board's share.
Not counted: the RAM a frozen module still takes on the board (its globals and function
objects; issue 10 measured about 12.9 KB on ARM), which the VM cannot tell apart. The Unix
VM is 64-bit: its objects are larger than a 32-bit board's, so these figures are high.
"""
import json
import os
import select
import shutil
import subprocess
import sys
import time

from sdmirror import firmware_image as fi

MARGIN = 24 * 1024
HARNESS = os.path.join(fi.ROOT, "tools", "fakeboot.py")
CARD_BYTES = 32 << 30  # a 32 GiB card (sparse): bitmaps and digest caches at full size


class BootError(Exception):
    pass


def micropython():
    return os.path.join(os.path.dirname(sys.executable), "micropython")


def _wiring(board):
    """Environment naming the port and board the fakes must be."""
    v = lambda k, d=None: fi.board_value(board, k, d)  # noqa: E731
    platform = v("PLATFORM")
    kind = {"rp2": "rp2", "pyboard": "stm32", "esp32": "esp32"}.get(platform)
    if kind is None:
        raise BootError("%s has no PLATFORM the fakes know (rp2, pyboard, esp32)" % board)
    env = {"FAKE_PORT": kind, "FAKE_BOARD": v("MPY_BOARD", ""), "FAKE_CHIP": v("CHIP", ""),
           "FAKE_CS": str(v("SPI")["cs"]), "FAKE_CARD": str(CARD_BYTES)}
    unit = v("CRC_UNIT")
    if unit:
        env["FAKE_SUBST"] = unit
    return env


def prepare(board, workdir, role, conf=None, image_hook=None):
    """Build the board's image in workdir/NAME-ROLE (and its frozen modules beside it);
    returns (cwd, env). image_hook(cwd) may alter the image (negative tests)."""
    cwd = os.path.join(workdir, "%s-%s" % (board, role))
    shutil.rmtree(cwd, ignore_errors=True)
    os.makedirs(cwd)
    fi.build(board, cwd, arch=False)  # the VM runs it: native code for the VM
    env = _wiring(board)
    if fi.board_value(board, "FROZEN", False):
        fdir = cwd + ".frozen"
        shutil.rmtree(fdir, ignore_errors=True)
        # the build's frozen modules: everything of the full image that flash leaves out,
        # compiled for the VM (no -march: the VM cannot run ARM code, see FAKE_SUBST)
        written = fi.build(board, fdir, full=True, arch=False)
        deployed = set(os.listdir(cwd))
        for f in written:
            path = os.path.join(fdir, f)
            if f.split("/")[0] in deployed:
                os.remove(path)
        env["FAKE_FROZEN"] = fdir
    with open(os.path.join(cwd, "sdmirror.json"), "w") as f:
        json.dump(dict(conf or {}, role=role), f)
    if image_hook is not None:
        image_hook(cwd)
    return cwd, env


def measure_harness(cwd, env):
    """(harness, frozen): bytes the harness (fakes, card model) holds in the VM's heap
    before the boot, and bytes the frozen modules take in it once imported."""
    r = subprocess.run([micropython(), "-X", "heapsize=4194304", HARNESS], cwd=cwd,
                       env=dict(os.environ, FAKE_MEASURE="1", **env), capture_output=True,
                       text=True, timeout=60)
    if r.returncode:
        raise BootError("harness failed: %s" % (r.stdout + r.stderr).strip()[-400:])
    m = json.loads(r.stdout.strip().splitlines()[-1])
    return m["harness"], m["frozen"]


def board_heap(board, harness, frozen, margin=MARGIN):
    """The VM heap that stands for the board's HEAP less margin (see the module doc)."""
    return fi.board_value(board, "HEAP") - margin + harness + frozen


class Board:
    """A booted VM: send console lines, read its JSON lines. argv: another program standing
    for the board (tools/bench/picoboard.py: an emulated Pico) instead of the VM."""

    def __init__(self, cwd, env, heap, argv=None):
        self.heap = heap
        self.proc = subprocess.Popen(
            argv or [micropython(), "-X", "heapsize=%d" % heap, HARNESS], cwd=cwd,
            env=dict(os.environ, **env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        self._buf = b""
        self.lines = []  # every line the board printed

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def until(self, pred, timeout=30.0):
        """The first JSON line satisfying pred; BootError with what came, on timeout/exit."""
        end = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while time.monotonic() < end:
            while b"\n" in self._buf:
                raw, self._buf = self._buf.split(b"\n", 1)
                text = raw.decode(errors="replace").strip()
                self.lines.append(text)
                try:
                    obj = json.loads(text)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    if obj.get("event") == "fatal":
                        raise BootError("fatal: %s" % obj.get("detail"))
                    if pred(obj):
                        return obj
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise BootError("the VM exited:\n" + "\n".join(self.lines[-15:]))
                self._buf += chunk
        raise BootError("no answer in %.0f s:\n%s" % (timeout, "\n".join(self.lines[-15:])))

    def command(self, line, timeout=30.0):
        self.send(line)
        word = line.split()[0]
        return self.until(lambda o: o.get("cmd") == word, timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()


def profiles():
    """The board profiles that run on a MicroPython port the fakes know (all but emu)."""
    return [b for b in fi.boards() if fi.board_value(b, "PLATFORM")]


def _free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pair(board, workdir, margin=0, timeout=60.0, measured=None):
    """Boot a primary and a secondary of the profile, each in the VM heap standing for its
    HEAP less margin, joined by their link (UART: a relay between the two fake UARTs;
    Ethernet: TCP on loopback), until both say "paired". Returns {role: (heap, stats)}
    with the `stats` reply of each (its mem_alloc: what the boot retained, harness and
    frozen modules included). BootError when either does not get there. measured: a dict
    keeping each role's (harness, frozen) between calls (they do not depend on the heap)."""
    from sdmirror.emu.linkproxy import LinkProxy
    proxy = None
    if fi.board_value(board, "ETH"):
        port = _free_port()
        confs = {"primary": {"peer": "127.0.0.1:%d" % port}, "secondary": {"listen": port}}
        envs = {"primary": {}, "secondary": {}}
    else:
        proxy = LinkProxy(mode="eth")  # a plain relay: the wire between the fake UARTs
        proxy.start()
        confs = {"primary": {}, "secondary": {}}
        envs = {"primary": {"FAKE_UART": "127.0.0.1:%d" % proxy.port_a},
                "secondary": {"FAKE_UART": "127.0.0.1:%d" % proxy.port_b}}
    boards, out = {}, {}
    try:
        for role in ("secondary", "primary"):  # the listener first
            cwd, env = prepare(board, workdir, role, confs[role])
            if measured is not None and role in measured:
                harness, frozen = measured[role]
            else:
                harness, frozen = measure_harness(cwd, env)
                if measured is not None:
                    measured[role] = (harness, frozen)
            env.update(envs[role])
            boards[role] = Board(cwd, env, board_heap(board, harness, frozen, margin))
            boards[role].until(lambda o: o.get("event") == "boot")
            out[role] = [boards[role].heap, harness, frozen]
        for role in ("primary", "secondary"):
            boards[role].until(lambda o: o.get("event") == "paired", timeout)
            st = boards[role].command("status")
            if st.get("link") != "paired":
                raise BootError("%s %s: status after pairing: %s" % (board, role, st))
            stats = boards[role].command("stats")
            if "mem_alloc" not in stats:
                raise BootError("%s %s: stats after pairing: %s" % (board, role, stats))
            out[role].append(stats)
        return out
    finally:
        for b in boards.values():
            b.close()
        if proxy is not None:
            proxy.stop()
