"""The jobs an engineer runs: build the SUMO scenario, optimize, evaluate against the baseline.

Everything the command line does is a function here, callable from Python.
"""

from __future__ import annotations

import math
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
    from dataclasses import replace

    from greenwave.plan import plan_from_offsets

    timed = corridor.with_cycle(plan.cycle_s)
    # the plan's own phases (its splits and sequences, e.g. splits from demand), not the
    # spec's retimed ones
    own = tuple(i.with_phases(s.phases) if s.phases else i
                for i, s in zip(timed.intersections, plan.signals, strict=True))
    timed = replace(timed, intersections=own)
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
    baseline: bool = True,
) -> pd.DataFrame:
    """Simulate the baseline and each method on the same demand and seeds; through-trip
    metrics in one tidy table.

    *methods* maps a method name to the additional files holding its programs (the baseline,
    the network's own programs, is run first unless *baseline* is False). Trips departing
    before ``end_s`` (default: the period's duration) are measured; the simulation runs
    ``drain_s`` longer (default: twice the corridor's free-flow time plus 10 min) so that
    they can finish.
    Trips still unfinished then are not counted.
    """
    from greenwave.sumo.simulate import run_simulations

    out = Path(out_dir)
    corridor = scenario.corridor
    horizon = end_s if end_s is not None else corridor.period(scenario.period).duration_s
    end = horizon + (drain_s if drain_s is not None else default_drain_s(corridor))
    seeds = seeds or (scenario.seed,)
    runs: dict[str, Sequence[Path]] = {**({"baseline": ()} if baseline else {}), **methods}
    jobs = [simulation_job(scenario, method, adds, seed, out_dir=out, end_s=end)
            for seed in seeds for method, adds in runs.items()]
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
    frames = [run_metrics(scenario, job, res, horizon_s=horizon)
              for job, res in zip(jobs, results, strict=True)]
    return pd.concat(frames, ignore_index=True)


def default_drain_s(corridor: Corridor) -> float:
    """How long a run continues after the measured period [s]: twice the free-flow time over
    the corridor and its approach links at the speed limit, plus 10 min."""
    span_m = corridor.length_m + 2 * corridor.approach_m
    return 2 * span_m / (corridor.speed_limit_kmh / 3.6) + 600


def simulation_job(scenario: Scenario, method: str, additional_files: Sequence[Path],
                   seed: int, *, out_dir: str | Path, end_s: float) -> Any:
    """The :class:`~greenwave.sumo.simulate.SimulationJob` of one method and seed on a built
    scenario, run from 0 to *end_s* [s] into ``out_dir/runs/<method>_seed<N>/``."""
    from greenwave.sumo.simulate import SimulationJob

    return SimulationJob(
        net_file=scenario.layout.net_file,
        route_files=(scenario.routes_file,),
        additional_files=tuple(additional_files),
        seed=seed,
        begin_s=0.0,
        end_s=end_s,
        out_dir=Path(out_dir) / "runs" / f"{method}_seed{seed}",
        label=method,
    )


def run_metrics(scenario: Scenario, job: Any, result: Any, *, horizon_s: float) -> pd.DataFrame:
    """metrics.csv rows of one run: through trips departing before *horizon_s* [s], per
    direction, with the run's seed, teleports, network delay and insertion backlog."""
    from greenwave.metrics import through_trip_metrics

    measured = result.trips[result.trips["depart"] < horizon_s]
    m = through_trip_metrics(measured, method=job.label, period=scenario.period,
                             through=scenario.layout.through_routes)
    m["seed"] = job.seed
    m["teleports"] = result.teleports
    m["total_delay_s"] = result.total_delay_s
    m["not_inserted"] = result.vehicles_waiting  # still queued for entry when the run ended
    return m


# --------------------------------------------------------------------------------------------
# measured green wave


@dataclass(frozen=True)
class Measurement:
    """The green wave as the simulated vehicles drove it (see :mod:`greenwave.measure`).

    ``bands`` has one row per direction: planned and measured band [s] and their starts,
    vehicles counted; ``arrivals`` the arrivals on green per signal and direction;
    ``purdue`` the Purdue coordination diagram points; ``delay`` HCM control delay and LOS
    per intersection (main-street approaches); ``log`` the vehicle log itself.
    """

    bands: pd.DataFrame
    arrivals: pd.DataFrame
    purdue: pd.DataFrame
    delay: pd.DataFrame
    log: pd.DataFrame
    paths: Mapping[str, Any]  # direction -> greenwave.measure.DirectionPath


def corridor_geometries(layout: Any) -> dict[str, Any]:
    """The two :class:`~greenwave.sumo.fcd.PathGeometry` of a built scenario's main road."""
    from greenwave.sumo.fcd import path_geometry

    return {
        "outbound": path_geometry(layout.net_file, layout.out_edges, direction="outbound"),
        "inbound": path_geometry(layout.net_file, layout.in_edges, direction="inbound"),
    }


