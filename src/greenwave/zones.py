"""Sub-zones for long arterials: where one band through every signal serves badly.

One band through 23 signals is capped by the tightest stretch of the whole corridor. Practice
splits a long arterial into sub-zones, each coordinated on its own band at the common cycle
(the zones keep one cycle so they can still be linked later). Choosing the boundaries is
itself an optimization (MaxBandLAM, Sustainability 2023); here it is exact over the candidate
boundaries:

- *Zone value.* A zone of signals ``a..b`` is solved with MAXBAND (:func:`solve_maxband`, the
  zone's exact bands ``b_z``, ``b̄_z``); its value is its length-weighted efficiency
  ``L_z · (b_z + b̄_z) / (2C)``, so that a long zone with a good band counts for more than a
  short one.
- *Partition.* A dynamic programme over the candidate boundary links finds, for every number
  of zones ``K`` up to ``max_zones``, the partition with the largest total value (every zone
  at least ``min_signals`` signals). Its *score* is the total over the corridor length: the
  length-weighted mean efficiency.
- *Choice of K.* Every boundary stops part of the through platoon, so each one must pay for
  itself: the chosen ``K`` maximizes ``score − boundary_penalty · (K − 1)``
  (``boundary_penalty`` default 0.03, i.e. a boundary must raise the corridor's mean
  efficiency by three points).
- *Candidate boundaries.* By default the ``candidates`` longest links (a long link disperses
  the platoon anyway and is where engineers put boundaries); ``candidates=None`` allows every
  link (exact over all partitions, ``O(n²)`` zone solves).

The plan returned keeps each zone's offsets (zones are placed in one time frame zone by zone);
its ``zones`` hold the signal ranges, and :func:`zone_bands` recomputes every zone's exact
bands from the plan's own green starts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from greenwave.bands import BandProblem, BandResult, segment_bands
from greenwave.corridor import Corridor
from greenwave.errors import InfeasibleError, InputError
from greenwave.plan import TimingPlan, plan_from_offsets

__all__ = ["Zone", "ZoningResult", "optimize_zones", "zone_bands"]

#: Mean-efficiency gain a zone boundary has to bring (see the module docstring).
BOUNDARY_PENALTY = 0.03


@dataclass(frozen=True)
class Zone:
    """A zone of consecutive signals ``first..last`` (indices) and its exact bands."""

    first: int
    last: int
    first_id: str
    last_id: str
    length_m: float
    bandwidth_out_s: float
    bandwidth_in_s: float
    efficiency: float


@dataclass(frozen=True)
class ZoningResult:
    """The chosen partition, its plan, and the best partition for every zone count."""

    plan: TimingPlan
    zones: tuple[Zone, ...]
    score: float  # length-weighted mean efficiency of the chosen partition
    by_count: tuple[tuple[int, float, tuple[tuple[int, int], ...]], ...]  # (K, score, ranges)
    solves: int
    solve_s: float


def optimize_zones(
    corridor: Corridor,
    *,
    cycle_s: float | None = None,
    speed_kmh: float | None = None,
    max_zones: int = 4,
    min_signals: int = 4,
    candidates: int | None = 8,
    boundary_penalty: float = BOUNDARY_PENALTY,
    mode: str = "balanced",
    period: str = "",
    time_limit_s: float = 30.0,
    speed_range_kmh: tuple[float, float] | None = None,
    sequences: bool = False,
) -> ZoningResult:
    """Partition the corridor into sub-zones and coordinate each on its own band.

    By default each zone is solved at one band speed with the phase plans as they are
    (:func:`greenwave.maxband.solve_maxband`). With *speed_range_kmh* and/or *sequences*
    each zone is solved by full MAXBAND at the common cycle instead
    (:func:`greenwave.progression.solve_progression`: per-link progression speeds in the
    range, each signal's left-turn sequence chosen); the plan then carries every zone's
    speeds and sequences (links between zones at the design speed).

    Raises:
        InputError: options out of range (e.g. fewer signals than ``min_signals``).
        InfeasibleError: no partition has a band in every zone.
    """
    from greenwave.maxband import solve_maxband

    started = time.perf_counter()
    n = len(corridor.intersections)
    _check_options(n, max_zones, min_signals, candidates, boundary_penalty)
    timed = corridor.with_cycle(cycle_s) if cycle_s is not None else corridor
    problem: BandProblem = timed.band_problem(speed_kmh=speed_kmh)
    cycle = problem.cycle_s
    positions = [s.position_m for s in problem.signals]
    total_m = positions[-1] - positions[0]
    cuts = _candidate_cuts(positions, candidates)

    full = speed_range_kmh is not None or sequences
    solve_full = _full_zone_solver(timed, cycle, speed_range_kmh or (
        problem.speed_out_kmh, problem.speed_out_kmh), sequences, mode, time_limit_s)
    memo: dict[tuple[int, int], _ZoneSolution | None] = {}

    def zone(a: int, b: int) -> _ZoneSolution | None:
        """The zone's best bands, or None when it has no two-way band."""
        if (a, b) not in memo:
            try:  # two-way bands (a one-way zone is no green wave); centring comes last
                if full:
                    memo[a, b] = solve_full(a, b)
                else:
                    sol = solve_maxband(problem.segment(a, b), mode=mode, two_way=True,
                                        center=False, time_limit_s=time_limit_s)
                    memo[a, b] = _ZoneSolution(
                        sol.result.bandwidth_out_s + sol.result.bandwidth_in_s,
                        tuple(sol.green_out_start_s))
            except InfeasibleError:
                memo[a, b] = None
        return memo[a, b]

    def value(a: int, b: int) -> float | None:
        z = zone(a, b)
        return None if z is None else (positions[b] - positions[a]) * z.total_s / (2 * cycle)

    # ends[k]: zone boundaries are after signal cuts[k]; DP over boundary sequences
    starts_at = [0] + [c + 1 for c in cuts]
    ends_at = [*cuts, n - 1]
    best: dict[tuple[int, int], tuple[float, tuple[tuple[int, int], ...]]] = {}
    for e_idx, end in enumerate(ends_at):
        for k in range(1, max_zones + 1):
            options: list[tuple[float, tuple[tuple[int, int], ...]]] = []
            if k == 1:
                if end + 1 >= min_signals:
                    v = value(0, end)
                    if v is not None:
                        options.append((v, ((0, end),)))
            else:
                for s_idx, start in enumerate(starts_at[1:e_idx + 1], start=1):
                    prev = best.get((s_idx - 1, k - 1))
                    if prev is None or end - start + 1 < min_signals:
                        continue
                    v = value(start, end)
                    if v is not None:
                        options.append((prev[0] + v, (*prev[1], (start, end))))
            if options:
                best[e_idx, k] = max(options, key=lambda o: o[0])
    last = len(ends_at) - 1
    by_count = tuple((k, best[last, k][0] / total_m, best[last, k][1])
                     for k in range(1, max_zones + 1) if (last, k) in best)
    if not by_count:
        raise InfeasibleError(f"no partition into at most {max_zones} zones of at least "
                              f"{min_signals} signals has a band in every zone")
    _, score, ranges = max(by_count,
                                key=lambda r: (r[1] - boundary_penalty * (r[0] - 1), -r[0]))
    green_starts: list[float] = []
    extra: dict[str, Any] = {}
    if full:
        chosen = [memo[a, b] for a, b in ranges]
        picked = [z for z in chosen if z is not None]
        for z in picked:
            green_starts.extend(z.green_out_start_s)
        timed, extra = _assemble(timed, ranges, picked, problem.speed_out_kmh,
                                 problem.speed_in_kmh)
    else:
        for a, b in ranges:  # the chosen zones again, now with the bands centred in greens
            sol = solve_maxband(problem.segment(a, b), mode=mode, two_way=True,
                                time_limit_s=time_limit_s)
            green_starts.extend(sol.green_out_start_s)
    plan = plan_from_offsets(
        timed, green_starts, speed_out_kmh=problem.speed_out_kmh,
        speed_in_kmh=problem.speed_in_kmh, period=period, **extra,
        solver={
            "method": "maxband-zones",
            "mode": mode,
            "status": "optimal",
            "zones": [[a, b] for a, b in ranges],
            "zone_ids": [[problem.signals[a].id, problem.signals[b].id] for a, b in ranges],
            "options": {"max_zones": max_zones, "min_signals": min_signals,
                        "candidates": candidates, "boundary_penalty": boundary_penalty,
                        "speed_range_kmh": list(speed_range_kmh) if speed_range_kmh
                        else None, "sequences": sequences},
            "by_count": [{"zones": k, "score": round(s, 6), "ranges": [list(r) for r in rr]}
                         for k, s, rr in by_count],
            "solves": len(memo),
            "solve_s": round(time.perf_counter() - started, 4),
        },
    )
    zones = zone_bands(plan, ranges)
    return ZoningResult(plan=plan, zones=zones, score=score, by_count=by_count,
                        solves=len(memo), solve_s=time.perf_counter() - started)


@dataclass(frozen=True)
class _ZoneSolution:
    total_s: float  # b + b̄ of the zone [s]
    green_out_start_s: tuple[float, ...]
    sequences: tuple[str, ...] = ()  # chosen option names (full model)
    choice: tuple[int, ...] = ()
    link_speeds_out_kmh: tuple[float, ...] = ()
    link_speeds_in_kmh: tuple[float, ...] = ()


def _full_zone_solver(timed: Corridor, cycle: float, speed_range: tuple[float, float],
                      sequences: bool, mode: str, time_limit_s: float
                      ) -> Callable[[int, int], _ZoneSolution]:
    from greenwave.optimize import _progression_signals
    from greenwave.progression import ProgressionProblem, solve_progression

    signals = _progression_signals(lambda c, whole: timed.with_cycle(c, whole_seconds=whole),
                                   cycle, cycle, sequences, None)

    def solve(a: int, b: int) -> _ZoneSolution:
        links = b - a
        p = ProgressionProblem(signals[a:b + 1], (cycle, cycle), (speed_range,) * links,
                               (speed_range,) * links)
        sol = solve_progression(p, mode=mode, time_limit_s=time_limit_s)
        return _ZoneSolution(sol.result.bandwidth_out_s + sol.result.bandwidth_in_s,
                             sol.green_out_start_s, sol.option_names, sol.choice,
                             sol.link_speeds_out_kmh, sol.link_speeds_in_kmh)

    return solve


def _assemble(timed: Corridor, ranges: Sequence[tuple[int, int]],
              zones: Sequence[_ZoneSolution], speed_out: float, speed_in: float
              ) -> tuple[Corridor, dict[str, Any]]:
    """The corridor with each zone's chosen sequences, and the plan's per-link speeds."""
    from dataclasses import replace

    from greenwave.optimize import _variants

    xs = list(timed.intersections)
    names: list[str] = []
    speeds_out: list[float] = []
    speeds_in: list[float] = []
    for q, ((a, b), z) in enumerate(zip(ranges, zones, strict=True)):
        for i, o in zip(range(a, b + 1), z.choice, strict=True):
            xs[i] = _variants(xs[i], True)[o].intersection
        names += z.sequences
        speeds_out += z.link_speeds_out_kmh
        speeds_in += z.link_speeds_in_kmh
        if q < len(ranges) - 1:  # the link between two zones: the design speed
            speeds_out.append(speed_out)
            speeds_in.append(speed_in)
    return (replace(timed, intersections=tuple(xs)),
            {"sequences": names, "link_speeds_out_kmh": speeds_out,
             "link_speeds_in_kmh": speeds_in})


def zone_bands(plan: TimingPlan, ranges: Sequence[tuple[int, int]]) -> tuple[Zone, ...]:
    """Every zone's exact bands, recomputed from the plan's own green starts."""
    problem = plan.band_problem()
    starts = [s.green_out_start_s for s in plan.signals]
    zones = []
    for a, b in ranges:
        r: BandResult = segment_bands(problem, starts, a, b)
        zones.append(Zone(
            first=a, last=b, first_id=plan.signals[a].id, last_id=plan.signals[b].id,
            length_m=plan.signals[b].position_m - plan.signals[a].position_m,
            bandwidth_out_s=r.bandwidth_out_s, bandwidth_in_s=r.bandwidth_in_s,
            efficiency=r.efficiency,
        ))
    return tuple(zones)


def _candidate_cuts(positions: Sequence[float], candidates: int | None) -> list[int]:
    """Signals after which a boundary may fall (the longest links' upstream ends)."""
    links = [(positions[j + 1] - positions[j], j) for j in range(len(positions) - 1)]
    if candidates is None or candidates >= len(links):
        return [j for _, j in links]
    chosen = sorted(links, key=lambda x: (-x[0], x[1]))[:candidates]
    return sorted(j for _, j in chosen)


def _check_options(n: int, max_zones: int, min_signals: int, candidates: int | None,
                   penalty: float) -> None:
    checks: list[tuple[bool, str, str, Any]] = [
        (isinstance(max_zones, int) and max_zones >= 1, "max_zones", "an integer >= 1",
         max_zones),
        (isinstance(min_signals, int) and 2 <= min_signals <= n, "min_signals",
         f"an integer from 2 to the number of signals ({n})", min_signals),
        (candidates is None or (isinstance(candidates, int) and candidates >= 0),
         "candidates", "an integer >= 0 or None (every link)", candidates),
        (math.isfinite(penalty) and penalty >= 0, "boundary_penalty", "a number >= 0",
         penalty),
    ]
    for ok, name, expected, value in checks:
        if not ok:
            raise InputError(f"{name} = {value!r}: expected {expected}", field=name,
                             value=value)
