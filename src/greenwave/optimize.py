"""Corridor-level optimization: corridor in, coordinated timing plan out."""

from __future__ import annotations

import math
from dataclasses import replace

from greenwave.corridor import Corridor
from greenwave.errors import InputError
from greenwave.plan import TimingPlan, plan_from_offsets


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
) -> TimingPlan:
    """Offsets that maximize the two-way progression band at one cycle and band speed.

    Solves the MAXBAND MILP (see :mod:`greenwave.maxband`), then reports the bands an exact
    evaluation of the returned offsets gives. ``mode`` is ``balanced`` (largest b + b̄, then
    the most even split), ``weighted`` (maximize b + k·b̄, MAXBAND's k = inbound/outbound volume
    ratio) or ``equal`` (b = b̄). With ``two_way`` (the default) both bands must exist, as in
    classic MAXBAND; when no two-way band exists the one-way optimum (largest b + b̄) is
    returned instead, whatever the mode, and ``plan.solver["two_way"]`` is False.
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
    try:
        solution = solve_maxband(problem, k=k, mode=mode, time_limit_s=time_limit_s,
                                 two_way=two_way)
    except InfeasibleError:
        if not two_way:
            raise
        # No two-way band exists: the best one-way plan (largest b + b̄, one of them 0);
        # equal or weighted shares are meaningless without a band in both directions.
        two_way = False
        solution = solve_maxband(problem, mode="balanced", time_limit_s=time_limit_s)
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