def stop_lines(layout: Any, geometries: Mapping[str, Any]) -> dict[str, list[float]]:
    """Stop-line distances per direction, in the corridor's signal order."""
    from greenwave.sumo.fcd import stop_line_distances

    ids = list(layout.tls_ids)
    return {
        "outbound": stop_line_distances(geometries["outbound"],
                                        [layout.out_approach[i] for i in ids]),
        "inbound": stop_line_distances(geometries["inbound"],
                                       [layout.in_approach[i] for i in ids]),
    }


def measure_green_wave(plan: TimingPlan, log: pd.DataFrame,
                       stop_lines_m: Mapping[str, Sequence[float]]) -> Measurement:
    """Arrivals on green, Purdue points, the measured band beside the planned one and control
    delay per intersection, from a vehicle log of the plan's run."""
    from greenwave import measure

    paths = measure.direction_paths(plan, stop_lines_m)
    band_rows, aog, points, delays = [], [], [], []
    planned = {"outbound": (plan.bandwidth_out_s, plan.band_out_start_s),
               "inbound": (plan.bandwidth_in_s, plan.band_in_start_s)}
    for direction, path in paths.items():
        passed = measure.passages(log, path)
        pts = measure.purdue_points(passed, path)
        points.append(pts)
        aog.append(measure.arrivals_on_green(pts))
        band = measure.measured_band(passed, path)
        band_rows.append({
            "direction": direction,
            "planned_band_s": planned[direction][0],
            "measured_band_s": band.width_s,
            "difference_s": band.width_s - planned[direction][0],
            "planned_start_s": planned[direction][1],
            "measured_start_s": band.start_s,
            "through_vehicles": band.through_vehicles,
            "in_progression": band.in_progression,
            "in_band": band.in_band,
            "resolution_s": band.resolution_s,
        })
        delays.append(measure.control_delay(log, path))
    delay = measure.intersection_delay(pd.concat(delays, ignore_index=True),
                                       [s.id for s in plan.signals])
    return Measurement(pd.DataFrame(band_rows), pd.concat(aog, ignore_index=True),
                       pd.concat(points, ignore_index=True), delay, log, paths)


def write_probe_routes(layout: Any, out_file: Path, *, speed_kmh: float,
                       speed_limit_kmh: float, headway_s: float, vehicles: int,
                       begin_s: float = 0.0) -> Path:
    """Through vehicles only, held to the band speed: one every *headway_s* per direction.

    The vType has no speed deviation and no driver imperfection (``speedDev=0``,
    ``sigma=0``) and ``speedFactor`` = band speed / speed limit, so every vehicle's desired
    speed is the band speed; vehicles enter at that speed.
    """
    import xml.etree.ElementTree as ET

    from greenwave.sumo.netbuild import write_xml

    root = ET.Element("routes")
    ET.SubElement(root, "vType", id="probe", vClass="passenger", sigma="0", speedDev="0",
                  speedFactor=f"{speed_kmh / speed_limit_kmh:.6f}")
    end = begin_s + headway_s * vehicles
    for direction, edges in (("outbound", layout.out_edges), ("inbound", layout.in_edges)):
        flow = ET.SubElement(root, "flow", {
            "id": f"probe_{direction}", "type": "probe", "begin": f"{begin_s:g}",
            "end": f"{end:g}", "period": f"{headway_s:g}", "departLane": "best",
            "departSpeed": "desired"})
        ET.SubElement(flow, "route", edges=" ".join(edges))
    return write_xml(root, out_file)


def probe_run(scenario: Scenario, plan: TimingPlan, programs: Path, out_dir: str | Path, *,
              headway_s: float | None = None, vehicles: int | None = None, seed: int = 1,
              label: str = "probe") -> Measurement:
    """The measured band of *plan* at low demand: through vehicles at the band speed.

    One vehicle every *headway_s* per direction, default C + 1 s: a vehicle never meets
    another one (no queue of earlier vehicles, which would shorten the band: that is queue
    clearance, not progression), and each one passes the first signal 1 s later in the cycle
    than the one before, so *vehicles* = C (the default) sample the cycle at 1 s spacing.
    """
    from greenwave.sumo.fcd import fcd_args, read_fcd
    from greenwave.sumo.simulate import run_simulation

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corridor = scenario.corridor
    if abs(plan.speed_out_kmh - plan.speed_in_kmh) > 1e-9:
        raise InputError("probe vehicles drive one speed; the plan has two band speeds",
                         field="speed_in_kmh", value=plan.speed_in_kmh)
    count = vehicles if vehicles is not None else max(1, math.ceil(plan.cycle_s))
    headway_s = headway_s if headway_s is not None else plan.cycle_s + 1.0
    routes = write_probe_routes(scenario.layout, out / f"{label}.rou.xml",
                                speed_kmh=plan.speed_out_kmh,
                                speed_limit_kmh=corridor.speed_limit_kmh, headway_s=headway_s,
                                vehicles=count)
    span_m = corridor.length_m + 2 * corridor.approach_m
    end = headway_s * count + 2.0 * span_m / (plan.speed_out_kmh / 3.6) + 120.0
    geometries = corridor_geometries(scenario.layout)
    edges = [*scenario.layout.out_edges, *scenario.layout.in_edges]
    run_simulation(scenario.layout.net_file, routes, additional_files=[programs], seed=seed,
                   end_s=end, out_dir=out, label=label,
                   extra_args=fcd_args(out, label, edges))
    log = read_fcd(out / f"{label}.fcd.xml", list(geometries.values()))
    return measure_green_wave(plan, log, stop_lines(scenario.layout, geometries))


