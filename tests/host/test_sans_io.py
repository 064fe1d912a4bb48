"""The controller core does no I/O: no module under firmware/mirror/ imports an I/O module
or calls open/print/input. (A board runtime, the simulator and the tests do the I/O.)"""
import ast
import pathlib

import pytest

MIRROR = pathlib.Path(__file__).resolve().parents[2] / "firmware" / "mirror"
FORBIDDEN_MODULES = {"socket", "select", "machine", "network", "os", "time", "asyncio",
                     "uasyncio", "utime", "usocket", "uselect", "io", "sys", "pyb", "esp32"}
FORBIDDEN_CALLS = {"open", "print", "input"}
# What the core may take from an I/O module: facts about the VM, not I/O. sys.maxsize says
# whether a 32-bit CRC is a small int here (on 32-bit ports it is not: checksum.py).
ALLOWED_NAMES = {"sys": {"maxsize"}}


def problems(path):
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = (node.module or "").split(".")[0]
            if {a.name for a in node.names} <= ALLOWED_NAMES.get(module, set()):
                continue
            names = [module]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in FORBIDDEN_CALLS:
                found.append("line %d calls %s()" % (node.lineno, node.func.id))
            continue
        else:
            continue
        for n in names:
            if n in FORBIDDEN_MODULES:
                found.append("line %d imports %s" % (node.lineno, n))
    return found


@pytest.mark.parametrize("path", sorted(MIRROR.glob("*.py")), ids=lambda p: p.name)
def test_core_module_does_no_io(path):
    assert problems(path) == []


def test_the_check_catches_io(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import socket\nfrom time import sleep\nprint('x')\n"
                   "import sys\nfrom sys import maxsize, stdout\nfrom sys import maxsize\n")
    assert sorted(problems(bad)) == ["line 1 imports socket", "line 2 imports time",
                                     "line 3 calls print()", "line 4 imports sys",
                                     "line 5 imports sys"]
