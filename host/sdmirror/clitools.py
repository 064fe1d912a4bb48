"""What the board-facing commands (flash, console, status, monitor, inject, demo) share:
an argparse parser whose errors are one line, the PORT argument, and a wrapper that turns
every error a user can cause (bad port, silent board, version mismatch, missing file) into
one line on stderr and a non-zero exit status instead of a traceback.
"""
import argparse
import sys

from sdmirror.console_client import Board, ConsoleError

# Exit statuses: 1 = the operation failed (board, emulator, files); 2 = bad arguments
# (argparse's own); 130 = interrupted.
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

PORT_HELP = ("the board's console: a serial device (/dev/ttyACM0) or any pyserial URL "
             "(socket://127.0.0.1:PORT for an emulated board)")


class ToolError(Exception):
    """A one-line, user-facing failure of a host tool."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors; the epilog (an example) is shown verbatim."""

    def __init__(self, *args, **kw):
        kw.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        argparse.ArgumentParser.__init__(self, *args, **kw)

    def error(self, message):
        self.exit(EXIT_USAGE, "%s: error: %s (see --help)\n" % (self.prog, message))


def add_port(parser, name="port"):
    parser.add_argument(name, metavar="PORT", help=PORT_HELP)


def add_timeout(parser, default=5.0):
    parser.add_argument("--timeout", type=float, default=default, metavar="S",
                        help="seconds to wait for each console reply (default %g)" % default)


def connect(url, timeout=5.0, check_version=True):
    """An open Board at url whose firmware answers (and matches these host tools)."""
    board = Board(url, timeout=timeout)
    try:
        if check_version:
            board.check_version()
    except BaseException:
        board.close()
        raise
    return board


def run(prog, fn, *args):
    """Call fn(*args) -> exit status; one-line errors for everything a user can cause."""
    # imported here: only the emulator-aware commands need these, and a missing optional
    # part must not break the others
    from sdmirror.emu.control import ControlError
    from sdmirror.emu.launcher import EmuError
    from sdmirror.emu.linkproxy import LinkError
    from sdmirror.verify import VerifyError
    try:
        return fn(*args) or 0
    except (ToolError, ConsoleError, EmuError, ControlError, LinkError, VerifyError) as e:
        return fail(prog, e)
    except KeyboardInterrupt:
        print("%s: interrupted" % prog, file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into `head`
        return 0
    except OSError as e:
        return fail(prog, e.strerror and "%s%s" % (
            e.strerror, ": %s" % e.filename if e.filename else "") or e)


def fail(prog, err):
    text = str(err).strip().splitlines()
    print("%s: error: %s" % (prog, text[0] if text else type(err).__name__), file=sys.stderr)
    return EXIT_FAIL


def human_bytes(n):
    """1234567 -> '1.2 MB' (decimal units, as link rates are quoted)."""
    if n is None:
        return "-"
    n = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1000.0
    return "%.1f GB" % n
