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
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from greenwave._progress import day_clock
from greenwave.errors import GreenwaveError, InputError
from greenwave.plan import TimingPlan
from greenwave.sumo.importnet import ImportedCorridor, ThroughMovement
from greenwave.sumo.simulate import DrivenRoute, SimulationJob, SimulationResult
from greenwave.sumo.writeback import NetProgram, RetimedCorridor
from greenwave.tuning import COUNT_SEED, TUNING_SEEDS
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
        return f"{day_clock(self.begin_s)}-{day_clock(self.end_s)}"


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


DEMAND_TAGS = frozenset({"vehicle", "trip", "flow", "person", "personFlow", "container",
                         "containerFlow"})


def check_route_files(route_files: Sequence[Path], *, field: str = "route-files",
                      source: str | None = None) -> None:
    """Refuse route files that are missing, not XML or hold no demand (no vehicle, trip, flow,
    person or container), naming the file (and *source*, the file that listed it)."""
    where = f" (listed in {source})" if source else ""
    for f in route_files:
        if not Path(f).is_file():
            raise InputError(f"no such route file{where}", file=str(f), field=field)
        try:
            found = any(el.tag in DEMAND_TAGS for _, el in ET.iterparse(f, events=("start",)))
        except ET.ParseError as exc:
            raise InputError(f"route file is not well-formed XML ({exc}){where}", file=str(f),
                             field=field) from exc
        if not found:
            raise InputError(f"route file holds no demand (no vehicle, trip, flow or person)"
                             f"{where}", file=str(f), field=field)


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
    flow_ratios: Mapping[str, Sequence[float]] | None = None,
) -> NetPlan:
    """MAXBAND offsets for *imported* at one common cycle, and the programs that run them.

    With *keep_own_cycle* the signals whose own cycle differs from the common one keep their
    original program and the band is optimized over the others
    (:func:`~greenwave.sumo.writeback.retime_corridor`; ``retimed.excluded`` lists them).
    With *flow_ratios* (tls id → Webster's y per phase, :func:`demand_flow_ratios`) the
    signals get splits from demand at the common cycle.
    """
    from greenwave.optimize import optimize_corridor
    from greenwave.sumo.writeback import net_programs, retime_corridor

    retimed = retime_corridor(imported, cycle_s, keep_own_cycle=keep_own_cycle,
                              flow_ratios=flow_ratios)
    plan = optimize_corridor(retimed.corridor, speed_kmh=speed_kmh, speed_in_kmh=speed_in_kmh,
                             mode=mode, k=k, period=period)
    if flow_ratios is not None:
        plan = replace(plan, solver={**plan.solver, "splits": "demand (Webster, counted flows)"})
    programs = net_programs(retimed, plan, program_id=program_id)
    return NetPlan(retimed, plan, programs)


@dataclass(frozen=True)
class LinkCounts:
    """Flows counted on every controlled link of the corridor's signals (splits from demand).

    ``flows`` is tidy: tls_id, link_index, from_lane, from_edge, to_edge, flow_vph; ``ratios``
    maps a tls id to Webster's flow ratio y of every phase of its active program.
    """

    seed: int
    flows: pd.DataFrame
    ratios: Mapping[str, tuple[float, ...]]


