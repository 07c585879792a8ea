"""Two-way band of the Ganjiang corridor over the off-peak cycle range (PASSER-style scan).

Usage: python benchmarks/cycle_scan.py [--speeds 50,55,60] [--step 5]
Writes benchmarks/results/cycle_scan.csv with columns
cycle_s,speed_kmh,bandwidth_out_s,bandwidth_in_s,efficiency,status,solve_s.
This is the evidence behind the spec's design cycle (signals.cycle_s).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from greenwave import load_corridor, optimize_corridor
from greenwave._io import atomic_write_text

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corridor", default=str(HERE.parent / "networks/ganjiang/corridor.toml"))
    parser.add_argument("--speeds", default="50,55,60")
    parser.add_argument("--step", type=float, default=5.0)
    args = parser.parse_args()
    corridor = load_corridor(args.corridor)
    lo, hi = corridor.cycle_range_s or (corridor.cycle_s, corridor.cycle_s)
    rows = []
    for speed in (float(v) for v in args.speeds.split(",")):
        cycle = lo
        while cycle <= hi + 1e-9:
            t0 = time.perf_counter()
            plan = optimize_corridor(corridor, cycle_s=cycle, speed_kmh=speed)
            rows.append({
                "cycle_s": cycle,
                "speed_kmh": speed,
                "bandwidth_out_s": round(plan.bandwidth_out_s, 3),
                "bandwidth_in_s": round(plan.bandwidth_in_s, 3),
                "efficiency": round(plan.efficiency, 4),
                "status": plan.solver["status"],
                "solve_s": round(time.perf_counter() - t0, 3),
            })
            print(rows[-1], flush=True)
            cycle += args.step
    table = pd.DataFrame(rows)
    atomic_write_text(HERE / "results" / "cycle_scan.csv", table.to_csv(index=False))
    best = table.loc[table["efficiency"].idxmax()]
    print(f"best: cycle {best.cycle_s:g} s at {best.speed_kmh:g} km/h, "
          f"efficiency {best.efficiency:.1%}")


if __name__ == "__main__":
    main()
