"""The jobs on an existing SUMO network: import a corridor, coordinate it, write the plan back
into the net's own programs and evaluate it against the net's programs and SUMO's tools.

Corridor trips
--------------
On an imported net vehicles start and end anywhere, and few drive the whole corridor (on
ingolstadt7, 0 outbound and 3 inbound of about 3,000 vehicles drive from its first signal to
its last). Each direction has a *corridor path* (:func:`through_paths`): its route's edges from
the one entering its first signal to the one leaving its last. A *corridor trip* of a
direction is a finished vehicle whose driven route (SUMO's ``--vehroute-output``) drives
through at least ``min_signals`` consecutive signals of that path (default 2: at least one
whole link between two signals), entering each by the path's edge and leaving by the path's
edge; with ``min_signals`` = the number of signals it is a through trip of the whole corridor.
Its travel time, delay and stops are SUMO's tripinfo values of the whole trip (as in
:mod:`greenwave.metrics`); every method runs the same demand with the same seeds and routes, so
the differences come from the signals. ``corridor_time_s`` is the time from entering the first
of its signals to leaving the last (vehroute exit times).

Methods
-------
* ``original`` — the net's programs as they are;
* ``tlscoordinator`` — SUMO's ``tools/tlsCoordinator.py`` offsets on the original programs
  (given the demand expanded into vehicles with routes, see :mod:`greenwave.sumo.baselines`);
* ``tlscycleadaptation`` — SUMO's ``tools/tlsCycleAdaptation.py`` (Webster cycles and splits);
* ``greenwave`` — the plan, written back by :mod:`greenwave.sumo.writeback`.

A baseline tool that fails is reported (``NetEvaluation.failures``) and left out; the others run.
"""

from __future__ import annotations

import math
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from greenwave.errors import GreenwaveError, InputError
from greenwave.plan import TimingPlan
from greenwave.sumo.importnet import ImportedCorridor, ThroughMovement
from greenwave.sumo.simulate import DrivenRoute, SimulationJob, SimulationResult
from greenwave.sumo.writeback import NetProgram, RetimedCorridor
from greenwave.workflow import Progress, quiet

METHODS = ("original", "tlscoordinator", "tlscycleadaptation", "greenwave")
BASELINES = ("original", "tlscoordinator", "tlscycleadaptation")
DEFAULT_BASELINES = ("original", "tlscoordinator")


@dataclass(frozen=True)
class NetDemand:
    """The network and demand to evaluate on: files and the measured period [s]."""

    net_file: Path
    route_files: tuple[Path, ...]
    begin_s: float
    end_s: float

    @property
    def period(self) -> str:
        """The period as clock times, e.g. ``16:00-17:00``."""
        return f"{_clock(self.begin_s)}-{_clock(self.end_s)}"


@dataclass(frozen=True)
class NetPlan:
    """A coordinated plan for an imported corridor and the programs that run it."""

    retimed: RetimedCorridor
    plan: TimingPlan
    programs: tuple[NetProgram, ...]


@dataclass(frozen=True)
class NetEvaluation:
    """Metrics of every method and seed, and what could not be run."""

    metrics: pd.DataFrame
    additional_files: dict[str, tuple[Path, ...]]
    failures: dict[str, str] = field(default_factory=dict)


def _clock(t: float) -> str:
    minutes = round(t / 60.0)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def read_sumocfg(path: str | Path) -> NetDemand:
    """Net, route files, begin and end [s] of a ``.sumocfg`` (paths relative to it)."""
    p = Path(path)
    try:
        root = ET.parse(p).getroot()
    except FileNotFoundError:
        raise InputError("no such file", file=str(p)) from None
    except ET.ParseError as exc:
        raise InputError(f"not well-formed XML ({exc})", file=str(p)) from exc
    if root.tag != "configuration":
        raise InputError(f"not a SUMO configuration: the root element is <{root.tag}>",
                         file=str(p))

    def value(name: str) -> str | None:
        el = root.find(f".//{name}")
        return el.get("value") if el is not None else None

    net = value("net-file")
    routes = value("route-files")
    if not net or not routes:
        raise InputError("needs net-file and route-files", file=str(p),
                         field="net-file" if not net else "route-files")
    base = p.parent
    begin, end = value("begin"), value("end")
    try:
        b = float(begin) if begin is not None else 0.0
        e = float(end) if end is not None else b + 3600.0
    except ValueError as exc:
        raise InputError(f"begin/end must be seconds ({exc})", file=str(p), field="time") from exc
    return NetDemand(base / net, tuple(base / r.strip() for r in routes.split(",") if r.strip()),
                     b, e)