def count_link_flows(demand: NetDemand, imported: ImportedCorridor, *, out_dir: str | Path,
                     seed: int = COUNT_SEED, progress: Progress = quiet) -> LinkCounts:
    """Count the demand on every controlled link of the corridor's signals: one run of the
    net's own programs on *seed*, driven routes departing in the period
    (:mod:`greenwave.sumo.netsplits`), and Webster's phase flow ratios from them."""
    import shutil

    from greenwave.sumo.netsplits import link_flows, phase_flow_ratios, read_signal_links
    from greenwave.sumo.simulate import read_vehroutes, run_simulations

    tls_ids = [s.tls_id for s in imported.signals]
    links = read_signal_links(demand.net_file, tls_ids)
    folder = Path(out_dir) / "count"
    job = net_job(demand, "count", (), seed, out_dir=folder,
                  end_s=demand.end_s + default_drain_s(imported))
    progress(f"counting link flows: the net's own programs, seed {seed}")
    run_simulations([job])
    flows = link_flows(read_vehroutes(Path(job.out_dir) / "count.vehroute.xml"), links,
                       begin_s=demand.begin_s, end_s=demand.end_s)
    shutil.rmtree(folder, ignore_errors=True)
    rows = [{"tls_id": tls, "link_index": link.index, "from_lane": link.from_lane,
             "from_edge": link.from_edge, "to_edge": link.to_edge,
             "flow_vph": round(flows[tls][link.index], 3)}
            for tls in tls_ids for link in links[tls]]
    ratios = {s.tls_id: tuple(phase_flow_ratios([p.state for p in s.phases], links[s.tls_id],
                                                flows[s.tls_id]))
              for s in imported.signals}
    return LinkCounts(seed, pd.DataFrame(rows), ratios)


# --------------------------------------------------------------------------------------------
# tuning in the simulator


@dataclass(frozen=True)
class NetTuning:
    """What :func:`tune_net_plan` did: the start, the search and the objective before/after.

    Values are the performance index on the tuning seeds, mean over seeds [veh·h]: the delay
    of every finished vehicle (``timeLoss`` + insertion delay) plus, for the corridor trips,
    their delay again and ``stop_penalty_s`` per stop. ``trials`` has a row per simulated
    candidate: its green starts, value, per-direction corridor-trip delay + stop penalty per
    trip [s], and whether the search moved there.
    """

    seeds: tuple[int, ...]
    start: str  # "band" or "original": the better of the two starts
    start_values: Mapping[str, float]
    value_band: float  # the band plan's PI
    value_after: float
    shifts_s: tuple[float, ...]  # change of every coordinated signal's offset vs the band plan
    evaluations: int
    trials: pd.DataFrame  # evaluation, value, step_s, signal, accepted, offsets
    runtime_s: float
    stop_penalty_s: float
    own_eligible: bool = True  # the net's own offsets kept enough band to be a start

    @property
    def improvement(self) -> float:
        """Relative reduction of the PI from the band plan [-]."""
        return (self.value_band - self.value_after) / self.value_band if self.value_band else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "method": "compass search of offsets in SUMO (greenwave.tuning)",
            "seeds": list(self.seeds), "start": self.start,
            "start_values_vehh": {k: round(v, 3) for k, v in self.start_values.items()},
            "own_offsets_within_band_rule": self.own_eligible,
            "value_band_vehh": round(self.value_band, 3),
            "value_after_vehh": round(self.value_after, 3),
            "improvement": round(self.improvement, 4),
            "offset_shifts_s": [round(x, 3) for x in self.shifts_s],
            "evaluations": self.evaluations, "stop_penalty_s": self.stop_penalty_s,
            "runtime_s": round(self.runtime_s, 1),
        }


