"""Command line of the emulator: ``python -m sdmirror.emu …`` (and ``sdmirror emu …``)."""
import argparse
import re
import json
import os
import sys

from sdmirror import pairkey

from .control import ControlError
from .launcher import (DEFAULT_BAUD, DEFAULT_HEAP, DEFAULT_IMAGE_SIZE, LINK_OPS, MODES, EmuError,
                       Emulator)
from .linkproxy import LinkError
from .rundir import DEFAULT_RUN_DIR

EXAMPLES = """\
examples:
  %(prog)s up --entry firmware/main.py            # two boards, UART link at 115200 baud
  %(prog)s up --mode eth --heap 192K --run-dir /tmp/run1
  %(prog)s status                                 # consoles: socket://127.0.0.1:PORT
  mpremote connect socket://127.0.0.1:PORT repl   # talk to a board
  %(prog)s link down                              # cut the cable (black hole)
  %(prog)s link down reset                        # ... or reset the connections
  %(prog)s link drop 0.05                         # lose 5%% of bytes (uart) / segments (eth)
  %(prog)s link corrupt 0.01 ; %(prog)s link delay 80 ; %(prog)s link rate 2000
  %(prog)s link clear                             # all faults off, link up
  %(prog)s power-cycle secondary                  # kill the VM and boot it again
  %(prog)s down                                   # stop everything of this run dir
"""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see --help)\n" % (self.prog, message))


def build_parser(prog=None):
    prog = prog or "python -m sdmirror.emu"
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--run-dir", default=argparse.SUPPRESS, metavar="DIR",
                        help="run directory (default: ./%s)" % DEFAULT_RUN_DIR)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print the result as one JSON object")
    p = _Parser(prog=prog, description="MicroPython Unix VM emulator of the sdmirror board pair.",
                epilog=EXAMPLES % {"prog": prog}, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", default=DEFAULT_RUN_DIR, metavar="DIR",
                   help="run directory (default: ./%s)" % DEFAULT_RUN_DIR)
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    up = sub.add_parser("up", parents=[common], help="start the emulator (returns when it runs)")
    up.add_argument("--mode", choices=MODES, default="uart", help="link model (default uart)")
    up.add_argument("--baud", type=int, default=DEFAULT_BAUD, help="UART baud (default %d)" % DEFAULT_BAUD)
    up.add_argument("--heap", help="VM heap, e.g. 96K (default: the board profile's HEAP, else %s)"
                    % DEFAULT_HEAP)
    up.add_argument("--profile", default="emu", help="board profile in BOARDS_ROOT (default emu)")
    up.add_argument("--image-size", default=str(DEFAULT_IMAGE_SIZE),
                    help="SD image size for new images, e.g. 4M (default %d)" % DEFAULT_IMAGE_SIZE)
    up.add_argument("--entry", help="VM entry script (default FIRMWARE_ROOT/main.py)")
    up.add_argument("--firmware-root", help="firmware directory (default: the repo's firmware/)")
    up.add_argument("--boards-root", help="board profiles directory (default: the repo's boards/)")
    up.add_argument("--micropython", help="micropython binary (default: from PATH)")
    up.add_argument("--seed", type=int, help="seed of the link's random faults")
    up.add_argument("--boards", default="primary,secondary",
                    help="the two board names, primary first (default primary,secondary)")
    up.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment variable for the VMs (repeatable)")
    up.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for start-up")
    up.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
                    help="firmware setting for both boards, e.g. scan_period_ms=30000 or "
                         "mode=sync (repeatable; written to each board's sdmirror.json)")
    pairkey.add_arguments(up, file_option=False)

    sub.add_parser("down", parents=[common], help="stop every process of the run")
    sub.add_parser("status", parents=[common], help="show boards, consoles and link")

    ln = sub.add_parser("link", parents=[common], help="link faults: %s" % " | ".join(LINK_OPS),
                        description="Change the link between the boards. down [blackhole|reset], "
                                    "up, drop P, corrupt P, delay MS, rate BYTES_PER_S (0 = no cap), "
                                    "clear, stats, reset (counters).")
    ln.add_argument("op", choices=list(LINK_OPS), metavar="OP", help=" | ".join(LINK_OPS))
    ln.add_argument("value", nargs="?", help="the operation's value")

    pc = sub.add_parser("power-cycle", parents=[common], help="kill a board's VM and boot it again")
    pc.add_argument("board", help="board name (primary or secondary)")

    co = sub.add_parser("corrupt", parents=[common],
                        help="flip bits in a board's card image behind its back (silent corruption)")
    co.add_argument("board", help="board name (primary or secondary)")
    co.add_argument("--block", type=int, required=True, action="append",
                    help="block to corrupt (repeatable)")
    co.add_argument("--seed", type=int, default=0, help="chooses which bits flip")
    return p


