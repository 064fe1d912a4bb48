"""The lines tests/renode/sdmirror.robot waits for are the lines the firmware prints: every
`Wait For Line On Uart` pattern of the robot file is matched, with Renode's rules (substring,
or a .NET regex: the lookaheads used mean the same in Python's re), against what the
consoles of an emulated pair answer to the same commands in the same story. Only the
patterns naming the board ("board": "renode") are left out: the emulated boards are "emu".
A pattern added to the robot file and not exercised here fails this test."""
import os
import re
import time

import pytest

from emupair import NEEDS_VM, EmuPair

pytestmark = NEEDS_VM

ROBOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     "renode", "sdmirror.robot")
SETTINGS = {"scan_period_ms": 600000, "scan_rate": 0, "dead_ms": 3000, "keepalive_ms": 1000}


def robot_waits():
    """(pattern, is_regex) of every Wait For Line On Uart, with the Variables section's
    values and the keyword arguments the test cases pass substituted."""
    text = open(ROBOT).read()
    values = dict(re.findall(r"^\$\{(\w+)\}\s{2,}(\S.*)$", text, re.M))
    # the keywords' own arguments, as the test cases call them (block 100, BLOCK_A)
    values.update({"block": "100", "hex": values["BLOCK_A"]})
    out = []
    for line in text.split("\n"):
        cells = [c for c in re.split(r"\s{2,}", line.strip()) if c]
        if cells and cells[0] == "Wait For Line On Uart":
            pat = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], cells[1])
            out.append((pat, "treatAsRegex=true" in cells))
    return out


def matches(pattern, regex, line):
    return bool(re.search(pattern, line)) if regex else pattern in line


class UartTester:
    """A Renode terminal tester's view of one console: every line kept until matched."""

    def __init__(self, board):
        self.board = board
        self.lines = []

    def write_line(self, text):
        self.board.port.write(text.encode() + b"\r")

    def wait_for(self, pattern, regex, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            for i, line in enumerate(self.lines):
                if matches(pattern, regex, line):
                    del self.lines[:i + 1]
                    return line
            if time.monotonic() > deadline:
                raise AssertionError("%r not seen; last lines %r" % (pattern, self.lines[-5:]))
            self.lines.extend(self.board._lines(time.monotonic() + 0.3))


def test_every_robot_pattern_matches_what_the_firmware_prints(tmp_path):
    waits = [w for w in robot_waits() if '"board": "renode"' not in w[0]]
    used = set()

    def wait(tester, fragment, **kw):
        """Wait for the robot pattern that contains fragment (exactly one does)."""
        cands = [w for w in waits if fragment in w[0]]
        assert cands, fragment
        for pat, regex in cands:
            used.add((pat, regex))
        pat, regex = cands[0]
        return tester.wait_for(pat, regex, **kw)

    def synced(p):
        deadline = time.monotonic() + 120
        pat = [w for w in waits if w[0].startswith('^(?=.*"cmd": "status")(?=.*"link": "paired")(?=.*"dirty')]
        assert len(pat) == 1
        used.add(pat[0])
        while True:
            p.write_line("status")
            line = p.wait_for('"cmd": "status"', False)
            if matches(pat[0][0], True, line):
                return line
            assert time.monotonic() < deadline, line
            time.sleep(0.5)

    pair = EmuPair(tmp_path / "emu", mode="eth", image_size="16M", settings=SETTINGS,
                   key="5ec7e75ec7e75ec7e75ec7e75ec7e75e")
    try:
        P, S = UartTester(pair.p), UartTester(pair.s)
        synced(P)
        S.write_line("status")
        wait(S, '"role": "secondary")(?=.*"link": "paired"')
        # a mirrored write, then the secondary holds it (Write Block / Block Should Hold)
        P.write_line("write 100 " + block_hex_prefix())
        wait(P, '"cmd": "write"')
        synced(P)
        S.write_line("read 100")
        wait(S, '"cmd": "read"')
        # link cut: the primary notices, keeps writing, marks regions, resyncs on reconnect
        pair.emu.link("down")
        wait(P, '"event": "link")(?=.*"detail": "down', timeout=30)
        P.write_line("write 100 " + block_hex_prefix())
        P.wait_for('"cmd": "write"', False)
        P.write_line("status")
        wait(P, '"dirty_regions": [1-9]')
        pair.emu.link("up")
        wait(P, '"event": "paired"', timeout=60)
        synced(P)
        # silent corruption on the secondary, found by a scan the primary starts
        S.write_line("inject corrupt-block 100")
        wait(S, '"fault": "corrupt-block"')
        P.write_line("scan")
        wait(P, '"cmd": "scan"')
        wait(S, '"event": "mismatch"', timeout=60)
        synced(P)
        S.write_line("read 100")
        S.wait_for('"cmd": "read"', False)
    finally:
        pair.close()
    missing = [w for w in waits if w not in used]
    assert not missing, "robot patterns this test does not exercise: %r" % missing


def block_hex_prefix():
    """The robot file's BLOCK_A: `write N HEX` pads it with zeros to a block."""
    return dict(re.findall(r"^\$\{(\w+)\}\s{2,}(\S.*)$", open(ROBOT).read(), re.M))["BLOCK_A"]
