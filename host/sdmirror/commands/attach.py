"""`sdmirror attach PORT`: give a primary whose card was detached (it failed: the board has
been serving the application from the secondary) its card again, once one answers (DRBD's
`drbdadm attach`). The board re-initialises the card and reads its metadata: the same card
gets the blocks written meanwhile from the secondary, another card (replaced, blank) every
block. The application stays served by the secondary until the copy is complete;
--wait waits for that.

Refused with one line, nothing changed, when the board is not the primary, when its card is
in use (not detached), when the card still does not answer, or when it has another size."""
import json
import time

from sdmirror.clitools import Parser, ToolError, add_port, add_timeout, connect, run

EXAMPLE = """examples:
  sdmirror attach /dev/ttyACM0
  sdmirror attach socket://127.0.0.1:40287 --wait 600    # an emulated primary; wait for the copy

Exit status: 0 when the card was taken (and, with --wait, the copy completed), 1 when the
board refused (the reason is printed), could not be reached or the wait ran out."""


def build_parser():
    p = Parser(prog="sdmirror attach", description=__doc__, epilog=EXAMPLE)
    add_port(p)
    p.add_argument("--wait", type=float, default=0, metavar="S",
                   help="wait up to S seconds for the copy onto the card to complete")
    p.add_argument("--json", action="store_true", help="print the board's reply as JSON")
    add_timeout(p)
    return p


def attach(args):
    if args.wait < 0:
        raise ToolError("--wait must be a number of seconds >= 0, not %g" % args.wait)
    with connect(args.port, args.timeout) as board:
        reply = board.command("attach")
        if "error" in reply:
            raise ToolError("%s refused: %s" % (args.port, reply["error"]))
        reply.pop("cmd", None)
        card = reply.get("card")
        if args.wait:
            end = time.monotonic() + args.wait
            while True:
                st = board.status()
                card = st.get("card") or ""
                if card == "ok" or card.startswith("failed"):
                    break
                if time.monotonic() > end:
                    raise ToolError("%s: the copy onto the card did not complete within %g s "
                                    "(%s); it goes on: sdmirror status %s" % (
                                        args.port, args.wait, card, args.port))
                time.sleep(0.5)
            if card != "ok":
                raise ToolError("%s: %s" % (args.port, card))
    if args.json:
        print(json.dumps(dict(reply, card=card), sort_keys=True))
    else:
        print("%s: card %s" % (args.port, "in use again" if card == "ok" else card))
    return 0


def main(argv):
    args = build_parser().parse_args(argv)
    return run("sdmirror attach", attach, args)