def tune_net_plan(
    net_plan: NetPlan,
    demand: NetDemand,
    *,
    out_dir: str | Path,
    seeds: Sequence[int] = TUNING_SEEDS,
    max_evaluations: int = 100,
    steps_s: Sequence[float] | None = None,
    min_signals: int = 2,
    stop_penalty_s: float | None = None,
    keep_band: float = 0.8,
    direction_tolerance: float = 0.01,
    min_gain: float = 0.002,
    progress: Progress = quiet,
) -> tuple[NetPlan, NetTuning]:
    """Tune the coordinated signals' offsets in SUMO (:func:`greenwave.tuning.compass_search`),
    starting from the better of the band plan and the net's own offsets.

    A candidate is simulated only when its exact two-way band b + b̄ keeps at least *keep_band*
    of the band plan's (one direction's band may shrink, even to 0, while the simulated
    corridor trips of that direction do not get worse; ``plan.solver["two_way"]`` says whether
    both bands remain); it is accepted only when the performance index (:class:`NetTuning`)
    falls and no direction's corridor trips get worse than at the start by more than
    *direction_tolerance* (relative; per trip: delay + stop penalty), so that tuning never buys
    one direction with the other. Every candidate is checked and written like
    the final programs and simulated on every tuning seed (common random numbers). Choose
    tuning seeds other than the evaluation seeds, or the evaluation favours the tuned plan.
    *max_evaluations* bounds the candidates simulated (the two starts included). Default steps:
    C/3, C/6, C/12, C/24 rounded to whole seconds. The tuned plan's bands are the exact bands of
    its offsets. Runs go to ``out_dir/tune/`` and are removed once measured.
    """
    import shutil

    from greenwave.refine import STOP_PENALTY_S
    from greenwave.sumo.simulate import run_simulations
    from greenwave.sumo.writeback import net_programs, write_net_programs
    from greenwave.tuning import compass_search

    started = time.perf_counter()
    if not seeds:
        raise InputError("at least one tuning seed is needed", field="tune_seeds")
    if max_evaluations < 2:
        raise InputError(f"must be at least 2 (the two starts), found {max_evaluations}",
                         field="tune_evaluations", value=max_evaluations)
    if not 0.0 <= keep_band <= 1.0:
        raise InputError(f"must be a share in [0, 1], found {keep_band!r}", field="keep_band",
                         value=keep_band)
    penalty = STOP_PENALTY_S if stop_penalty_s is None else stop_penalty_s
    retimed, band = net_plan.retimed, net_plan.plan
    cycle = retimed.cycle_s
    steps = list(steps_s) if steps_s is not None else sorted(
        {max(1.0, float(round(cycle / d))) for d in (3, 6, 12, 24)}, reverse=True)
    work = Path(out_dir) / "tune"
    paths = through_paths(retimed.imported)
    end = demand.end_s + default_drain_s(retimed.imported)
    need = keep_band * (band.bandwidth_out_s + band.bandwidth_in_s) - 1e-6
    simulated: dict[tuple[float, ...], tuple[float, dict[str, float]]] = {}
    guard: dict[str, float] = {}

    def plan_of(starts: Sequence[float]) -> TimingPlan:
        return band.at_green_starts(retimed.corridor, starts)

    def simulate(candidates: Mapping[tuple[float, ...], TimingPlan]) -> None:
        jobs: list[SimulationJob] = []
        for plan in candidates.values():
            folder = work / f"candidate{len(simulated) + len(jobs) // len(seeds) + 1}"
            add, _ = write_net_programs(retimed, net_programs(retimed, plan),
                                        folder / "greenwave.add.xml")
            jobs += [net_job(demand, "tune", (add,), seed, out_dir=folder, end_s=end)
                     for seed in seeds]
        results = run_simulations(jobs)
        n = len(seeds)
        for k, starts in enumerate(candidates):
            runs = [_performance(job, res, demand, paths, min_signals, penalty)
                    for job, res in zip(jobs[k * n:(k + 1) * n], results[k * n:(k + 1) * n],
                                        strict=True)]
            per_dir = {d: sum(r[1].get(d, 0.0) for r in runs) / n for d in paths}
            simulated[starts] = (sum(r[0] for r in runs) / n, per_dir)
        for folder in {Path(j.out_dir).parent.parent for j in jobs}:
            shutil.rmtree(folder, ignore_errors=True)
        ok = [v for v, per_dir in simulated.values()
              if all(per_dir[d] <= guard[d] * (1 + direction_tolerance) for d in guard)]
        best = f"best acceptable {min(ok):.1f} veh·h; " if ok else ""
        progress(f"  tuning: {len(simulated)}/{max_evaluations} candidates simulated ({best}"
                 f"{time.perf_counter() - started:.0f} s)")

    def objective(candidates: Sequence[tuple[float, ...]]) -> list[float]:
        plans = {c: plan_of(c) for c in candidates if c not in simulated}
        todo = [c for c, x in plans.items() if x.bandwidth_out_s + x.bandwidth_in_s >= need]
        todo = todo[:max(0, max_evaluations - len(simulated))]
        if todo:
            simulate({c: plans[c] for c in todo})
        values = []
        for c in candidates:
            if c not in simulated:
                values.append(math.inf)  # band too narrow, or out of simulations
                continue
            value, per_dir = simulated[c]
            worse = any(per_dir[d] > guard[d] * (1 + direction_tolerance) for d in guard)
            values.append(math.inf if worse else value)
        return values

    band_starts = tuple(x.green_out_start_s for x in band.signals)
    own = tuple(round((r.signal.offset_s + r.out_green_start_s) % cycle, 6)
                for r in retimed.signals)
    progress(f"tuning offsets in SUMO: seeds {', '.join(map(str, seeds))}, steps "
             f"{', '.join(f'{x:g}' for x in steps)} s, at most {max_evaluations} candidates; "
             f"bands kept at {100 * keep_band:g} % or more")
    own_band = plan_of(own)
    simulate({band_starts: band} if own == band_starts else {band_starts: band, own: own_band})
    eligible = own_band.bandwidth_out_s + own_band.bandwidth_in_s >= need
    start, first = ("original", own) if eligible and simulated[own][0] < \
        simulated[band_starts][0] else ("band", band_starts)
    guard.update(simulated[first][1])
    search = compass_search(objective, first, period_s=cycle, steps_s=steps,
                            max_evaluations=100 * max_evaluations, min_gain=min_gain,
                            start_value=simulated[first][0])
    tuned = plan_of(search.offsets_s)
    # the MILP's status and objective belong to the band plan; the tuned plan's bands are the
    # exact bands of its own offsets
    tuned = replace(tuned, solver={
        "method": "sumo-tuning", "band_plan": dict(band.solver),
        "two_way": tuned.bandwidth_out_s > 1e-6 and tuned.bandwidth_in_s > 1e-6})
    programs = net_programs(retimed, tuned)
    trials = pd.DataFrame([
        {"green_out_start_s": " ".join(f"{x:g}" for x in c), "value_vehh": v,
         **{f"{d}_per_trip_s": per_dir[d] for d in paths},
         "accepted": any(t.accepted and t.offsets_s == c for t in search.trials)}
        for c, (v, per_dir) in simulated.items()])
    shifts = tuple(round((a - b + cycle / 2) % cycle - cycle / 2, 3)
                   for a, b in zip(search.offsets_s, band_starts, strict=True))
    report = NetTuning(seeds=tuple(seeds), start=start,
                       start_values={"band": simulated[band_starts][0],
                                     "original": simulated[own][0]},
                       value_band=simulated[band_starts][0], value_after=search.value,
                       shifts_s=shifts, evaluations=len(simulated), trials=trials,
                       runtime_s=time.perf_counter() - started, stop_penalty_s=penalty,
                       own_eligible=eligible)
    shutil.rmtree(work, ignore_errors=True)
    return NetPlan(retimed, tuned, programs), report


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


def _performance(job: SimulationJob, result: SimulationResult, demand: NetDemand,
                 paths: Mapping[str, CorridorPath], min_signals: int,
                 stop_penalty_s: float) -> tuple[float, dict[str, float]]:
    """The tuning performance index of one run [veh·h] (:class:`NetTuning`), and per direction
    the corridor trips' mean delay + stop penalty per trip [s]."""
    m = net_run_metrics(demand, paths, job, result, min_signals=min_signals)
    per_trip = (m["delay_s"] + stop_penalty_s * m["stops_per_trip"]).fillna(0.0)
    corridor = float((m["trips"] * per_trip).sum())
    return ((result.total_delay_s + corridor) / 3600.0,
            dict(zip(m["direction"].astype(str), per_trip.astype(float), strict=True)))


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
