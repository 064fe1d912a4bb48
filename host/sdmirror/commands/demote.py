"""`sdmirror demote PORT`: make an old primary, back after its secondary was promoted,
follow the new primary (DRBD's `drbdadm secondary`). Its writes the secondary never had are
dropped: the new primary resyncs the regions in its own bitmap, plus, when the old primary
had unconfirmed writes, the extents its activity log names (the log is on its card, so it
survives a reset); a full scan when that record is missing, full or damaged, or the
generation of the split is not known (the answer's "resync" says which).

Refused, with nothing changed on the card, when the board is a secondary already or is
paired with its secondary."""
from sdmirror.clitools import Parser, add_port, add_timeout, run
from sdmirror.commands.rolechange import add_common, change

EXAMPLE = """examples:
  sdmirror demote /dev/ttyACM0
  sdmirror demote socket://127.0.0.1:40287 --json      # the emulated old primary

Exit status: 0 when the board now follows, 1 when it refused (the reason is printed) or
could not be reached."""


def build_parser():
    p = Parser(prog="sdmirror demote", description=__doc__, epilog=EXAMPLE)
    add_port(p)
    add_common(p)
    add_timeout(p)
    return p


def main(argv):
    args = build_parser().parse_args(argv)
    return run("sdmirror demote", change, args, "demote", "demoted")
