"""python -m sdmirror.emu …  (see sdmirror.emu.cli)."""
import sys

from .cli import main

sys.exit(main())
