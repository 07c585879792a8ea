"""The retiming loop: measure → detect alerts → decide → check safety → apply (pure).

The loop drives any :class:`Controller` (SUMO, or :class:`ReplayController` replaying a
recorded measurement log): ``measure()`` runs the controlled system to the end of the next
measurement interval and returns what it measured, ``apply(programs, tag)`` hands over new
target programs, which the controller reaches by the safe transitions of
:mod:`greenwave.retiming.transition`. Every alert, rejection, decision, fallback and completed
transition is written to a JSON Lines log with the simulation time (``time_s``) and the wall
time (``wall_time``, ISO 8601 UTC), one flushed line per record, so a crash keeps the log.

Time-of-day plans (:class:`TodPlan`) are the base: the loop starts on the one in force at the
start and follows the schedule while it runs a time-of-day plan; after a retiming decision it
keeps its own plan until a fallback returns it to the schedule. With ``adaptive=False`` the
loop only follows the schedule (the static method).

Harmonic neighbours (``neighbours``: signal id → :class:`~greenwave.retiming.decide.Neighbour`)
are signals outside the corridor that run half, the same or double the corridor's cycle. Every
plan the loop hands over carries their programs at ``ratio`` × the plan's cycle
(:func:`~greenwave.retiming.decide.harmonic_program`), so an area-level cycle change (or a
time-of-day switch to another cycle) moves them with the corridor, by the same safe
transitions and safety check; a plan counts as in force once they run it too. A neighbour
whose minimum greens do not fit the shortest cycle the loop may choose is refused at the start.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, Any, Protocol

from greenwave.corridor import Corridor, PeriodDemand
from greenwave.errors import GreenwaveError, InputError
from greenwave.plan import TimingPlan
from greenwave.retiming.alerts import (
    Alert,
    AlertDetector,
    AlertFeed,
    AlertKind,
    AlertRules,
    Debouncer,
    Rejection,
)
from greenwave.retiming.decide import (
    Decider,
    Decision,
    DecisionRules,
    Neighbour,
    design_flows,
    design_share_in,
    harmonic_program,
    measured_volumes,
    place_greens,
    plan_programs,
)
from greenwave.retiming.measure import DetectorReading, DetectorSpec, Measurement
from greenwave.retiming.transition import SignalProgram, check_program

#: Fields of a log record that differ between two runs of the same inputs.
WALL_FIELDS = ("wall_time", "solve_ms")

#: Fields of a :attr:`LoopResult.latency` row: one per plan put in force.
LATENCY_FIELDS = ("plan", "level", "alerts", "decision_s", "resolve_wall_ms",
                  "in_force_after_s", "transition_cycles")


class Controller(Protocol):
    """What the loop needs from a controlled corridor."""

    def measure(self) -> Measurement | None:
        """Run to the end of the next interval and measure it; None when the run is over."""
        ...

    def apply(self, programs: Mapping[str, SignalProgram], tag: str) -> None:
        """Make *programs* the targets (reached by safe transitions)."""
        ...


@dataclass(frozen=True)
class TodPlan:
    """A stored time-of-day plan: in force from ``start_s`` [s, simulation time]."""

    start_s: float
    demand: PeriodDemand
    plan: TimingPlan
    timed: Corridor  # the corridor at the plan's cycle and splits


# --------------------------------------------------------------------------------------------
# log


class DecisionLog:
    """JSON Lines records, kept in memory and written (flushed) to *stream* when given."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream
        self.records: list[dict[str, Any]] = []

    def write(self, event: str, time_s: float, **data: Any) -> dict[str, Any]:
        rec = {"event": event, "time_s": round(float(time_s), 3),
               "wall_time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
               **data}
        self.records.append(rec)
        if self.stream is not None:
            self.stream.write(json.dumps(rec, sort_keys=False, default=str) + "\n")
            self.stream.flush()
        return rec

    def decisions(self) -> list[dict[str, Any]]:
        """Every record without its wall-clock fields (what must reproduce)."""
        return [{k: v for k, v in r.items() if k not in WALL_FIELDS} for r in self.records]


