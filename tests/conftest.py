# CPython side of the dual-run tests: make firmware/ and boards/ importable (with the
# `micropython` stub) and let test modules `import fwtest` as they do on the VM.
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    from sdmirror import fwpath
except ImportError:  # pytest run outside the venv, package not installed
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "host"))
    from sdmirror import fwpath

fwpath.install()
sys.path.insert(0, os.path.join(HERE, "firmware"))
sys.path.insert(0, os.path.join(HERE, "system"))  # emupair: the emulated pair fixture
sys.path.insert(0, os.path.join(HERE, "renode"))  # renode_sdcard: Renode's card model


import pytest  # noqa: E402


@pytest.fixture
def run_cli(capsys):
    """Run `sdmirror ARGV` in-process; returns (status, stdout, stderr), argparse's exits
    included, and fails on any traceback."""
    from sdmirror import cli

    def run(*argv):
        try:
            status = cli.main(list(argv))
        except SystemExit as e:
            status = e.code
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return status, out, err
    return run
