"""One cell of a benchmark: prepare its method's programs, run one simulation, measure it.

:func:`run_cell` is what a worker (a local process or a Dask worker) executes. It never
raises for a problem of the cell itself: the outcome carries ``status`` ``failed`` and the
error, and the other cells go on.

Methods (the same demand and seed for every method of a scenario, period and seed):

* ``baseline`` — the network's own programs (a built corridor: netconvert's defaults; an
  imported net: its programs as they are);
* ``uncoordinated`` — the band plan's cycle and splits with every offset 0 (built corridors);
* ``tlscoordinator`` — SUMO's ``tools/tlsCoordinator.py`` offsets; on a built corridor on the
  band plan's own splits (the uncoordinated programs), so that it is compared with greenwave
  on equal splits; on an imported net on its own programs. The tool expands the demand into
  routed vehicles with seed :data:`TOOL_SEED` whatever the cell's seed, so all seeds
  simulate the same offsets;
* ``greenwave`` — the fixed-cycle MAXBAND band plan (:func:`greenwave.optimize.optimize_corridor`
  at the corridor's cycle and band speed; an imported net: :func:`greenwave.netscenario.coordinate`
  at its common cycle with splits from demand (counted in a run of its own programs on seed
  ``greenwave.tuning.COUNT_SEED``), written back into its programs, as ``evaluate-net``
  does by default);
* ``refined`` — the band plan's offsets refined on the platoon-dispersion delay model
  (:func:`greenwave.refine.refine_offsets`, keeping 80 % of the two-way band; built corridors).

What the methods need (network, plans, programs) is prepared once per scenario and period in
the work folder, under a file lock, so parallel workers share it; a later run reuses it.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenwave.bench.spec import Cell, CorridorSource, NetSource, safe_name
from greenwave.tuning import COUNT_SEED

TOOL_SEED = 42
"""Seed of the demand expansion SUMO's tlsCoordinator.py is given (every cell the same)."""

KEEP_BAND = 0.8
"""Share of the two-way band the ``refined`` method keeps."""


@dataclass(frozen=True)
class CellOutcome:
    """What one cell produced: metrics rows (metrics.csv columns) or the error.

    ``run_time_s`` is the wall time of the whole cell (preparation, simulation, measuring) and
    ``sim_time_s`` that of the SUMO run alone [s].
    """

    scenario: str
    kind: str
    period: str
    method: str
    seed: int
    fingerprint: str
    status: str  # "ok" or "failed"
    rows: tuple[dict[str, Any], ...] = ()
    error: str = ""
    run_time_s: float = 0.0
    sim_time_s: float = 0.0

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.scenario, self.period, self.method, self.seed)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def run_cell(cell: Cell, work_dir: str) -> CellOutcome:
    """Prepare, simulate and measure *cell* with files under *work_dir*; never raises for
    the cell's own failure (see the module doc)."""
    t0 = time.perf_counter()
    base = dict(scenario=cell.scenario.name, kind=cell.scenario.kind, period=cell.period,
                method=cell.method, seed=cell.seed, fingerprint=cell.fingerprint())
    try:
        rows, sim_s = _simulate(cell, Path(work_dir))
    except Exception as exc:  # a cell's failure is its result, whatever it is
        from greenwave.errors import GreenwaveError

        detail = str(exc) if isinstance(exc, GreenwaveError) else \
            "".join(traceback.format_exception_only(exc)).strip()
        return CellOutcome(**base, status="failed",  # type: ignore[arg-type]
                           error=f"{type(exc).__name__}: {detail}",
                           run_time_s=time.perf_counter() - t0)
    return CellOutcome(**base, status="ok", rows=rows,  # type: ignore[arg-type]
                       run_time_s=time.perf_counter() - t0, sim_time_s=sim_s)


def _simulate(cell: Cell, work_dir: Path) -> tuple[tuple[dict[str, Any], ...], float]:
    from greenwave.sumo.simulate import run_simulations

    here = work_dir / safe_name(cell.scenario.name) / safe_name(cell.period)
    if isinstance(cell.scenario.source, NetSource):
        job, measure = _net_cell(cell, cell.scenario.source, here)
    else:
        job, measure = _built_cell(cell, cell.scenario.source, here)
    (result,) = run_simulations([job], processes=1)
    table = measure(job, result)
    rows = tuple(table.astype(object).where(table.notna(), None).to_dict("records"))
    return rows, float(result.wall_time_s)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on *folder* (other processes, threads and machines sharing
    the file system wait)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------
# built corridors (TOML specs and generated ones)


def _built_cell(cell: Cell, source: CorridorSource, here: Path) -> tuple[Any, Any]:
    from greenwave import workflow

    scenario = cell.scenario
    corridor = source.load()
    with _locked(here):
        built = _built_scenario(corridor, cell.period, here / "sumo")
        files = _built_programs(built, cell.method, here)
    horizon = scenario.measure_s or corridor.period(cell.period).duration_s
    drain = scenario.drain_s if scenario.drain_s is not None else \
        workflow.default_drain_s(corridor)
    job = workflow.simulation_job(built, cell.method, files, cell.seed, out_dir=here,
                                  end_s=horizon + drain)

    def measure(job: Any, result: Any) -> Any:
        return workflow.run_metrics(built, job, result, horizon_s=horizon)

    return job, measure


