"""``python -m greenwave``: the command line (see :mod:`greenwave.cli`)."""

import sys

from greenwave.cli import main

sys.exit(main())
