"""Solve speed and band quality of the optimizer (a benchmark, not a test).

Usage: python benchmarks/solve_speed.py [--repeats 3] [--sizes 5,10,23,40] [--quick]
Writes benchmarks/results/solve_speed.csv with columns
case,n_signals,mode,solve_s,status,gap,bandwidth_out_s,bandwidth_in_s,efficiency
(solve_s: median wall time over the repeats; every repeat must give the same bands).

Cases:
- ganjiang, the 23-signal model corridor, off-peak phase plans: cycle 100-180 s, progression
  speeds 50-60 km/h per link, left-turn sequence choice; ``maxband-full`` and ``multiband``
  (p = 1, off-peak volumes); ``maxband-fixed`` is the first slice's fixed-cycle,
  fixed-speed band (C = 100 s, 55 km/h, no sequence choice) for reference; ``zones``: the
  sub-zone partition at C = 100 s, 55 km/h (efficiency = length-weighted mean over zones).
- random corridors of 5, 10, 23, 40 signals (seeded), one MILP with the cycle free and
  continuous offsets (MAXBAND proper): spacing 250-800 m, greens affine in
  the cycle, lead/lag options at 60 % of the signals, cycle 80-140 s, speeds 45-55 km/h.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from greenwave import load_corridor
from greenwave._io import atomic_write_text
from greenwave.optimize import optimize_corridor, optimize_progression
from greenwave.progression import (
    Affine,
    ProgressionProblem,
    ProgressionSignal,
    SignalOption,
    solve_multiband,
    solve_progression,
)
from greenwave.zones import optimize_zones

HERE = Path(__file__).resolve().parent
COLUMNS = ["case", "n_signals", "mode", "solve_s", "status", "gap", "bandwidth_out_s",
           "bandwidth_in_s", "efficiency"]


def random_problem(n: int, seed: int) -> ProgressionProblem:
    rng = random.Random(seed)
    x = 0.0
    signals = []
    for i in range(n):
        frac_out = rng.uniform(0.35, 0.6)
        frac_in = frac_out + rng.uniform(-0.08, 0.08)
        green_out = Affine(-5.0, frac_out)
        green_in = Affine(-5.0, frac_in)
        shift = Affine.constant(rng.uniform(-6.0, 6.0))
        options = [SignalOption("own", green_out, green_in, shift)]
        if rng.random() < 0.6:
            lead = 12.0 + 5.0  # left green + intergreen
            options += [SignalOption("lead/lag", green_out, green_in,
                                     Affine(shift.a + lead, 0.0)),
                        SignalOption("lag/lead", green_out, green_in,
                                     Affine(shift.a - lead, 0.0))]
        signals.append(ProgressionSignal(f"R{i}", x, tuple(options)))
        x += rng.uniform(250.0, 800.0)
    links = n - 1
    return ProgressionProblem(tuple(signals), (80.0, 140.0), ((45.0, 55.0),) * links,
                              ((45.0, 55.0),) * links)


def timed(fn: Callable[[], dict[str, Any]], repeats: int) -> dict[str, Any]:
    times, rows = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rows.append(fn())
        times.append(time.perf_counter() - t0)
    first = rows[0]
    for r in rows[1:]:
        if (r["bandwidth_out_s"], r["bandwidth_in_s"]) != (first["bandwidth_out_s"],
                                                           first["bandwidth_in_s"]):
            raise SystemExit(f"repeats disagree: {r} vs {first}")
    return {**first, "solve_s": round(statistics.median(times), 3)}


def plan_row(plan: Any) -> dict[str, Any]:
    return {"status": plan.solver["status"], "gap": plan.solver.get("gap", 0.0),
            "bandwidth_out_s": round(plan.bandwidth_out_s, 3),
            "bandwidth_in_s": round(plan.bandwidth_in_s, 3),
            "efficiency": round(plan.efficiency, 4)}


def solution_row(sol: Any) -> dict[str, Any]:
    r = sol.result
    return {"status": sol.status, "gap": sol.gap,
            "bandwidth_out_s": round(r.bandwidth_out_s, 3),
            "bandwidth_in_s": round(r.bandwidth_in_s, 3), "efficiency": round(r.efficiency, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="5,10,23,40")
    parser.add_argument("--quick", action="store_true", help="skip MULTIBAND and zones")
    parser.add_argument("--out", default=str(HERE / "results" / "solve_speed.csv"))
    args = parser.parse_args()
    corridor = load_corridor(HERE.parent / "networks/ganjiang/corridor.toml")
    full = {"cycle_range_s": (100.0, 180.0), "speed_range_kmh": (50.0, 60.0),
            "sequences": True, "period": "offpeak"}
    cases: list[tuple[str, int, str, Callable[[], dict[str, Any]]]] = [
        ("ganjiang", 23, "maxband-fixed", lambda: plan_row(
            optimize_corridor(corridor, cycle_s=100.0, speed_kmh=55.0))),
        ("ganjiang", 23, "maxband-full", lambda: plan_row(
            optimize_progression(corridor, **full))),  # type: ignore[arg-type]
    ]
    if not args.quick:
        cases += [
            ("ganjiang", 23, "multiband", lambda: plan_row(
                optimize_progression(corridor, method="multiband", multiband_p=1.0,
                                     **full))),  # type: ignore[arg-type]
            ("ganjiang-zones", 23, "zones", lambda: _zones_row(corridor)),
        ]
    for n in (int(v) for v in args.sizes.split(",")):
        p = random_problem(n, seed=n)
        cases.append((f"random{n}", n, "maxband-full", lambda p=p: solution_row(
            solve_progression(p, integer_offsets=False, time_limit_s=60.0))))
        if not args.quick:
            cases.append((f"random{n}", n, "multiband", lambda p=p: solution_row(
                solve_multiband(p, integer_offsets=False, time_limit_s=60.0))))
    rows = []
    for case, n, mode, fn in cases:
        row = {"case": case, "n_signals": n, "mode": mode, **timed(fn, args.repeats)}
        rows.append(row)
        print({k: row[k] for k in COLUMNS}, flush=True)
    table = pd.DataFrame(rows)[COLUMNS]
    atomic_write_text(args.out, table.to_csv(index=False))
    print(f"wrote {args.out}")


def _zones_row(corridor: Any) -> dict[str, Any]:
    result = optimize_zones(corridor, cycle_s=100.0, speed_kmh=55.0)
    zones = result.zones
    return {"status": "optimal", "gap": 0.0,
            "bandwidth_out_s": "/".join(f"{z.bandwidth_out_s:.1f}" for z in zones),
            "bandwidth_in_s": "/".join(f"{z.bandwidth_in_s:.1f}" for z in zones),
            "efficiency": round(result.score, 4)}


if __name__ == "__main__":
    main()
