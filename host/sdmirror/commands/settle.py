"""`sdmirror settle PORT --discard-this-side`: settle a split (both boards written while
apart, which the pair refuses) by dropping the changes of the board at PORT (DRBD's
`connect --discard-my-data`). That board becomes the secondary; the other side overwrites
every block that differs (a full scan with the hash tree finds them).

Asks for confirmation unless --yes. Refused, with nothing changed on the card, when the
pair is paired or has not refused over diverged histories."""
import sys

from sdmirror.clitools import Parser, ToolError, add_port, add_timeout, run
from sdmirror.commands.rolechange import add_common, change

EXAMPLE = """examples:
  sdmirror settle /dev/ttyACM1 --discard-this-side
  sdmirror settle socket://127.0.0.1:40288 --discard-this-side --yes   # no question asked

Exit status: 0 when the board now follows, 1 when it refused, could not be reached or the
confirmation was not given, 2 without --discard-this-side."""


def build_parser():
    p = Parser(prog="sdmirror settle", description=__doc__, epilog=EXAMPLE)
    add_port(p)
    p.add_argument("--discard-this-side", action="store_true", required=True,
                   help="required: the changes made on this board since the split are lost")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_common(p)
    add_timeout(p)
    return p


def confirm(port, stdin=None):
    stdin = sys.stdin if stdin is None else stdin
    if not stdin.isatty():
        raise ToolError("not confirmed: stdin is not a terminal; add --yes to settle without "
                        "asking")
    print("Every change made on %s since the split will be overwritten from the other "
          "board." % port)
    print("Type 'discard' to go on: ", end="", flush=True)
    if stdin.readline().strip() != "discard":
        raise ToolError("not confirmed: nothing changed")


def _settle(args):
    if not args.yes:
        confirm(args.port)
    return change(args, "settle --discard-this-side", "settled (this side's changes dropped)")


def main(argv):
    args = build_parser().parse_args(argv)
    return run("sdmirror settle", _settle, args)
