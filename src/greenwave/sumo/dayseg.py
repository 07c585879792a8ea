"""Day-segment scenarios for the retiming loop, and running the loop on them in SUMO.

A :class:`DaySegment` is a stretch of a day on one corridor: demand in slices (each a
:class:`~greenwave.corridor.PeriodDemand`, the flows of the demand rule of
:mod:`greenwave.sumo.demand`, ids prefixed ``s<k>_``), extra cross-street surges, injected
detector faults, and the time-of-day schedule (period and cycle from a clock time), whose plans
are MAXBAND plans with splits from each period's design demand. The built-in
:func:`ganjiang_day_segment` runs 06:00–08:00 (simulation time = seconds of the day): off-peak,
a ramp into the AM tidal peak from 06:30 while the time-of-day table switches at 07:00, a surge
on the west approach of S09 from 07:10 to 07:50, and the inbound loop on lane 0 at S05 stuck
from 06:40.

:func:`run_day_segment` runs one method on it — ``static`` (the time-of-day plans, switched by
the same safe transitions) or ``retiming`` (the loop) — and returns the metrics of
:mod:`greenwave.metrics`, the safety report and the loop's log.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import IO, Any

import pandas as pd

from greenwave.corridor import Corridor, PeriodDemand
from greenwave.errors import GreenwaveError, InputError
from greenwave.plan import TimingPlan
from greenwave.retiming.alerts import AlertRules
from greenwave.retiming.decide import DecisionRules, plan_programs
from greenwave.retiming.loop import DecisionLog, LoopResult, RetimingLoop, TodPlan
from greenwave.retiming.measure import DetectorSpec
from greenwave.sumo.demand import VTYPE_ID, od_flows
from greenwave.sumo.netbuild import NetworkLayout, build_network, write_xml
from greenwave.sumo.retime import DetectorFault, SumoController, connect, sumo_args
from greenwave.sumo.safety import LinkLimits, SafetyReport, Thresholds

METHODS = ("static", "retiming")


@dataclass(frozen=True)
class DemandSlice:
    begin_s: float
    end_s: float
    demand: PeriodDemand


@dataclass(frozen=True)
class Surge:
    """Extra cross-street through flow on one approach [veh/h]."""

    signal: str
    leg: str  # "west" or "east"
    begin_s: float
    end_s: float
    extra_vph: float


@dataclass(frozen=True)
class TodEntry:
    start_s: float
    period: str
    cycle_s: float


@dataclass(frozen=True)
class DaySegment:
    name: str
    corridor: Corridor
    begin_s: float
    end_s: float
    slices: tuple[DemandSlice, ...]
    tod: tuple[TodEntry, ...]
    surges: tuple[Surge, ...] = ()
    faults: tuple[DetectorFault, ...] = ()
    drain_s: float = 900.0


def blend(a: PeriodDemand, b: PeriodDemand, w: float, name: str) -> PeriodDemand:
    """Demand *w* of the way from *a* to *b* (every rate linearly)."""
    values: dict[str, Any] = {}
    for f in fields(PeriodDemand):
        x, y = getattr(a, f.name), getattr(b, f.name)
        values[f.name] = x + (y - x) * w if isinstance(x, float) else x
    return replace(a, **{**values, "name": name})


def ganjiang_day_segment(corridor: Corridor, *, hours: float = 2.0) -> DaySegment:
    """06:00 to 06:00 + *hours* on Ganjiang (module doc); *hours* < 2 cuts the segment."""
    return day_segment(corridor, hours=hours, surge_signal="S09", fault_signal="S05")


def day_segment(corridor: Corridor, *, hours: float = 2.0, surge_signal: str | None = None,
                fault_signal: str | None = None) -> DaySegment:
    """The off-peak → AM-peak segment of any corridor with ``offpeak`` and ``am_peak``
    periods, timed like :func:`ganjiang_day_segment`: time-of-day cycles the design cycle and
    the top of the cycle range; the surge (+650 veh/h) on the west approach of
    *surge_signal* (default: the middle major crossing), the stuck loop on inbound lane 0 of
    *fault_signal* (default: the signal a quarter along)."""
    names = [p.name for p in corridor.demand]
    if "offpeak" not in names or "am_peak" not in names:
        raise InputError(f"a day segment needs periods offpeak and am_peak; the corridor has "
                         f"{', '.join(names) or 'none'}", file=corridor.source or None,
                         field="period")
    if not (math.isfinite(hours) and 0 < hours <= 2):
        raise InputError(f"hours must be in (0, 2], found {hours!r}", field="hours",
                         value=hours)
    off, am = corridor.period("offpeak"), corridor.period("am_peak")
    majors = [i.id for i in corridor.intersections if i.major] or list(corridor.ids)
    surge_at = surge_signal or majors[len(majors) // 2]
    fault_at = fault_signal or corridor.ids[len(corridor.ids) // 4]
    c_lo = corridor.cycle_s or 100.0
    c_hi = corridor.cycle_range_s[1] if corridor.cycle_range_s else c_lo
    h6 = 6 * 3600.0
    slices = [DemandSlice(h6, h6 + 1800, off)]
    for k, w in enumerate((1 / 3, 2 / 3)):
        slices.append(DemandSlice(h6 + 1800 + 900 * k, h6 + 2700 + 900 * k,
                                  blend(off, am, w, f"ramp{k + 1}")))
    slices.append(DemandSlice(h6 + 3600, h6 + 7200, am))
    end = h6 + hours * 3600.0
    slices = [replace(s, end_s=min(s.end_s, end)) for s in slices if s.begin_s < end]
    return DaySegment(
        name="am_shift", corridor=corridor, begin_s=h6, end_s=end, slices=tuple(slices),
        tod=(TodEntry(0.0, "offpeak", c_lo), TodEntry(7 * 3600.0, "am_peak", c_hi)),
        surges=(Surge(surge_at, "west", 7 * 3600.0 + 600, 7 * 3600.0 + 3000, 650.0),),
        faults=(DetectorFault(f"e1_{fault_at}_in_0", h6 + 2400, "stuck"),),
    )


# --------------------------------------------------------------------------------------------
# building


@dataclass(frozen=True)
class BuiltSegment:
    segment: DaySegment
    out_dir: Path
    layout: NetworkLayout
    routes_file: Path
    detectors_file: Path
    programs_file: Path
    schedule: tuple[TodPlan, ...]
    specs: tuple[DetectorSpec, ...]
    queues: dict[str, tuple[tuple[str, str, float, float], ...]] = field(default_factory=dict)
    thresholds: dict[str, Thresholds] = field(default_factory=dict)


def write_segment_demand(seg: DaySegment, layout: NetworkLayout, out_file: Path) -> Path:
    root = ET.Element("routes")
    root.append(ET.Comment(f" greenwave day segment {seg.name} on {seg.corridor.name}: "
                           f"{len(seg.slices)} demand slices, {len(seg.surges)} surges; Poisson "
                           "arrivals drawn by SUMO from the simulation seed "))
    ET.SubElement(root, "vType", id=VTYPE_ID, vClass="passenger")
    items: list[tuple[float, str, float, float, float, tuple[str, ...]]] = []
    for k, s in enumerate(seg.slices):
        name = f"s{k}"
        corridor = replace(seg.corridor, demand=(replace(s.demand, name=name),))
        for f in od_flows(corridor, layout, name):
            items.append((s.begin_s, f"{name}_{f.id}", s.end_s, f.vph, 0.0, f.edges))
    for k, u in enumerate(seg.surges):
        legs = layout.cross_edges[u.signal]
        first, last = (legs.west_in, legs.east_out) if u.leg == "west" else \
            (legs.east_in, legs.west_out)
        items.append((u.begin_s, f"surge{k}_{u.signal}_{u.leg}", u.end_s, u.extra_vph, 0.0,
                      (first, last)))
    for begin, ident, end, vph, _, edges in sorted(items, key=lambda x: (x[0], x[1])):
        el = ET.SubElement(root, "flow", {
            "id": ident, "type": VTYPE_ID, "begin": f"{begin:g}", "end": f"{end:g}",
            "period": f"exp({vph / 3600.0:.8g})", "departLane": "best",
            "departSpeed": "max"})
        ET.SubElement(el, "route", edges=" ".join(edges))
    return write_xml(root, out_file)


def tod_plans(corridor: Corridor, entries: Sequence[TodEntry], *,
              time_limit_s: float = 10.0) -> tuple[TodPlan, ...]:
    """The stored plan of every time-of-day entry: splits from the period's design demand
    at its cycle, offsets by MAXBAND (balanced)."""
    from greenwave.optimize import optimize_corridor
    from greenwave.splits import corridor_splits

    out = []
    for e in entries:
        timed = corridor_splits(corridor, e.period, e.cycle_s)
        plan = optimize_corridor(timed, period=e.period, time_limit_s=time_limit_s)
        out.append(TodPlan(e.start_s, corridor.period(e.period), plan, timed))
    return tuple(out)


def signal_thresholds(plan: TimingPlan, corridor: Corridor, net: Path,
                      layout: NetworkLayout) -> dict[str, Thresholds]:
    """What the safety monitor holds each signal to: per link the planned yellow and minimum
    green of the plan's phases, the shortest planned all-red."""
    from greenwave.sumo.programs import movement_map, plan_thresholds

    links = movement_map(net, corridor, layout)
    out = {}
    for s in plan.signals:
        min_green, yellow = plan_thresholds(s.phases, links[s.id])
        all_red = min((p.all_red_s for p in s.phases), default=0.0)
        out[s.id] = Thresholds(
            yellow_s=max(yellow.values(), default=3.0), all_red_s=all_red,
            links={k: LinkLimits(yellow_s=yellow.get(k), min_green_s=min_green.get(k))
                   for k in links[s.id]})
    return out


