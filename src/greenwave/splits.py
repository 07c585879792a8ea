"""Splits from demand: Webster's cycle and the critical-lane split of each phase plan.

The method (Webster 1958; HCM 6th ed., ch. 19, "critical movement analysis")
-----------------------------------------------------------------------------
1. *Volumes*: :func:`movement_volumes` turns a period's demand into hourly volumes per
   movement, by the demand rule of :mod:`greenwave.sumo.demand` (the rule the simulation
   drives): the main-street section flow ``F_d`` stays the same all along the corridor; at
   signal ``i`` ``F_d·l_i`` turns left, ``F_d·r_i`` right and the rest goes straight on; a
   cross approach carries ``cross_major_vph`` (``cross_minor_vph`` at a minor crossing): the
   turn-ins it feeds to the main street plus a through flow, the remainder (never below 0).
2. *Flow ratios* ``y = v / (s · lanes)`` per lane group, with the saturation flows below
   (:func:`flow_ratios`). Lane groups follow the network builder: main-street right turns share
   the kerb lane with through traffic, left turns have one bay lane (``left_turn_bay``) or share
   the through lanes; all cross-street movements share the ``cross_lanes``.
3. *Critical flow ratio of a phase* (:func:`critical_flow_ratios`): the largest ``y`` of the
   movements that phase alone serves (protected or permitted). A movement served by several
   consecutive phases is not critical for any of them alone: it needs the *sum* of their
   ratios; when the sum falls short, the deficit is added to the phase of that run with the
   largest ratio of its own (the first one on ties).
4. *Lost time*: yellow + all-red of every phase (HCM defaults: 2 s start-up lost time and 2 s
   of yellow used as effective green cancel), so effective green = displayed green and
   ``C − L`` is the sum of the displayed greens.
5. *Minimum greens* are hard constraints (:func:`min_greens`): the phase's ``min_green_s``
   and, for every phase serving ``cross_T`` (whose pedestrians cross the main street), the
   pedestrian minimum ``7 s + crossing_length_m / 1.2 m/s − (yellow + all-red)``.
6. *Cycle*: Webster's optimum ``C0 = (1.5 L + 5) / (1 − Y)`` (:func:`webster_cycle`).
7. *Splits* (:func:`demand_splits`), by one of two policies:

   ``"webster"``
       ``C − L`` shared in proportion to the critical ratios (equal degree of saturation),
       then phases below their minimum are raised to it, taking the difference from the
       others in proportion to their surplus over their own minimum.
   ``"coordinated"`` (default; what a coordinated arterial runs)
       every phase except the slack phase(s) gets the green that serves its demand at the
       target degree of saturation, ``g = C·y / target_vc``, never below its minimum; all the
       remaining green goes to the *slack phase(s)*: the phases serving the most of
       ``out_T``/``in_T`` (shared in proportion to their ratios). When the cycle is too short
       for that, every phase runs at one common degree of saturation above the target
       (``g = max(min, C·y/x)``, Webster's principle).

Both policies give greens that are piecewise affine in the cycle; :func:`green_model` returns
the pieces for the band optimizer.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from greenwave.corridor import (
    MOVEMENTS,
    Corridor,
    Intersection,
    PeriodDemand,
    Phase,
    _round_preserving_sum,
    _windows_from_phases,
    through_window,
)
from greenwave.errors import InfeasibleError, InputError

__all__ = [
    "POLICIES",
    "AffinePiece",
    "GreenModel",
    "corridor_splits",
    "corridor_webster_cycle",
    "critical_flow_ratios",
    "demand_splits",
    "flow_ratios",
    "green_model",
    "min_cycle_s",
    "min_greens",
    "movement_volumes",
    "pedestrian_min_green_s",
    "permitted_left_saturation_vph",
    "webster_cycle",
    "webster_optimum_cycle_s",
]

#: HCM 6th ed. (ch. 19) base saturation flow [pc/h/ln], metropolitan area.
BASE_SATURATION_PCPHPL = 1900.0
#: Prevailing through saturation flow [veh/h/ln]: the base times the heavy-vehicle factor
#: (5 % heavy vehicles at 2 passenger-car equivalents: 1 / 1.05 = 0.952), rounded: 1,900 ×
#: 0.952 ≈ 1,800. Lane width, grade, parking and lane-utilization factors are taken as 1.
SATURATION_VPHPL = 1800.0
#: Protected left turn from its own lane: HCM left-turn factor 1 / 1.05 ≈ 0.95.
PROTECTED_LEFT_FACTOR = 0.95
#: Through-car equivalent of a right turn sharing the kerb lane (HCM: E_R = 1.18).
RIGHT_TURN_EQUIVALENT = 1.18
#: Gap acceptance of permitted left turns (HCM 6th ed.): critical and follow-up headway [s].
CRITICAL_HEADWAY_S = 4.5
FOLLOW_UP_HEADWAY_S = 2.5
#: Pedestrian minimum green: initial walk [s] and walking speed [m/s] (design brief; HCM).
PEDESTRIAN_WALK_S = 7.0
PEDESTRIAN_SPEED_MPS = 1.2
#: Default target degree of saturation of the non-coordinated phases.
TARGET_VC = 0.9

_TOL = 1e-9


# --------------------------------------------------------------------------------------------
# volumes


def movement_volumes(
    corridor: Corridor, period: str | PeriodDemand
) -> dict[str, dict[str, float]]:
    """Hourly volume of every movement on one approach, per intersection [veh/h].

    Keys are intersection ids, then the movement names of :data:`greenwave.corridor.MOVEMENTS`.
    ``out_*``/``in_*`` are the main-street approaches; ``cross_*`` is the critical cross
    approach: of the two, the one with the larger volume, then the larger left turn (the left
    turn is the costlier movement), then the west one. The rule is the one
    :mod:`greenwave.sumo.demand` simulates (see this module's docstring).
    """
    demand = period if isinstance(period, PeriodDemand) else corridor.period(period)
    return {i.id: _volumes(i, demand) for i in corridor.intersections}


def _turn_shares(i: Intersection, demand: PeriodDemand) -> tuple[float, float]:
    # Same rule as greenwave.sumo.demand.turn_shares (the core must not import the SUMO
    # package): keep the two in step.
    f = 1.0 if i.major else demand.minor_turn_factor
    return demand.left_share * f, demand.right_share * f


def _volumes(i: Intersection, demand: PeriodDemand) -> dict[str, float]:
    left, right = _turn_shares(i, demand)
    v: dict[str, float] = {}
    for side, flow in (("out", demand.main_out_vph), ("in", demand.main_in_vph)):
        v[f"{side}_T"] = flow * (1.0 - left - right)
        v[f"{side}_L"] = flow * left
        v[f"{side}_R"] = flow * right
    approach = demand.cross_major_vph if i.major else demand.cross_minor_vph
    # Turn-ins (right, left) each cross approach feeds (sumo.demand._cross_flows): west feeds
    # outbound by a right turn and inbound by a left turn, east the other way round.
    turn_ins = (
        (demand.main_out_vph * right, demand.main_in_vph * left),  # west
        (demand.main_in_vph * right, demand.main_out_vph * left),  # east
    )
    candidates = []
    for rank, (r, lt) in enumerate(turn_ins):
        t = max(0.0, approach - r - lt)
        candidates.append((t + r + lt, lt, -rank, t, r))
    _, lt, _, t, r = max(candidates)
    v["cross_T"], v["cross_L"], v["cross_R"] = t, lt, r
    return {m: v[m] for m in MOVEMENTS}


# --------------------------------------------------------------------------------------------
# flow ratios


def permitted_left_saturation_vph(opposing_vph: float) -> float:
    """Saturation flow of a permitted left turn from its own lane [veh/h].

    HCM 6th ed. gap acceptance: ``s = v_o·exp(−v_o·t_c/3600) / (1 − exp(−v_o·t_f/3600))``
    with critical headway ``t_c`` = 4.5 s and follow-up headway ``t_f`` = 2.5 s, *v_o* the
    opposing through + right-turn flow [veh/h]. Applied over the whole green (HCM applies it
    once the opposing queue has cleared and adds sneakers at the end; the two roughly offset
    at the flows of an arterial). Without opposing flow it is 3600 / t_f = 1,440 veh/h.

    >>> round(permitted_left_saturation_vph(0.0))
    1440
    """
    if opposing_vph < _TOL:
        return 3600.0 / FOLLOW_UP_HEADWAY_S
    vo = opposing_vph / 3600.0
    return opposing_vph * math.exp(-vo * CRITICAL_HEADWAY_S) / (
        1.0 - math.exp(-vo * FOLLOW_UP_HEADWAY_S)
    )


def flow_ratios(intersection: Intersection, volumes: Mapping[str, float]) -> dict[str, float]:
    """Flow ratio ``y = v / (s·lanes)`` of every movement's lane group [-].

    Lane groups and saturation flows (per lane, ``s`` = :data:`SATURATION_VPHPL`):

    * main-street through + right (the right turn shares the kerb lane, ×1.18 through-car
      equivalents) on ``through_lanes``; ``*_R`` has its group's ratio;
    * main-street left with a bay: one lane at ``0.95·s`` when some phase protects it, else at
      :func:`permitted_left_saturation_vph` against the opposing through + right flow;
      without a bay the left turns join the through lanes (``s / s_left`` equivalents each)
      and ``*_L`` has the group's ratio;
    * cross street: through, right and left share the ``cross_lanes`` (left at the protected
      or permitted equivalent, the opposing approach taken to carry the same through and right
      flow as the critical one); the three movements have the group's ratio.
    """
    v = _checked_volumes(intersection, volumes)
    s = SATURATION_VPHPL
    protected = set().union(*(p.protected for p in intersection.phases))

    def left_saturation(movement: str, opposing_vph: float) -> float:
        if movement in protected:
            return PROTECTED_LEFT_FACTOR * s
        return permitted_left_saturation_vph(opposing_vph)

    y: dict[str, float] = {}
    for side, other in (("out", "in"), ("in", "out")):
        left = f"{side}_L"
        s_left = left_saturation(left, v[f"{other}_T"] + v[f"{other}_R"])
        group = v[f"{side}_T"] + RIGHT_TURN_EQUIVALENT * v[f"{side}_R"]
        if intersection.left_turn_bay:
            y[left] = v[left] / s_left
        else:
            group += v[left] * s / s_left
        y[f"{side}_T"] = y[f"{side}_R"] = group / (s * intersection.through_lanes)
        if not intersection.left_turn_bay:
            y[left] = y[f"{side}_T"]
    s_left = left_saturation("cross_L", v["cross_T"] + v["cross_R"])
    group = (v["cross_T"] + RIGHT_TURN_EQUIVALENT * v["cross_R"]
             + v["cross_L"] * s / s_left)
    y["cross_T"] = y["cross_L"] = y["cross_R"] = group / (s * intersection.cross_lanes)
    return {m: y[m] for m in MOVEMENTS}


def critical_flow_ratios(
    intersection: Intersection, volumes: Mapping[str, float]
) -> tuple[float, ...]:
    """Critical flow ratio of every phase [-], in phase order (sum: ``Y``).

    A phase's ratio is the largest of the movements it alone serves. A movement served by a
    run of several phases needs their ratios to add up to its own; a deficit goes to the
    phase of the run with the largest ratio (the first on ties).
    """
    phases = _phases_of(intersection)
    y = flow_ratios(intersection, volumes)
    runs = {m: [k for k, p in enumerate(phases) if p.serves(m)] for m in MOVEMENTS}
    crit = [max((y[m] for m in MOVEMENTS if runs[m] == [k]), default=0.0)
            for k in range(len(phases))]
    for m in MOVEMENTS:
        run = runs[m]
        if len(run) < 2:
            continue
        deficit = y[m] - sum(crit[k] for k in run)
        if deficit > _TOL:
            k = max(run, key=lambda j: (crit[j], -j))
            crit[k] += deficit
    return tuple(crit)


# --------------------------------------------------------------------------------------------
# minimum greens and cycles


def pedestrian_min_green_s(crossing_length_m: float, intergreen_s: float) -> float:
    """Pedestrian minimum green ``7 s + crossing / 1.2 m/s − intergreen`` [s].

    Pedestrians may still be crossing during yellow and all-red (*intergreen_s*), which is
    why it is subtracted (design brief; HCM 6th ed. ch. 19 pedestrian service time).

    >>> pedestrian_min_green_s(30.0, 5.0)
    27.0
    """
    return PEDESTRIAN_WALK_S + crossing_length_m / PEDESTRIAN_SPEED_MPS - intergreen_s


def min_greens(intersection: Intersection) -> tuple[float, ...]:
    """Minimum green of every phase [s]: its ``min_green_s``, and for phases serving
    ``cross_T`` at least the pedestrian minimum for crossing the main street."""
    return tuple(_min_green(intersection, p)[0] for p in _phases_of(intersection))


def min_cycle_s(intersection: Intersection) -> float:
    """Smallest cycle the minimum greens and the intergreens allow [s]."""
    return _lost_s(_phases_of(intersection)) + sum(min_greens(intersection))


def webster_optimum_cycle_s(lost_time_s: float, flow_ratio_sum: float) -> float:
    """Webster's optimum cycle ``C0 = (1.5 L + 5) / (1 − Y)`` [s] (Webster 1958).

    >>> webster_optimum_cycle_s(10.0, 0.5)
    40.0
    """
    if flow_ratio_sum >= 1.0:
        raise InfeasibleError(
            f"critical flow ratios sum to Y = {flow_ratio_sum:.3f}, not below 1 "
            "(oversaturated: no cycle serves the demand)"
        )
    return (1.5 * lost_time_s + 5.0) / (1.0 - flow_ratio_sum)


def webster_cycle(
    intersection: Intersection,
    volumes: Mapping[str, float],
    *,
    cycle_range_s: tuple[float, float] | None = None,
) -> float:
    """Webster's optimum cycle of one intersection [s], unrounded.

    ``C0 = (1.5 L + 5) / (1 − Y)`` with ``L`` the sum of yellows and all-reds and ``Y`` the sum
    of :func:`critical_flow_ratios`; raised to :func:`min_cycle_s` (a shorter cycle cannot
    hold the minimum greens), then clamped to *cycle_range_s*. Raises InfeasibleError when
    ``Y >= 1`` or when the minimum greens need more than the top of the range.
    """
    phases = _phases_of(intersection)
    crit = critical_flow_ratios(intersection, volumes)
    total = sum(crit)
    if total >= 1.0:
        detail = ", ".join(f"{p.name} {y:.3f}" for p, y in zip(phases, crit, strict=True))
        raise InfeasibleError(
            f"intersection {intersection.id}: critical flow ratios sum to Y = {total:.3f}, "
            f"not below 1 ({detail}): oversaturated, no cycle serves the demand"
        )
    cycle = max(webster_optimum_cycle_s(_lost_s(phases), total), min_cycle_s(intersection))
    if cycle_range_s is None:
        return cycle
    lo, hi = _checked_range(cycle_range_s)
    _check_minimums_fit(intersection, hi)
    return min(max(cycle, lo), hi)


def corridor_webster_cycle(
    corridor: Corridor,
    period: str | PeriodDemand,
    *,
    cycle_range_s: tuple[float, float] | None = None,
) -> float:
    """The common cycle of the corridor [s]: the largest intersection :func:`webster_cycle`
    (the critical intersection sets it), clamped to *cycle_range_s* (default: the corridor's
    ``cycle_range_s``)."""
    volumes = movement_volumes(corridor, period)
    cycle = max(webster_cycle(i, volumes[i.id]) for i in corridor.intersections)
    bounds = cycle_range_s if cycle_range_s is not None else corridor.cycle_range_s
    if bounds is None:
        return cycle
    lo, hi = _checked_range(bounds)
    for i in corridor.intersections:
        _check_minimums_fit(i, hi)
    return min(max(cycle, lo), hi)


# --------------------------------------------------------------------------------------------
# splits


@dataclass(frozen=True)
class _Plan:
    """What a split policy needs to know of one intersection."""

    names: tuple[str, ...]
    ratios: tuple[float, ...]  # critical flow ratio per phase
    mins: tuple[float, ...]  # minimum green per phase [s]
    lost_s: float  # sum of yellows and all-reds [s]
    slack_phases: tuple[int, ...]  # coordinated phases: receive the slack


#: A split policy: (plan, cycle [s], target v/c) -> (greens [s], regime). The regime names
#: the affine piece the greens lie on (which phases sit at their minimum, and so on).
Policy = Callable[[_Plan, float, float], tuple[list[float], str]]


def _webster_policy(plan: _Plan, cycle_s: float, target_vc: float) -> tuple[list[float], str]:
    green = cycle_s - plan.lost_s
    weights = list(plan.ratios) if sum(plan.ratios) > 0 else list(plan.mins)
    if sum(weights) <= 0:
        weights = [1.0] * len(weights)
    greens = [green * w / sum(weights) for w in weights]
    mins = plan.mins
    raised: list[int] = []
    # Raise to the minimums; take what that needs from the others by their surplus.
    for _ in range(len(greens)):
        short = [k for k, g in enumerate(greens) if g < mins[k] - _TOL]
        if not short:
            break
        debt = sum(mins[k] - greens[k] for k in short)
        for k in short:
            greens[k] = mins[k]
        raised += short
        free = [k for k in range(len(greens)) if greens[k] > mins[k] + _TOL]
        pool = sum(greens[k] - mins[k] for k in free)
        if pool <= 0:  # only when the minimums do not fit, which callers check first
            break
        for k in free:
            greens[k] -= debt * (greens[k] - mins[k]) / pool
    return greens, f"webster; raised to minimum: {_names(plan, raised)}"


def _coordinated_policy(
    plan: _Plan, cycle_s: float, target_vc: float
) -> tuple[list[float], str]:
    per_ratio = cycle_s / target_vc  # demand green per unit flow ratio [s]
    demand = [max(m, per_ratio * y) for m, y in zip(plan.mins, plan.ratios, strict=True)]
    slack = cycle_s - plan.lost_s - sum(demand)
    at_min = [k for k in range(len(demand)) if per_ratio * plan.ratios[k] <= plan.mins[k]]
    if slack >= -_TOL:
        ratios = [plan.ratios[k] for k in plan.slack_phases]
        weights = ratios if sum(ratios) > 0 else [1.0] * len(ratios)
        total = sum(weights)
        for k, w in zip(plan.slack_phases, weights, strict=True):
            demand[k] += slack * (w / total)  # the share first: exact for subnormal ratios
        return demand, (f"demand greens at v/c {target_vc:g}; demand below the minimum: "
                        f"{_names(plan, at_min)}; slack to {_names(plan, plan.slack_phases)}")
    greens, clamped = _equal_saturation(plan, cycle_s)
    return greens, (f"cycle too short for v/c {target_vc:g}: equal degree of saturation; "
                    f"at minimum: {_names(plan, clamped)}")


def _equal_saturation(plan: _Plan, cycle_s: float) -> tuple[list[float], list[int]]:
    """Greens ``max(min, C·y/x)`` at the one ``x`` that fills the cycle (water-filling)."""
    n = len(plan.ratios)
    clamped: list[int] = []
    greens = list(plan.mins)
    for _ in range(n):
        free = [k for k in range(n) if k not in clamped]
        ratio_sum = sum(plan.ratios[k] for k in free)
        if ratio_sum <= 0:
            break
        spare = cycle_s - plan.lost_s - sum(plan.mins[k] for k in clamped)
        for k in free:
            greens[k] = spare * plan.ratios[k] / ratio_sum
        short = [k for k in free if greens[k] < plan.mins[k] - _TOL]
        if not short:
            break
        clamped += short
        for k in short:
            greens[k] = plan.mins[k]
    return greens, sorted(clamped)


#: The split policies by name (see the module docstring).
POLICIES: Mapping[str, Policy] = {
    "coordinated": _coordinated_policy,
    "webster": _webster_policy,
}


def phase_greens(
    ratios: Sequence[float],
    minimums_s: Sequence[float],
    lost_s: float,
    cycle_s: float,
    *,
    slack_phases: Sequence[int] = (),
    policy: str = "coordinated",
    target_vc: float = TARGET_VC,
) -> list[float]:
    """Greens [s] of phases given their critical flow ratios and minimum greens, by *policy*
    (module docstring); for any phase plan, e.g. an imported SUMO program's green phases.

    *lost_s* is the cycle's yellow and all-red time; *slack_phases* (indices) receive the slack
    under ``"coordinated"`` (default: every phase). The greens add up to ``cycle_s − lost_s``.

    >>> phase_greens([0.3, 0.1, 0.0], [5, 5, 5], 12, 72, slack_phases=[0])
    [47.0, 8.0, 5.0]
    """
    _check_target(target_vc)
    _check_cycle(cycle_s)
    n = len(ratios)
    if n == 0 or len(minimums_s) != n:
        raise InputError(f"one flow ratio and one minimum per phase are needed, found {n} and "
                         f"{len(minimums_s)}", field="ratios", value=n)
    if any(not 0 <= k < n for k in slack_phases):
        raise InputError(f"slack phases must lie in 0..{n - 1}, found {list(slack_phases)}",
                         field="slack_phases", value=list(slack_phases))
    need = lost_s + sum(minimums_s)
    if need > cycle_s + _TOL:
        raise InfeasibleError(f"minimum greens and intergreens need {need:g} s, more than the "
                              f"cycle {cycle_s:g} s")
    plan = _Plan(names=tuple(f"phase {k}" for k in range(n)), ratios=tuple(ratios),
                 mins=tuple(float(m) for m in minimums_s), lost_s=lost_s,
                 slack_phases=tuple(sorted(set(slack_phases))) or tuple(range(n)))
    greens, _ = _policy(policy)(plan, cycle_s, target_vc)
    return [float(g) for g in greens]


def demand_splits(
    intersection: Intersection,
    volumes: Mapping[str, float],
    cycle_s: float,
    *,
    policy: str = "coordinated",
    target_vc: float = TARGET_VC,
    whole_seconds: bool = True,
) -> Intersection:
    """*intersection* with phase greens split from its demand at *cycle_s*.

    *volumes* maps movement names to hourly volumes (one entry of :func:`movement_volumes`;
    missing movements count as 0). Yellow and all-red are kept; the greens follow *policy*
    (``"coordinated"`` or ``"webster"``, see the module docstring) and respect
    :func:`min_greens`; the phase durations add up to *cycle_s* exactly. When the green time
    is a whole number of seconds and *whole_seconds* is set, the greens are whole seconds too
    (minimums rounded up to whole seconds), as :meth:`Corridor.with_cycle` does.
    The through windows are recomputed as :meth:`Corridor.with_cycle` does. Raises
    InfeasibleError when the minimum greens and intergreens do not fit the cycle.
    """
    allocate = _policy(policy)
    _check_target(target_vc)
    _check_cycle(cycle_s)
    plan = _plan(intersection, volumes)
    _check_minimums_fit(intersection, cycle_s)
    green_total = cycle_s - plan.lost_s
    whole = whole_seconds and math.isclose(green_total, round(green_total), abs_tol=_TOL)
    if whole:
        # whole-second greens: a whole green at or above a minimum is at or above its ceiling
        ceiled = tuple(float(math.ceil(m - _TOL)) for m in plan.mins)
        whole = sum(ceiled) <= round(green_total)
        if whole:
            plan = replace(plan, mins=ceiled)
    greens, _ = allocate(plan, cycle_s, target_vc)
    if whole:
        greens = [float(g) for g in
                  _round_preserving_sum([round(g, 9) for g in greens], round(green_total))]
    return _with_greens(intersection, greens)


def corridor_splits(
    corridor: Corridor,
    period: str | PeriodDemand,
    cycle_s: float,
    *,
    policy: str = "coordinated",
    target_vc: float = TARGET_VC,
    whole_seconds: bool = True,
) -> Corridor:
    """*corridor* at *cycle_s* with every intersection's greens split from the demand of
    *period* (:func:`demand_splits`)."""
    if not corridor.has_phases:
        raise InputError("splits from demand need a phase plan at every intersection "
                         "(the TOML form)", file=corridor.source or None, field="phases")
    volumes = movement_volumes(corridor, period)
    new = tuple(
        demand_splits(i, volumes[i.id], cycle_s, policy=policy, target_vc=target_vc,
                      whole_seconds=whole_seconds)
        for i in corridor.intersections
    )
    return replace(corridor, intersections=new, cycle_s=cycle_s)


# --------------------------------------------------------------------------------------------
# affine model of the greens, for the optimizer


@dataclass(frozen=True)
class AffinePiece:
    """Greens on one cycle interval: ``green(C) = a + b·C`` for ``C`` in [lo, hi].

    ``coefficients`` maps ``"green_out_s"``, ``"green_in_s"`` (the through windows) and every
    phase name to ``(a [s], b [-])``. ``exact`` is False when the greens are not affine on the
    piece (the Webster policy with one phase raised to its minimum and two or more others
    giving it time); ``(a, b)`` is then the chord between the ends.
    """

    cycle_lo_s: float
    cycle_hi_s: float
    coefficients: Mapping[str, tuple[float, float]]
    exact: bool
    regime: str


@dataclass(frozen=True)
class GreenModel:
    """The greens of one intersection as piecewise-affine functions of the cycle."""

    intersection: str
    policy: str
    pieces: tuple[AffinePiece, ...]

    @property
    def affine(self) -> bool:
        """True when one affine function holds over the whole cycle range."""
        return len(self.pieces) == 1 and self.pieces[0].exact

    @property
    def breakpoints_s(self) -> tuple[float, ...]:
        """Cycles [s] inside the range where the policy switches from one piece to the next."""
        return tuple(p.cycle_lo_s for p in self.pieces[1:])

    def coefficients(self) -> dict[str, tuple[float, float]]:
        """``(a, b)`` per key when :attr:`affine`; raises ValueError naming the breakpoints."""
        if not self.affine:
            where = ", ".join(f"{c:.3f}" for c in self.breakpoints_s) or "none"
            raise ValueError(f"intersection {self.intersection}: the {self.policy} greens are "
                             f"not affine over the cycle range (breakpoints at {where} s)")
        return dict(self.pieces[0].coefficients)

    def green_s(self, key: str, cycle_s: float) -> float:
        """The green *key* at *cycle_s* [s], from the piece holding *cycle_s*."""
        piece = next((p for p in self.pieces if cycle_s <= p.cycle_hi_s + _TOL),
                     self.pieces[-1])
        a, b = piece.coefficients[key]
        return a + b * cycle_s


def green_model(
    intersection: Intersection,
    volumes: Mapping[str, float],
    cycle_range_s: tuple[float, float],
    *,
    policy: str = "coordinated",
    target_vc: float = TARGET_VC,
) -> GreenModel:
    """Greens of *intersection* as piecewise-affine functions of the cycle over the range.

    The greens are the unrounded ones :func:`demand_splits` starts from. Each piece is one
    regime of the policy (which phases sit at their minimum; for ``"coordinated"`` also
    whether the cycle meets the target degree of saturation); breakpoints are located to
    1e-9 s. The coordinated policy is affine on every piece; use
    :meth:`GreenModel.coefficients` when :attr:`GreenModel.affine`. Raises InfeasibleError
    when the minimum greens do not fit the bottom of the range.
    """
    allocate = _policy(policy)
    _check_target(target_vc)
    lo, hi = _checked_range(cycle_range_s)
    plan = _plan(intersection, volumes)
    _check_minimums_fit(intersection, lo)

    def regime(c: float) -> str:
        return allocate(plan, c, target_vc)[1]

    def values(c: float) -> dict[str, float]:
        greens = allocate(plan, c, target_vc)[0]
        return _keyed_greens(intersection, greens)

    steps = max(1, math.ceil((hi - lo) / 0.5))
    grid = [lo + (hi - lo) * k / steps for k in range(steps + 1)]
    bounds = [lo]
    for a, b in itertools.pairwise(grid):
        if regime(a) != regime(b):
            while b - a > _TOL:
                mid = (a + b) / 2
                if regime(mid) == regime(a):
                    a = mid
                else:
                    b = mid
            bounds.append((a + b) / 2)
    bounds.append(hi)
    pieces = []
    for a, b in itertools.pairwise(bounds):
        va, vb = values(a), values(b)
        coefs = {}
        for key in va:
            slope = (vb[key] - va[key]) / (b - a) if b > a else 0.0
            coefs[key] = (va[key] - slope * a + 0.0, slope + 0.0)  # + 0.0: no -0.0
        exact = all(
            math.isclose(coefs[key][0] + coefs[key][1] * c, g, abs_tol=1e-6)
            for c in (a + (b - a) * f for f in (0.25, 0.5, 0.75))
            for key, g in values(c).items()
        )
        pieces.append(AffinePiece(a, b, coefs, exact, regime((a + b) / 2)))
    return GreenModel(intersection.id, policy, tuple(pieces))


def _keyed_greens(intersection: Intersection, greens: Sequence[float]) -> dict[str, float]:
    phases = [replace(p, green_s=g) for p, g in zip(intersection.phases, greens, strict=True)]
    out = {"green_out_s": through_window(phases, "out_T")[1],
           "green_in_s": through_window(phases, "in_T")[1]}
    for name, p in zip(_phase_keys(intersection.phases), phases, strict=True):
        out[name] = p.green_s
    return out


def _phase_keys(phases: Sequence[Phase]) -> list[str]:
    names = [p.name for p in phases]
    return [n if names.count(n) == 1 else f"{n}#{k}" for k, n in enumerate(names)]


# --------------------------------------------------------------------------------------------
# plumbing


def _phases_of(intersection: Intersection) -> tuple[Phase, ...]:
    if not intersection.phases:
        raise InputError(f"intersection {intersection.id}: splits from demand need a phase "
                         "plan", field="phases")
    return intersection.phases


def _lost_s(phases: Sequence[Phase]) -> float:
    return sum(p.yellow_s + p.all_red_s for p in phases)


def _min_green(intersection: Intersection, phase: Phase) -> tuple[float, str]:
    """(minimum green [s], what sets it) of *phase*."""
    vehicle = phase.min_green_s
    if not phase.serves("cross_T"):
        return vehicle, f"{vehicle:g} ({phase.name})"
    intergreen = phase.yellow_s + phase.all_red_s
    ped = pedestrian_min_green_s(intersection.crossing_length_m, intergreen)
    if ped < vehicle - _TOL:
        return vehicle, f"{vehicle:g} ({phase.name})"
    return ped, (f"{ped:g} ({phase.name}: pedestrian {PEDESTRIAN_WALK_S:g} s + "
                 f"{intersection.crossing_length_m:g} m / {PEDESTRIAN_SPEED_MPS:g} m/s − "
                 f"{intergreen:g} s)")


def _check_minimums_fit(intersection: Intersection, cycle_s: float) -> None:
    phases = _phases_of(intersection)
    parts = [_min_green(intersection, p) for p in phases]
    lost = _lost_s(phases)
    need = lost + sum(g for g, _ in parts)
    if need > cycle_s + _TOL:
        terms = " + ".join(text for _, text in parts)
        raise InfeasibleError(
            f"intersection {intersection.id}: minimum greens {terms} s and intergreens "
            f"{lost:g} s need {need:g} s, more than the cycle {cycle_s:g} s"
        )


def _plan(intersection: Intersection, volumes: Mapping[str, float]) -> _Plan:
    phases = _phases_of(intersection)
    _windows_from_phases(phases, intersection.id, "")  # through windows must be contiguous
    through = [sum(p.serves(m) for m in ("out_T", "in_T")) for p in phases]
    return _Plan(
        names=tuple(p.name for p in phases),
        ratios=critical_flow_ratios(intersection, volumes),
        mins=min_greens(intersection),
        lost_s=_lost_s(phases),
        slack_phases=tuple(k for k, t in enumerate(through) if t == max(through)),
    )


def _with_greens(intersection: Intersection, greens: Sequence[float]) -> Intersection:
    return intersection.with_phases(
        [replace(p, green_s=g) for p, g in zip(intersection.phases, greens, strict=True)])


def _names(plan: _Plan, ks: Sequence[int]) -> str:
    return ", ".join(plan.names[k] for k in sorted(set(ks))) or "none"


def _policy(name: str) -> Policy:
    try:
        return POLICIES[name]
    except KeyError:
        raise InputError(f"unknown split policy {name!r}; expected one of "
                         f"{', '.join(POLICIES)}", field="policy", value=name) from None


def _check_target(target_vc: float) -> None:
    if not (math.isfinite(target_vc) and 0 < target_vc <= 1):
        raise InputError(f"target degree of saturation must be in (0, 1], found {target_vc!r}",
                         field="target_vc", value=target_vc)


def _check_cycle(cycle_s: float) -> None:
    if not (math.isfinite(cycle_s) and cycle_s > 0):
        raise InputError(f"cycle must be a positive number, found {cycle_s!r}",
                         field="cycle_s", value=cycle_s)


def _checked_range(cycle_range_s: tuple[float, float]) -> tuple[float, float]:
    lo, hi = cycle_range_s
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise InputError(f"expected a cycle range [low, high] with 0 < low <= high, found "
                         f"{list(cycle_range_s)!r}", field="cycle_range_s",
                         value=cycle_range_s)
    return float(lo), float(hi)


def _checked_volumes(intersection: Intersection, volumes: Mapping[str, float]) -> dict[str, float]:
    out = dict.fromkeys(MOVEMENTS, 0.0)
    for m, v in volumes.items():
        if m not in out:
            raise InputError(f"intersection {intersection.id}: unknown movement {m!r}; "
                             f"expected one of {', '.join(MOVEMENTS)}", field="volumes",
                             value=m)
        if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
            raise InputError(f"intersection {intersection.id}: volume of {m} must be a "
                             f"non-negative number [veh/h], found {v!r}", field=m, value=v)
        out[m] = float(v)
    return out