def parse_settings(items):
    """NAME=VALUE strings -> dict; numbers and true/false are converted."""
    out = {}
    for item in items:
        if "=" not in item:
            raise EmuError("--set wants NAME=VALUE, got %r" % item)
        k, v = item.split("=", 1)
        if re.fullmatch(r"-?\d+", v):
            v = int(v)
        elif v in ("true", "false"):
            v = v == "true"
        out[k.strip()] = v
    return out


def _fmt_faults(f):
    if not f:
        return "?"
    parts = []
    if f.get("down"):
        parts.append("DOWN(%s)" % f.get("down_how", "blackhole"))
    for k, unit in (("drop", ""), ("corrupt", ""), ("delay_ms", " ms"), ("rate", " B/s")):
        if f.get(k):
            parts.append("%s %g%s" % (k.replace("_ms", ""), f[k], unit))
    return ", ".join(parts) or "none"


def _print_status(st):
    if not st.get("running"):
        line = "emulator not running in %s (%s)" % (st.get("run_dir"), st.get("status"))
        if st.get("strays"):
            line += "; stray processes: %s" % " ".join(map(str, st["strays"]))
        print(line)
        return
    link = st.get("link") or {}
    print("emulator running in %s (supervisor pid %s, link %s%s, control port %s)" % (
        st.get("run_dir"), st.get("supervisor_pid"), link.get("mode"),
        " %s baud" % link.get("baud") if link.get("mode") == "uart" else "", st.get("control_port")))
    for name, b in (st.get("boards") or {}).items():
        print("  %-10s %-9s %-26s pid %-7s %-8s restarts %s, link %s" % (
            name, b.get("role", ""), b.get("url"), b.get("pid"), b.get("state"),
            b.get("restarts"), b.get("link")))
    stats = link.get("stats") or {}
    counters = ["%s %s B (dropped %s, corrupted %s, lost %s)" % (
        k, v.get("bytes_out"), v.get("dropped"), v.get("corrupted"), v.get("lost"))
        for k, v in stats.items() if isinstance(v, dict) and "bytes_out" in v]
    print("  link faults: %s" % _fmt_faults(link.get("faults")))
    if counters:
        print("  link: " + "; ".join(counters))


def run(args):
    emu_kw = {}
    if args.command == "up":
        env = {}
        for item in args.env:
            if "=" not in item:
                raise EmuError("--env wants KEY=VALUE, got %r" % item)
            k, v = item.split("=", 1)
            env[k] = v
        try:  # a random key for the pair unless --key or --no-key
            key, note, _ = pairkey.resolve(args)
        except pairkey.PairKeyError as e:
            raise EmuError(str(e)) from None
        if note:
            print(note, file=sys.stderr)
        emu_kw = dict(mode=args.mode, baud=args.baud, heap=args.heap, image_size=args.image_size,
                      entry=args.entry, firmware_root=args.firmware_root,
                      boards_root=args.boards_root, micropython=args.micropython, seed=args.seed,
                      profile=args.profile,
                      boards=tuple(b.strip() for b in args.boards.split(",")), env=env,
                      settings=parse_settings(args.settings), key=key)
    emu = Emulator(args.run_dir, **emu_kw)
    if args.command == "up":
        st = emu.up(timeout=args.timeout)
        for name, b in (st.get("boards") or {}).items():
            st.setdefault(name, b.get("url"))  # {"primary": URL, "secondary": URL, ...}
        return st, lambda: _print_status(st)
    if args.command == "corrupt":
        res = emu.corrupt(args.board, args.block, seed=args.seed)
        return res, lambda: print("corrupted %s block(s) %s of %s's card" % (
            len(res["blocks"]), ", ".join(map(str, res["blocks"])), args.board))
    if args.command == "down":
        res = emu.down()
        msg = "stopped emulator in %s" % res["run_dir"] if res["was_running"] else \
            "emulator was not running in %s" % res["run_dir"]
        if res["killed"]:
            msg += " (killed %d process(es))" % len(res["killed"])
        return res, lambda: print(msg)
    if args.command == "status":
        st = emu.status()
        return st, lambda: _print_status(st)
    if args.command == "link":
        res = emu.link(args.op, args.value)
        if "stats" in res:
            return res, lambda: print(json.dumps(res["stats"], indent=1, sort_keys=True))
        return res, lambda: print("link faults: %s" % _fmt_faults(res.get("faults")))
    if args.command == "power-cycle":
        b = emu.power_cycle(args.board)
        return b, lambda: print("power-cycled %s: pid %s, console %s" % (
            args.board, b.get("pid"), b.get("url")))
    raise EmuError("no command given (see --help)")


def main(argv=None, prog=None):
    parser = build_parser(prog)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        result, show = run(args)
    except (EmuError, ControlError, LinkError) as e:
        print("%s: error: %s" % (parser.prog, e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("%s: interrupted" % parser.prog, file=sys.stderr)
        return 130
    except OSError as e:
        print("%s: error: %s" % (parser.prog, e), file=sys.stderr)
        return 1
    try:
        if args.json:
            print(json.dumps(result, sort_keys=True))
        else:
            show()
        sys.stdout.flush()
    except BrokenPipeError:   # e.g. piped into head
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
    return 0
