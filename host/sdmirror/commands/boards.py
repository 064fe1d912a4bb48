"""`sdmirror boards [--json] [NAME]`: the board profiles this firmware has (boards/NAME/board.py),
with the MicroPython build each one needs, its link, heap and whether the firmware is frozen."""
import argparse
import json
import sys

from sdmirror import firmware_image as fi

EXAMPLE = """example:
  sdmirror boards
  sdmirror boards --json rp2040

Every profile has run only in emulation: on the MicroPython Unix VM with fakes of its port
(boards/fakeports), never on the hardware. Flash one with `sdmirror flash --board NAME`."""

FIELDS = ("TITLE", "PLATFORM", "MPY_BOARD", "CHIP", "HEAP", "FROZEN", "SPI", "UART", "ETH",
          "CRC_UNIT", "SETTINGS")


def describe(name):
    d = {"name": name}
    for f in FIELDS:
        v = fi.board_value(name, f)
        if v is not None:
            d[f.lower()] = v
    d["link"] = "uart" if "uart" in d else ("ethernet" if "eth" in d else "emulated")
    d["frozen"] = bool(d.get("frozen"))
    return d


def main(argv):
    ap = argparse.ArgumentParser(prog="sdmirror boards", description=__doc__, epilog=EXAMPLE,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", nargs="?", help="show only this profile")
    ap.add_argument("--json", action="store_true", help="print one JSON array")
    args = ap.parse_args(argv)
    names = fi.boards()
    if args.name is not None:
        if args.name not in names:
            print("sdmirror boards: unknown board '%s'; known boards: %s" % (
                args.name, ", ".join(names)), file=sys.stderr)
            return 2
        names = [args.name]
    rows = [describe(n) for n in names]
    if args.json:
        print(json.dumps(rows))
        return 0
    w = max(len(r["name"]) for r in rows)
    for r in rows:
        print("%-*s  %-36s %-9s %-14s heap %3d KiB%s" % (
            w, r["name"], r.get("title", "the emulated board (MicroPython Unix VM)"), r["link"],
            r.get("mpy_board", "-"), r["heap"] // 1024, ", frozen" if r["frozen"] else ""))
    return 0
