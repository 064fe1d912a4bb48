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