def build_day_segment(seg: DaySegment, out_dir: str | Path, *, seed: int = 42
                      ) -> BuiltSegment:
    """Network with detectors, the segment's demand, the time-of-day plans, the programs of
    the first plan (deterministic files)."""
    from greenwave.sumo.detectors import (
        DETECTOR_FILE,
        detector_specs,
        queue_detectors,
    )
    from greenwave.sumo.programs import write_programs

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    layout = build_network(seg.corridor, out, seed=seed)
    routes = write_segment_demand(seg, layout, out / f"{seg.name}.rou.xml")
    detectors = out / DETECTOR_FILE  # written by build_network
    schedule = tod_plans(seg.corridor, seg.tod)
    first = [p for p in schedule if p.start_s <= seg.begin_s] or [schedule[0]]
    programs = write_programs(first[-1].plan, layout.net_file, first[-1].timed, layout,
                              out / "tod_start.add.xml")
    return BuiltSegment(seg, out, layout, routes, detectors, programs, schedule,
                        detector_specs(layout), queue_detectors(layout),
                        signal_thresholds(first[-1].plan, first[-1].timed, layout.net_file,
                                          layout))


# --------------------------------------------------------------------------------------------
# running


@dataclass
class SegmentRun:
    method: str
    seed: int
    metrics: pd.DataFrame
    safety: SafetyReport
    loop: LoopResult
    trips: pd.DataFrame
    cycle_starts: dict[str, list[float]]
    problems: list[str]
    wall_s: float


