"""Run a benchmark matrix: skip the cells already done, run the rest on a local process pool
or a Dask cluster, store each cell as it finishes, rebuild the table.

Resumable by construction: each finished cell is one small JSON file under ``OUT/cells/``
written atomically, and the table is rebuilt from those files. A cell whose file holds a
result of the same fingerprint (:meth:`~greenwave.bench.spec.Cell.fingerprint`) is skipped;
a failed cell is recorded (status and error, in the table and the summary) and run again on
the next run. A run killed half-way loses only the cells that were running.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from greenwave._io import atomic_write_text
from greenwave.bench.cells import CellOutcome, run_cell
from greenwave.bench.spec import BenchSpec, Cell
from greenwave.errors import InputError
from greenwave.metrics import METRIC_COLUMNS

TABLE_COLUMNS: tuple[str, ...] = (
    "scenario", "kind", *METRIC_COLUMNS, "seed", "teleports", "total_delay_s", "not_inserted",
    "corridor_time_s", "run_time_s", "sim_time_s", "status", "error",
)  # fmt: skip
"""Columns of the bench table: metrics.csv's, plus the scenario, its kind, the cell's wall
times [s] (``run_time_s`` the whole cell, ``sim_time_s`` the SUMO run) and its status."""

TIME_COLUMNS: tuple[str, ...] = ("run_time_s", "sim_time_s")
"""Columns that differ from run to run (everything else is the same for the same spec)."""

Notify = Callable[[CellOutcome], None]


@dataclass(frozen=True)
class BenchRun:
    """What :func:`run_bench` did: the table and where it wrote things."""

    table: pd.DataFrame
    total: int  # cells in the matrix
    skipped: int  # already done before this run
    ran: int  # run now
    failed: int  # failed now (recorded, retried on the next run)
    files: dict[str, Path]


def pending_cells(spec: BenchSpec, out_dir: str | Path) -> tuple[list[Cell], list[Cell]]:
    """``(done, todo)``: the cells with a stored result of the same fingerprint, and the
    others (never run, failed, or run with another spec)."""
    done, todo = [], []
    for cell in spec.cells():
        stored = read_outcome(Path(out_dir) / "cells" / cell.file_name())
        if stored is not None and stored.ok and stored.fingerprint == cell.fingerprint():
            done.append(cell)
        else:
            todo.append(cell)
    return done, todo


def run_bench(
    spec: BenchSpec,
    out_dir: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    work_dir: str | Path | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_done: Notify | None = None,
) -> BenchRun:
    """Run the cells of *spec* not yet done into *out_dir*; write the table, summary, plots.

    *workers* processes of a local pool (default: the machine's cores), or the Dask cluster
    at *scheduler* (``tcp://host:8786``; needs ``pip install greenwave[dask]``; every worker
    must read the spec's input files and write *work_dir* at the same paths). *work_dir*
    (default ``out_dir/work``) holds the networks, plans and SUMO runs. ``on_start(total,
    todo)`` is called once before the first cell, ``on_done(outcome)`` after each.
    """
    from greenwave.bench.report import write_reports

    out = Path(out_dir)
    work = Path(work_dir) if work_dir is not None else out / "work"
    done, todo = pending_cells(spec, out)
    if on_start is not None:
        on_start(len(done) + len(todo), len(todo))
    failed = 0
    if todo:
        outcomes = (_dask_outcomes(todo, str(work.resolve()), scheduler) if scheduler
                    else _pool_outcomes(todo, str(work.resolve()), workers))
        for outcome in outcomes:
            write_outcome(out / "cells", outcome)
            failed += not outcome.ok
            if on_done is not None:
                on_done(outcome)
    table = collect_table(spec, out)
    files = write_reports(spec, table, out)
    return BenchRun(table, len(done) + len(todo), len(done), len(todo), failed, files)


# --------------------------------------------------------------------------------------------
# executors


def _pool_outcomes(cells: Sequence[Cell], work: str, workers: int | None
                   ) -> Iterator[CellOutcome]:
    """Outcomes as they finish, from a local pool of *workers* processes (spawned: no state
    of the parent leaks into them)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    n = workers if workers is not None else (os.cpu_count() or 1)
    if n < 1:
        raise InputError(f"must be at least 1, found {n}", field="--workers", value=n)
    pool = ProcessPoolExecutor(max_workers=min(n, len(cells)),
                               mp_context=multiprocessing.get_context("spawn"),
                               initializer=_exit_on_sigterm)
    finished = False
    try:
        futures = {pool.submit(run_cell, cell, work): cell for cell in cells}
        for fut in as_completed(futures):
            yield _outcome(futures[fut], fut.result, fut.exception)
        finished = True
    finally:
        if not finished:  # interrupted (Ctrl-C, SIGTERM, an error): stop the running cells
            # now instead of waiting for their simulations; they are not recorded, so a rerun
            # does them again. A worker ends its SUMO processes on the way out
            # (_exit_on_sigterm). ProcessPoolExecutor has no public way to stop its workers
            # before Python 3.14's terminate_workers.
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def _exit_on_sigterm() -> None:
    """In a pool worker: SIGTERM unwinds like an error, so that the simulations it runs
    (separate processes, :func:`greenwave.sumo.simulate.run_simulations`) are ended too."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def _dask_outcomes(cells: Sequence[Cell], work: str, scheduler: str) -> Iterator[CellOutcome]:
    """Outcomes as they finish, from the Dask cluster at *scheduler*."""
    import importlib

    try:  # imported lazily: Dask is an optional extra (and untyped)
        distributed: Any = importlib.import_module("dask.distributed")
    except ImportError as exc:
        raise InputError("a Dask cluster needs dask.distributed: pip install "
                         "'greenwave[dask]'", field="--scheduler", value=scheduler) from exc
    try:
        client: Any = distributed.Client(scheduler, timeout="10s")
    except OSError as exc:
        raise InputError(f"cannot reach the Dask scheduler ({exc})", field="--scheduler",
                         value=scheduler) from exc
    try:
        futures = client.map(run_cell, cells, work_dir=work, pure=False,
                             key=[f"greenwave-cell-{c.fingerprint()}-{k}"
                                  for k, c in enumerate(cells)])
        owner = {f.key: c for f, c in zip(futures, cells, strict=True)}
        finished: Any = distributed.as_completed(futures)
        for fut in finished:
            yield _outcome(owner[fut.key], fut.result, fut.exception)
    finally:
        client.close()


def _outcome(cell: Cell, result: Callable[[], Any], exception: Callable[[], Any]
             ) -> CellOutcome:
    """The future's outcome; a worker that died (not the cell: it reports its own errors)
    is recorded as the cell's failure."""
    exc = exception()
    if exc is None:
        outcome: CellOutcome = result()
        return outcome
    return CellOutcome(scenario=cell.scenario.name, kind=cell.scenario.kind,
                       period=cell.period, method=cell.method, seed=cell.seed,
                       fingerprint=cell.fingerprint(), status="failed",
                       error=f"the worker died: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------------------------
# storage and the table


def write_outcome(cells_dir: Path, outcome: CellOutcome) -> Path:
    """Store *outcome* atomically as ``cells_dir/<scenario>/<period>/<method>_seed<N>.json``."""
    from greenwave.bench.spec import safe_name

    path = (cells_dir / safe_name(outcome.scenario) / safe_name(outcome.period)
            / f"{outcome.method}_seed{outcome.seed}.json")
    return atomic_write_text(path, json.dumps(asdict(outcome), indent=1) + "\n")


def read_outcome(path: Path) -> CellOutcome | None:
    """The stored outcome, or None when there is none or it cannot be read (then the cell
    is run again)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["rows"] = tuple(data.get("rows", ()))
        return CellOutcome(**data)
    except (OSError, ValueError, TypeError):
        return None


def collect_table(spec: BenchSpec, out_dir: str | Path) -> pd.DataFrame:
    """The tidy table of every stored cell of *spec*, in matrix order (columns
    :data:`TABLE_COLUMNS`): one row per direction of a finished cell, one row (no
    direction) per failed one. Cells not run yet are absent."""
    rows: list[dict[str, Any]] = []
    for cell in spec.cells():
        o = read_outcome(Path(out_dir) / "cells" / cell.file_name())
        if o is None or o.fingerprint != cell.fingerprint():
            continue
        cell_part = {"scenario": o.scenario, "kind": o.kind, "method": o.method,
                     "period": o.period, "seed": o.seed, "run_time_s": o.run_time_s,
                     "sim_time_s": o.sim_time_s, "status": o.status, "error": o.error}
        if not o.ok or not o.rows:
            rows.append(cell_part)
        rows.extend({**row, **cell_part} for row in o.rows)
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    for col in ("trips", "teleports", "not_inserted"):
        table[col] = table[col].astype("Int64")
    for col in ("travel_time_s", "delay_s", "stops_per_trip", "pass_without_stop_rate",
                "total_delay_s", "corridor_time_s", "run_time_s", "sim_time_s"):
        table[col] = table[col].astype("float64")
    table["seed"] = table["seed"].astype("int64")
    for col in ("scenario", "kind", "method", "period", "direction", "status", "error"):
        table[col] = table[col].astype(object).where(table[col].notna(), "").astype(str)
    return table