class LiveFeed:
    """Lines of a stream read by a background thread, for a feed that arrives while the
    simulation runs (stdin): iterating yields the lines received so far, then ``None`` while
    nothing new has come (the loop goes on), and stops at the end of the stream."""

    def __init__(self, stream: IO[str]) -> None:
        import queue
        import threading

        self._queue: queue.Queue[str | None] = queue.Queue()
        self._done = False

        def read() -> None:
            for line in stream:
                self._queue.put(line)
            self._queue.put(None)

        threading.Thread(target=read, name="greenwave-alert-feed", daemon=True).start()

    def __iter__(self) -> LiveFeed:
        return self

    def __next__(self) -> str | None:
        import queue

        if self._done:
            raise StopIteration
        try:
            line = self._queue.get_nowait()
        except queue.Empty:
            return None
        if line is None:
            self._done = True
            raise StopIteration
        return line


# --------------------------------------------------------------------------------------------
# replay


@dataclass(frozen=True)
class TransitionState:
    """Per signal: the tag of the program in force, since when [s], cycles it took."""

    tag: str
    since_s: float
    cycles: int


def measurement_to_dict(m: Measurement, in_force: Mapping[str, TransitionState]
                        ) -> dict[str, Any]:
    return {"time_s": m.time_s, "interval_s": m.interval_s,
            "readings": {k: [r.count, r.occupancy_pct] for k, r in m.readings.items()},
            "queues_veh": dict(m.queues_veh),
            "in_force": {k: [v.tag, v.since_s, v.cycles] for k, v in in_force.items()}}


