"""Corridor-level optimization: corridor in, coordinated timing plan out."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from greenwave.corridor import Corridor, Intersection
from greenwave.errors import InputError
from greenwave.plan import TimingPlan, plan_from_offsets
from greenwave.sequences import SequenceVariant, sequence_variants

if TYPE_CHECKING:
    from greenwave.progression import (
        Affine,
        ProgressionProblem,
        ProgressionSignal,
        ProgressionSolution,
    )

#: Band formulations of :func:`optimize_progression`.
METHODS = ("maxband", "multiband")
#: Where the greens come from (see :func:`optimize_progression`).
SPLITS = ("spec", "demand")

#: Margin below which a cycle's upper bound (continuous offsets) counts as below a solved
#: cycle's MULTIBAND optimum [cycles]: far above the solver's tolerances, far below any
#: difference of band that matters.
_DOMINANCE_SLACK = 1e-7

#: Saturation headway of a discharging queue [s/veh] and start-up lost time [s] (HCM).
QUEUE_HEADWAY_S = 2.0
STARTUP_LOST_S = 2.0


def optimize_corridor(
    corridor: Corridor,
    *,
    cycle_s: float | None = None,
    speed_kmh: float | None = None,
    speed_in_kmh: float | None = None,
    mode: str = "balanced",
    k: float = 1.0,
    period: str = "",
    time_limit_s: float = 30.0,
    two_way: bool = True,
    center: bool = True,
    hint_green_out_start_s: Sequence[float] | None = None,
    node_limit: int | None = None,
    mip_gap: float | None = None,
    fast_root: bool = True,
) -> TimingPlan:
    """Offsets that maximize the two-way progression band at one cycle and band speed.

    Solves the MAXBAND MILP (see :mod:`greenwave.maxband`), then reports the bands an exact
    evaluation of the returned offsets gives. ``mode`` is ``balanced`` (largest b + b̄, then
    the most even split), ``weighted`` (maximize b + k·b̄, MAXBAND's k = inbound/outbound volume
    ratio) or ``equal`` (b = b̄). With ``two_way`` (the default) both bands must exist, as in
    classic MAXBAND; when no two-way band exists the one-way optimum (largest b + b̄) is
    returned instead, whatever the mode, and ``plan.solver["two_way"]`` is False.
    *center*, *node_limit*, *mip_gap*, *fast_root* and *hint_green_out_start_s* (a warm
    start, e.g. the green starts of the plan in force) are passed to
    :func:`greenwave.maxband.solve_maxband`; a re-solve that must be fast turns centring off
    (it needs a budget of its own) and uses work limits.
    """
    from greenwave.errors import InfeasibleError
    from greenwave.maxband import solve_maxband

    if not (math.isfinite(k) and k >= 0):
        raise InputError(f"k must be a finite number >= 0, found {k!r}", field="k", value=k)
    if cycle_s is not None:
        corridor = corridor.with_cycle(cycle_s)
    if speed_kmh is not None:
        corridor = replace(corridor, speed_kmh=speed_kmh,
                           speed_in_kmh=speed_in_kmh or speed_kmh)
    elif speed_in_kmh is not None:
        corridor = replace(corridor, speed_in_kmh=speed_in_kmh)
    problem = corridor.band_problem()
    gap: dict[str, Any] = {"fast_root": fast_root}
    if mip_gap is not None:
        gap["mip_gap"] = mip_gap
    try:
        solution = solve_maxband(problem, k=k, mode=mode, time_limit_s=time_limit_s,
                                 two_way=two_way, center=center,
                                 hint_green_out_start_s=hint_green_out_start_s,
                                 node_limit=node_limit, **gap)
    except InfeasibleError:
        if not two_way:
            raise
        # No two-way band exists: the best one-way plan (largest b + b̄, one of them 0);
        # equal or weighted shares are meaningless without a band in both directions.
        two_way = False
        solution = solve_maxband(problem, mode="balanced", time_limit_s=time_limit_s,
                                 center=center, hint_green_out_start_s=hint_green_out_start_s,
                                 node_limit=node_limit, **gap)
    return plan_from_offsets(
        corridor,
        solution.green_out_start_s,
        speed_out_kmh=problem.speed_out_kmh,
        speed_in_kmh=problem.speed_in_kmh,
        period=period,
        solver={
            "method": "maxband",
            "mode": solution.mode.value,
            "k": k,
            "two_way": two_way,
            "status": solution.status,
            "gap": solution.gap,
            "solve_s": round(solution.solve_s, 4),
            "objective": solution.objective,
        },
    )


# --------------------------------------------------------------------------------------------
# full MAXBAND: cycle range, speed ranges, left-turn sequences, queue clearance


def optimize_progression(
    corridor: Corridor,
    *,
    cycle_range_s: tuple[float, float] | None = None,
    speed_range_kmh: tuple[float, float] | None = None,
    speed_in_range_kmh: tuple[float, float] | None = None,
    max_speed_change_kmh: float | None = None,
    sequences: bool = True,
    queue_clearance_s: Sequence[tuple[float, float]] | None = None,
    queue_from_demand: bool = False,
    mode: str = "balanced",
    k: float = 1.0,
    period: str = "",
    time_limit_s: float = 30.0,
    method: str = "maxband",
    multiband_p: float = 1.0,
    splits: str = "spec",
) -> TimingPlan:
    """Cycle, progression speeds, left-turn sequences and offsets by full MAXBAND (or
    MULTIBAND with ``method="multiband"``).

    Two solves (see :mod:`greenwave.progression`): first with the cycle free in
    *cycle_range_s* (``z = 1/C``; greens proportional to the cycle as
    :meth:`Corridor.with_cycle` retimes them, before rounding to whole seconds); then, at the
    whole-second cycles next to the one found, the corridor is retimed exactly and the
    speeds, sequences and whole-second offsets are solved again; the better of these is
    returned. MULTIBAND seeds its cycle stage with MAXBAND's optimum and bounds each
    whole-second cycle by its continuous-offset optimum: a cycle whose bound is below the
    other's whole-second optimum cannot win and is not solved (stage status ``dominated``).
    Its bands are exact; ``plan.solver`` records the options, both stages' status, gap and
    time.

    Args:
        cycle_range_s: ``(C_min, C_max)``; default the corridor's ``cycle_range_s``, else its
            cycle.
        speed_range_kmh: progression speed range of every link, outbound; default the
            corridor's ``speed_range_kmh``, else its band speed.
        speed_in_range_kmh: the same inbound (default: as outbound).
        max_speed_change_kmh: largest change of progression speed between consecutive links
            (enforced as a bound on the change of 1/speed; see ProgressionProblem).
        sequences: let the optimizer choose each major signal's left-turn sequence
            (lag/lag or the template's own, lead/lag, lag/lead; :mod:`greenwave.sequences`).
        queue_clearance_s: per signal ``(outbound, inbound)`` queue clearance [s] the band
            leaves at the start of the green.
        queue_from_demand: queue clearance from the *period*'s turning-in flows instead
            (:func:`queue_clearance_model`).
        method: ``maxband`` (one band per direction through every signal) or ``multiband``
            (a band per link, weighted by ``(V/S)^p`` with *multiband_p* from the period's
            demand, and MAXBAND's directional ratio per link; weights 1 without demand).
            *mode* and *k* apply to ``maxband`` only.
        splits: ``spec`` (the phase plans' greens, retimed in proportion to the cycle) or
            ``demand`` (Webster/HCM critical-lane splits of the *period*'s volumes at every
            cycle, minimum and pedestrian greens kept, slack to the coordinated phase:
            :func:`greenwave.splits.corridor_splits`). The cycle stage interpolates the
            greens linearly between the ends of the range; the whole-second stage uses the
            exact splits at its cycle.
    """
    from greenwave.progression import (
        Affine,
        ProgressionProblem,
        solve_multiband,
        solve_progression,
    )

    if splits not in SPLITS:
        raise InputError(f"unknown splits {splits!r}; expected one of {', '.join(SPLITS)}",
                         field="splits", value=splits)
    split_period = period or corridor.default_period
    if splits == "demand" and not corridor.demand:
        raise InputError("splits from demand need a TOML spec with periods",
                         file=corridor.source or None, field="splits", value=splits)

    def retime(cycle: float, whole: bool = True) -> Corridor:
        if splits == "demand":
            from greenwave.splits import corridor_splits

            return corridor_splits(corridor, split_period, cycle, whole_seconds=whole)
        return corridor.with_cycle(cycle, whole_seconds=whole)

    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}",
                         field="method", value=method)
    weights: tuple[list[float], list[float], list[float] | None] = (
        [1.0] * (len(corridor.intersections) - 1),) * 2 + (None,)
    if method == "multiband" and corridor.demand:
        weights = multiband_weights(corridor, period or corridor.default_period, multiband_p)

    def solve(pr: ProgressionProblem, integer: bool = True,
              hint: ProgressionSolution | None = None,
              bound: float | None = None, seed: bool = False) -> ProgressionSolution:
        if method == "multiband":
            return solve_multiband(pr, weights_out=weights[0], weights_in=weights[1],
                                   k_links=weights[2], integer_offsets=integer,
                                   time_limit_s=time_limit_s, hint=hint, bound=bound,
                                   seed=seed)
        return solve_progression(pr, mode=mode, k=k, integer_offsets=integer,
                                 time_limit_s=time_limit_s, hint=hint, bound=bound)

    started = time.perf_counter()
    c_lo, c_hi = _cycle_range(corridor, cycle_range_s)
    s_out = _speed_range(speed_range_kmh or corridor.speed_range_kmh,
                         corridor.speed_kmh, "speed_range_kmh")
    s_in = _speed_range(speed_in_range_kmh or speed_range_kmh or corridor.speed_range_kmh,
                        corridor.speed_in_kmh or corridor.speed_kmh, "speed_in_range_kmh")
    change = None
    if max_speed_change_kmh is not None:
        if not (math.isfinite(max_speed_change_kmh) and max_speed_change_kmh >= 0):
            raise InputError(f"max_speed_change_kmh = {max_speed_change_kmh!r}: expected a "
                             "finite number >= 0", field="max_speed_change_kmh",
                             value=max_speed_change_kmh)
        v_max = max(s_out[1], s_in[1])
        change = max_speed_change_kmh * 3.6 / v_max**2
    queues: list[tuple[Affine, Affine]] | None = None
    if queue_from_demand:
        queues = queue_clearance_model(corridor, period or corridor.default_period)
    elif queue_clearance_s is not None:
        queues = [(Affine.constant(a), Affine.constant(b)) for a, b in queue_clearance_s]
        if len(queues) != len(corridor.intersections):
            raise InputError(f"expected {len(corridor.intersections)} queue clearances, "
                             f"found {len(queues)}", field="queue_clearance_s",
                             value=len(queues))

    def problem(lo: float, hi: float) -> ProgressionProblem:
        try:
            signals = _progression_signals(retime, lo, hi, sequences, queues)
        except InputError as exc:
            if exc.field != "cycle_s":
                raise
            # the cycle came from the range asked for, not from the spec: say so
            raise InputError(f"{exc.message} (cycle range {c_lo:g}-{c_hi:g} s)",
                             field="cycle_range_s", value=(c_lo, c_hi)) from None
        links = len(signals) - 1
        return ProgressionProblem(signals, (lo, hi), (s_out,) * links, (s_in,) * links, change)

    stages: list[dict[str, Any]] = []
    candidates = [float(c_lo)] if math.isclose(c_lo, c_hi) else []
    free: ProgressionSolution | None = None
    if not candidates:
        # the cycle stage only chooses the cycle: balanced mode's total b + b̄ decides it, the
        # split between the directions is settled at the whole-second cycle
        free_problem = problem(c_lo, c_hi)
        if method == "multiband":
            free = solve(free_problem, integer=False, hint=_maxband_point(free_problem),
                         seed=True)
        else:
            free = solve_progression(free_problem, mode="weighted" if mode ==
                                     "balanced" else mode, k=1.0 if mode == "balanced" else k,
                                     integer_offsets=False, time_limit_s=time_limit_s)
        stages.append(_stage_record("cycle", free))
        candidates = _whole_cycles(free.cycle_s, c_lo, c_hi)

    def whole_second(cycle: float) -> ProgressionSolution:
        fixed = problem(cycle, cycle)
        # the cycle stage's optimum bounds this cycle's when it saw the same windows there
        bound = (free.objective if free is not None
                 and _same_windows(free_problem, fixed, cycle) else None)
        return solve(fixed, hint=free, bound=bound)

    def relaxed(cycle: float) -> tuple[ProgressionProblem, ProgressionSolution]:
        fixed = problem(cycle, cycle)
        return fixed, solve(fixed, integer=False, hint=free)

    if method == "multiband":
        # MULTIBAND: each whole-second cycle's continuous-offset optimum first (the same MILP
        # without the integrality of the relative offsets K_j: a valid upper bound, and
        # solved in a fraction of the time). Its options and loop integers with whole-second
        # offsets give the incumbent of the whole-second search (often its optimum: the
        # search then only proves it). The cycle nearest the cycle stage's is solved first,
        # while the other's bound is computed beside it; a cycle whose bound is below a
        # solved cycle's optimum cannot have a larger objective and is not solved.
        first = min(range(len(candidates)),
                    key=lambda i: (abs(candidates[i] - (free.cycle_s if free else c_lo)), i))

        def first_cycle() -> tuple[ProgressionSolution, ProgressionSolution]:
            fixed, upper = relaxed(candidates[first])
            if not _integer_cycle(candidates[first]):
                return upper, upper
            return upper, solve(fixed, hint=upper, bound=upper.objective)

        with ThreadPoolExecutor(max_workers=len(candidates)) as pool:
            head = pool.submit(first_cycle)
            others = {i: pool.submit(relaxed, c) for i, c in enumerate(candidates)
                      if i != first}
            upper, sol = head.result()
            bounds = {i: f.result() for i, f in others.items()}
        solutions = [sol]
        records = {first: _stage_record(f"offsets at {candidates[first]:g} s", sol)}
        for i, (fixed, upper) in sorted(bounds.items()):
            name = f"offsets at {candidates[i]:g} s"
            if upper.objective < max(s.objective for s in solutions) - _DOMINANCE_SLACK:
                records[i] = {"stage": name, "cycle_s": round(candidates[i], 6),
                              "status": "dominated", "gap": 0.0,
                              "solve_s": round(upper.solve_s, 4),
                              "bound": upper.objective}
                continue
            sol = upper
            if _integer_cycle(candidates[i]):
                sol = solve(fixed, hint=upper, bound=upper.objective)
            solutions.append(sol)
            records[i] = _stage_record(name, sol)
        stages += [records[i] for i in range(len(candidates))]
    else:
        # the (at most two) cycles are independent MILPs: solved side by side (OR-Tools
        # releases the GIL while it solves), each in its own solver, so the result is the
        # same either way
        with ThreadPoolExecutor(max_workers=len(candidates)) as pool:
            solutions = list(pool.map(whole_second, candidates))
        stages += [_stage_record(f"offsets at {c:g} s", sol)
                   for c, sol in zip(candidates, solutions, strict=True)]
    if method == "multiband":
        best = max(solutions, key=lambda sol: _multiband_score(sol, weights[0], weights[1]))
    else:
        best = max(solutions, key=lambda sol: _score(sol, mode, k))
    timed = retime(best.cycle_s)
    chosen = tuple(
        _variants(i, sequences)[o].intersection for i, o in zip(timed.intersections,
                                                                   best.choice, strict=True)
    )
    timed = replace(timed, intersections=chosen)
    windows = best.problem.signals
    return plan_from_offsets(
        timed,
        best.green_out_start_s,
        speed_out_kmh=best.problem.speed_out_kmh,
        speed_in_kmh=best.problem.speed_in_kmh,
        period=period,
        link_speeds_out_kmh=best.link_speeds_out_kmh,
        link_speeds_in_kmh=best.link_speeds_in_kmh,
        sequences=best.option_names,
        queues_s=[(w.queue_out_s, w.queue_in_s) for w in windows],
        solver={
            "method": "multiband" if method == "multiband" else "maxband-full",
            "mode": best.mode.value if method == "maxband" else "link-weighted",
            "k": k,
            "two_way": True,
            "status": best.status if all(s["status"] in ("optimal", "dominated")
                                         for s in stages)
            else "feasible",
            "gap": max(s["gap"] for s in stages),
            "solve_s": round(time.perf_counter() - started, 4),
            "options": {
                "cycle_range_s": [c_lo, c_hi],
                "splits": splits,
                "speed_range_kmh": list(s_out),
                "speed_in_range_kmh": list(s_in),
                "max_speed_change_kmh": max_speed_change_kmh,
                "sequences": sequences,
                "queue_clearance": "demand" if queue_from_demand
                else "given" if queues is not None else "none",
                **({"multiband_p": multiband_p,
                    "link_weights_out": [round(w, 6) for w in weights[0]],
                    "link_weights_in": [round(w, 6) for w in weights[1]]}
                   if method == "multiband" else {}),
            },
            "stages": stages,
        },
    )


def directional_ratio(corridor: Corridor, period: str) -> float:
    """MAXBAND's ``k``: the period's inbound over outbound main-street volume [-]."""
    demand = corridor.period(period)
    if demand.main_out_vph <= 0:
        raise InputError(f"period {period}: no outbound volume, the ratio k is undefined",
                         file=corridor.source or None, field="main_out_vph", value=0.0)
    return demand.main_in_vph / demand.main_out_vph


def multiband_weights(corridor: Corridor, period: str, p: float
                      ) -> tuple[list[float], list[float], list[float]]:
    """MULTIBAND's link weights ``a_j = (V_j / S_j)^p`` and ratios ``k_j = V̄_j / V_j``.

    ``V_j`` is the outbound volume on link ``j`` (all that approaches signal ``j + 1``),
    ``V̄_j`` the inbound one (all that approaches signal ``j``), from the period's movement
    volumes; ``S_j`` the through saturation flow of that approach
    (:data:`greenwave.splits.SATURATION_VPHPL` per through lane). ``p = 0`` weighs every link
    alike; Gartner et al. use ``p`` in {0, 1, 2, 4}.
    """
    from greenwave.splits import SATURATION_VPHPL, movement_volumes

    if not (math.isfinite(p) and 0 <= p <= 8):
        raise InputError(f"multiband p = {p!r}: expected a number from 0 to 8",
                         field="multiband_p", value=p)
    volumes = movement_volumes(corridor, period)
    xs = corridor.intersections
    w_out, w_in, ratios = [], [], []
    for a, b in itertools.pairwise(xs):
        v_out = sum(volumes[b.id][m] for m in ("out_T", "out_L", "out_R"))
        v_in = sum(volumes[a.id][m] for m in ("in_T", "in_L", "in_R"))
        w_out.append((v_out / (SATURATION_VPHPL * b.through_lanes)) ** p)
        w_in.append((v_in / (SATURATION_VPHPL * a.through_lanes)) ** p)
        ratios.append(v_in / v_out if v_out > 0 else 1.0)
    return w_out, w_in, ratios


def queue_clearance_model(corridor: Corridor, period: str) -> list[tuple[Affine, Affine]]:
    """Queue clearance per signal and direction from the flows turning in upstream [s].

    Vehicles that turn into the main street at signal ``i`` (from the cross street, during
    its phase) reach signal ``i + 1`` ahead of the platoon and queue there: per cycle and
    lane ``N = V_turn-in · C / 3600 / lanes`` of them. The band leaves them
    ``τ = STARTUP_LOST_S + QUEUE_HEADWAY_S · N`` at the start of the green (MAXBAND's τ;
    ORACLES case 2: 8 vehicles, 2 s headway, 3 s lost time → 19 s). ``τ`` grows with the
    cycle, ``τ(C) = a + b·C``. The first signal of each direction has no upstream turn-ins.
    """
    from greenwave.progression import Affine
    from greenwave.splits import movement_volumes

    volumes = movement_volumes(corridor, period)
    xs = corridor.intersections
    n = len(xs)
    out = [Affine() for _ in range(n)]
    inb = [Affine() for _ in range(n)]

    def tau(turn_in_vph: float, lanes: int) -> Affine:
        if turn_in_vph <= 0:
            return Affine()
        return Affine(STARTUP_LOST_S, QUEUE_HEADWAY_S * turn_in_vph / 3600.0 / max(lanes, 1))

    for i in range(n - 1):
        v = volumes[xs[i].id]
        # what turns into the outbound direction at i equals what turns off it there
        out[i + 1] = tau(v.get("out_L", 0.0) + v.get("out_R", 0.0), xs[i + 1].through_lanes)
        w = volumes[xs[i + 1].id]
        inb[i] = tau(w.get("in_L", 0.0) + w.get("in_R", 0.0), xs[i].through_lanes)
    return list(zip(out, inb, strict=True))


def _cycle_range(corridor: Corridor,
                 cycle_range_s: tuple[float, float] | None) -> tuple[float, float]:
    if cycle_range_s is None:
        cycle_range_s = corridor.cycle_range_s
    if cycle_range_s is None:
        if corridor.cycle_s is None:
            raise InputError("no cycle given: pass a cycle or a cycle range", field="cycle_s")
        return corridor.cycle_s, corridor.cycle_s
    lo, hi = (float(v) for v in cycle_range_s)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise InputError(f"cycle range {lo:g}-{hi:g} s is empty", field="cycle_range_s",
                         value=(lo, hi))
    return lo, hi


def _speed_range(value: tuple[float, float] | None, fallback: float,
                 name: str) -> tuple[float, float]:
    lo, hi = (float(v) for v in value) if value is not None else (fallback, fallback)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise InputError(f"speed range {lo:g}-{hi:g} km/h is empty", field=name,
                         value=(lo, hi))
    return lo, hi


def _variants(intersection: Intersection, sequences: bool) -> tuple[SequenceVariant, ...]:
    variants = sequence_variants(intersection)
    return variants if sequences else variants[:1]


def _progression_signals(
    retime: Callable[[float, bool], Corridor], c_lo: float, c_hi: float, sequences: bool,
    queues: Sequence[tuple[Affine, Affine]] | None,
) -> tuple[ProgressionSignal, ...]:
    """Each intersection's options, windows affine in C through their values at both ends."""
    from greenwave.progression import Affine, ProgressionSignal, SignalOption

    exact = math.isclose(c_lo, c_hi)
    low = retime(c_lo, exact)
    high = low if exact else retime(c_hi, False)
    signals = []
    for n, (a, b) in enumerate(zip(low.intersections, high.intersections, strict=True)):
        at_lo = {v.name: v.intersection for v in _variants(a, sequences)}
        at_hi = {v.name: v.intersection for v in _variants(b, sequences)}
        q_out, q_in = queues[n] if queues is not None else (Affine(), Affine())
        options = tuple(
            SignalOption(
                name=name,
                green_out=Affine.through(c_lo, x.green_out_s, c_hi, at_hi[name].green_out_s),
                green_in=Affine.through(c_lo, x.green_in_s, c_hi, at_hi[name].green_in_s),
                shift=Affine.through(c_lo, x.inbound_shift_s, c_hi,
                                     at_hi[name].inbound_shift_s),
                queue_out=q_out,
                queue_in=q_in,
            )
            for name, x in at_lo.items() if name in at_hi  # valid over the whole range
        )
        signals.append(ProgressionSignal(a.id, a.position_m, options))
    return tuple(signals)


def _maxband_point(problem: ProgressionProblem) -> ProgressionSolution | None:
    """MAXBAND's optimum (b + b̄) of *problem*: a feasible MULTIBAND point (every link band
    the through band) whose options and loop integers seed MULTIBAND; None when it has none."""
    from greenwave.errors import InfeasibleError, SolverError
    from greenwave.progression import solve_progression

    try:
        return solve_progression(problem, mode="weighted", k=1.0, integer_offsets=False)
    except (InfeasibleError, SolverError):
        return None


def _integer_cycle(cycle: float) -> bool:
    return float(cycle).is_integer()


def _same_windows(free: ProgressionProblem, fixed: ProgressionProblem, cycle: float) -> bool:
    """Whether *free* (a cycle range) offers at *cycle* exactly the options of *fixed*."""
    if (free.speed_out_kmh, free.speed_in_kmh, free.max_change_s_per_m) != (
            fixed.speed_out_kmh, fixed.speed_in_kmh, fixed.max_change_s_per_m):
        return False
    for a, b in zip(free.signals, fixed.signals, strict=True):
        if [o.name for o in a.options] != [o.name for o in b.options]:
            return False
        for oa, ob in zip(a.options, b.options, strict=True):
            for name in ("green_out", "green_in", "shift", "queue_out", "queue_in"):
                if not math.isclose(getattr(oa, name).at(cycle), getattr(ob, name).at(cycle),
                                    abs_tol=1e-9):
                    return False
    return True


def _whole_cycles(cycle: float, c_lo: float, c_hi: float) -> list[float]:
    """The whole-second cycles next to *cycle* inside the range (or *cycle* itself)."""
    out = sorted({float(c) for c in (math.floor(cycle), math.ceil(cycle))
                  if c_lo - 1e-9 <= c <= c_hi + 1e-9})
    return out or [cycle]


def _score(sol: ProgressionSolution, mode: str, k: float) -> tuple[float, float]:
    """What the mode maximizes, in cycles, from the exact bands."""
    b, b_in = sol.result.bandwidth_out_s / sol.cycle_s, sol.result.bandwidth_in_s / sol.cycle_s
    if mode == "balanced":
        return b + b_in, min(b, b_in)
    return b + k * b_in, 0.0


def _multiband_score(sol: ProgressionSolution, w_out: Sequence[float],
                     w_in: Sequence[float]) -> float:
    """MULTIBAND's objective from the exact link bands, in cycles."""
    total = sum(a * b for a, b in zip(w_out, sol.link_bands_out_s, strict=True))
    total += sum(a * b for a, b in zip(w_in, sol.link_bands_in_s, strict=True))
    return total / sol.cycle_s


def _stage_record(name: str, sol: ProgressionSolution) -> dict[str, Any]:
    return {
        "stage": name,
        "cycle_s": round(sol.cycle_s, 6),
        "status": sol.status,
        "gap": sol.gap,
        "solve_s": round(sol.solve_s, 4),
        "bandwidth_out_s": round(sol.result.bandwidth_out_s, 6),
        "bandwidth_in_s": round(sol.result.bandwidth_in_s, 6),
    }


# --------------------------------------------------------------------------------------------
# time-of-day plans

#: How the periods' cycles relate (see :func:`optimize_day`).
CYCLE_POLICIES = ("independent", "common", "harmonic")


def optimize_day(
    corridor: Corridor,
    *,
    periods: Sequence[str] | None = None,
    cycle_policy: str = "independent",
    cycle_ranges_s: dict[str, tuple[float, float]] | None = None,
    splits: str = "demand",
    **options: Any,
) -> dict[str, TimingPlan]:
    """One plan per period (time-of-day plans) in one run, by full MAXBAND/MULTIBAND.

    Args:
        periods: the periods to plan (default: every period of the spec, in its order).
        cycle_policy: ``independent`` (each period the best cycle of its own range),
            ``common`` (one cycle for every period: the whole-second cycle, among the periods'
            own optima, with the largest summed objective over the periods; controllers then
            change plans without a cycle transition), or ``harmonic`` (the first period's
            optimum ``B``; every other period runs at ``B/2``, ``B`` or ``2B`` — double or
            half cycling —, the best of those inside its range).
        cycle_ranges_s: per-period cycle range (default: the spec's ``cycle_range_s``).
        splits: as :func:`optimize_progression` (default ``demand``: each period's own
            Webster/HCM splits, which is what makes the plans differ).
        options: passed to :func:`optimize_progression` (speed ranges, sequences, method, ...);
            ``k="demand"`` takes each period's inbound/outbound volume ratio
            (:func:`directional_ratio`).

    Raises:
        InputError: unknown policy or period, or a corridor without demand.
        InfeasibleError: a harmonic cycle fits no range of a period.
    """
    from greenwave.errors import InfeasibleError

    if cycle_policy not in CYCLE_POLICIES:
        raise InputError(f"unknown cycle policy {cycle_policy!r}; expected one of "
                         f"{', '.join(CYCLE_POLICIES)}", field="cycle_policy",
                         value=cycle_policy)
    if not corridor.demand:
        raise InputError("time-of-day plans need a TOML spec with demand periods",
                         file=corridor.source or None, field="period")
    names = list(periods) if periods is not None else [p.name for p in corridor.demand]
    if not names:
        raise InputError("no period to plan", field="period")
    for name in names:
        corridor.period(name)  # raises InputError naming the period
    ranges = {n: (cycle_ranges_s or {}).get(n) or _cycle_range(corridor, None) for n in names}
    method = options.get("method", "maxband")

    def plan(name: str, rng: tuple[float, float]) -> TimingPlan:
        opts = dict(options)
        if opts.get("k") == "demand":  # each period its own directional ratio
            opts["k"] = directional_ratio(corridor, name)
        return optimize_progression(corridor, cycle_range_s=rng, period=name, splits=splits,
                                    **opts)

    def score(p: TimingPlan) -> float:
        if method == "multiband":  # mean link band over the cycle
            links = p.link_bands_out_s + p.link_bands_in_s
            return sum(links) / max(1, len(links)) / p.cycle_s
        return p.efficiency

    own = {n: plan(n, ranges[n]) for n in names}
    if cycle_policy == "independent":
        return own
    if cycle_policy == "common":
        lo = max(r[0] for r in ranges.values())
        hi = min(r[1] for r in ranges.values())
        if lo > hi + 1e-9:
            raise InfeasibleError("the periods' cycle ranges do not overlap; a common cycle "
                                  "is impossible: " + ", ".join(
                                      f"{n} {r[0]:g}-{r[1]:g} s" for n, r in ranges.items()))
        candidates = sorted({min(max(p.cycle_s, lo), hi) for p in own.values()})
        trials = [{n: (own[n] if math.isclose(own[n].cycle_s, c) else plan(n, (c, c)))
                   for n in names} for c in candidates]
        # the largest summed objective; the shortest cycle on ties (candidates are sorted)
        return max(trials, key=lambda t: round(sum(map(score, t.values())), 12))
    base = own[names[0]].cycle_s
    out = {names[0]: own[names[0]]}
    for n in names[1:]:
        lo, hi = ranges[n]
        fits = [c for c in (base / 2, base, 2 * base) if lo - 1e-9 <= c <= hi + 1e-9]
        if not fits:
            raise InfeasibleError(
                f"period {n}: no harmonic of the {names[0]} cycle {base:g} s "
                f"({base / 2:g}, {base:g}, {2 * base:g} s) lies in its range {lo:g}-{hi:g} s")
        out[n] = max((plan(n, (c, c)) for c in fits), key=score)
    return out
