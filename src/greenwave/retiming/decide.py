"""Decisions of the retiming loop: three levels, their triggers, the fallback (pure).

Levels, highest first (one decision per evaluation; none while a transition is running or
within ``cooldown_s`` of the last decision, except a fallback):

* **area** — trigger: an active flow surge or tidal shift, and the corridor's Webster cycle
  from the measured volumes (the critical intersection's, rounded to ``cycle_step_s``, within
  the time-of-day range) differs from the cycle in force by at least ``cycle_step_s``.
  Action: the new cycle, splits from the measured volumes, offsets re-solved; the harmonic
  neighbours (signals outside the corridor at 0.5, 1 or 2 × its cycle, :class:`Neighbour`)
  follow at their ratio of the new cycle (:func:`harmonic_program`, in the loop).
* **corridor** — trigger: an active tidal shift, or flow surges on the main road at
  ``corridor_min_signals`` signals or more. Action: splits from the measured volumes at the
  cycle in force, offsets and band weights re-solved: MAXBAND weighted by the measured
  inbound/outbound ratio ``k`` (within [1/``k_max``, ``k_max``]; balanced when k is within
  0.1 of 1), warm-started from the green starts in force, with work limits (branch-and-bound
  nodes, root cutting rounds: deterministic) and ``solve_budget_s`` of wall time; the
  bands are then centred in the greens (``center_bands``, as in the time-of-day plans), so
  that a platoon that runs early or late, or a queue at the green start, stays inside the
  green. On the Ganjiang day segment (``benchmarks/retiming.py``) centring cut the loop's
  total delay by a further 6 % and the southbound through trips' delay by 21 %; the
  northbound ones gained 12 % (benchmarks/README.md).
* **intersection** — trigger: a flow surge or a spillback on an approach of a signal. Action:
  that signal's splits from its measured volumes, each phase's green moved by at most
  ``max_split_step_s`` per decision and never below its minimum; its main-road green is
  then placed (moved by at most ``max_split_step_s``) where the exact bands of the corridor,
  weighted by the measured k, are largest (:func:`place_greens`): a green that only lost
  time at its end would cut the band that runs late in it.

Fallback to the time-of-day plan: when the solver fails or exceeds its budget (the whole
corridor), when more than ``max_failed_share`` of the detectors have failed (the whole
corridor), or, for one signal, when one of its detectors has failed (its splits return to the
time-of-day ones). Each is a decision of level ``fallback`` with the reason.

Measured volumes: the design movement volumes of the time-of-day period, scaled per approach by
measured / design approach flow (a failed approach keeps the design volumes).
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from greenwave.corridor import Corridor, Intersection, PeriodDemand, _round_preserving_sum
from greenwave.errors import GreenwaveError, InputError
from greenwave.plan import TimingPlan
from greenwave.retiming.transition import SignalProgram, check_program
from greenwave.splits import (
    _with_greens,
    demand_splits,
    min_greens,
    movement_volumes,
    webster_cycle,
)

LEVELS = ("intersection", "corridor", "area", "fallback", "time_of_day")


# --------------------------------------------------------------------------------------------
# plans and programs


def plan_programs(plan: TimingPlan, corridor: Corridor) -> dict[str, SignalProgram]:
    """Each signal's SUMO phases of *plan* as a :class:`SignalProgram` (greens adjustable,
    minimums from :func:`greenwave.splits.min_greens`); the phases are laid out as
    :func:`greenwave.sumo.programs.program_phases` lays them out, so the states of the program
    loaded stay valid and only durations change."""
    by_id = {i.id: i for i in corridor.intersections}
    out = {}
    for s in plan.signals:
        phases = s.phases or by_id[s.id].phases
        mins = min_greens(replace(by_id[s.id], phases=phases))
        durations: list[float] = []
        green: list[bool] = []
        minimum: list[float] = []
        for p, m in zip(phases, mins, strict=True):
            for d, is_green in ((p.green_s, True), (p.yellow_s, False), (p.all_red_s, False)):
                if d > 1e-6:  # as greenwave.sumo.programs.program_phases lays them out
                    durations.append(float(d))
                    green.append(is_green)
                    minimum.append(float(m) if is_green else float(d))
        out[s.id] = SignalProgram(s.id, s.offset_s % plan.cycle_s, tuple(durations),
                                  tuple(green), tuple(minimum))
    return out


def design_flows(corridor: Corridor, demand: PeriodDemand) -> dict[str, float]:
    """Design flow of every approach ``<signal>/<leg>`` under *demand* [veh/h]."""
    out = {}
    for i in corridor.intersections:
        cross = demand.cross_major_vph if i.major else demand.cross_minor_vph
        out[f"{i.id}/out"] = demand.main_out_vph
        out[f"{i.id}/in"] = demand.main_in_vph
        out[f"{i.id}/west"] = cross
        out[f"{i.id}/east"] = cross
    return out


def design_share_in(demand: PeriodDemand) -> float:
    total = demand.main_in_vph + demand.main_out_vph
    return demand.main_in_vph / total if total > 0 else 0.5


def measured_volumes(corridor: Corridor, demand: PeriodDemand,
                     flows_vph: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Movement volumes scaled per approach by measured / design flow (module doc)."""
    base = movement_volumes(corridor, demand)
    design = design_flows(corridor, demand)

    def ratio(approach: str) -> float:
        f, d = flows_vph.get(approach, math.nan), design[approach]
        return f / d if math.isfinite(f) and d > 0 else 1.0

    out = {}
    for i in corridor.intersections:
        v = dict(base[i.id])
        for side in ("out", "in"):
            r = ratio(f"{i.id}/{side}")
            for m in ("T", "L", "R"):
                v[f"{side}_{m}"] *= r
        r = max(ratio(f"{i.id}/west"), ratio(f"{i.id}/east"))
        for m in ("T", "L", "R"):
            v[f"cross_{m}"] *= r
        out[i.id] = v
    return out