class ReplayController:
    """Replays measurements recorded by a controller (``measurement_to_dict`` lines);
    :attr:`applied` keeps what the loop applied."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._items = [json.loads(line) for line in lines if line.strip()]
        self._k = 0
        self.applied: list[tuple[float, str, dict[str, SignalProgram]]] = []
        self.in_force: dict[str, TransitionState] = {}

    def measure(self) -> Measurement | None:
        if self._k >= len(self._items):
            return None
        d = self._items[self._k]
        self._k += 1
        self.in_force = {k: TransitionState(v[0], float(v[1]), int(v[2]))
                         for k, v in d.get("in_force", {}).items()}
        return Measurement(float(d["time_s"]), float(d["interval_s"]),
                           {k: DetectorReading(float(v[0]), float(v[1]))
                            for k, v in d["readings"].items()},
                           {k: float(v) for k, v in d.get("queues_veh", {}).items()})

    def apply(self, programs: Mapping[str, SignalProgram], tag: str) -> None:
        t = self._items[self._k - 1]["time_s"] if self._k else 0.0
        self.applied.append((float(t), tag, dict(programs)))


# --------------------------------------------------------------------------------------------
# the loop


@dataclass
class _Pending:
    tag: str
    time_s: float
    level: str
    alerts: tuple[str, ...]
    solve_ms: float
    signals: tuple[str, ...]


@dataclass
class LoopResult:
    log: DecisionLog
    latency: list[dict[str, Any]] = field(default_factory=list)
    crashed: str = ""
    end_s: float = math.nan


class RetimingLoop:
    """The loop over one controller (module doc)."""

    def __init__(
        self,
        corridor: Corridor,
        schedule: Sequence[TodPlan],
        specs: Sequence[DetectorSpec],
        *,
        adaptive: bool = True,
        alert_rules: AlertRules | None = None,
        decision_rules: DecisionRules | None = None,
        feed: Iterable[str | None] | None = None,
        log: DecisionLog | None = None,
        debounce_s: float = 300.0,
        cycle_range_s: tuple[float, float] | None = None,
        neighbours: Mapping[str, Neighbour] | None = None,
    ) -> None:
        if not schedule:
            raise GreenwaveError("the loop needs at least one time-of-day plan")
        self.corridor = corridor
        self.schedule = sorted(schedule, key=lambda p: p.start_s)
        self.specs = tuple(specs)
        self.adaptive = adaptive
        self.rules = decision_rules or DecisionRules()
        self.decider = Decider(corridor, self.rules)
        self.log = log or DecisionLog()
        self.cycle_range_s = cycle_range_s or corridor.cycle_range_s or (
            min(p.plan.cycle_s for p in schedule), max(p.plan.cycle_s for p in schedule))
        lo, hi = self.cycle_range_s
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
            raise InputError(f"cycle range {lo!r}-{hi!r} s: expected 0 < minimum <= maximum",
                             field="cycle_range_s", value=self.cycle_range_s)
        self.neighbours = dict(neighbours or {})
        self._check_neighbours()
        tod = self.schedule[0]
        self.detector = AlertDetector(specs, design_flows(corridor, tod.demand),
                                      design_share_in(tod.demand), rules=alert_rules)
        lanes = dict(self.detector.lanes)
        self.feed = AlertFeed(frozenset(lanes), frozenset(s.id for s in specs), lanes)
        self._feed_lines: Iterator[str | None] | None = iter(feed) if feed is not None else None
        self._feed_next: Alert | None = None
        self.debouncer = Debouncer(debounce_s)
        self.tod: TodPlan | None = None
        self.mode = "time_of_day"
        self.plan: TimingPlan = tod.plan
        self.timed: Corridor = tod.timed
        self.pending: _Pending | None = None
        self.last_decision_s = -math.inf
        self.unserved: list[str] = []
        self.external_flow: dict[str, float] = {}
        self.external_spill: set[str] = set()
        self.external_share: float | None = None
        self.fallback_signals: set[str] = set()
        self._tags = 0
        self.latency: list[dict[str, Any]] = []

    def _check_neighbours(self) -> None:
        """Every neighbour must fit every cycle the loop may choose (its greens scale with
        the cycle, so the shortest one decides) and every time-of-day cycle."""
        ids = set(self.corridor.ids)
        cycles = {self.cycle_range_s[0], *(p.plan.cycle_s for p in self.schedule)}
        for tls, nb in self.neighbours.items():
            if not isinstance(nb, Neighbour):
                raise InputError(f"neighbour {tls}: expected a Neighbour (program, ratio, "
                                 f"corridor_cycle_s), found {type(nb).__name__}",
                                 field="neighbours", value=tls)
            if tls in ids or tls != nb.program.tls_id:
                raise InputError(f"neighbour {tls}: "
                                 + ("a corridor signal cannot be its own neighbour"
                                    if tls in ids else
                                    f"its program is for signal {nb.program.tls_id}"),
                                 field="neighbours", value=tls)
            for c in sorted(cycles):
                try:
                    harmonic_program(nb, c)
                except GreenwaveError as exc:
                    raise InputError(f"{exc} (cycle range {self.cycle_range_s[0]:g}-"
                                     f"{self.cycle_range_s[1]:g} s)", field="neighbours",
                                     value=tls) from exc

    def programs(self, plan: TimingPlan, timed: Corridor) -> dict[str, SignalProgram]:
        """The target programs of *plan*: the corridor's signals and, at ``ratio`` × the
        plan's cycle, the harmonic neighbours."""
        out = plan_programs(plan, timed)
        for tls, nb in self.neighbours.items():
            out[tls] = harmonic_program(nb, plan.cycle_s)
        return out

    # ----------------------------------------------------------------------------------------

    def run(self, controller: Controller, *, until_s: float = math.inf) -> LoopResult:
        """Run until the controller ends, *until_s*, or a crash (logged; the log is kept)."""
        result = LoopResult(self.log)
        t = math.nan
        while True:
            try:
                m = controller.measure()
            except GreenwaveError as exc:
                self.log.write("crash", t if math.isfinite(t) else 0.0, reason=str(exc))
                result.crashed = str(exc)
                break
            if m is None:
                break
            t = m.time_s
            self.step(controller, m)
            if t >= until_s:
                break
        self.log.write("end", t if math.isfinite(t) else 0.0, mode=self.mode,
                       pending=self.pending.tag if self.pending else None)
        result.latency = self.latency
        result.end_s = t
        return result

    def step(self, controller: Controller, m: Measurement) -> None:
        """One interval: transitions done, time of day, alerts, decision."""
        t = m.time_s
        self._check_in_force(t, getattr(controller, "in_force", {}))
        tod = self._tod_at(t)
        if tod is not self.tod:
            first = self.tod is None
            self.tod = tod
            if first:
                self._apply(controller, Decision(t, "time_of_day", "plan in force at the start",
                                                 tod.plan, tod.timed), adopt=True, log=False)
                self.log.write("start", t, plan=self.pending.tag if self.pending else "",
                               cycle_s=tod.plan.cycle_s, period=tod.demand.name,
                               adaptive=self.adaptive)
                self.pending = None
            elif self.mode == "time_of_day" or not self.adaptive:
                self._apply(controller, Decision(t, "time_of_day",
                                                 f"time-of-day plan {tod.demand.name}",
                                                 tod.plan, tod.timed))
            else:
                self.log.write("time_of_day", t, period=tod.demand.name,
                               detail="retimed plan kept; the fallback is now this period's "
                               "plan")
        if not self.adaptive:
            return
        for a in self.detector.evaluate(m):
            self._admit(a, t)
        for a in self._due_feed(t):
            self._admit(a, t)
        started = time.perf_counter()
        decision = self._decide(t)
        if decision is not None:
            if math.isnan(decision.solve_ms):  # no MAXBAND re-solve: the split computation
                decision = replace(decision, solve_ms=(time.perf_counter() - started) * 1e3)
            self._apply(controller, decision)

    # ----------------------------------------------------------------------------------------

    def _tod_at(self, t: float) -> TodPlan:
        current = self.schedule[0]
        for p in self.schedule:
            if p.start_s <= t + 1e-9:
                current = p
        return current

    def _due_feed(self, t: float) -> list[Alert]:
        out: list[Alert] = []
        while self._feed_lines is not None:
            if self._feed_next is None:
                try:
                    line = next(self._feed_lines)
                except StopIteration:
                    self._feed_lines = None
                    break
                if line is None:  # a live feed with nothing new yet
                    break
                parsed = self.feed.parse(line)
                if isinstance(parsed, Rejection):
                    self.log.write("rejected", t, line=parsed.line, reason=parsed.reason,
                                   text=parsed.text)
                    continue
                if parsed is None:
                    continue
                self._feed_next = parsed
            if self._feed_next.time_s > t:
                break
            out.append(self._feed_next)
            self._feed_next = None
        return out

    def _admit(self, a: Alert, t: float) -> None:
        """Take in an alert at the end of the interval *t*; the log's time is *t* (records stay
        in time order), a feed alert's own time goes with it as ``feed_time_s``."""
        extra = {"feed_time_s": a.time_s} if a.source == "feed" and a.time_s != t else {}
        if not self.debouncer.admit(a):
            self.log.write("debounced", t, **a.to_dict(), **extra)
            return
        self.log.write("alert", t, **a.to_dict(), **extra)
        if a.source == "feed":
            self._external(a)
        if a.raised:
            self.unserved.append(a.id)

    def _external(self, a: Alert) -> None:
        if a.kind is AlertKind.FLOW_SURGE:
            if a.raised:
                self.external_flow[a.target] = a.value
            else:
                self.external_flow.pop(a.target, None)
        elif a.kind is AlertKind.SPILLBACK:
            (self.external_spill.add if a.raised else self.external_spill.discard)(a.target)
        elif a.kind is AlertKind.TIDAL_SHIFT:
            self.external_share = a.value if a.raised else None
        elif a.kind is AlertKind.DETECTOR_FAILURE:
            if a.raised:
                self.detector.failed[a.target] = "reported by the feed"
                self.detector.reported.add(a.target)
            else:
                self.detector.failed.pop(a.target, None)
                self.detector.reported.discard(a.target)

    # ----------------------------------------------------------------------------------------

    def _current_tod(self) -> TodPlan:
        """The time-of-day plan in force (step() sets it before any decision)."""
        if self.tod is None:
            raise RuntimeError("no time-of-day plan in force yet: step() sets it first")
        return self.tod

    def _flows(self) -> dict[str, float]:
        flows = {k: f.flow_vph
                 for k, f in self.detector.window.approaches(exclude=self.detector.failed).items()}
        flows.update(self.external_flow)
        return flows

    def _decide(self, t: float) -> Decision | None:
        tod = self._current_tod()
        failed = dict(self.detector.failed)
        failed_signals = sorted({self.detector.specs[d].signal for d in failed
                                 if d in self.detector.specs})
        if failed and len(failed) > self.rules.max_failed_share * len(self.specs):
            if self.mode != "time_of_day":
                return Decision(t, "fallback", f"{len(failed)} of {len(self.specs)} detectors "
                                "failed: time-of-day plan", tod.plan, tod.timed,
                                tuple(self.unserved))
            return None
        new_failures = [s for s in failed_signals if s not in self.fallback_signals]
        self.fallback_signals = set(failed_signals)
        for s in new_failures:
            dets = ", ".join(f"{d} ({failed[d]})" for d in sorted(failed)
                             if self.detector.specs[d].signal == s)
            self.log.write("fallback", t, scope=f"signal {s}", reason=f"detector failure: {dets}",
                           action="time-of-day splits at this signal")
        if self.pending is not None:
            return None
        flows = self._flows()
        for s in failed_signals:  # a signal with a failed detector runs on design volumes
            for leg in ("out", "in", "west", "east"):
                flows[f"{s}/{leg}"] = math.nan
        volumes = measured_volumes(self.corridor, tod.demand, flows)
        if new_failures and self.mode != "time_of_day":
            return self._intersection(t, new_failures, volumes, "fallback",
                                      "detector failure: time-of-day splits", bounded=False)
        if t - self.last_decision_s < self.rules.cooldown_s:
            return None
        surges = set(self.detector.active(AlertKind.FLOW_SURGE)) | set(self.external_flow)
        spills = set(self.detector.active(AlertKind.SPILLBACK)) | self.external_spill
        tidal = bool(self.detector.active(AlertKind.TIDAL_SHIFT)) or \
            self.external_share is not None
        if not (surges or spills or tidal):
            return None
        cycle = self.timed.cycle_s or self.plan.cycle_s
        if surges or tidal:
            new_cycle = self.decider.area_cycle(volumes, self.cycle_range_s)
            if abs(new_cycle - cycle) >= self.rules.cycle_step_s - 1e-9:
                return self._resolve(t, "area", f"Webster cycle {new_cycle:g} s against "
                                     f"{cycle:g} s in force", volumes, new_cycle, flows)
        main = {a.split("/")[0] for a in surges if a.split("/")[1] in ("out", "in")}
        if tidal or len(main) >= self.rules.corridor_min_signals:
            why = "tidal shift" if tidal else f"main-road surges at {len(main)} signals"
            return self._resolve(t, "corridor", why, volumes, cycle, flows)
        signals = sorted({a.split("/")[0] for a in surges | spills} - set(failed_signals))
        if not signals:
            return None
        return self._intersection(t, signals, volumes, "intersection",
                                  "surge or spillback: splits from measured volumes",
                                  bounded=True)

    def _intersection(self, t: float, signals: Sequence[str],
                      volumes: Mapping[str, Mapping[str, float]], level: str, reason: str, *,
                      bounded: bool) -> Decision | None:
        cycle = self.timed.cycle_s or self.plan.cycle_s
        try:
            timed = self.decider.splits(self.timed, volumes, cycle, only=signals,
                                        bounded=bounded)
        except GreenwaveError as exc:
            self.log.write("no_decision", t, level=level, reason=str(exc))
            return None
        tod = self._current_tod()
        k = self._k(tod)
        plan = place_greens(timed, self.plan, set(signals), k, self.rules.max_split_step_s,
                            tod.demand.name)
        return Decision(t, level, reason, plan, timed, tuple(self.unserved), tuple(signals),
                        k=k)

    def _k(self, tod: TodPlan) -> float:
        """MAXBAND's k (inbound / outbound flow) from the feed or the healthy detectors,
        else the period's design; within [1/k_max, k_max]."""
        share = self.external_share
        if share is None:
            share = AlertDetector.share_in(self.detector.window.approaches(
                exclude=self.detector.failed))
        if not math.isfinite(share) or share <= 0 or share >= 1:
            share = design_share_in(tod.demand)
        return min(self.rules.k_max, max(1 / self.rules.k_max, share / (1 - share)))

    def _resolve(self, t: float, level: str, reason: str,
                 volumes: Mapping[str, Mapping[str, float]], cycle: float,
                 flows: Mapping[str, float]) -> Decision:
        tod = self._current_tod()
        k = self._k(tod)
        try:
            timed = self.decider.splits(self.timed, volumes, cycle)
            plan, ms, status = self.decider.resolve(timed, self.plan, k, tod.demand.name)
        except GreenwaveError as exc:
            self.log.write("fallback", t, scope="corridor", reason=f"solver trouble: {exc}",
                           action=f"time-of-day plan {tod.demand.name}")
            return Decision(t, "fallback", f"solver trouble at level {level}: {exc}", tod.plan,
                            tod.timed, tuple(self.unserved))
        return Decision(t, level, reason, plan, timed, tuple(self.unserved),
                        tuple(i.id for i in timed.intersections), ms, cycle, k, status)

    # ----------------------------------------------------------------------------------------

    def _apply(self, controller: Controller, d: Decision, *, adopt: bool = True,
               log: bool = True) -> None:
        try:
            programs = self.programs(d.plan, d.timed)
        except GreenwaveError as exc:  # a neighbour that does not fit (refused at the start)
            self.log.write("unsafe_plan", d.time_s, level=d.level, problems=[str(exc)])
            return
        problems = [p for prog in programs.values() for p in check_program(prog)]
        if problems:
            self.log.write("unsafe_plan", d.time_s, level=d.level, problems=problems[:10])
            return
        if programs == self.programs(self.plan, self.timed) and self.tod is not None and log:
            self.log.write("no_change", d.time_s, level=d.level, reason=d.reason)
            self.last_decision_s = d.time_s
            self.unserved = []
            return
        self._tags += 1
        tag = f"P{self._tags:03d}-{d.level}"
        controller.apply(programs, tag)
        self.plan, self.timed = d.plan, d.timed
        tod = self.tod
        self.mode = "time_of_day" if d.level in ("time_of_day",) or (
            d.level == "fallback" and tod is not None and d.plan is tod.plan) else "retimed"
        self.pending = _Pending(tag, d.time_s, d.level, d.alerts, d.solve_ms, d.signals)
        if log:
            self.log.write("decision", d.time_s, plan=tag, level=d.level, reason=d.reason,
                           alerts=list(d.alerts), signals=list(d.signals),
                           cycle_s=d.plan.cycle_s, k=None if math.isnan(d.k) else round(d.k, 4),
                           solver=d.solver_status or None,
                           solve_ms=None if math.isnan(d.solve_ms) else round(d.solve_ms, 1),
                           bands_s=[round(d.plan.bandwidth_out_s, 2),
                                    round(d.plan.bandwidth_in_s, 2)],
                           offsets_s=[round(s.offset_s, 2) for s in d.plan.signals],
                           **({"neighbours_cycle_s": {k: programs[k].cycle_s
                                                      for k in sorted(self.neighbours)}}
                              if self.neighbours else {}))
        if d.level not in ("time_of_day",):
            self.last_decision_s = d.time_s
            self.unserved = []
        if tod is not None and self.mode == "retimed":
            flows = self._flows()
            design = design_flows(self.corridor, tod.demand)
            new = {a: (f if math.isfinite(f) else design[a]) for a, f in flows.items()}
            share = AlertDetector.share_in(self.detector.window.approaches(
                exclude=self.detector.failed))
            self.detector.set_design(new, share if math.isfinite(share)
                                     else design_share_in(tod.demand))
        elif tod is not None:
            self.detector.set_design(design_flows(self.corridor, tod.demand),
                                     design_share_in(tod.demand))

    def settle(self, t: float, in_force: Mapping[str, TransitionState]) -> None:
        """Log the pending plan as in force once every signal runs it (no decisions)."""
        self._check_in_force(t, in_force)

    def _check_in_force(self, t: float, in_force: Mapping[str, TransitionState]) -> None:
        p = self.pending
        if p is None or not in_force:
            return
        states = [in_force.get(s) for s in (*(s.id for s in self.plan.signals),
                                            *self.neighbours)]
        if any(s is None or s.tag != p.tag for s in states):
            return
        done = max(s.since_s for s in states if s is not None)
        cycles = max(s.cycles for s in states if s is not None)
        self.log.write("in_force", t, plan=p.tag, level=p.level,
                       after_s=round(done - p.time_s, 3), transition_cycles=cycles)
        self.latency.append(dict(zip(LATENCY_FIELDS, (
            p.tag, p.level, ";".join(p.alerts), p.time_s, p.solve_ms,
            round(done - p.time_s, 3), cycles), strict=True)))
        self.pending = None