# --------------------------------------------------------------------------------------------
# corridor paths and through trips


@dataclass(frozen=True)
class CorridorPath:
    """A direction's corridor path: its edges and, per signal in driving order, the indices
    of the edge entering it and the edge leaving it (a joined signal spans several edges)."""

    edges: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]


def through_paths(imported: ImportedCorridor) -> dict[str, CorridorPath]:
    """The corridor path of each direction (see the module doc): ``outbound``, ``inbound``."""
    out = {"outbound": _path(imported.route, [s.outbound for s in imported.signals])}
    moves_in = [s.inbound for s in reversed(imported.signals) if s.inbound is not None]
    if moves_in:
        out["inbound"] = _path(imported.reverse_route, moves_in)
    return out


def _path(route: Sequence[str], moves: Sequence[ThroughMovement]) -> CorridorPath:
    edges = list(route)
    start = edges.index(moves[0].from_edge)
    last = edges.index(moves[-1].from_edge, start)
    if moves[-1].to_edge in edges[last:]:
        path = edges[start:edges.index(moves[-1].to_edge, last) + 1]
    else:  # the route ends at the last signal: its straight-on exit completes the path
        path = [*edges[start:], moves[-1].to_edge]
    spans = []
    at = 0
    for m in moves:
        a = path.index(m.from_edge, at)
        b = path.index(m.to_edge, a)
        spans.append((a, b))
        at = b
    return CorridorPath(tuple(path), tuple(spans))


def corridor_passage(route: DrivenRoute, path: CorridorPath) -> tuple[int, float]:
    """``(signals, seconds)``: the most consecutive signals of *path* that *route* drives
    through (entering each by its entry edge and leaving by its exit edge, all in one
    contiguous run of the path's edges) and the time from entering the first of them to
    leaving the last (NaN without exit times). ``(0, nan)`` when it passes none.
    """
    index = {e: k for k, e in enumerate(path.edges)}
    edges = route.edges
    best = (0, math.nan)
    t = 0
    while t < len(edges):
        c = index.get(edges[t])
        if c is None:
            t += 1
            continue
        u = t
        while u + 1 < len(edges) and c + (u + 1 - t) < len(path.edges) \
                and edges[u + 1] == path.edges[c + (u + 1 - t)]:
            u += 1
        d = c + (u - t)  # route[t..u] drives path[c..d]
        inside = [k for k, (a, b) in enumerate(path.spans) if a >= c and b <= d]
        if len(inside) > best[0]:
            first, last = path.spans[inside[0]][0], path.spans[inside[-1]][1]
            t_in, t_out = t + (first - c), t + (last - c)
            seconds = math.nan
            if len(route.exit_times_s) == len(edges):
                enter = route.exit_times_s[t_in - 1] if t_in > 0 else route.depart_s
                seconds = route.exit_times_s[t_out] - enter
            best = (len(inside), seconds)
        t = u + 1
    return best


def corridor_trips(routes: Mapping[str, DrivenRoute], path: CorridorPath, *,
                   min_signals: int = 2) -> dict[str, float]:
    """Vehicle id → seconds on the corridor, for vehicles that drive through at least
    *min_signals* consecutive signals of *path* (see :func:`corridor_passage`)."""
    if min_signals < 1:
        raise InputError(f"must be at least 1, found {min_signals}", field="min_signals",
                         value=min_signals)
    out: dict[str, float] = {}
    for v, r in routes.items():
        n, seconds = corridor_passage(r, path)
        if n >= min(min_signals, len(path.spans)):
            out[v] = seconds
    return out


# --------------------------------------------------------------------------------------------
# coordination