def bounded_greens(current: Sequence[float], wanted: Sequence[float],
                   minimum: Sequence[float], step_s: float) -> list[float]:
    """*wanted* greens (same sum as *current*) with every change within ±*step_s* and no
    green below its minimum; what the bound holds back is shared among the phases that can
    still move the same way."""
    cur = list(current)
    want = [max(w, m) for w, m in zip(wanted, minimum, strict=True)]
    excess = sum(want) - sum(cur)
    # the minimums may have raised some: take it from the others above their minimum
    want = _rebalance(want, -excess, minimum, [math.inf] * len(want))
    out = [c + max(-step_s, min(step_s, w - c)) for c, w in zip(cur, want, strict=True)]
    lo = [max(m, c - step_s) for c, m in zip(cur, minimum, strict=True)]
    hi = [c + step_s for c in cur]
    return _rebalance(out, sum(cur) - sum(out), lo, hi)


def _rebalance(values: list[float], amount: float, lo: Sequence[float],
               hi: Sequence[float]) -> list[float]:
    out = list(values)
    for _ in range(len(out) + 1):
        if abs(amount) < 1e-9:
            break
        room = [(h - v) if amount > 0 else (v - lo_) for v, lo_, h in zip(out, lo, hi,
                                                                          strict=True)]
        free = [k for k, r in enumerate(room) if r > 1e-9]
        if not free:
            break
        share = amount / len(free)
        for k in free:
            move = max(-room[k], min(room[k], share)) if amount > 0 else \
                -min(room[k], -share)
            out[k] += move
            amount -= move
    total = sum(out)
    if all(float(v).is_integer() for v in values) and float(round(total, 6)).is_integer():
        return [float(v) for v in _round_preserving_sum(out, round(total))]
    return out


# --------------------------------------------------------------------------------------------
# decisions