def run_day_segment(
    built: BuiltSegment,
    method: str,
    *,
    seed: int = 1,
    out_dir: str | Path,
    feed: Iterable[str | None] | None = None,
    log_stream: IO[str] | None = None,
    record: IO[str] | None = None,
    until_s: float | None = None,
    gui: bool = False,
    alert_rules: AlertRules | None = None,
    decision_rules: DecisionRules | None = None,
) -> SegmentRun:
    """Run *method* (``static`` or ``retiming``) on a built segment in SUMO; the loop's log
    goes to *log_stream*, SUMO's files to *out_dir*."""
    import time

    from greenwave.metrics import through_trip_metrics
    from greenwave.sumo.simulate import read_statistics, read_tripinfo

    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; expected {', '.join(METHODS)}",
                         field="method", value=method)
    seg = built.segment
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    end = seg.end_s + seg.drain_s if until_s is None else min(until_s, seg.end_s + seg.drain_s)
    if not end > seg.begin_s:
        raise InputError(f"--until {end:g} s is not after the segment's begin "
                         f"{seg.begin_s:g} s", field="until", value=until_s)
    trip_file, stats_file, sumo_log = (out / f"{method}.tripinfo.xml",
                                       out / f"{method}.stats.xml", out / f"{method}.sumo.log")
    args = sumo_args(built.layout.net_file, [built.routes_file],
                     [built.detectors_file, built.programs_file], begin_s=seg.begin_s,
                     end_s=end, seed=seed, tripinfo=trip_file, statistics=stats_file)
    log = DecisionLog(log_stream)
    loop = RetimingLoop(seg.corridor, built.schedule, built.specs,
                        adaptive=method == "retiming", alert_rules=alert_rules,
                        decision_rules=decision_rules, feed=feed, log=log,
                        cycle_range_s=(min(e.cycle_s for e in seg.tod),
                                       max(e.cycle_s for e in seg.tod)))
    first = [p for p in built.schedule if p.start_s <= seg.begin_s] or [built.schedule[0]]
    t0 = time.perf_counter()
    with connect(args, sumo_log, gui=gui) as (conn, backend):
        ctl = SumoController(conn, plan_programs(first[-1].plan, first[-1].timed), built.specs,
                             built.queues, thresholds=built.thresholds, end_s=end,
                             faults=seg.faults if method == "retiming" else (), record=record)
        # the loop decides while the segment's demand runs; the drain that lets measured trips
        # finish runs on under the plan then in force (transitions go on, the monitor watches)
        result = loop.run(ctl, until_s=min(end, seg.end_s))
        while not result.crashed:
            try:
                m = ctl.measure()
            except GreenwaveError as exc:
                log.write("crash", result.end_s, reason=str(exc), during="drain")
                result.crashed = str(exc)
                break
            if m is None:
                break
            loop.settle(m.time_s, ctl.in_force)
        safety = ctl.report(backend)
        starts = {k: s.cycle_starts for k, s in ctl.signals.items()}
        problems = list(ctl.problems)
    wall = time.perf_counter() - t0
    trips = read_tripinfo(trip_file) if trip_file.is_file() else pd.DataFrame()
    stats = read_statistics(stats_file) if stats_file.is_file() else {}
    measured = trips[trips["depart"] < seg.end_s] if len(trips) else trips
    m = through_trip_metrics(measured, method=method, period=seg.name,
                             through=built.layout.through_routes) if len(trips) else \
        pd.DataFrame()
    if len(m):
        fin = measured[measured["finished"]]
        m["seed"] = seed
        m["teleports"] = int(stats.get("teleports", 0))
        m["total_delay_s"] = float((fin["timeLoss"] + fin["departDelay"]).sum())
        m["not_inserted"] = int(stats.get("waiting", 0))
        m["safety_violations"] = len(safety.violations)
    return SegmentRun(method, seed, m, safety, result, trips, starts, problems, wall)


