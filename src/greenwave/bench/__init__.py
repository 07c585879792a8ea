"""Batch benchmarks: a matrix of scenarios × methods × periods × seeds, one SUMO run a cell.

* :mod:`greenwave.bench.spec` — the TOML spec, checked whole before anything runs;
* :mod:`greenwave.bench.cells` — one cell (prepare the method's programs, simulate, measure);
* :mod:`greenwave.bench.run` — resumable execution on a local process pool or a Dask cluster;
* :mod:`greenwave.bench.report` — the tidy table (CSV, Parquet), summary and plots.

>>> from greenwave.bench import read_spec, run_bench   # doctest: +SKIP
>>> run = run_bench(read_spec("bench.toml"), "bench-out")   # doctest: +SKIP
"""

from greenwave.bench.cells import CellOutcome, run_cell
from greenwave.bench.run import TABLE_COLUMNS, BenchRun, collect_table, pending_cells, run_bench
from greenwave.bench.spec import METHODS, BenchScenario, BenchSpec, Cell, read_spec

__all__ = ["METHODS", "TABLE_COLUMNS", "BenchRun", "BenchScenario", "BenchSpec", "Cell",
           "CellOutcome", "collect_table", "pending_cells", "read_spec", "run_bench",
           "run_cell"]
