"""Delay-aware refinement of a band plan: a TRANSYT-style cyclic flow profile model.

The model (Robertson 1969, TRANSYT; one cycle in steps of ``Δ`` ≈ 1 s, both directions of the
main street, each a chain of signals in travel order)
----------------------------------------------------------------------------------------
1. *Entry*: the main-street flow ``F_d`` of direction ``d`` arrives at the first signal
   uniformly (``main_out_vph`` / ``main_in_vph``).
2. *Stop line*: the lane group of the through movement (through + right turns, plus the left
   turns when there is no left-turn bay) gets the share ``v_group / F_d`` of the arriving
   section flow; its deterministic point queue discharges at ``s = SATURATION_VPHPL × through
   lanes`` while the through green shows (a step partly green has that share of ``s``):
   ``q_{k+1} = max(0, q_k + A_k − s·γ_k·Δ)`` (Lindley's recursion). The cycle is periodic: the
   recursion is run for two cycles from an empty queue and the second cycle is kept. For an
   undersaturated group this *is* the periodic steady state (the settled queue empties at
   least once a cycle, and the warm-up queue, never above it, empties with it and then
   coincides); for an oversaturated one the arrivals are scaled to capacity first (HCM: the
   uniform term uses ``min(x, 1)``) and the excess is left to the overflow term.
3. *Uniform delay* ``d_u`` = area under the queue over one cycle / vehicles per cycle (the
   queue is linear within a step, clearing mid-step where it does). With uniform arrivals it
   is Webster's first term ``d1 = C (1 − g/C)² / (2 (1 − y))``.
4. *Random and overflow delay* (HCM 2000 eq. 16-12, the incremental delay TRANSYT-7F also
   adds): ``d2 = 900 T [(x − 1) + √((x − 1)² + 8 k I x / (c T))]`` [s/veh], ``x = v / c``,
   capacity ``c = s g / C`` [veh/h], ``T`` the period's duration [h], ``k = 0.5`` (pretimed)
   and the upstream filtering factor ``I = 1 − 0.91 x_u^2.68`` (HCM 2000, ``x_u`` the degree
   of saturation of the upstream signal of the chain, at most 1; ``I = 1`` at the first).
5. *Stops* (TRANSYT's definition: a vehicle stops when it arrives on red or joins a queue):
   the uniform stop rate is the share of arrivals that meet red or a standing queue; with
   uniform arrivals it is Akçelik's ``h = (1 − g/C) / (1 − y)``. The overflow queue adds
   ``d2 / C`` stops per vehicle (its mean length is ``v·d2``, Little's law, and each of its
   vehicles stops once more per cycle it waits), so stops may exceed 1 when oversaturated.
6. *Outflow and turn-ins*: the through share ``v_T / v_group`` of the departures continues,
   joined by the cross-street turn-ins ``v_L + v_R`` (the demand rule of
   :mod:`greenwave.sumo.demand` keeps the section flow at ``F_d``), spread uniformly over the
   cross-street green (the window serving ``cross_T``; without phases, the red of the
   direction's through green).
7. *Platoon dispersion* along each link (Robertson's recurrence, TRANSYT defaults
   ``α = 0.35``, ``β = 0.8``): ``q_out(t + βT) = F·q_in(t) + (1 − F)·q_out(t + βT − 1)`` with
   ``F = 1 / (1 + α β T)``, ``T`` the link travel time at the plan's progression speed [steps].
   It is solved in its periodic steady state in closed form (equivalent to warming up over
   infinitely many cycles; the kernel sums to 1, so vehicles are conserved).

Each direction is a feed-forward chain (turn-ins do not depend on the main street), so one
pass in travel order, each element in its own periodic steady state, is the settled cycle.

Totals are over the main-street through lane groups of both directions: delay [veh·h/h] =
``Σ v·d / 3600``, stops [stops/h] = ``Σ v·h``, and the performance index (TRANSYT's
``PI = Σ (W·d + K·s)`` with ``W = 1``) ``PI = D + K·S / 3600`` [veh·h/h], the stop penalty
``K`` expressed as the seconds of delay one stop is worth (:data:`STOP_PENALTY_S`).

The refinement (:func:`refine_offsets`) is TRANSYT's own method: a hill-climb over whole
seconds of offset, one signal at a time, here with an exhaustive line search over every shift
within ``max_shift_s`` of the band plan (evaluated in one vectorised batch), keeping every
accepted plan's two-way band within ``keep_band`` of the original one. scipy.optimize offers no
integer coordinate search, and its continuous methods would not respect whole seconds.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.signal import lfilter

from greenwave.bands import BandProblem, evaluate_bands
from greenwave.corridor import (
    Corridor,
    Intersection,
    PeriodDemand,
    Phase,
    _round_preserving_sum,
    through_window,
)
from greenwave.errors import InputError
from greenwave.plan import TimingPlan
from greenwave.splits import SATURATION_VPHPL, flow_ratios, min_greens, movement_volumes

__all__ = [
    "ALPHA",
    "BETA",
    "STOP_PENALTY_S",
    "ApproachPerformance",
    "ApproachProfile",
    "CorridorPerformance",
    "RefineReport",
    "SideGroupPerformance",
    "disperse_platoon",
    "dispersion_factor",
    "evaluate_plan",
    "incremental_delay_s",
    "partial_refinement",
    "refine_offsets",
    "refine_plan",
    "side_group_performance",
    "stop_line_queue",
    "uniform_delay_s",
]

Array = npt.NDArray[np.float64]

#: Robertson's platoon dispersion factor and travel time factor (TRANSYT defaults).
ALPHA = 0.35
BETA = 0.8
#: Stop penalty K: seconds of delay one stop is worth in the performance index. TRANSYT leaves
#: the weight to the user; 20 s is greenwave's default (the order of the delay-equivalent cost
#: of a stop from cruise speed).
STOP_PENALTY_S = 20.0
#: HCM incremental delay calibration for pretimed control.
HCM_K = 0.5

_KMH_PER_MS = 3.6
_EPS = 1e-9
DIRECTIONS = ("out", "in")


# --------------------------------------------------------------------------------------------
# model elements


def dispersion_factor(travel_s: float, *, alpha: float = ALPHA, beta: float = BETA,
                      step_s: float = 1.0) -> float:
    """Robertson's smoothing factor ``F = 1 / (1 + α β T)`` (``T`` in steps) [-].

    >>> round(dispersion_factor(20.0), 6)   # 1 / (1 + 0.35 * 0.8 * 20)
    0.151515
    """
    return 1.0 / (1.0 + alpha * beta * travel_s / step_s)


def disperse_platoon(inflow_vps: npt.ArrayLike, travel_s: float, *, alpha: float = ALPHA,
                     beta: float = BETA, step_s: float = 1.0) -> Array:
    """Flow profile at the end of a link, in its periodic steady state [veh/s].

    *inflow_vps* is one cycle of the flow entering the link (last axis = time steps of
    *step_s*; leading axes are independent profiles). Robertson's recurrence
    ``q_out(k + L) = F·q_in(k) + (1 − F)·q_out(k + L − 1)`` with lag ``L = round(β T / Δ)``
    steps and ``F`` = :func:`dispersion_factor`, on the cycle circle. Vehicles are conserved.

    >>> out = disperse_platoon([1.0, 0.0, 0.0, 0.0], 1.25, step_s=1.0)
    >>> round(float(out.sum()), 12), int(out.argmax())
    (1.0, 1)
    """
    x = np.asarray(inflow_vps, dtype=float)
    n = x.shape[-1]
    lag = round(beta * travel_s / step_s)
    f = dispersion_factor(travel_s, alpha=alpha, beta=beta, step_s=step_s)
    shifted = np.roll(x, lag, axis=-1)
    y0: Array = lfilter([f], [1.0, -(1.0 - f)], shifted, axis=-1)
    # Periodic solution: y_k = y0_k + (1 − F)^(k+1) · y_{n−1}, and y_{n−1} closes the loop.
    decay = (1.0 - f) ** np.arange(1, n + 1)
    y_last = y0[..., -1] / (1.0 - (1.0 - f) ** n)
    return np.asarray(y0 + decay * y_last[..., None], dtype=float)


@dataclass(frozen=True, eq=False)
class _Queue:
    queue_veh: Array  # at the start of each step
    departures_veh: Array  # per step
    area_veh_s: Array  # queue area per cycle [veh·s]
    stopped_veh: Array  # arrivals that met red or a queue, per cycle


def stop_line_queue(arrivals_veh: npt.ArrayLike, green_share: npt.ArrayLike,
                    saturation_vps: float, *, step_s: float = 1.0) -> tuple[Array, Array]:
    """Periodic deterministic queue at a stop line: ``(queue at step starts, departures)`` [veh].

    *arrivals_veh* are vehicles per step over one cycle, *green_share* the green fraction of
    each step, *saturation_vps* the discharge rate [veh/s]. Lindley's recursion over two
    cycles from an empty queue; the second cycle is the settled one when undersaturated.

    >>> q, d = stop_line_queue([1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0], 1.5)
    >>> q.tolist(), d.tolist()
    ([[0.0, 1.0, 2.0, 0.5]], [[0.0, 0.0, 1.5, 0.5]])
    """
    a = np.atleast_2d(np.asarray(arrivals_veh, dtype=float))
    g = np.atleast_2d(np.asarray(green_share, dtype=float))
    res = _queue(a, g, saturation_vps * step_s, step_s)
    return res.queue_veh, res.departures_veh


def _queue(arrivals: Array, green_share: Array, saturation_veh: float | Array,
           step_s: float) -> _Queue:
    """Batched Lindley recursion (rows are independent cycles); see :func:`stop_line_queue`.

    *saturation_veh* is the discharge of a fully green step [veh] (a scalar or one per row).
    """
    capacity = green_share * saturation_veh
    net = arrivals - capacity
    rows, n = arrivals.shape
    cum = np.concatenate([np.zeros((rows, 1)), np.cumsum(np.tile(net, 2), axis=1)], axis=1)
    q_all = cum - np.minimum.accumulate(cum, axis=1)
    q = q_all[:, n:]  # n + 1 values: start of each step of the settled cycle, and its end
    q0, q1 = q[:, :-1], q[:, 1:]
    departures = q0 + arrivals - q1
    falling = q0 + net < 0.0  # the queue clears inside the step
    rate = np.where(falling, capacity - arrivals, 1.0)
    area = np.where(falling, q0 * q0 / (2.0 * rate), 0.5 * (q0 + q1)) * step_s
    # share of the step with a standing queue (it clears at q0 / (c − A) when it does)
    clearing = q0 / np.maximum(capacity - arrivals, _EPS)
    queued = np.where(q1 > _EPS, 1.0, np.where(q0 > _EPS, np.minimum(clearing, 1.0), 0.0))
    stopped = arrivals * ((1.0 - green_share) + green_share * queued)
    return _Queue(q0, departures, area.sum(axis=1), stopped.sum(axis=1))


def incremental_delay_s(x: npt.ArrayLike, capacity_vph: npt.ArrayLike, duration_h: float,
                        *, k: float = HCM_K, filtering: npt.ArrayLike = 1.0) -> Array:
    """HCM 2000 random + overflow delay ``d2`` [s/veh] (eq. 16-12).

    ``d2 = 900 T [(x − 1) + √((x − 1)² + 8 k I x / (c T))]``.

    >>> round(float(incremental_delay_s(0.5, 600.0, 1.0)), 3)   # 900 (√(0.25 + 1/300) − 0.5)
    2.99
    """
    xv = np.asarray(x, dtype=float)
    c = np.maximum(np.asarray(capacity_vph, dtype=float), _EPS)
    i = np.asarray(filtering, dtype=float)
    t = duration_h
    root = np.sqrt((xv - 1.0) ** 2 + 8.0 * k * i * xv / (c * t))
    return np.asarray(900.0 * t * ((xv - 1.0) + root), dtype=float)


def uniform_delay_s(cycle_s: float, green_s: npt.ArrayLike, x: npt.ArrayLike) -> Array:
    """Webster's uniform delay with random arrivals' HCM cap [s/veh].

    ``d1 = C (1 − g/C)² / (2 (1 − min(x, 1)·g/C))`` (HCM 2000 eq. 16-11; Webster 1958 first
    term), *x* the degree of saturation, *green_s* the effective green.

    >>> round(float(uniform_delay_s(100.0, 40.0, 0.5)), 6)   # 100·0.36 / (2·0.8)
    22.5
    """
    g = np.asarray(green_s, dtype=float) / cycle_s
    xv = np.minimum(np.asarray(x, dtype=float), 1.0)
    return np.asarray(cycle_s * (1.0 - g) ** 2 / (2.0 * (1.0 - xv * g)), dtype=float)


def side_group_performance(intersection: Intersection, volumes: Mapping[str, float], *,
                           cycle_s: float, duration_h: float) -> tuple[SideGroupPerformance, ...]:
    """Delay and stops of the lane groups off the main-street through movement [s/veh].

    The groups the corridor model does not carry as platoons: the cross street (both
    approaches, each taken as the critical one of :func:`greenwave.splits.movement_volumes`,
    sharing the ``cross_lanes``) and, where there is a bay, each main-street left turn. Their
    arrivals are random (uniform in the mean), so Webster's uniform delay
    (:func:`uniform_delay_s`) plus the HCM incremental delay (:func:`incremental_delay_s`,
    ``I = 1``) apply, with the flow ratio ``y`` of :func:`greenwave.splits.flow_ratios`
    (capacity ``c = v·g / (y·C)``, ``x = y·C / g``) and the green of the phases serving the
    group in *intersection*'s phase plan (a run of phases keeps it green through their
    intergreens). Stops: Akçelik's ``(1 − g/C) / (1 − min(x, 1)·g/C)`` plus the overflow
    ``d2 / C``. A phase plan is needed (the CSV form gives none: no groups).
    """
    if not intersection.phases:
        return ()
    y = flow_ratios(intersection, volumes)
    # (group, approaches, volume of one approach [veh/h], movement whose green serves it)
    groups = [("cross", 2, sum(volumes.get(m, 0.0) for m in ("cross_T", "cross_L", "cross_R")),
               "cross_T")]
    if intersection.left_turn_bay:
        groups += [(m, 1, volumes.get(m, 0.0), m) for m in ("out_L", "in_L")]
    out = []
    for name, approaches, approach_vph, movement in groups:
        green = _served_green_s(intersection.phases, movement)
        if approach_vph <= _EPS or green <= _EPS or y[movement] <= _EPS:
            continue
        x = y[movement] * cycle_s / green
        capacity = approach_vph / x  # of one approach's lane group
        volume = approaches * approach_vph
        d_u = float(uniform_delay_s(cycle_s, green, x))
        d_r = float(incremental_delay_s(x, capacity, duration_h))
        g = green / cycle_s
        stops = (1.0 - g) / (1.0 - min(x, 1.0) * g) + d_r / cycle_s
        out.append(SideGroupPerformance(
            signal_id=intersection.id, group=name, volume_vph=volume, green_s=green,
            capacity_vph=capacity, degree_of_saturation=x, uniform_delay_s=d_u,
            random_delay_s=d_r, stops=stops))
    return tuple(out)


def _served_green_s(phases: Sequence[Phase], movement: str) -> float:
    """Green of *movement* in one cycle [s]: its window, or the sum of its phases' greens
    when they are not consecutive (0 when no phase serves it)."""
    try:
        return through_window(phases, movement)[1]
    except ValueError:
        return sum(p.green_s for p in phases if p.serves(movement))


def _upstream_filtering(x_upstream: Array) -> Array:
    """HCM 2000 upstream filtering factor ``I = 1 − 0.91 x_u^2.68`` (``x_u`` at most 1)."""
    return np.asarray(1.0 - 0.91 * np.minimum(x_upstream, 1.0) ** 2.68, dtype=float)


def _green_share(start_s: npt.ArrayLike, length_s: npt.ArrayLike, cycle_s: float,
                 n: int) -> Array:
    """Share of each of the *n* steps of the cycle covered by the window
    ``[start, start + length]`` (taken modulo the cycle; ``0 < length <= C``).

    *start_s* and *length_s* broadcast together to a shape ``S``; the result has shape
    ``S + (n,)``.
    """
    # Green seconds up to each step edge t: h(t − s) − h(−s), h(u) = clip(u, 0, g) +
    # clip(u + C, 0, g) for u in (−C, C]; a step's share is the difference over its edges.
    edges = np.linspace(0.0, cycle_s, n + 1)
    start, length = np.broadcast_arrays(np.asarray(start_s, dtype=float),
                                        np.asarray(length_s, dtype=float))
    u = edges - np.mod(start, cycle_s)[..., None]
    g = length[..., None]
    h = np.minimum(np.maximum(u, 0.0), g) + np.minimum(np.maximum(u + cycle_s, 0.0), g)
    return np.asarray(np.diff(h, axis=-1) * (n / cycle_s), dtype=float)


# --------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class ApproachPerformance:
    """One main-street through lane group at one signal (``direction`` ``out`` or ``in``)."""

    signal_id: str
    direction: str
    volume_vph: float  # arriving at the stop line
    capacity_vph: float
    degree_of_saturation: float
    uniform_delay_s: float
    random_delay_s: float
    uniform_stops: float  # share of vehicles that arrive on red or to a queue
    stops: float  # stops per vehicle, uniform + overflow

    @property
    def delay_s(self) -> float:
        """Mean delay [s/veh]: uniform + random/overflow."""
        return self.uniform_delay_s + self.random_delay_s


@dataclass(frozen=True)
class SideGroupPerformance:
    """A lane group off the main-street through movement at one signal
    (:func:`side_group_performance`); ``group`` is ``cross`` (``volume_vph`` of both
    approaches, ``capacity_vph`` of one), ``out_L`` or ``in_L``."""

    signal_id: str
    group: str
    volume_vph: float
    green_s: float
    capacity_vph: float
    degree_of_saturation: float
    uniform_delay_s: float
    random_delay_s: float
    stops: float  # stops per vehicle

    @property
    def delay_s(self) -> float:
        """Mean delay [s/veh]: uniform + random/overflow."""
        return self.uniform_delay_s + self.random_delay_s


@dataclass(frozen=True, eq=False)
class ApproachProfile:
    """One cycle of flow profiles at one approach (steps of ``cycle_s / len``)."""

    link_inflow_vps: Array  # main-street section flow arriving (all movements) [veh/s]
    arrival_vps: Array  # arrivals of the through lane group at the stop line [veh/s]
    green_share: Array  # share of each step the through green shows [-]
    queue_veh: Array  # queue at the start of each step [veh]
    departure_vps: Array  # discharge of the lane group [veh/s]
    outflow_vps: Array  # entering the next link: through departures + turn-ins [veh/s]


@dataclass(frozen=True, eq=False)
class CorridorPerformance:
    """What the cyclic flow profile model gives for one plan and one period."""

    approaches: tuple[ApproachPerformance, ...]
    profiles: Mapping[tuple[str, str], ApproachProfile]
    cycle_s: float
    step_s: float
    stop_penalty_s: float
    total_delay_vehh_per_h: float  # main-street through lane groups
    total_stops_per_h: float
    side_groups: tuple[SideGroupPerformance, ...] = ()
    side_delay_vehh_per_h: float = 0.0  # cross streets and left-turn bays
    side_stops_per_h: float = 0.0

    @property
    def performance_index(self) -> float:
        """TRANSYT's PI = delay + K·stops [veh·h/h], K = ``stop_penalty_s`` per stop, of the
        main-street through lane groups (what offsets change)."""
        return self.total_delay_vehh_per_h + self.stop_penalty_s * self.total_stops_per_h / 3600

    @property
    def network_performance_index(self) -> float:
        """The PI with the side groups too [veh·h/h]: what moving green between phases
        trades (offsets leave the side groups' part unchanged)."""
        return self.performance_index + (
            self.side_delay_vehh_per_h + self.stop_penalty_s * self.side_stops_per_h / 3600)

    def approach(self, signal_id: str, direction: str) -> ApproachPerformance:
        for a in self.approaches:
            if a.signal_id == signal_id and a.direction == direction:
                return a
        raise InputError(f"no approach {direction!r} at signal {signal_id!r}",
                         field="signal_id", value=signal_id)

    def to_frame(self) -> pd.DataFrame:
        """One row per signal and direction (tidy)."""
        rows = [{"signal": a.signal_id, "direction": a.direction, "volume_vph": a.volume_vph,
                 "capacity_vph": a.capacity_vph, "degree_of_saturation": a.degree_of_saturation,
                 "uniform_delay_s": a.uniform_delay_s, "random_delay_s": a.random_delay_s,
                 "delay_s": a.delay_s, "uniform_stops": a.uniform_stops, "stops": a.stops}
                for a in self.approaches]
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class RefineReport:
    """Before/after record of :func:`refine_plan` / :func:`refine_offsets`.

    ``pi_*``, ``delay_*`` and ``stops_*`` are the main-street through lane groups';
    ``network_pi_*`` adds the side groups (cross streets, left-turn bays), the objective.
    """

    pi_before: float  # [veh·h/h]
    pi_after: float
    delay_before_vehh_per_h: float
    delay_after_vehh_per_h: float
    stops_before_per_h: float
    stops_after_per_h: float
    band_before_s: tuple[float, float]  # (outbound, inbound)
    band_after_s: tuple[float, float]
    shifts_s: tuple[int, ...]  # whole-second change of every signal's green starts
    sweeps: int
    evaluations: int
    runtime_s: float
    network_pi_before: float = 0.0  # [veh·h/h]
    network_pi_after: float = 0.0
    side_delay_before_vehh_per_h: float = 0.0
    side_delay_after_vehh_per_h: float = 0.0
    greens_before_s: tuple[tuple[float, ...], ...] = ()  # phase greens of every signal
    greens_after_s: tuple[tuple[float, ...], ...] = ()

    @property
    def split_changes_s(self) -> tuple[tuple[float, ...], ...]:
        """Green moved into (+) or out of (−) every phase of every signal [s]."""
        return tuple(tuple(a - b for a, b in zip(after, before, strict=True))
                     for after, before in zip(self.greens_after_s, self.greens_before_s,
                                              strict=True))

    @property
    def band_kept(self) -> float:
        """Share of the original two-way band (b + b̄) kept [-] (1 without an original band)."""
        before = sum(self.band_before_s)
        return sum(self.band_after_s) / before if before > _EPS else 1.0


# --------------------------------------------------------------------------------------------
# the corridor model


@dataclass(frozen=True, eq=False)
class _Approach:
    """Static data of one main-street through lane group (in its chain's travel order)."""

    signal: int
    signal_id: str
    green_s: float
    green_rel_s: float  # green start minus the signal's outbound green start [s]
    group_share: float  # v_group / section flow
    saturation_vps: float
    through_share: float  # v_T / v_group
    turn_in_vps: float
    turn_in_rel_s: float  # turn-in window start minus the outbound green start [s]
    turn_in_s: float  # turn-in window length [s]
    travel_next_s: float  # travel time of the link beyond (0 at the chain's end)


@dataclass(frozen=True, eq=False)
class _Model:
    """Both chains stacked (axis 0: outbound, inbound; axis 1: position in travel order)."""

    cycle_s: float
    n: int
    duration_h: float
    entry_vps: Array  # (2,)
    chains: tuple[tuple[_Approach, ...], tuple[_Approach, ...]]
    signal: npt.NDArray[np.int_]  # (2, m)
    group_share: Array
    saturation_vps: Array
    through_share: Array
    capacity_vph: Array
    green_rel_s: Array
    turn_in_rel_s: Array
    turn_in_vps: Array  # mean turn-in flow [veh/s]
    green_s: Array
    turn_in_s: Array
    kernels: tuple[Array, ...]  # per link position: (2, n, n), outflow @ kernel = inflow

    @property
    def step_s(self) -> float:
        return self.cycle_s / self.n


@dataclass(frozen=True, eq=False)
class _Batch:
    """Results of a batch of green-start vectors: arrays ``(2, m, rows)`` in travel order."""

    volume_vph: Array
    x: Array
    d_uniform: Array
    d_random: Array
    h_uniform: Array
    h: Array
    delay_vehh: Array  # (rows,)
    stops_h: Array  # (rows,)
    profiles: tuple[tuple[ApproachProfile, ...], ...]


def _build_model(plan: TimingPlan, corridor: Corridor, demand: PeriodDemand, *,
                 step_s: float, alpha: float, beta: float,
                 cruise_speed_kmh: float | None) -> _Model:
    if [s.id for s in plan.signals] != list(corridor.ids):
        raise InputError(f"plan signals {[s.id for s in plan.signals]} do not match the "
                         f"corridor's {list(corridor.ids)}", field="signals")
    if not (math.isfinite(step_s) and step_s > 0):
        raise InputError(f"step_s must be a number > 0, found {step_s!r}", field="step_s",
                         value=step_s)
    cycle = plan.cycle_s
    n = max(1, round(cycle / step_s))
    dt = cycle / n
    volumes = movement_volumes(corridor, demand)
    signals, xs = plan.signals, corridor.intersections
    m = len(signals)

    def speeds(per_link: Sequence[float], default: float) -> list[float]:
        if cruise_speed_kmh is not None:
            return [cruise_speed_kmh] * (m - 1)
        return list(per_link) if per_link else [default] * (m - 1)

    v_out = speeds(plan.link_speeds_out_kmh, plan.speed_out_kmh)
    v_in = speeds(plan.link_speeds_in_kmh, plan.speed_in_kmh)
    links = [(signals[j + 1].position_m - signals[j].position_m) for j in range(m - 1)]
    chains: list[tuple[_Approach, ...]] = []
    for d in DIRECTIONS:
        order = range(m) if d == "out" else range(m - 1, -1, -1)
        chain = []
        for pos, k in enumerate(order):
            s, i, v = signals[k], xs[k], volumes[signals[k].id]
            group = v[f"{d}_T"] + v[f"{d}_R"] + (0.0 if i.left_turn_bay else v[f"{d}_L"])
            section = v[f"{d}_T"] + v[f"{d}_R"] + v[f"{d}_L"]
            green = s.green_out_s if d == "out" else s.green_in_s
            green_rel = 0.0 if d == "out" else s.green_in_start_s - s.green_out_start_s
            ti_rel, ti_len = _turn_in_window(s.phases, s.offset_s - s.green_out_start_s,
                                             green_rel, green, cycle)
            if pos < m - 1:
                j = k if d == "out" else k - 1
                speed = v_out[j] if d == "out" else v_in[j]
                travel = links[j] / (speed / _KMH_PER_MS)
            else:
                travel = 0.0
            chain.append(_Approach(
                signal=k, signal_id=s.id, green_s=green, green_rel_s=green_rel,
                group_share=group / section if section > _EPS else 1.0,
                saturation_vps=SATURATION_VPHPL * i.through_lanes / 3600.0,
                through_share=v[f"{d}_T"] / group if group > _EPS else 0.0,
                turn_in_vps=(v[f"{d}_L"] + v[f"{d}_R"]) / 3600.0,
                turn_in_rel_s=ti_rel, turn_in_s=ti_len, travel_next_s=travel,
            ))
        chains.append(tuple(chain))

    def stack(name: str) -> Array:
        return np.array([[getattr(a, name) for a in chain] for chain in chains], dtype=float)

    # Dispersion is a cyclic convolution: the kernel of a link is the circulant matrix of its
    # response to one vehicle (row j: the response to a vehicle entering in step j).
    impulse = np.zeros(n)
    impulse[0] = 1.0
    circulant = (np.arange(n)[None, :] - np.arange(n)[:, None]) % n
    kernels = tuple(
        np.stack([disperse_platoon(impulse, chain[pos].travel_next_s, alpha=alpha, beta=beta,
                                   step_s=dt)[circulant] for chain in chains])
        for pos in range(m - 1)
    )
    green_s, turn_in_s = stack("green_s"), stack("turn_in_s")
    return _Model(
        cycle_s=cycle, n=n, duration_h=demand.duration_s / 3600.0,
        entry_vps=np.array([demand.main_out_vph, demand.main_in_vph]) / 3600.0,
        chains=(chains[0], chains[1]),
        signal=np.array([[a.signal for a in chain] for chain in chains], dtype=int),
        group_share=stack("group_share"), saturation_vps=stack("saturation_vps"),
        through_share=stack("through_share"),
        capacity_vph=stack("saturation_vps") * 3600.0 * green_s / cycle,
        green_rel_s=stack("green_rel_s"), turn_in_rel_s=stack("turn_in_rel_s"),
        turn_in_vps=stack("turn_in_vps"), green_s=green_s, turn_in_s=turn_in_s,
        kernels=kernels,
    )


def _turn_in_window(phases: Sequence[Any], phase0_rel_s: float, green_rel_s: float,
                    green_s: float, cycle_s: float) -> tuple[float, float]:
    """Start (relative to the outbound green start) and length of the cross-street green."""
    if phases:
        try:
            start, length = through_window(phases, "cross_T")
            return phase0_rel_s + start, length
        except ValueError:
            pass
    if green_s >= cycle_s - _EPS:
        return 0.0, cycle_s
    return green_rel_s + green_s, cycle_s - green_s


@dataclass(frozen=True, eq=False)
class _Windows:
    """Green windows of the main-street approaches, ``(2, m, rows)`` or ``(2, m, 1)`` [s]
    (axis 0: outbound, inbound chain; axis 1: position in travel order)."""

    green_s: Array
    green_rel_s: Array  # green start minus the signal's outbound green start
    turn_in_rel_s: Array  # cross-street green start minus the outbound green start
    turn_in_s: Array  # cross-street green length


def _model_windows(model: _Model) -> _Windows:
    return _Windows(model.green_s[..., None], model.green_rel_s[..., None],
                    model.turn_in_rel_s[..., None], model.turn_in_s[..., None])


def _run(model: _Model, starts: Array, *, keep_profiles: bool = False,
         windows: _Windows | None = None) -> _Batch:
    """Evaluate a batch of outbound green-start vectors (shape ``(rows, signals)``).

    *windows* (default: the plan's) may give every row its own splits. Both directions
    advance together, one position of their chains at a time.
    """
    rows = starts.shape[0]
    n, dt, cycle = model.n, model.step_s, model.cycle_s
    m = model.signal.shape[1]
    w = windows if windows is not None else _model_windows(model)
    capacity_vph = model.saturation_vps[..., None] * 3600.0 * w.green_s / cycle
    turn_in_rate = model.turn_in_vps[..., None] * cycle / np.maximum(w.turn_in_s, _EPS)
    keys = ("volume_vph", "x", "d_uniform", "d_random", "h_uniform", "h")
    rec: dict[str, Array] = {k: np.empty((2, m, rows)) for k in keys}
    profiles: list[list[ApproachProfile]] = [[], []]
    inflow = np.broadcast_to(model.entry_vps[:, None, None], (2, rows, n))
    theta = np.moveaxis(starts[:, model.signal], 0, -1)  # (2, m, rows)
    shares = _green_share(theta + w.green_rel_s, w.green_s, cycle, n)  # (2, m, rows, n)
    turn_ins = _green_share(theta + w.turn_in_rel_s, w.turn_in_s, cycle, n)
    sat_rows = np.repeat(model.saturation_vps * dt, rows, axis=0)  # (2 rows, m)
    x_up: Array | None = None
    for p in range(m):
        share = shares[:, p]
        arr = inflow * (model.group_share[:, p, None, None] * dt)
        volume = arr.sum(axis=2) * (3600.0 / cycle)
        x = volume / np.maximum(capacity_vph[:, p], _EPS)
        scaled = arr * np.minimum(1.0, 1.0 / np.maximum(x, _EPS))[..., None]
        q = _queue(scaled.reshape(2 * rows, n), share.reshape(2 * rows, n),
                   sat_rows[:, p, None], dt)
        q_start = q.queue_veh.reshape(2, rows, n)
        departures = q.departures_veh.reshape(2, rows, n) / dt
        per_cycle = np.maximum(scaled.sum(axis=2), _EPS)
        d_u = q.area_veh_s.reshape(2, rows) / per_cycle
        h_u = q.stopped_veh.reshape(2, rows) / per_cycle
        filt = np.ones_like(x) if x_up is None else _upstream_filtering(x_up)
        d_r = incremental_delay_s(x, capacity_vph[:, p], model.duration_h, filtering=filt)
        for key, value in zip(keys, (volume, x, d_u, d_r, h_u, h_u + d_r / cycle),
                              strict=True):
            rec[key][:, p] = value
        turn_in = turn_ins[:, p]
        outflow = (departures * model.through_share[:, p, None, None]
                   + turn_in * turn_in_rate[:, p, :, None])
        if keep_profiles:
            for c in range(2):
                profiles[c].append(ApproachProfile(
                    link_inflow_vps=np.array(inflow[c, 0]), arrival_vps=arr[c, 0] / dt,
                    green_share=share[c, 0], queue_veh=q_start[c, 0],
                    departure_vps=departures[c, 0], outflow_vps=outflow[c, 0]))
        if p < m - 1:
            inflow = np.matmul(outflow, model.kernels[p])
        x_up = x
    delay = (rec["volume_vph"] * (rec["d_uniform"] + rec["d_random"])).sum(axis=(0, 1)) / 3600
    stops = (rec["volume_vph"] * rec["h"]).sum(axis=(0, 1))
    return _Batch(delay_vehh=delay, stops_h=stops, profiles=(tuple(profiles[0]),
                  tuple(profiles[1])), **rec)


def evaluate_plan(
    plan: TimingPlan,
    corridor: Corridor,
    period: str | PeriodDemand = "",
    *,
    stop_penalty_s: float = STOP_PENALTY_S,
    step_s: float = 1.0,
    alpha: float = ALPHA,
    beta: float = BETA,
    cruise_speed_kmh: float | None = None,
) -> CorridorPerformance:
    """Delay, stops and the performance index of *plan* under *period*'s demand.

    *period* is a name of the corridor's periods or a PeriodDemand ("" = the plan's period,
    else the corridor's default). Links are travelled at the plan's progression speeds unless
    *cruise_speed_kmh* is given. See the module docstring for the model.
    """
    demand = _demand(plan, corridor, period)
    model = _build_model(plan, corridor, demand, step_s=step_s, alpha=alpha, beta=beta,
                         cruise_speed_kmh=cruise_speed_kmh)
    starts = np.array([[s.green_out_start_s for s in plan.signals]], dtype=float)
    perf = _performance(model, _run(model, starts, keep_profiles=True), stop_penalty_s)
    side = _side_groups(_plan_corridor(plan, corridor), demand, plan.cycle_s)
    delay, stops = _side_totals(side)
    return replace(perf, side_groups=side, side_delay_vehh_per_h=delay,
                   side_stops_per_h=stops)


def _side_groups(corridor: Corridor, demand: PeriodDemand,
                 cycle_s: float) -> tuple[SideGroupPerformance, ...]:
    volumes = movement_volumes(corridor, demand)
    return tuple(g for i in corridor.intersections
                 for g in side_group_performance(i, volumes[i.id], cycle_s=cycle_s,
                                                 duration_h=demand.duration_s / 3600.0))


def _side_totals(groups: Sequence[SideGroupPerformance]) -> tuple[float, float]:
    """(delay [veh·h/h], stops [stops/h]) of *groups*."""
    return (sum(g.volume_vph * g.delay_s for g in groups) / 3600.0,
            sum(g.volume_vph * g.stops for g in groups))


def _demand(plan: TimingPlan, corridor: Corridor, period: str | PeriodDemand) -> PeriodDemand:
    if isinstance(period, PeriodDemand):
        return period
    name = period or plan.period or corridor.default_period
    if not name:
        raise InputError("the corridor defines no demand period", field="period")
    return corridor.period(name)


def _performance(model: _Model, batch: _Batch, stop_penalty_s: float) -> CorridorPerformance:
    approaches = []
    profiles = {}
    for c, chain in enumerate(model.chains):
        d = DIRECTIONS[c]
        for p, ap in enumerate(chain):
            approaches.append(ApproachPerformance(
                signal_id=ap.signal_id, direction=d,
                volume_vph=float(batch.volume_vph[c, p, 0]),
                capacity_vph=float(model.capacity_vph[c, p]),
                degree_of_saturation=float(batch.x[c, p, 0]),
                uniform_delay_s=float(batch.d_uniform[c, p, 0]),
                random_delay_s=float(batch.d_random[c, p, 0]),
                uniform_stops=float(batch.h_uniform[c, p, 0]),
                stops=float(batch.h[c, p, 0]),
            ))
            if batch.profiles[c]:
                profiles[(ap.signal_id, d)] = batch.profiles[c][p]
    return CorridorPerformance(
        approaches=tuple(approaches), profiles=profiles, cycle_s=model.cycle_s,
        step_s=model.step_s, stop_penalty_s=stop_penalty_s,
        total_delay_vehh_per_h=float(batch.delay_vehh[0]),
        total_stops_per_h=float(batch.stops_h[0]))


# --------------------------------------------------------------------------------------------
# refinement


def refine_offsets(
    plan: TimingPlan,
    corridor: Corridor,
    period: str | PeriodDemand = "",
    *,
    max_shift_s: int = 10,
    keep_band: float = 0.8,
    stop_penalty_s: float = STOP_PENALTY_S,
    max_sweeps: int = 20,
    cruise_speed_kmh: float | None = None,
) -> tuple[TimingPlan, RefineReport]:
    """Shift the band plan's offsets by whole seconds to reduce the performance index.

    A TRANSYT hill-climb: signal by signal (the first one stays as the reference), every
    shift within ``±max_shift_s`` of the band plan is evaluated at once and the best is taken
    when it lowers the PI and keeps the exact two-way band (``bands.evaluate_bands``) at
    least ``keep_band`` × the original ``b + b̄``; sweeps repeat until none improves (at most
    *max_sweeps*). The cycle, splits and phase order stay as they are. Returns the new plan
    (built by :func:`greenwave.plan.plan_from_offsets`, so its bands are exact) and a report.
    This is :func:`refine_plan` with ``max_split_s=0``.
    """
    return refine_plan(plan, corridor, period, max_shift_s=max_shift_s, max_split_s=0,
                       keep_band=keep_band, stop_penalty_s=stop_penalty_s,
                       max_sweeps=max_sweeps, cruise_speed_kmh=cruise_speed_kmh)


def refine_plan(
    plan: TimingPlan,
    corridor: Corridor,
    period: str | PeriodDemand = "",
    *,
    max_shift_s: int = 10,
    max_split_s: int = 5,
    keep_band: float = 0.8,
    stop_penalty_s: float = STOP_PENALTY_S,
    max_sweeps: int = 20,
    cruise_speed_kmh: float | None = None,
) -> tuple[TimingPlan, RefineReport]:
    """Refine the band plan's offsets and splits together to reduce the network PI.

    The TRANSYT hill-climb of :func:`refine_offsets`, where a signal's move is also a whole
    number of seconds of green taken from one of its phases and given to another (every
    ordered pair of phases, 1 … *max_split_s* s), combined with every offset shift: all of a
    signal's combinations are evaluated in one vectorised batch. Bounds: every phase keeps at
    least its minimum green (:func:`greenwave.splits.min_greens`: vehicle minimum, and the
    pedestrian minimum for phases serving ``cross_T``) and stays within ``±max_split_s`` of
    the band plan's green; yellow, all-red, the phase order and the cycle are kept; green
    starts stay within ``±max_shift_s`` of the band plan's. The objective is the
    :attr:`CorridorPerformance.network_performance_index`: the main-street platoon model plus
    the side groups' Webster/HCM delay and stops (:func:`side_group_performance`), so that
    green given to the main street is paid for on the cross street. A move is taken when it
    lowers the objective and keeps the exact two-way band of the new windows at least
    ``keep_band`` × the band plan's. The returned plan carries the new phases and its bands
    are exact (:func:`greenwave.plan.plan_from_offsets`).
    """
    started = time.perf_counter()
    for name, value in (("max_shift_s", max_shift_s), ("max_split_s", max_split_s)):
        if not (isinstance(value, int) and value >= 0):
            raise InputError(f"{name} must be a whole number of seconds >= 0, found "
                             f"{value!r}", field=name, value=value)
    if not (math.isfinite(keep_band) and 0.0 <= keep_band <= 1.0):
        raise InputError(f"keep_band must be a share in [0, 1], found {keep_band!r}",
                         field="keep_band", value=keep_band)
    demand = _demand(plan, corridor, period)
    model = _build_model(plan, corridor, demand, step_s=1.0, alpha=ALPHA, beta=BETA,
                         cruise_speed_kmh=cruise_speed_kmh)
    state = _SearchState.start(plan, _plan_corridor(plan, corridor), demand, model,
                               stop_penalty_s)
    base = state.starts.copy()
    band0 = evaluate_bands(state.problem, base.tolist())
    need = keep_band * (band0.bandwidth_out_s + band0.bandwidth_in_s) - 1e-6
    greens0 = tuple(tuple(p.green_s for p in x.phases) for x in state.xs)

    def pi(batch: _Batch) -> Array:
        return np.asarray(batch.delay_vehh + stop_penalty_s * batch.stops_h / 3600.0)

    current = float(pi(_run(model, base[None, :], windows=state.windows()))[0]
                    + state.side_pi.sum())
    offsets = np.arange(-max_shift_s, max_shift_s + 1, dtype=float)
    evaluations, sweeps = 1, 0
    while sweeps < max_sweeps:
        sweeps += 1
        improved = False
        for i in range(len(base)):
            alts = state.alternatives(i, greens0[i], max_split_s)
            which, shifts = _moves(len(alts), state.starts[i] - base[i], offsets if i > 0
                                   else offsets[:0])
            if len(which) == 1:
                continue
            trial = np.tile(state.starts, (len(which), 1))
            trial[:, i] = base[i] + shifts
            values = (pi(_run(model, trial, windows=state.windows(i, alts, which)))
                      + state.side_pi.sum() - state.side_pi[i]
                      + np.array([a.side_pi for a in alts])[which])
            evaluations += len(trial)
            for row in np.argsort(values, kind="stable"):
                if values[row] >= current - 1e-9:
                    break
                alt = alts[which[row]]
                band = evaluate_bands(alt.problem, trial[row].tolist())
                if band.bandwidth_out_s + band.bandwidth_in_s >= need:
                    state.accept(i, alt, trial[row])
                    current = float(values[row])
                    improved = True
                    break
        if not improved:
            break
    tag = "transyt-offsets-splits" if max_split_s > 0 else "transyt-offsets"
    new_plan = _rebuilt(plan, replace(state.corridor, intersections=tuple(state.xs)),
                        state.starts, tag, demand)
    before = evaluate_plan(plan, corridor, demand, stop_penalty_s=stop_penalty_s,
                           cruise_speed_kmh=cruise_speed_kmh)
    after = evaluate_plan(new_plan, corridor, demand, stop_penalty_s=stop_penalty_s,
                          cruise_speed_kmh=cruise_speed_kmh)
    shifts_s = np.rint(state.starts - base).astype(int)
    if after.network_performance_index > before.network_performance_index + 1e-9:
        # cannot happen (every accepted move lowered the same index): guard
        new_plan, after, shifts_s = plan, before, np.zeros_like(shifts_s)
    report = RefineReport(
        pi_before=before.performance_index, pi_after=after.performance_index,
        delay_before_vehh_per_h=before.total_delay_vehh_per_h,
        delay_after_vehh_per_h=after.total_delay_vehh_per_h,
        stops_before_per_h=before.total_stops_per_h,
        stops_after_per_h=after.total_stops_per_h,
        band_before_s=(band0.bandwidth_out_s, band0.bandwidth_in_s),
        band_after_s=(new_plan.bandwidth_out_s, new_plan.bandwidth_in_s),
        shifts_s=tuple(int(v) for v in shifts_s), sweeps=sweeps, evaluations=evaluations,
        runtime_s=time.perf_counter() - started,
        network_pi_before=before.network_performance_index,
        network_pi_after=after.network_performance_index,
        side_delay_before_vehh_per_h=before.side_delay_vehh_per_h,
        side_delay_after_vehh_per_h=after.side_delay_vehh_per_h,
        greens_before_s=greens0,
        greens_after_s=tuple(tuple(p.green_s for p in s.phases) for s in new_plan.signals),
    )
    return new_plan, report


#: Offset shifts [s] tried with each new split, around the signal's current shift: a split
#: move changes the windows by at most ``max_split_s``, so the best offset for it lies near
#: the current one, and the whole ``±max_shift_s`` range with every split would multiply the
#: batch (and the run time) by about four.
SPLIT_OFFSET_REACH_S = 2


def _moves(n_alternatives: int, current_shift_s: float,
           offsets_s: Array) -> tuple[npt.NDArray[np.int_], Array]:
    """(split alternative, offset shift [s]) of every candidate of one signal's step.

    The current split with every shift of *offsets_s* (and the current shift); every other
    split with the shifts within :data:`SPLIT_OFFSET_REACH_S` of the current one that
    *offsets_s* allows (only the current shift when *offsets_s* is empty: the reference).
    """
    current = np.array([current_shift_s])
    first = np.union1d(offsets_s, current)
    if len(offsets_s):
        near = offsets_s[np.abs(offsets_s - current_shift_s) <= SPLIT_OFFSET_REACH_S + 1e-9]
    else:
        near = current
    which = np.concatenate([np.zeros(len(first), dtype=int),
                            np.repeat(np.arange(1, n_alternatives), len(near))])
    shifts = np.concatenate([first, np.tile(near, n_alternatives - 1)])
    return which, shifts


def _rebuilt(plan: TimingPlan, corridor: Corridor, starts: npt.ArrayLike, tag: str,
             demand: PeriodDemand) -> TimingPlan:
    """*plan* with *corridor*'s phases at the outbound green starts *starts* (exact bands)."""
    return plan.at_green_starts(corridor, np.asarray(starts, dtype=float).tolist(),
                                period=plan.period or demand.name,
                                solver={**plan.solver, "refined": tag})


@dataclass(frozen=True, eq=False)
class _Alternative:
    """One split of one signal: its intersection, main-street windows, side PI, band data."""

    intersection: Intersection
    windows: Array  # (2, 4): per chain green_s, green_rel_s, turn_in_rel_s, turn_in_s
    side_pi: float  # side groups' delay + K·stops [veh·h/h]
    problem: BandProblem  # the band problem with this signal's windows


@dataclass(eq=False)
class _SearchState:
    """The hill-climb's current plan: intersections (phases), green starts and windows."""

    corridor: Corridor
    demand: PeriodDemand
    model: _Model
    stop_penalty_s: float
    xs: list[Intersection]
    starts: Array  # outbound green starts, common frame [s]
    window_table: Array  # (4, 2, m) in chain order
    side_pi: Array  # (m,) per signal
    problem: BandProblem
    volumes: Mapping[str, Mapping[str, float]]
    minimums: list[tuple[float, ...]]

    @classmethod
    def start(cls, plan: TimingPlan, corridor: Corridor, demand: PeriodDemand, model: _Model,
              stop_penalty_s: float) -> _SearchState:
        m = model.signal.shape[1]
        table = np.stack([model.green_s, model.green_rel_s, model.turn_in_rel_s,
                          model.turn_in_s])
        volumes = movement_volumes(corridor, demand)
        state = cls(corridor=corridor, demand=demand, model=model,
                    stop_penalty_s=stop_penalty_s, xs=list(corridor.intersections),
                    starts=np.array([s.green_out_start_s for s in plan.signals], dtype=float),
                    window_table=table, side_pi=np.zeros(m), problem=plan.band_problem(),
                    volumes=volumes,
                    minimums=[min_greens(x) if x.phases else () for x in corridor.intersections])
        state.side_pi = np.array([state._side_pi(x) for x in state.xs])
        return state

    def _side_pi(self, x: Intersection) -> float:
        groups = side_group_performance(x, self.volumes[x.id], cycle_s=self.model.cycle_s,
                                        duration_h=self.demand.duration_s / 3600.0)
        delay, stops = _side_totals(groups)
        return delay + self.stop_penalty_s * stops / 3600.0

    def _positions(self, i: int) -> list[int]:
        return [int(np.nonzero(self.model.signal[c] == i)[0][0]) for c in range(2)]

    def alternatives(self, i: int, band_greens: Sequence[float],
                     max_split_s: int) -> list[_Alternative]:
        """The current split of signal *i* first, then every bounded whole-second move."""
        x = self.xs[i]
        pos = self._positions(i)
        current = _Alternative(x, self.window_table[:, [0, 1], pos].T, float(self.side_pi[i]),
                               self.problem)
        greens = [p.green_s for p in x.phases]
        mins = self.minimums[i]
        out = [current]
        for a, b in itertools.permutations(range(len(greens)), 2):
            for d in range(1, max_split_s + 1):
                g = list(greens)
                g[a] -= d
                g[b] += d
                if g[a] < mins[a] - 1e-9 or any(abs(v - v0) > max_split_s + 1e-9
                                                for v, v0 in zip(g, band_greens, strict=True)):
                    continue
                alt = self._alternative(i, x.with_phases(
                    [replace(p, green_s=v) for p, v in zip(x.phases, g, strict=True)]))
                if alt is not None:
                    out.append(alt)
        return out

    def _alternative(self, i: int, x: Intersection) -> _Alternative | None:
        window = self.problem.signals[i]
        if x.green_out_s <= window.queue_out_s or x.green_in_s <= window.queue_in_s:
            return None  # the queue clearance would not fit the green
        cycle = self.model.cycle_s
        rows = []
        for green, rel in ((x.green_out_s, 0.0), (x.green_in_s, x.inbound_shift_s)):
            ti_rel, ti_len = _turn_in_window(x.phases, -x.out_green_start_s, rel, green, cycle)
            rows.append((green, rel, ti_rel, ti_len))
        signals = list(self.problem.signals)
        signals[i] = replace(window, green_out_s=x.green_out_s, green_in_s=x.green_in_s,
                             inbound_shift_s=x.inbound_shift_s)
        return _Alternative(x, np.array(rows), self._side_pi(x),
                            replace(self.problem, signals=tuple(signals)))

    def windows(self, i: int | None = None, alts: Sequence[_Alternative] = (),
                which: npt.NDArray[np.int_] | None = None) -> _Windows:
        """Windows of every row: the current ones, signal *i* from ``alts[which[row]]``."""
        if i is None or which is None:
            t = self.window_table[..., None]
        else:
            t = np.repeat(self.window_table[..., None], len(which), axis=-1)
            values = np.stack([a.windows for a in alts])[which]  # (rows, 2, 4)
            for c, p in enumerate(self._positions(i)):
                t[:, c, p, :] = values[:, c, :].T
        return _Windows(t[0], t[1], t[2], t[3])

    def accept(self, i: int, alt: _Alternative, starts: Array) -> None:
        self.starts = np.array(starts, dtype=float)
        if alt.intersection is self.xs[i]:
            return
        self.xs[i] = alt.intersection
        for c, p in enumerate(self._positions(i)):
            self.window_table[:, c, p] = alt.windows[c]
        self.side_pi[i] = alt.side_pi
        self.problem = alt.problem


def _plan_corridor(plan: TimingPlan, corridor: Corridor) -> Corridor:
    """The corridor with the plan's own phases and windows (a plan may differ in splits or
    left-turn sequence from the corridor's template)."""
    cycle = plan.cycle_s
    xs = tuple(
        replace(i, phases=s.phases, green_out_s=s.green_out_s, green_in_s=s.green_in_s,
                inbound_shift_s=s.green_in_start_s - s.green_out_start_s,
                out_green_start_s=(s.green_out_start_s - s.offset_s) % cycle)
        for i, s in zip(corridor.intersections, plan.signals, strict=True)
    )
    return replace(corridor, intersections=xs, cycle_s=cycle)



def partial_refinement(band: TimingPlan, refined: TimingPlan, corridor: Corridor,
                       fraction: float) -> TimingPlan:
    """The plan *fraction* of the way from *band* to *refined* (the SUMO check's back-off).

    Every signal's outbound green start moves by ``fraction`` × its refinement shift (the
    shortest way round the cycle) and every phase green by ``fraction`` × its change, both
    rounded to whole seconds (a signal's green changes by largest-remainder rounding, so
    they still add up to the cycle and each green lies between the two plans', hence within
    the refinement's bounds). ``fraction`` 0 gives *band*'s timing, 1 *refined*'s; the bands
    are exact.
    """
    if not (math.isfinite(fraction) and 0.0 <= fraction <= 1.0):
        raise InputError(f"fraction must be in [0, 1], found {fraction!r}", field="fraction",
                         value=fraction)
    if [s.id for s in band.signals] != [s.id for s in refined.signals] or not math.isclose(
            band.cycle_s, refined.cycle_s):
        raise InputError("the refined plan does not time the band plan's signals at its "
                         "cycle", field="refined")
    cycle = band.cycle_s
    base = _plan_corridor(band, corridor)
    xs, starts = [], []
    for x, b, r in zip(base.intersections, band.signals, refined.signals, strict=True):
        shift = (r.green_out_start_s - b.green_out_start_s + cycle / 2) % cycle - cycle / 2
        starts.append(b.green_out_start_s + round(fraction * shift))
        if b.phases and len(b.phases) == len(r.phases):
            moves = [fraction * (pr.green_s - pb.green_s)
                     for pb, pr in zip(b.phases, r.phases, strict=True)]
            whole = _round_preserving_sum(moves, 0)
            x = x.with_phases([replace(p, green_s=p.green_s + d)
                               for p, d in zip(b.phases, whole, strict=True)])
        xs.append(x)
    tag = f"{refined.solver.get('refined', 'transyt')} x {fraction:g}"
    return _rebuilt(band, replace(base, intersections=tuple(xs)), starts, tag,
                    PeriodDemand(band.period))
