"""Placeholder command line entry point; the real CLI replaces this module."""
import argparse
import sys

from sdmirror import __version__


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="sdmirror", description="Mirrored SD-card volume on two MicroPython boards.")
    parser.add_argument("--version", action="version", version="sdmirror " + __version__)
    parser.add_argument("command", nargs="?", help="subcommand (none implemented yet)")
    args = parser.parse_args(argv)
    parser.print_help()
    if args.command:
        # Fail loudly so `make demo` does not look like it worked.
        print("sdmirror: %r is not implemented yet" % args.command, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