@dataclass(frozen=True)
class Decision:
    """A new target plan, why, and what the solver did."""

    time_s: float
    level: str
    reason: str
    plan: TimingPlan
    timed: Corridor
    alerts: tuple[str, ...] = ()
    signals: tuple[str, ...] = ()  # the signals whose timing changes
    solve_ms: float = math.nan
    cycle_s: float = math.nan
    k: float = math.nan
    solver_status: str = ""


@dataclass(frozen=True)
class DecisionRules:
    cooldown_s: float = 600.0
    cycle_step_s: float = 10.0
    corridor_min_signals: int = 3
    k_max: float = 2.0
    solve_budget_s: float = 1.0  # wall-time limit of a re-solve (beyond it: fallback)
    solve_nodes: int = 200  # branch-and-bound nodes per stage: the same plan on every run
    max_split_step_s: float = 10.0
    max_failed_share: float = 0.25
    center_bands: bool = True  # re-solves centre the bands in the greens (module doc)


@dataclass
class Decider:
    """Chooses the level and computes the new plan (module doc)."""

    corridor: Corridor  # the spec: phase plans at the design cycle
    rules: DecisionRules = field(default_factory=DecisionRules)

    def area_cycle(self, volumes: Mapping[str, Mapping[str, float]],
                   cycle_range_s: tuple[float, float]) -> float:
        lo, hi = cycle_range_s
        need = lo
        for i in self.corridor.intersections:
            try:
                need = max(need, webster_cycle(i, volumes[i.id]))
            except GreenwaveError:
                need = hi  # oversaturated: the longest cycle of the range
        step = self.rules.cycle_step_s
        return float(min(hi, max(lo, step * round(need / step))))

    def splits(self, timed: Corridor, volumes: Mapping[str, Mapping[str, float]],
               cycle_s: float, only: Sequence[str] | None = None,
               bounded: bool = False) -> Corridor:
        base = self.corridor.with_cycle(cycle_s) if not math.isclose(
            cycle_s, timed.cycle_s or 0.0) else timed
        new = []
        for i in base.intersections:
            if only is not None and i.id not in only:
                new.append(i)
                continue
            wanted = demand_splits(i, volumes[i.id], cycle_s)
            if bounded:
                greens = bounded_greens([p.green_s for p in i.phases],
                                        [p.green_s for p in wanted.phases], min_greens(i),
                                        self.rules.max_split_step_s)
                wanted = _with_greens(i, greens)
            new.append(wanted)
        return replace(base, intersections=tuple(new), cycle_s=cycle_s)

    def resolve(self, timed: Corridor, hint: TimingPlan | None, k: float, period: str
                ) -> tuple[TimingPlan, float, str]:
        """Offsets re-solved (weighted MAXBAND, warm-started): plan, wall ms, status.

        The search is bounded by ``solve_nodes`` (a work limit, so the same inputs give the
        same plan) and by ``solve_budget_s`` of wall time; raises GreenwaveError on solver
        trouble, including no solution within the budget.
        """
        from greenwave.errors import SolverError
        from greenwave.optimize import optimize_corridor

        starts = None
        if hint is not None:
            scale = (timed.cycle_s or hint.cycle_s) / hint.cycle_s
            starts = [s.green_out_start_s * scale for s in hint.signals]
        t0 = time.perf_counter()
        # near k = 1 weighted MAXBAND is indifferent to the split: balance the bands then
        mode = "balanced" if abs(k - 1.0) < 0.1 else "weighted"
        plan = optimize_corridor(timed, mode=mode, k=k, period=period,
                                 time_limit_s=self.rules.solve_budget_s,
                                 center=self.rules.center_bands,
                                 hint_green_out_start_s=starts,
                                 node_limit=self.rules.solve_nodes, fast_root=True)
        ms = (time.perf_counter() - t0) * 1000.0
        if ms > 1000.0 * self.rules.solve_budget_s + 500.0:
            raise SolverError(f"re-solve took {ms:.0f} ms, over the budget of "
                              f"{self.rules.solve_budget_s * 1000:.0f} ms")
        return plan, ms, str(plan.solver.get("status", ""))


