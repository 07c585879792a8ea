"""The jobs an engineer runs: build the SUMO scenario, optimize, evaluate against the baseline.

Everything the command line does is a function here, callable from Python.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from greenwave.corridor import Corridor, load_corridor
from greenwave.errors import InputError
from greenwave.plan import TimingPlan

BUILTIN = {"ganjiang": Path("networks") / "ganjiang" / "corridor.toml"}
REPO_ROOT = Path(__file__).resolve().parents[2]

Progress = Callable[[str], None]


def stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def quiet(message: str) -> None:
    """A Progress that says nothing."""
    return None


def resolve_corridor_path(name_or_path: str | Path) -> Path:
    """A corridor file from a path, or a built-in corridor by name (e.g. ``ganjiang``)."""
    p = Path(name_or_path)
    if p.suffix or p.exists():
        return p
    rel = BUILTIN.get(str(name_or_path))
    if rel is None:
        raise InputError(
            f"no corridor file {str(name_or_path)!r} and no built-in corridor of that name "
            f"(built-in: {', '.join(BUILTIN)})"
        )
    for base in (Path.cwd(), REPO_ROOT):
        if (base / rel).is_file():
            return base / rel
    raise InputError(f"built-in corridor {name_or_path!r} not found at {rel} (run from the "
                     "greenwave checkout)")


def load(name_or_path: str | Path, **kwargs: Any) -> Corridor:
    return load_corridor(resolve_corridor_path(name_or_path), **kwargs)


@dataclass(frozen=True)
class Scenario:
    """A built SUMO scenario for one corridor and period."""

    corridor: Corridor
    period: str
    out_dir: Path
    layout: Any  # greenwave.sumo.netbuild.NetworkLayout
    routes_file: Path
    seed: int


def build_scenario(corridor: Corridor, out_dir: str | Path, *, period: str = "offpeak",
                   seed: int = 42, progress: Progress = quiet) -> Scenario:
    """Network, demand and config for *corridor* in *out_dir* (deterministic)."""
    from greenwave.sumo.demand import write_demand, write_sumocfg
    from greenwave.sumo.netbuild import build_network

    if not corridor.has_phases:
        raise InputError("building a SUMO network needs the full TOML spec with phase plans",
                         file=corridor.source)
    corridor.period(period)
    out = Path(out_dir)
    progress(f"building SUMO network for {corridor.name} in {out}")
    layout = build_network(corridor, out, period=period, seed=seed)
    routes = write_demand(corridor, layout, period, out / f"{period}.rou.xml", seed=seed)
    duration = corridor.period(period).duration_s
    write_sumocfg(out, layout.net_file, [routes], [], 0, duration, seed)
    return Scenario(corridor, period, out, layout, routes, seed)


def write_plan_files(plan: TimingPlan, corridor: Corridor, out_dir: Path,
                     scenario: Scenario | None = None) -> list[Path]:
    """plan.json, the SUMO additional file with the plan's programs and, with a scenario, a
    ``replay.sumocfg`` that loads network, demand and plan (for sumo-gui)."""
    written = [plan.write_json(out_dir / "plan.json")]
    add = out_dir / "programs.add.xml"
    if corridor.has_phases and scenario is not None:
        from greenwave.sumo.demand import write_sumocfg
        from greenwave.sumo.programs import write_programs

        written.append(write_programs(plan, scenario.layout.net_file, corridor, scenario.layout,
                                      add))
        duration = corridor.period(scenario.period).duration_s
        written.append(write_sumocfg(out_dir, scenario.layout.net_file, [scenario.routes_file],
                                     [add], 0, duration, scenario.seed,
                                     name="replay.sumocfg"))
    else:
        from greenwave.sumo.windows import write_window_programs

        written.append(write_window_programs(plan, add))
    return written


def evaluate(
    scenario: Scenario,
    plan_additional: Path,
    *,
    out_dir: str | Path,
    end_s: float | None = None,
    seeds: tuple[int, ...] | None = None,
    drain_s: float | None = None,
    progress: Progress = quiet,
) -> pd.DataFrame:
    """Simulate the baseline and the plan on the same demand and seeds; through-trip metrics.

    Trips departing before ``end_s`` (default: the period's duration) are measured; the
    simulation runs ``drain_s`` longer (default: twice the corridor's free-flow time plus
    10 min) so that they can finish. Trips still unfinished then are not counted.
    """
    from greenwave.metrics import through_trip_metrics
    from greenwave.sumo.simulate import SimulationJob, run_simulations

    out = Path(out_dir)
    corridor = scenario.corridor
    horizon = end_s if end_s is not None else corridor.period(scenario.period).duration_s
    if drain_s is None:
        span_m = corridor.length_m + 2 * corridor.approach_m
        drain_s = 2 * span_m / (corridor.speed_limit_kmh / 3.6) + 600
    end = horizon + drain_s
    seeds = seeds or (scenario.seed,)
    jobs = []
    for seed in seeds:
        for method, adds in (("baseline", ()), ("greenwave", (plan_additional,))):
            jobs.append(SimulationJob(
                net_file=scenario.layout.net_file,
                route_files=(scenario.routes_file,),
                additional_files=tuple(adds),
                seed=seed,
                begin_s=0.0,
                end_s=end,
                out_dir=out / "runs" / f"{method}_seed{seed}",
                label=method,
            ))
    progress(f"simulating {len(jobs)} runs (trips departing in {horizon:g} s, run to "
             f"{end:.0f} s; baseline and plan; seeds {', '.join(map(str, seeds))})")
    t0 = time.perf_counter()
    results = run_simulations(
        jobs,
        on_done=lambda job, k, n: progress(
            f"  run {k}/{n} done: {job.label}, seed {job.seed} "
            f"({time.perf_counter() - t0:.0f} s elapsed)"
        ),
    )
    progress(f"simulations done in {time.perf_counter() - t0:.0f} s")
    frames = []
    for job, res in zip(jobs, results, strict=True):
        measured = res.trips[res.trips["depart"] < horizon]
        m = through_trip_metrics(measured, method=job.label, period=scenario.period,
                                 through=scenario.layout.through_routes)
        m["seed"] = job.seed
        m["teleports"] = res.teleports
        m["total_delay_s"] = res.total_delay_s
        frames.append(m)
    return pd.concat(frames, ignore_index=True)
