"""`sdmirror verify IMG_A IMG_B`: offline comparison of two card images."""
import argparse
import json
import sys

from sdmirror.verify import ALGORITHMS, VerifyError, compare

EXAMPLE = """example:
  sdmirror verify .emu/primary.img .emu/secondary.img --alg sha256

Exit status: 0 if the volumes are equal, 1 if they differ, 2 if they cannot be compared.
Each card's last two blocks hold that board's metadata; when an image has them they are left
out, so the mirrored volumes are what is compared."""


def main(argv):
    ap = argparse.ArgumentParser(prog="sdmirror verify", description=__doc__,
                                 epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("image_a")
    ap.add_argument("image_b")
    ap.add_argument("--alg", default="crc32", choices=ALGORITHMS,
                    help="per-block checksum (default crc32)")
    ap.add_argument("--blocks", type=int, help="compare only the first N blocks")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--max-list", type=int, default=50, help="list at most this many blocks")
    args = ap.parse_args(argv)
    if args.blocks is not None and args.blocks < 1:
        ap.error("--blocks must be at least 1")
    try:
        differ, n = compare(args.image_a, args.image_b, args.alg, args.blocks)
    except VerifyError as e:
        print("sdmirror verify: %s" % e, file=sys.stderr)
        return 2
    except OSError as e:  # a directory, a missing or unreadable file
        print("sdmirror verify: cannot read %s: %s (give two card image files)" % (
            e.filename, e.strerror), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"equal": not differ, "blocks": n, "alg": args.alg,
                          "differing": len(differ), "blocks_differing": differ}))
    elif differ:
        shown = ", ".join(str(b) for b in differ[:args.max_list])
        more = " (and %d more)" % (len(differ) - args.max_list) if len(differ) > args.max_list else ""
        print("%d of %d blocks differ (%s): %s%s" % (len(differ), n, args.alg, shown, more))
    else:
        print("equal: %d blocks (%s)" % (n, args.alg))
    return 1 if differ else 0