def coordinate(
    imported: ImportedCorridor,
    *,
    cycle_s: float | None = None,
    speed_kmh: float | None = None,
    speed_in_kmh: float | None = None,
    mode: str = "balanced",
    k: float = 1.0,
    period: str = "",
    program_id: str = "greenwave",
    keep_own_cycle: bool = False,
) -> NetPlan:
    """MAXBAND offsets for *imported* at one common cycle, and the programs that run them.

    With *keep_own_cycle* the signals whose own cycle differs from the common one keep their
    original program and the band is optimized over the others
    (:func:`~greenwave.sumo.writeback.retime_corridor`; ``retimed.excluded`` lists them).
    """
    from greenwave.optimize import optimize_corridor
    from greenwave.sumo.writeback import net_programs, retime_corridor

    retimed = retime_corridor(imported, cycle_s, keep_own_cycle=keep_own_cycle)
    plan = optimize_corridor(retimed.corridor, speed_kmh=speed_kmh, speed_in_kmh=speed_in_kmh,
                             mode=mode, k=k, period=period)
    programs = net_programs(retimed, plan, program_id=program_id)
    return NetPlan(retimed, plan, programs)


def default_keep_own_cycle(imported: ImportedCorridor, cycle_s: float | None = None) -> bool:
    """Whether signals of another cycle keep their own program by default: yes when at least
    two signals run the common cycle (*cycle_s*, default :func:`choose_cycle`'s)."""
    from greenwave.sumo.writeback import choose_cycle, own_cycle_exclusions

    cycle = choose_cycle(imported) if cycle_s is None else cycle_s
    return len(imported.signals) - len(own_cycle_exclusions(imported, cycle)) >= 2


# --------------------------------------------------------------------------------------------
# evaluation


def evaluate_net(
    demand: NetDemand,
    imported: ImportedCorridor,
    greenwave_programs: Path | None,
    *,
    out_dir: str | Path,
    seeds: Sequence[int] = (1, 2, 3),
    baselines: Sequence[str] = DEFAULT_BASELINES,
    drain_s: float | None = None,
    min_signals: int = 2,
    progress: Progress = quiet,
) -> NetEvaluation:
    """Simulate the baselines and the greenwave programs on the same demand and seeds.

    Baseline tools write their programs into *out_dir* (``tlscoordinator.add.xml``,
    ``tlscycleadaptation.add.xml``); runs go to ``out_dir/runs/<method>_seed<N>/``. Trips
    departing in ``[begin_s, end_s)`` are measured; each run continues *drain_s* longer
    (default twice the corridor's free-flow time plus 10 min) so that they can finish.
    Corridor trips drive through at least *min_signals* consecutive signals (module doc).
    """
    from greenwave.sumo.simulate import run_simulations

    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise InputError(f"unknown baseline {unknown[0]!r}; expected one of "
                         f"{', '.join(BASELINES)}", field="baselines", value=unknown[0])
    if not seeds:
        raise InputError("at least one seed is needed", field="seeds")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    adds: dict[str, tuple[Path, ...]] = {}
    failures: dict[str, str] = {}
    for name in baselines:
        if name == "original":
            adds[name] = ()
            continue
        progress(f"running {name} (SUMO's tool) on the demand of {demand.period}")
        try:
            adds[name] = (run_baseline_tool(name, demand, out / f"{name}.add.xml", seed=seeds[0]),)
        except GreenwaveError as exc:
            failures[name] = str(exc)
            progress(f"warning: {name} failed, left out of the comparison: {exc}")
    if greenwave_programs is not None:
        adds["greenwave"] = (greenwave_programs,)
    paths = through_paths(imported)
    end = demand.end_s + (drain_s if drain_s is not None else default_drain_s(imported))
    jobs = [net_job(demand, method, files, seed, out_dir=out, end_s=end)
            for seed in seeds for method, files in adds.items()]
    progress(f"simulating {len(jobs)} runs ({', '.join(adds)}; seeds "
             f"{', '.join(map(str, seeds))}; trips departing {demand.period}, run to "
             f"{end:.0f} s)")
    t0 = time.perf_counter()
    results = run_simulations(jobs, on_done=lambda job, k, n: progress(
        f"  run {k}/{n} done: {job.label}, seed {job.seed} "
        f"({time.perf_counter() - t0:.0f} s elapsed)"))
    frames = [net_run_metrics(demand, paths, job, res, min_signals=min_signals)
              for job, res in zip(jobs, results, strict=True)]
    return NetEvaluation(pd.concat(frames, ignore_index=True), adds, failures)


