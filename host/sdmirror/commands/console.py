"""`sdmirror console PORT`: a terminal on a board's console, for serial devices and any
pyserial URL — socket://… included, which `mpremote repl` cannot open. Ctrl-] quits.

Three ways to use it:
- interactive (stdin is a terminal): keys go to the board as typed (raw mode: Ctrl-C
  reaches the board and stops the firmware, Ctrl-D soft-resets it at the REPL);
- piped (stdin is a file or pipe): its bytes are sent with newlines as carriage returns,
  then the output is shown until the board has been quiet for --wait seconds;
- --command LINE (repeatable): send each console command, print its JSON reply, exit 1 if a
  command got an error reply or none.
"""
import json
import os
import select
import sys
import threading
import time

import serial

from sdmirror.clitools import ToolError, Parser, add_port, add_timeout, run
from sdmirror.console_client import Board, ConsoleError

QUIT = 0x1D  # Ctrl-]

EXAMPLE = """examples:
  sdmirror console /dev/ttyACM0                       # type `status`, Ctrl-] to quit
  sdmirror console socket://127.0.0.1:40287           # an emulated board
  echo status | sdmirror console socket://127.0.0.1:40287 --wait 0.5
  sdmirror console socket://127.0.0.1:40287 --command version --command "bitmap 32"

While the firmware runs, the console takes one command per line (help lists them) and
answers one JSON object per line. Ctrl-C leaves the MicroPython REPL; Ctrl-D there reboots."""


def build_parser():
    p = Parser(prog="sdmirror console", description=__doc__.split("\n\n")[0], epilog=EXAMPLE)
    add_port(p)
    p.add_argument("--command", "-c", action="append", default=[], metavar="LINE",
                   help="send this console command, print its reply and exit (repeatable)")
    p.add_argument("--wait", type=float, default=1.0, metavar="S",
                   help="piped input: exit once the board has been quiet this long after "
                        "the input ended (default 1; at most --timeout seconds)")
    add_timeout(p)
    return p


class _Output:
    """Copies what the board prints to our stdout, from a thread."""

    def __init__(self, port, tty):
        self.port = port
        self.tty = tty
        self.last = time.monotonic()
        self.error = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        out = sys.stdout.buffer
        while not self.stop.is_set():
            try:
                data = self.port.read(self.port.in_waiting or 1)
            except (serial.SerialException, OSError) as e:
                self.error = str(e) or type(e).__name__
                self.stop.set()
                return
            if data:
                self.last = time.monotonic()
                if not self.tty:  # a file or pipe wants plain newlines
                    data = data.replace(b"\r\n", b"\n")
                try:
                    out.write(data)
                    out.flush()
                except (BrokenPipeError, ValueError):
                    self.stop.set()
                    return


def _commands(args):
    """--command: one reply per command."""
    status = 0
    with Board(args.port, timeout=args.timeout) as board:
        for line in args.command:
            reply = board.command(line)
            print(json.dumps(reply))
            if "error" in reply:
                status = 1
    return status


def _send(port, data):
    try:
        port.write(data)
    except (serial.SerialException, OSError) as e:
        raise ToolError("lost %s: %s" % (port.portstr, e)) from None


def _interactive(port, out):
    import termios
    import tty
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd, termios.TCSANOW)  # not TCSAFLUSH: keys typed already are kept
    sys.stderr.write("--- sdmirror console on %s; Ctrl-] quits ---\r\n" % port.portstr)
    sys.stderr.flush()
    try:
        while not out.stop.is_set():
            r, _, _ = select.select([fd], [], [], 0.1)
            if not r:
                continue
            data = os.read(fd, 256)
            if not data:
                break
            if QUIT in data:
                _send(port, data[:data.index(QUIT)])
                break
            _send(port, data)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        sys.stderr.write("\n")


def _piped(port, out, wait, cap):
    fd = sys.stdin.fileno()
    sent = time.monotonic()
    while not out.stop.is_set():
        data = os.read(fd, 4096)
        if not data:
            break
        if QUIT in data:
            _send(port, data[:data.index(QUIT)].replace(b"\n", b"\r"))
            return
        _send(port, data.replace(b"\r\n", b"\r").replace(b"\n", b"\r"))
        sent = time.monotonic()
        time.sleep(0.05)  # a board's console reads slowly: do not flood its input buffer
    # the input ended: show what comes back until the board is quiet (a board that keeps
    # printing events is cut off after `cap` seconds)
    end = time.monotonic() + max(cap, wait)
    while not out.stop.is_set() and time.monotonic() - max(out.last, sent) < wait \
            and time.monotonic() < end:
        time.sleep(0.05)


def _terminal(args):
    if args.command:
        return _commands(args)
    try:
        port = serial.serial_for_url(args.port, baudrate=115200, timeout=0.1)
    except (serial.SerialException, ValueError, OSError) as e:
        raise ConsoleError("cannot open %s: %s" % (args.port, str(e).strip().splitlines()[0]
                                                    if str(e).strip() else type(e).__name__))
    tty_in = sys.stdin.isatty()
    out = _Output(port, sys.stdout.isatty())
    out.thread.start()
    try:
        if tty_in:
            _interactive(port, out)
        else:
            _piped(port, out, args.wait, args.timeout)
    finally:
        out.stop.set()
        out.thread.join(1.0)
        port.close()
    if out.error:
        raise ToolError("lost %s: %s" % (args.port, out.error))
    return 0


def main(argv):
    args = build_parser().parse_args(argv)
    if args.wait < 0:
        build_parser().error("--wait must be >= 0")
    return run("sdmirror console", _terminal, args)
