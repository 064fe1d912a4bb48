"""`sdmirror inject PORT FAULT [VALUE]`: make something go wrong, on purpose.

Firmware faults go through the board's console (`inject …`), on real and emulated boards:
  link-down            close the link from this board's side (it reconnects after link-up)
  link-up              let the link reconnect
  drop-bitmap          forget the primary's dirty bitmap: the next resync is a full scan
  corrupt-block N      flip a bit of block N on this board's card behind the mirror's back
  reboot               reset the board (RAM, so the bitmap, is lost)
  bad-block N          (emulated card) block N fails every read until written again
  card-dead | card-back  (emulated card) the card stops answering / is back

Emulator faults act outside the firmware (emulated boards only; the run is found from
PORT, or given with --run-dir):
  wire-down [blackhole|reset]   cut the link (blackhole: bytes vanish; reset: connections drop)
  wire-up                       reconnect it
  wire-drop P | wire-corrupt P  lose / flip a bit in each byte (uart) or segment (eth) with
                                probability P
  wire-delay MS | wire-rate BPS one-way latency; bandwidth cap in bytes/s (0 = none)
  wire-clear                    every link fault off
  power-cycle                   cut this board's power and restore it (SD image kept)
  card-corrupt N [N ...]        flip a bit in block(s) N of this board's card image file
"""
import json

from sdmirror.clitools import ToolError, Parser, add_port, add_timeout, connect, run

EXAMPLE = """examples:
  sdmirror inject /dev/ttyACM0 drop-bitmap
  sdmirror inject socket://127.0.0.1:40287 corrupt-block 1234
  sdmirror inject socket://127.0.0.1:40287 wire-down           # emulated pair: cut the cable
  sdmirror inject socket://127.0.0.1:40287 wire-drop 0.02
  sdmirror inject socket://127.0.0.1:40287 power-cycle --run-dir demo-report/emu"""

# name -> (console command or emulator link op, number of values: 0, 1, "?" optional, "+")
FIRMWARE = {"link-down": 0, "link-up": 0, "drop-bitmap": 0, "corrupt-block": 1, "reboot": 0,
            "bad-block": 1, "card-dead": 0, "card-back": 0}
WIRE = {"wire-down": ("down", "?"), "wire-up": ("up", 0), "wire-drop": ("drop", 1),
        "wire-corrupt": ("corrupt", 1), "wire-delay": ("delay", 1), "wire-rate": ("rate", 1),
        "wire-clear": ("clear", 0)}
EMULATOR = dict(WIRE, **{"power-cycle": (None, 0), "card-corrupt": (None, "+")})
FAULTS = list(FIRMWARE) + list(EMULATOR)


def build_parser():
    p = Parser(prog="sdmirror inject", description=__doc__, epilog=EXAMPLE)
    add_port(p)
    p.add_argument("fault", metavar="FAULT", choices=FAULTS, help=" | ".join(FAULTS))
    p.add_argument("values", nargs="*", metavar="VALUE", help="the fault's value(s)")
    p.add_argument("--run-dir", metavar="DIR",
                   help="emulator faults: the emulator's run directory (default: found from PORT)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    add_timeout(p)
    return p


def _check_values(fault, values, want):
    n = len(values)
    ok = (want == "?" and n <= 1) or (want == "+" and n >= 1) or n == want
    if not ok:
        need = {0: "no value", 1: "one value", "?": "at most one value",
                "+": "one or more values"}[want]
        raise ToolError("%s takes %s, got %d" % (fault, need, n))


def _number(text, what, kind=float):
    try:
        return kind(text)
    except ValueError:
        raise ToolError("%s must be a number, not '%s'" % (what, text)) from None


def firmware_fault(args):
    _check_values(args.fault, args.values, FIRMWARE[args.fault])
    line = "inject " + " ".join([args.fault] + [str(_number(v, "block", int)) for v in args.values])
    with connect(args.port, args.timeout) as board:
        board.checked("unlock")  # a real board's console refuses inject until told so
        reply = board.checked(line)
    reply.pop("cmd", None)
    return reply, "injected %s on %s" % (" ".join([args.fault] + args.values), args.port)


def emulator_fault(args):
    from sdmirror import emu_runs
    op, want = EMULATOR[args.fault]
    _check_values(args.fault, args.values, want)
    value = args.values[0] if args.values else None
    if args.fault == "card-corrupt":
        blocks = [_number(v, "block", int) for v in args.values]
    elif value is not None and op != "down":
        _number(value, args.fault)
    emu, board = emu_runs.find(args.port, args.run_dir)
    if args.fault == "power-cycle":
        info = emu.power_cycle(board)
        return info, "power-cycled %s (%s): new pid %s" % (board, args.port, info.get("pid"))
    if args.fault == "card-corrupt":
        res = emu.corrupt(board, blocks)
        return res, "flipped a bit in block(s) %s of %s's card (%s)" % (
            ", ".join(map(str, blocks)), board, res["image"])
    res = emu.link(op, value)
    faults = res.get("faults") or {}
    on = [k for k in ("down", "drop", "corrupt", "delay_ms", "rate") if faults.get(k)]
    return res, "%s on the link of %s: faults now %s" % (
        args.fault, args.port, ", ".join("%s=%s" % (k, faults[k]) for k in on) or "none")


def _inject(args):
    res, text = (firmware_fault if args.fault in FIRMWARE else emulator_fault)(args)
    print(json.dumps(res, sort_keys=True) if args.json else text)
    return 0


def main(argv):
    args = build_parser().parse_args(argv)
    return run("sdmirror inject", _inject, args)