def keep_offsets(timed: Corridor, plan: TimingPlan, period: str) -> TimingPlan:
    """*plan*'s outbound green starts on the retimed corridor *timed* (same cycle)."""
    return plan.at_green_starts(timed, [s.green_out_start_s for s in plan.signals],
                                period=period, solver=dict(plan.solver))


def place_greens(timed: Corridor, plan: TimingPlan, signals: Collection[str], k: float,
                 span_s: float, period: str) -> TimingPlan:
    """The plan of *timed* (re-split at *signals*) on *plan*'s outbound green starts, except
    that each re-split signal's start is moved by whole seconds within ±*span_s* to where
    the exact two-way band b + k·b̄ of the whole corridor is largest (ties: the smaller move).
    A green that shrinks at its end would cut a band that runs late in it; placed this way
    the new green keeps as much of both bands of the plan in force as it can. One pass over
    the signals in corridor order; the other signals keep their green starts.

    >>> from greenwave.corridor import Intersection
    >>> from greenwave.plan import plan_from_offsets
    >>> a = Intersection(id="A", position_m=0.0, green_out_s=50.0, green_in_s=50.0)
    >>> b = Intersection(id="B", position_m=500.0, green_out_s=60.0, green_in_s=60.0)
    >>> c = Corridor(name="x", speed_kmh=36.0, cycle_s=100.0, intersections=(a, b))
    >>> before = plan_from_offsets(c, [0.0, 40.0])  # 50 s each way; B green 40-100 s
    >>> before.bandwidth_out_s, before.bandwidth_in_s
    (50.0, 50.0)
    >>> shorter = replace(c, intersections=(a, replace(b, green_out_s=50.0, green_in_s=50.0)))
    >>> kept = keep_offsets(shorter, before, "")  # B's green 40-90 s: 40 s each way
    >>> placed = place_greens(shorter, before, {"B"}, 1.0, 10.0, "")  # B's green 50-100 s
    >>> kept.bandwidth_out_s + kept.bandwidth_in_s, placed.signals[1].green_out_start_s
    (80.0, 50.0)
    >>> placed.bandwidth_out_s + placed.bandwidth_in_s
    100.0
    """
    cycle = timed.cycle_s or plan.cycle_s
    starts = [s.green_out_start_s for s in plan.signals]

    def build(st: Sequence[float]) -> TimingPlan:
        return plan.at_green_starts(timed, st, period=period, solver=dict(plan.solver))

    span = max(0, math.floor(span_s + 1e-9))
    best = build(starts)
    for idx, i in enumerate(timed.intersections):
        if i.id not in signals or span == 0:
            continue
        base = starts[idx]
        ranked = []
        for d in range(-span, span + 1):
            trial = list(starts)
            trial[idx] = (base + d) % cycle
            p = build(trial)
            ranked.append((-round(p.bandwidth_out_s + k * p.bandwidth_in_s, 6), abs(d), d, p))
        _, _, d, best = min(ranked, key=lambda r: r[:3])
        starts[idx] = (base + d) % cycle
    return best


HARMONIC_RATIOS = (0.5, 1.0, 2.0)


