"""`sdmirror demo` (= `make demo`): start an emulated pair, tell the whole story with
progress bars, print the cost of each phase and write the report to demo-report/."""
import signal

from sdmirror.clitools import Parser, run

EXAMPLE = """examples:
  sdmirror demo                      # the full story, UART link at 115200 baud (a few minutes)
  sdmirror demo --quick              # a smaller, faster run over the Ethernet link model
  sdmirror demo --mode eth --out /tmp/report

The emulator runs in OUT/emu (cleaned first, stopped at the end, also on Ctrl-C or failure).
The report is OUT/report.md with OUT/link-bytes.png; OUT/report.json holds the numbers.
The secondary's files are read from its card image with pyfatfs (installed by make .venv)."""


def build_parser():
    p = Parser(prog="sdmirror demo", description=__doc__.split("\n\n")[0], epilog=EXAMPLE)
    p.add_argument("--quick", action="store_true",
                   help="small card and files, Ethernet link, short timers (for tests)")
    p.add_argument("--mode", choices=("uart", "eth"),
                   help="link model (default: uart, or eth with --quick)")
    p.add_argument("--out", default="demo-report", metavar="DIR",
                   help="report directory (default demo-report)")
    return p


def _sigterm(signum, frame):
    raise KeyboardInterrupt  # so the emulator is stopped on the way out, as on Ctrl-C


def _demo(args):
    from sdmirror.demo.fatimg import FatError
    from sdmirror.demo.story import Demo, DemoError
    from sdmirror.clitools import ToolError
    old = signal.signal(signal.SIGTERM, _sigterm)
    try:
        Demo(args.out, quick=args.quick, mode=args.mode).run()
    except (DemoError, FatError) as e:
        raise ToolError(str(e)) from None
    finally:
        signal.signal(signal.SIGTERM, old)
    return 0


def main(argv):
    args = build_parser().parse_args(argv)
    return run("sdmirror demo", _demo, args)
