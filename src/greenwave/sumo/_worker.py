"""Worker process for :func:`greenwave.sumo.simulate.run_simulations` (one libsumo run)."""

import sys

from greenwave.sumo.simulate import worker_main

if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1], sys.argv[2]))
