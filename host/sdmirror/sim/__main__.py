import sys

from sdmirror.sim.cli import main

sys.exit(main())
