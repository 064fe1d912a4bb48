"""Talk to a board's line console: real boards on a serial device, emulated ones on
socket://127.0.0.1:PORT — anything pyserial's serial_for_url opens.

The firmware answers one JSON object per line: replies carry "cmd", unsolicited lines carry
"event". Anything else (REPL prompts, a banner) is passed over.
"""
import json
import time

import serial

from sdmirror import __version__ as HOST_VERSION


def parse_line(text):
    """A console line as the firmware's JSON object, or None (a REPL prompt, a banner)."""
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


class ConsoleError(Exception):
    """The board could not be reached or did not answer as firmware does (one-line text)."""


class Board:
    def __init__(self, url, timeout=5.0):
        self.url = url
        self.timeout = timeout
        try:
            self.port = serial.serial_for_url(url, baudrate=115200, timeout=0.1)
        except (serial.SerialException, ValueError, OSError) as e:
            raise ConsoleError("cannot open %s: %s" % (url, _short(e))) from None
        self.events = []  # unsolicited lines seen while waiting for replies
        self._buf = b""

    def close(self):
        self.port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _lines(self, deadline):
        """Yield complete lines until the deadline."""
        while time.monotonic() < deadline:
            try:
                chunk = self.port.read(4096)
            except (serial.SerialException, OSError) as e:
                raise ConsoleError("lost %s: %s" % (self.url, _short(e))) from None
            if chunk:
                self._buf += chunk
            while b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                yield line.decode("utf-8", "replace").strip()

    def command(self, line, timeout=None):
        """Send one command; return its reply (a dict). A reply with "error" is returned as
        is: the caller decides whether it is fatal."""
        word = line.split()[0]
        self.port.reset_input_buffer()
        self._buf = b""
        try:
            self.port.write(line.encode() + b"\r")
        except (serial.SerialException, OSError) as e:
            raise ConsoleError("cannot write to %s: %s" % (self.url, _short(e))) from None
        deadline = time.monotonic() + (timeout or self.timeout)
        for text in self._lines(deadline):
            obj = parse_line(text)
            if obj is None:
                continue
            if "event" in obj:
                self.events.append(obj)
            elif obj.get("cmd") == word:
                return obj
        raise ConsoleError("%s did not answer '%s' within %.0f s: is the sdmirror firmware "
                           "running there? (`sdmirror console %s` shows what it prints)"
                           % (self.url, word, timeout or self.timeout, self.url))

    def restart_firmware(self):
        """Stop whatever runs (Ctrl-C), leave a raw REPL (Ctrl-B) and soft-reset (Ctrl-D):
        the board boots and runs main.py, as after `mpremote ... soft-reset`, which (in the
        raw REPL) leaves a board at its REPL without running main.py."""
        try:
            self.port.write(b"\x03\x03\x02\x04")
        except (serial.SerialException, OSError) as e:
            raise ConsoleError("cannot write to %s: %s" % (self.url, _short(e))) from None

    def status(self):
        return self.checked("status")

    def checked(self, line, timeout=None):
        """command(), raising ConsoleError on an error reply."""
        reply = self.command(line, timeout)
        if "error" in reply:
            raise ConsoleError("%s: %s" % (self.url, reply["error"]))
        return reply

    def check_version(self):
        """The firmware's version reply; ConsoleError if it does not match the host tools."""
        v = self.checked("version")
        if v.get("version") != HOST_VERSION:
            raise ConsoleError("firmware %s on %s does not match host tools %s: flash it with "
                               "`sdmirror flash %s --board %s`" % (
                                   v.get("version"), self.url, HOST_VERSION, self.url,
                                   v.get("board", "NAME")))
        return v

    def wait(self, predicate, timeout, poll=0.3, what="condition"):
        """Poll status until predicate(status) holds; returns that status."""
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            left = deadline - time.monotonic()
            try:  # a board that is rebooting misses a command or two: ask again
                st = self.checked("status", timeout=max(0.5, min(left, 3.0)))
            except ConsoleError:
                continue
            if predicate(st):
                return st
            time.sleep(poll)
        raise ConsoleError("%s: timed out after %.0f s waiting for %s (last status: link=%s)"
                           % (self.url, timeout, what, st and st.get("link")))


def synced(st):
    """A primary's status says the pair is coherent and idle."""
    return (st.get("link") == "paired" and not st.get("syncing") and st.get("epochs") == 0
            and st.get("dirty_regions") == 0 and st.get("inflight") == 0
            and not (st.get("scan") or {}).get("active"))


def _short(e):
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
