"""The jobs an engineer runs: build the SUMO scenario, optimize, evaluate against the baseline.

Everything the command line does is a function here, callable from Python.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
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
    packaged = Path(str(files("greenwave") / "data" / f"{name_or_path}.toml"))
    if packaged.is_file():
        return packaged
    raise InputError(f"built-in corridor {name_or_path!r} is missing from this installation "
                     f"(looked for {rel} and {packaged})")


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


#: Shortest link between two signals that the network builder lays out (left-turn bays and
#: junction areas need room; closer signals are one junction in practice).
MIN_NETWORK_SPACING_M = 30.0


def require_network_spec(corridor: Corridor) -> None:
    """Raise InputError unless the corridor can be built into a SUMO network."""
    if not corridor.has_phases or not corridor.demand:
        raise InputError(
            "building a SUMO network needs the full TOML spec (phase plans, lanes and demand "
            "periods); a CSV corridor has only green windows: use it with 'optimize'",
            file=corridor.source or None,
        )
    for a, b in zip(corridor.intersections, corridor.intersections[1:], strict=False):
        gap = b.position_m - a.position_m
        if gap < MIN_NETWORK_SPACING_M:
            raise InputError(
                f"intersection {b.id}: {gap:g} m after {a.id}; the SUMO network needs at "
                f"least {MIN_NETWORK_SPACING_M:g} m between signals",
                file=corridor.source or None, field="position_m", value=b.position_m,
            )


def build_scenario(corridor: Corridor, out_dir: str | Path, *, period: str | None = None,
                   seed: int = 42, progress: Progress = quiet) -> Scenario:
    """Network, demand and config for *corridor* in *out_dir* (deterministic).

    The files are built in a scratch folder and moved into *out_dir* together, so a failed
    build leaves no half-written scenario.
    """
    from greenwave._io import staged_dir
    from greenwave.sumo.netbuild import build_network, load_layout

    require_network_spec(corridor)
    period = period or corridor.default_period
    corridor.period(period)
    out = Path(out_dir)
    progress(f"building SUMO network for {corridor.name} in {out}")
    with staged_dir(out) as tmp:
        # with a period the builder also writes <period>.rou.xml and corridor.sumocfg
        build_network(corridor, tmp, period=period, seed=seed)
    layout = load_layout(out / "layout.json")
    if layout.routes_file is None:  # pragma: no cover - the builder's contract
        raise InputError(f"no demand was written for period {period!r}", field="period")
    return Scenario(corridor, period, out, layout, layout.routes_file, seed)


@dataclass(frozen=True)
class PlanFiles:
    """Files written for a plan (see :func:`write_plan_files`)."""

    plan_json: Path
    programs: Path
    diagram: Path
    reference_programs: Mapping[str, Path]  # method name -> additional file
    replay: Path | None


def uncoordinated_plan(plan: TimingPlan, corridor: Corridor) -> TimingPlan:
    """The same cycle and splits with every offset 0 (phase 0 starts at t = k·C everywhere).

    Simulated beside the plan it separates what coordination gains from what the new cycle
    and splits gain; its bands are evaluated exactly like any plan's.
    """
    from greenwave.plan import plan_from_offsets

    timed = corridor.with_cycle(plan.cycle_s)
    return plan_from_offsets(
        timed, [i.out_green_start_s for i in timed.intersections],
        speed_out_kmh=plan.speed_out_kmh, speed_in_kmh=plan.speed_in_kmh,
        period=plan.period, program_id="uncoordinated",
        solver={"method": "uncoordinated (all offsets 0)"},
    )


def write_plan_files(
    plan: TimingPlan,
    corridor: Corridor,
    out_dir: Path,
    scenario: Scenario | None = None,
    *,
    seed: int | None = None,
    end_s: float | None = None,
) -> PlanFiles:
    """plan.json, the plan's SUMO programs and its time-space diagram; with a scenario also
    the programs of the uncoordinated reference and ``replay.sumocfg`` (network, demand and
    plan, for sumo-gui; *seed* and *end_s* as simulated)."""
    from greenwave.diagrams import time_space_diagram

    plan_json = plan.write_json(out_dir / "plan.json")
    add = out_dir / "programs.add.xml"
    diagram = time_space_diagram(
        plan, out_dir / "time_space.png", outbound_name=corridor.outbound_name,
        inbound_name=corridor.inbound_name,
        labels={i.id: f"{i.id} {i.cross_street}".strip() for i in corridor.intersections},
        title=f"{corridor.description or corridor.name}"
        f"{' — ' + plan.period if plan.period else ''}: cycle {plan.cycle_s:g} s",
    )
    if not (corridor.has_phases and scenario is not None):
        from greenwave.sumo.windows import write_window_programs

        programs = write_window_programs(plan, add, source=corridor.source)
        return PlanFiles(plan_json, programs, diagram, {}, None)
    from greenwave.sumo.demand import write_sumocfg
    from greenwave.sumo.programs import write_programs

    layout = scenario.layout
    write_programs(plan, layout.net_file, corridor, layout, add)
    reference = write_programs(uncoordinated_plan(plan, corridor), layout.net_file, corridor,
                               layout, out_dir / "uncoordinated.add.xml")
    duration = end_s or corridor.period(scenario.period).duration_s
    replay = write_sumocfg(out_dir, layout.net_file, [scenario.routes_file], [add], 0,
                           duration, scenario.seed if seed is None else seed,
                           name="replay.sumocfg")
    return PlanFiles(plan_json, add, diagram, {"uncoordinated": reference}, replay)


def evaluate(
    scenario: Scenario,
    methods: Mapping[str, Sequence[Path]],
    *,
    out_dir: str | Path,
    end_s: float | None = None,
    seeds: tuple[int, ...] | None = None,
    drain_s: float | None = None,
    progress: Progress = quiet,
) -> pd.DataFrame:
    """Simulate the baseline and each method on the same demand and seeds; through-trip
    metrics in one tidy table.

    *methods* maps a method name to the additional files holding its programs (the baseline,
    the network's own programs, is always run first). Trips departing before ``end_s``
    (default: the period's duration) are measured; the simulation runs ``drain_s`` longer
    (default: twice the corridor's free-flow time plus 10 min) so that they can finish.
    Trips still unfinished then are not counted.
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
    runs: dict[str, Sequence[Path]] = {"baseline": (), **methods}
    jobs = [
        SimulationJob(
            net_file=scenario.layout.net_file,
            route_files=(scenario.routes_file,),
            additional_files=tuple(adds),
            seed=seed,
            begin_s=0.0,
            end_s=end,
            out_dir=out / "runs" / f"{method}_seed{seed}",
            label=method,
        )
        for seed in seeds
        for method, adds in runs.items()
    ]
    progress(f"simulating {len(jobs)} runs ({', '.join(runs)}; seeds "
             f"{', '.join(map(str, seeds))}; trips departing in {horizon:g} s, run to "
             f"{end:.0f} s)")
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
        m["not_inserted"] = res.vehicles_waiting  # still queued for entry when the run ended
        frames.append(m)
    return pd.concat(frames, ignore_index=True)
