"""`sdmirror renode-files DIR --key HEX`: the files the Renode pair (boards/renode/) boots
from: each board's flash filesystem as a FAT image (main.py, the `renode` board profile, its
sdmirror.json with its role; the firmware itself is frozen into the MicroPython build,
boards/renode/manifest.py) and an empty card image.

boards/renode/sdmirror-pair.resc loads them; see boards/renode/README.md for why the files
go in as an image and what Renode does with it.
"""
import argparse
import os

from sdmirror.clitools import Parser, ToolError, run

EXAMPLE = """example:
  sdmirror renode-files build/renode --key 00112233445566778899aabbccddeeff --set scan_period_ms=60000
  renode -e '$micropython=@/path/to/firmware.elf; include @boards/renode/sdmirror-pair.resc; start'

Writes DIR/primary-fs.img, DIR/secondary-fs.img (96 KiB FAT images, loaded at 0x08008000)
and DIR/primary-card.img, DIR/secondary-card.img (empty: the card reads zeros until written).
Existing files of those names are replaced."""


def build_parser():
    p = Parser(prog="sdmirror renode-files", description=__doc__.split("\n\n")[0],
               epilog=EXAMPLE)
    p.add_argument("out_dir", metavar="DIR", help="where to write the four files")
    p.add_argument("--key", required=True, metavar="HEX",
                   help="shared link key (hex, at least 16 bytes), the same on both boards")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
                   help="firmware setting for both boards, e.g. scan_period_ms=60000 (repeatable)")
    p.add_argument("--micropython", metavar="PATH",
                   help="MicroPython Unix VM that writes the FAT images (default: the one "
                        "`make .venv` installs)")
    return p


def _files(args):
    from sdmirror import renode_fs
    from sdmirror.commands.flash import board_config
    from sdmirror.emu.launcher import EmuError, find_micropython
    if os.path.exists(args.out_dir) and not os.path.isdir(args.out_dir):
        raise ToolError("%s exists and is not a directory" % args.out_dir)
    try:
        vm = find_micropython(args.micropython)
    except EmuError as e:
        raise ToolError(str(e)) from None
    confs = {}
    for role in renode_fs.ROLES:  # validated as `sdmirror flash` validates them
        confs[role] = board_config(argparse.Namespace(
            board=renode_fs.BOARD, role=role, key=args.key, no_key=False, dry_run=True,
            peer=None, listen=None, settings=args.settings))[0]
    try:
        report = renode_fs.write_files(args.out_dir, confs.__getitem__, vm)
    except renode_fs.RenodeFilesError as e:
        raise ToolError(str(e)) from None
    for name in sorted(report):
        path = os.path.join(args.out_dir, name)
        if name.endswith("-fs.img"):
            print("%s  (FAT, %d KiB, %d KiB free)" % (path, os.path.getsize(path) // 1024,
                                                     report[name] // 1024))
        else:
            print("%s  (empty card image)" % path)
    return 0


def main(argv):
    args = build_parser().parse_args(argv)
    return run("sdmirror renode-files", _files, args)