def trajectories_for_diagram(m: Measurement, direction: str, *, start_s: float,
                             end_s: float, max_vehicles: int = 80) -> pd.DataFrame:
    """A sample of one direction's trajectories in the time window, as ``vehicle, time_s,
    pos_m`` (positions along the corridor, each stop line at its signal's position)."""
    path = m.paths[direction]
    log = m.log[(m.log["direction"] == direction) & (m.log["time_s"] >= start_s)
                & (m.log["time_s"] <= end_s)]
    vehicles = list(dict.fromkeys(log.sort_values("time_s", kind="stable")["vehicle"]))
    step = max(1, math.ceil(len(vehicles) / max_vehicles))
    chosen = log[log["vehicle"].isin(set(vehicles[::step]))]
    return pd.DataFrame({"vehicle": chosen["vehicle"].to_numpy(),
                         "time_s": chosen["time_s"].to_numpy(),
                         "pos_m": path.to_position_m(chosen["dist_m"])})


def write_measurement_files(m: Measurement, plan: TimingPlan, out_dir: str | Path, *,
                            scenario: str, method: str,
                            direction_names: Mapping[str, str] | None = None,
                            labels: Mapping[str, str] | None = None,
                            formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """The measurement's tables (CSV) and pictures, named ``<scenario>_<method>_...``.

    Tables: ``_bands.csv`` (planned beside measured band per direction),
    ``_arrivals_on_green.csv``, ``_purdue.csv``, ``_control_delay.csv`` (per intersection,
    HCM LOS). Pictures per direction (its name from *direction_names*, e.g. southbound):
    ``_<direction>_timespace`` (signal timings, planned bands and sampled trajectories) and
    ``_<direction>_purdue`` (Purdue coordination diagrams), in each of *formats*.
    """
    from greenwave.diagrams import purdue_diagram, time_space_diagram
    from greenwave.metrics import write_metrics_csv

    out = Path(out_dir)
    names = dict(direction_names or {})
    stem = f"{scenario}_{method}"
    written = [
        write_metrics_csv(m.bands.assign(direction=m.bands["direction"].map(
            lambda d: names.get(d, d))), out / f"{stem}_bands.csv"),
        write_metrics_csv(m.arrivals, out / f"{stem}_arrivals_on_green.csv"),
        write_metrics_csv(m.purdue, out / f"{stem}_purdue.csv"),
        write_metrics_csv(m.delay, out / f"{stem}_control_delay.csv"),
    ]
    c = plan.cycle_s
    for direction in m.paths:
        name = names.get(direction, direction)
        pts = m.purdue[m.purdue["direction"] == direction]
        firsts = pts.loc[pts["k"] == 0, "arrival_s"]
        start = math.floor(float(firsts.quantile(0.25)) / c) * c if len(firsts) else 0.0
        from greenwave.diagrams import time_window

        window = time_window(plan, 3, start_s=start)
        traj = trajectories_for_diagram(m, direction, start_s=window[0], end_s=window[1])
        band = m.bands.set_index("direction").loc[direction]
        for fmt in formats:
            written.append(time_space_diagram(
                plan, out / f"{stem}_{name}_timespace.{fmt}", trajectories=traj,
                start_s=start, labels=labels,
                outbound_name=names.get("outbound", "outbound"),
                inbound_name=names.get("inbound", "inbound"),
                title=f"{scenario} {method}: {name} vehicles (band planned "
                      f"{band['planned_band_s']:.1f} s, measured "
                      f"{band['measured_band_s']:.1f} s)"))
            written.append(purdue_diagram(
                pts, out / f"{stem}_{name}_purdue.{fmt}", cycle_s=c, labels=labels,
                title=f"{scenario} {method}: {name} Purdue coordination diagrams"))
    return written
