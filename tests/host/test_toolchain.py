# The toolchain must turn MicroPython incompatibilities into failures: a firmware module
# that imports what MicroPython 1.29 lacks fails the VM run, syntax it rejects fails
# mpy-cross, and a suite that ran nothing is not a pass.
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def _micropython():
    exe = shutil.which("micropython", path=BIN) or shutil.which("micropython")
    assert exe, "no `micropython` command: run `make .venv`"
    return exe


def mpytest(testdir, *args):
    r = subprocess.run([_micropython(), "-X", "heapsize=1M", os.path.join(ROOT, "tools", "mpytest.py"),
                        str(testdir), *args], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def write(dir, name, text):
    path = dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("missing", ["dataclasses", "enum", "typing", "abc"])
def test_firmware_module_using_cpython_only_stdlib_fails(tmp_path, missing):
    write(tmp_path, "fwmod.py", "import %s\n\ndef f():\n    return 1\n" % missing)
    write(tmp_path, "test_fwmod.py", "import fwmod\n\ndef test_f():\n    assert fwmod.f() == 1\n")
    write(tmp_path, "test_other.py", "def test_ok():\n    pass\n")
    # Under CPython the same module imports fine: only the VM run catches it.
    rc, out = mpytest(tmp_path)
    assert rc != 0
    assert "test_fwmod.py IMPORT FAILED" in out
    assert missing in out
    assert out.rstrip().endswith("micropython: 1 passed, 1 failed")


def test_passing_suite_counts_and_exits_zero(tmp_path):
    write(tmp_path, "test_a.py", "def test_one():\n    pass\n\ndef test_two():\n    assert 1 + 1 == 2\n\n"
                                 "def helper():\n    raise AssertionError('not a test')\n")
    write(tmp_path, "test_b.py", "from fwtest import raises\n\ndef test_three():\n    raises(ValueError, int, 'x')\n")
    shutil.copy(os.path.join(ROOT, "tests", "firmware", "fwtest.py"), tmp_path)
    rc, out = mpytest(tmp_path)
    assert rc == 0, out
    assert out.rstrip().endswith("micropython: 3 passed, 0 failed")


def test_failing_and_async_tests_are_failures(tmp_path):
    write(tmp_path, "test_c.py", "def test_ok():\n    pass\n\ndef test_bad():\n    assert 1 == 2, 'nope'\n\n"
                                 "async def test_never_awaited():\n    pass\n")
    rc, out = mpytest(tmp_path)
    assert rc == 1
    assert "test_c.py::test_bad FAILED" in out and "nope" in out
    assert "test_c.py::test_never_awaited FAILED" in out
    assert out.rstrip().endswith("micropython: 1 passed, 2 failed")


def test_empty_suite_fails(tmp_path):
    write(tmp_path, "helper.py", "X = 1\n")
    rc, out = mpytest(tmp_path)
    assert rc != 0
    assert "micropython: 0 passed, 0 failed" in out


def test_select_one_module_or_one_test(tmp_path):
    write(tmp_path, "test_a.py", "def test_one():\n    pass\n\ndef test_two():\n    pass\n")
    write(tmp_path, "test_b.py", "def test_broken():\n    assert False\n")
    rc, out = mpytest(tmp_path, "test_a.py")
    assert rc == 0 and out.rstrip().endswith("micropython: 2 passed, 0 failed")
    rc, out = mpytest(tmp_path, "test_a::test_two")
    assert rc == 0 and out.rstrip().endswith("micropython: 1 passed, 0 failed")


def test_import_sweep_catches_untested_firmware_module(tmp_path):
    pkg = tmp_path / "fw" / "mirrorish"
    write(pkg, "__init__.py", "")
    write(pkg, "good.py", "import struct\n")
    write(pkg, "sub/bad.py", "from dataclasses import dataclass\n")
    write(tmp_path / "tests", "test_a.py", "def test_one():\n    pass\n")
    rc, out = mpytest(tmp_path / "tests", "--import", str(pkg))
    assert rc == 1
    assert "mirrorish.sub.bad IMPORT FAILED" in out
    assert "imported 2 firmware modules" in out  # mirrorish and mirrorish.good
    assert out.rstrip().endswith("micropython: 1 passed, 1 failed")


def mpycheck(*dirs):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "mpycheck.py"), *map(str, dirs)],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def test_mpycheck_rejects_syntax_micropython_lacks(tmp_path):
    src = "def f(x):\n    match x:\n        case 1:\n            return 2\n"
    compile(src, "m.py", "exec")  # valid CPython 3.11
    write(tmp_path, "good.py", "import micropython\n\n@micropython.viper\ndef g(x: int) -> int:\n    return x + 1\n")
    write(tmp_path, "pkg/uses_match.py", src)
    rc, out = mpycheck(tmp_path)
    assert rc != 0
    assert "mpy-cross: 1 modules compiled" in out
    assert "FAILED: %s" % (tmp_path / "pkg" / "uses_match.py") in out
    assert not list(tmp_path.rglob("*.mpy")), "mpycheck must not write beside the sources"


def test_mpycheck_passes_clean_tree(tmp_path):
    write(tmp_path, "a.py", "import struct\nX = struct.calcsize('<I')\n")
    write(tmp_path, "b/c.py", "def f():\n    return 1\n")
    rc, out = mpycheck(tmp_path)
    assert rc == 0, out
    assert "mpy-cross: 2 modules compiled" in out
