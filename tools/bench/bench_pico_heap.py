"""Issue 10 on a 32-bit build in the board's own heap: the rp2040 profile, as `sdmirror flash`
deploys it (the firmware as .mpy files), on two emulated Raspberry Pi Picos each running a
STOCK RPI_PICO MicroPython image (tools/bench/picoboard.py: rp2040py, the real rp2 port,
32-bit, its real GC heap), an SD card model on SPI1 and the two UART0s joined. Each board
first takes ballast = its heap - (HEAP - 24 KiB) in one block, so what is left is exactly the
profile's HEAP less the 24 KiB margin: if primary and secondary still boot and pair, the
boot's peak, fragmentation included, is <= HEAP - 24 KiB (the goal). Reported per role:
retained after pairing (stats mem_alloc less the ballast), free, the largest block one
allocation still gets (the console's heap command), and the heap the build gives.

    SDMIRROR_PICO_FIRMWARE=RPI_PICO-v1.29.uf2 python tools/bench/run.py pico_heap

The image is MicroPython's own download for RPI_PICO (or a build of ports/rp2 for it);
nothing of it is in this repository. Without the variable, or without rp2040py installed,
the benchmark skips, saying so. Emulation is slow (about 75x real time on an idle core, far
slower on a loaded machine): one pairing takes many minutes (PICO_TIMEOUT_S).
"""
import json
import os
import sys
import tempfile

NAME = "pico_heap"
BOARD = "rp2040"
GOAL_MARGIN = 24 * 1024
HERE = os.path.dirname(os.path.abspath(__file__))
PICOBOARD = os.path.join(HERE, "picoboard.py")


def _timeout():
    return float(os.environ.get("PICO_TIMEOUT_S", "5400"))


def skipped():
    """Why the benchmark cannot run here, or None."""
    fw = os.environ.get("SDMIRROR_PICO_FIRMWARE")
    if not fw:
        return ("set SDMIRROR_PICO_FIRMWARE to a stock RPI_PICO MicroPython .uf2 "
                "(micropython.org/download/RPI_PICO)")
    if not os.path.isfile(fw):
        return "SDMIRROR_PICO_FIRMWARE=%s: no such file" % fw
    try:
        import rp2040py  # noqa: F401
    except ImportError:
        return "rp2040py is not installed (pip install -r requirements-pico.txt)"
    return None


def image(workdir, role):
    """What `sdmirror flash --board rp2040 --role ROLE` copies: its native modules compiled
    for the board's MPY_ARCH (fakeboot's images carry the VM's instead)."""
    from sdmirror import firmware_image as fi
    cwd = os.path.join(workdir, "%s-%s" % (BOARD, role))
    fi.build(BOARD, cwd)
    with open(os.path.join(cwd, "sdmirror.json"), "w") as f:
        json.dump({"role": role}, f)
    return cwd


def pair(workdir, ballast_for, timeout):
    """Boot a secondary and a primary of the rp2040 profile on emulated Picos joined by a
    relay; ballast_for(heap) is what each takes first. Returns {role: figures}."""
    from sdmirror import fakeboot as fb
    from sdmirror.emu.linkproxy import LinkProxy
    fw = os.environ["SDMIRROR_PICO_FIRMWARE"]
    proxy = LinkProxy(mode="eth")
    proxy.start()
    boards, out = {}, {}
    try:
        for role, port in (("secondary", proxy.port_b), ("primary", proxy.port_a)):
            cwd = image(workdir, role)
            flash = os.path.join(workdir, role + ".flash")
            # the ballast needs the heap the build gives: a first boot measures it (and
            # uploads the image into the flash cache)
            argv = [sys.executable, PICOBOARD, "--firmware", fw, "--image", cwd, "--flash",
                    flash]
            probe = fb.Board(cwd, {}, 0, argv=argv + ["--ballast", "0"])  # no wire yet
            try:
                heap = probe.until(lambda o: "heap" in o.get("picoboard", {}),
                                   timeout)["picoboard"]["heap"]
            finally:
                probe.close()
            ballast = ballast_for(heap)
            boards[role] = fb.Board(cwd, {}, heap, argv=argv + [
                "--uart", "127.0.0.1:%d" % port, "--ballast", str(ballast)])
            out[role] = {"heap": heap, "ballast": ballast}
        for role in ("secondary", "primary"):
            boot = boards[role].until(lambda o: o.get("event") == "boot", timeout)
            out[role]["boot_alloc"] = boot["detail"]["heap"]["alloc"] - out[role]["ballast"]
        for role in ("primary", "secondary"):
            boards[role].until(lambda o: o.get("event") == "paired", timeout)
        for role in ("primary", "secondary"):
            st = boards[role].command("status", timeout)
            if st.get("link") != "paired":
                raise fb.BootError("%s: status after pairing: %s" % (role, st))
            h = boards[role].command("heap", timeout)
            out[role].update(retained=h["mem_alloc"] - out[role]["ballast"],
                             free=h["mem_free"], largest=h["largest"])
        return out
    finally:
        for b in boards.values():
            b.close()
        proxy.stop()


def run():
    why = skipped()
    if why:
        print("pico_heap skipped: " + why)
        return {"skipped": why}
    from sdmirror import fakeboot as fb
    from sdmirror import firmware_image as fi
    HEAP = fi.board_value(BOARD, "HEAP")
    goal = HEAP - GOAL_MARGIN
    res = {"rp2040_heap": HEAP, "goal_peak": goal}
    with tempfile.TemporaryDirectory(prefix="sdmirror-pico-") as d:
        try:
            figures = pair(d, lambda heap: heap - goal, _timeout())
        except fb.BootError as e:
            print("pico_heap: did not pair in HEAP - 24 KiB: %s" % str(e).splitlines()[0])
            res.update(paired_in_goal=0, goal_misses=1)
            return res
    for role, f in figures.items():
        for k, v in f.items():
            res["%s_%s" % (role, k)] = v
    res.update(paired_in_goal=1, goal_misses=0)
    print("pico_heap: " + json.dumps(figures, sort_keys=True))
    return res