@dataclass(frozen=True)
class Neighbour:
    """A signal outside the corridor whose cycle is harmonic to the corridor's: ``ratio``
    (0.5, 1 or 2) × the corridor's cycle. ``program`` is its program while the corridor runs
    ``corridor_cycle_s``; :func:`harmonic_program` gives it for any other corridor cycle."""

    program: SignalProgram
    ratio: float
    corridor_cycle_s: float

    def __post_init__(self) -> None:
        if not isinstance(self.program, SignalProgram):
            raise InputError(f"a neighbour's program must be a SignalProgram "
                             f"(greenwave.retiming.transition), found "
                             f"{type(self.program).__name__}", field="program")
        name = self.program.tls_id
        problems = check_program(self.program)
        if problems:
            raise InputError(f"neighbour {name}: {problems[0]}", field="program")
        ratio = self.ratio
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or \
                not any(math.isclose(ratio, r) for r in HARMONIC_RATIOS):
            raise InputError(f"neighbour {name}: ratio {ratio!r} is not harmonic; expected "
                             "0.5, 1 or 2", field="ratio", value=ratio)
        c = self.corridor_cycle_s
        if isinstance(c, bool) or not isinstance(c, int | float) or not (math.isfinite(c)
                                                                         and c > 0):
            raise InputError(f"neighbour {name}: corridor_cycle_s must be a positive number "
                             f"of seconds, found {c!r}", field="corridor_cycle_s", value=c)
        own = self.ratio * self.corridor_cycle_s
        if not math.isclose(self.program.cycle_s, own, abs_tol=1e-6):
            raise InputError(f"neighbour {self.program.tls_id}: its program runs "
                             f"{self.program.cycle_s:g} s, not {self.ratio:g} x the corridor "
                             f"cycle {self.corridor_cycle_s:g} s", field="program",
                             value=self.program.cycle_s)


def harmonic_program(nb: Neighbour, corridor_cycle_s: float) -> SignalProgram:
    """*nb*'s program when the corridor runs *corridor_cycle_s* [s]: cycle ``ratio`` × that,
    the greens scaled in proportion, the yellow and all-red phases unchanged, the offset
    scaled with the cycle (phase 0 stays at the same fraction of the cycle); whole seconds
    stay whole seconds (greens by largest remainders, the offset rounded). Raises
    GreenwaveError when a green would fall below its minimum.

    >>> p = SignalProgram("N", 12.0, (30.0, 3.0, 2.0, 20.0, 3.0, 2.0),
    ...                   (True, False, False, True, False, False), (10.0, 3, 2, 10.0, 3, 2))
    >>> q = harmonic_program(Neighbour(p, 1.0, 60.0), 50.0)
    >>> q.durations_s, q.offset_s
    ((24.0, 3.0, 2.0, 16.0, 3.0, 2.0), 10.0)
    """
    p = nb.program
    if not (math.isfinite(corridor_cycle_s) and corridor_cycle_s > 0):
        raise InputError(f"neighbour {p.tls_id}: corridor cycle {corridor_cycle_s!r} is not a "
                         "positive number of seconds", field="cycle_s", value=corridor_cycle_s)
    target = nb.ratio * corridor_cycle_s
    fixed = sum(d for d, g in zip(p.durations_s, p.green, strict=True) if not g)
    greens = [d for d, g in zip(p.durations_s, p.green, strict=True) if g]
    room = target - fixed
    if not greens or room <= 0:
        raise GreenwaveError(f"neighbour {p.tls_id}: a cycle of {target:g} s leaves no green "
                             f"after its {fixed:g} s of yellow and all-red")
    scaled = [g * room / sum(greens) for g in greens]
    whole = all(float(d).is_integer() for d in (*p.durations_s, p.offset_s)) and \
        float(room).is_integer()
    if whole:  # whole seconds stay whole: a signal stepped by 1 s can only reach those
        scaled = [float(v) for v in _round_preserving_sum(scaled, round(room))]
    it = iter(scaled)
    durations = tuple(next(it) if g else float(d)
                      for d, g in zip(p.durations_s, p.green, strict=True))
    low = [k for k, (d, m) in enumerate(zip(durations, p.min_s, strict=True)) if d < m - 1e-6]
    if low:
        k = low[0]
        raise GreenwaveError(f"neighbour {p.tls_id}: at {target:g} s (x{nb.ratio:g} the "
                             f"corridor cycle {corridor_cycle_s:g} s) phase {k} gets "
                             f"{durations[k]:g} s, below its minimum {p.min_s[k]:g} s")
    offset = p.offset_s * target / p.cycle_s
    return replace(p, offset_s=float(round(offset) % round(target)) if whole else
                   offset % target, durations_s=durations)


def with_intersection(timed: Corridor, new: Intersection) -> Corridor:
    return replace(timed, intersections=tuple(new if i.id == new.id else i
                                              for i in timed.intersections))
