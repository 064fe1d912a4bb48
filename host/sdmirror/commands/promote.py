"""`sdmirror promote PORT`: make a secondary whose primary is gone the primary (DRBD's
`drbdadm primary`). It leads under a new generation id (the old one becomes its parent),
accepts writes, and keeps its own dirty bitmap from that moment. When the old primary comes
back it is refused as a primary (generation ids); `sdmirror demote` makes it follow.

Refused, with nothing changed on the card, when the board is already the primary, when its
primary is still connected, or when its card holds no complete copy (a resync never
finished)."""
from sdmirror.clitools import Parser, add_port, add_timeout, run
from sdmirror.commands.rolechange import add_common, change

EXAMPLE = """examples:
  sdmirror promote /dev/ttyACM1
  sdmirror promote socket://127.0.0.1:40288 --json     # an emulated secondary

Exit status: 0 when the board now leads, 1 when it refused (the reason is printed) or could
not be reached."""


def build_parser():
    p = Parser(prog="sdmirror promote", description=__doc__, epilog=EXAMPLE)
    add_port(p)
    add_common(p)
    add_timeout(p)
    return p


def main(argv):
    args = build_parser().parse_args(argv)
    return run("sdmirror promote", change, args, "promote", "promoted")