def _built_scenario(corridor: Any, period: str, folder: Path) -> Any:
    from greenwave import workflow
    from greenwave.sumo.netbuild import load_layout

    if (folder / "layout.json").is_file():
        layout = load_layout(folder / "layout.json")
        if layout.routes_file is not None:
            return workflow.Scenario(corridor, period, folder, layout, layout.routes_file, 42)
    return workflow.build_scenario(corridor, folder, period=period)


def _built_programs(scenario: Any, method: str, here: Path) -> tuple[Path, ...]:
    """The additional files that run *method* (prepared on first use)."""
    if method == "baseline":
        return ()
    band = _plan_files(scenario, "greenwave", here)
    uncoordinated = band / "uncoordinated.add.xml"
    if method == "greenwave":
        return (band / "programs.add.xml",)
    if method == "uncoordinated":
        return (uncoordinated,)
    if method == "refined":
        return (_plan_files(scenario, "refined", here) / "programs.add.xml",)
    if method == "tlscoordinator":
        out = here / "tlscoordinator.add.xml"
        if not out.is_file():
            from greenwave.sumo.baselines import tls_coordinator

            tls_coordinator(scenario.layout.net_file, [scenario.routes_file], out,
                            programs_file=uncoordinated, seed=TOOL_SEED,
                            end=scenario.corridor.period(scenario.period).duration_s)
        return (uncoordinated, out)
    raise ValueError(f"unknown method {method!r}")  # read_spec lets none through


def _plan_files(scenario: Any, name: str, here: Path) -> Path:
    """``here/<name>/``: plan.json, programs.add.xml, uncoordinated.add.xml, time_space.png
    of the band plan (``greenwave``) or its refined version (``refined``)."""
    from greenwave import workflow
    from greenwave._io import staged_dir

    folder = here / name
    if (folder / "plan.json").is_file():
        return folder
    corridor, period = scenario.corridor, scenario.period
    if name == "refined":
        from greenwave.plan import read_plan
        from greenwave.refine import refine_offsets

        band = read_plan(_plan_files(scenario, "greenwave", here) / "plan.json")
        plan, _ = refine_offsets(band, corridor, period, keep_band=KEEP_BAND)
    else:
        from greenwave.optimize import optimize_corridor

        plan = optimize_corridor(corridor, period=period)
    with staged_dir(folder) as tmp:
        workflow.write_plan_files(plan, corridor, tmp, scenario)
    return folder


# --------------------------------------------------------------------------------------------
# imported networks


def _net_cell(cell: Cell, source: NetSource, here: Path) -> tuple[Any, Any]:
    from greenwave import netscenario

    scenario = cell.scenario
    demand = source.demand()
    if scenario.measure_s is not None:
        demand = netscenario.NetDemand(demand.net_file, demand.route_files, demand.begin_s,
                                       demand.begin_s + scenario.measure_s)
    imported = source.imported()
    with _locked(here):
        files = _net_programs(cell.method, demand, imported, here)
    drain = scenario.drain_s if scenario.drain_s is not None else \
        netscenario.default_drain_s(imported)
    job = netscenario.net_job(demand, cell.method, files, cell.seed, out_dir=here,
                              end_s=demand.end_s + drain)
    paths = netscenario.through_paths(imported)

    def measure(job: Any, result: Any) -> Any:
        return netscenario.net_run_metrics(demand, paths, job, result,
                                           min_signals=source.min_signals)

    return job, measure


def _net_programs(method: str, demand: Any, imported: Any, here: Path) -> tuple[Path, ...]:
    from greenwave import netscenario

    if method == "baseline":
        return ()
    if method == "tlscoordinator":
        out = here / "tlscoordinator.add.xml"
        if not out.is_file():
            netscenario.run_baseline_tool(method, demand, out, seed=TOOL_SEED)
        return (out,)
    if method != "greenwave":
        raise ValueError(f"method {method!r} is not available on an imported net")
    out = here / "greenwave" / "greenwave.add.xml"
    if not out.is_file():
        from greenwave._io import staged_dir
        from greenwave.sumo.writeback import write_net_programs

        with staged_dir(out.parent) as tmp:
            # as evaluate-net by default: splits from demand counted in a run of the net's own
            # programs, every signal at the common cycle
            counts = netscenario.count_link_flows(demand, imported, out_dir=tmp,
                                                  seed=COUNT_SEED)
            counts.flows.to_csv(tmp / "flows.csv", index=False)
            plan = netscenario.coordinate(imported, period=demand.period,
                                          flow_ratios=counts.ratios)
            plan.plan.write_json(tmp / "plan.json")
            write_net_programs(plan.retimed, plan.programs, tmp / out.name,
                               comment=f"greenwave plan for {imported.name} ({demand.period})")
    return (out,)