def default_drain_s(imported: ImportedCorridor) -> float:
    """How long a run continues after the measured period [s]: twice the free-flow time
    over the corridor at its speed limit, plus 10 min."""
    return 2 * imported.corridor.length_m / (imported.corridor.speed_limit_kmh / 3.6) + 600.0


def net_job(demand: NetDemand, method: str, additional_files: Sequence[Path], seed: int, *,
            out_dir: str | Path, end_s: float) -> SimulationJob:
    """The simulation of one method and seed on an imported net, from the period's begin to
    *end_s* [s], into ``out_dir/runs/<method>_seed<N>/``, with the driven routes and their
    exit times (``--vehroute-output``) that corridor trips are judged from."""
    from greenwave.sumo.simulate import SimulationJob

    run_dir = Path(out_dir) / "runs" / f"{method}_seed{seed}"
    return SimulationJob(
        net_file=demand.net_file, route_files=demand.route_files, out_dir=run_dir,
        label=method, additional_files=tuple(additional_files), seed=seed,
        begin_s=demand.begin_s, end_s=end_s,
        extra_args=("--vehroute-output", str(run_dir / f"{method}.vehroute.xml"),
                    "--vehroute-output.exit-times", "true"),
    )


def net_run_metrics(demand: NetDemand, paths: Mapping[str, CorridorPath], job: SimulationJob,
                    result: SimulationResult, *, min_signals: int = 2) -> pd.DataFrame:
    """metrics.csv rows (plus ``corridor_time_s``) of one run on an imported net: the corridor
    trips of each direction departing in the period, with the run's seed, teleports, network
    delay and insertion backlog."""
    from greenwave.metrics import selected_trip_metrics
    from greenwave.sumo.simulate import read_vehroutes

    routes = read_vehroutes(Path(job.out_dir) / f"{job.label}.vehroute.xml")
    selected = {d: corridor_trips(routes, p, min_signals=min_signals) for d, p in paths.items()}
    trips = result.trips
    measured = trips[(trips["depart"] >= demand.begin_s) & (trips["depart"] < demand.end_s)]
    m = selected_trip_metrics(measured, selected, method=job.label, period=demand.period)
    m["seed"] = job.seed
    m["teleports"] = result.teleports
    m["total_delay_s"] = result.total_delay_s
    m["not_inserted"] = result.vehicles_waiting
    return m


def run_baseline_tool(name: str, demand: NetDemand, out_add: Path, *, seed: int) -> Path:
    """Run SUMO's tool *name* (``tlscoordinator`` or ``tlscycleadaptation``) on the net and
    demand; the additional file it wrote (*out_add*)."""
    from greenwave.sumo.baselines import tls_coordinator, tls_cycle_adaptation

    if name == "tlscoordinator":
        result = tls_coordinator(demand.net_file, demand.route_files, out_add, seed=seed,
                                 begin=demand.begin_s, end=demand.end_s)
    else:
        result = tls_cycle_adaptation(demand.net_file, demand.route_files, out_add, seed=seed,
                                      begin=demand.begin_s, end=demand.end_s)
    if not result.programs:
        raise InputError(f"{result.tool} wrote no program", field=name)
    return result.path


def wins(metrics: pd.DataFrame, *, method: str = "greenwave",
         measures: Sequence[str] = ("travel_time_s", "stops_per_trip")) -> pd.DataFrame:
    """Per direction and measure: *method*'s pooled value, the best other method's, and
    whether *method* is lower (better)."""
    from greenwave.metrics import pool_seeds

    pooled = pool_seeds(metrics)
    rows = []
    for direction, group in pooled.groupby("direction", sort=False):
        mine = group[group["method"] == method]
        for m in measures:
            others = group[(group["method"] != method) & group[m].notna()]
            if mine.empty or others.empty:
                continue
            best = others.loc[others[m].idxmin()]
            value = float(mine[m].iloc[0])
            rows.append({"direction": direction, "measure": m, "greenwave": value,
                         "best_baseline": str(best["method"]),
                         "baseline_value": float(best[m]),
                         "better": bool(value < float(best[m]) - 1e-9)
                         if math.isfinite(value) else False})
    return pd.DataFrame(rows)
