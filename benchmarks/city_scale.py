"""City scale: optimize every green-wave road of a model city, simulate a sample (a benchmark).

Usage: PYTHONPATH=src python benchmarks/city_scale.py [--count 165] [--seed 0] [--workers N]
       [--default-settings] [--sample 4] [--sample-seconds 900] [--sample-seeds 1]

The city: ``greenwave.city.city_corridors(count, seed=seed)``, realistic corridors like the
model city's 165 (8-30 signals, 23 on average, links 250-1,200 m, 40-60 km/h, major and minor
crossings, off-peak and tidal peak demand).

1. Optimize: the fixed-cycle band (``optimize_corridor`` at each corridor's cycle and band
   speed, balanced two-way band, centred) of every corridor on a local process pool of
   *workers* processes (default: the cores). SCIP runs with at most 3 root cutting rounds
   (``fast_root``): the same proven optima as SCIP's defaults (``--default-settings`` solves
   with those too and checks that every band is the same). Reports wall time, solves per
   second, per-solve times and peak memory (max RSS of this process and of the largest
   worker, from getrusage).
2. Simulate a sample: ``greenwave bench`` on the first *sample* corridors (baseline and
   greenwave, *sample-seconds* of off-peak demand, seeds *sample-seeds*).

Writes benchmarks/results/city_scale.csv (one row per corridor),
benchmarks/results/city_scale_summary.csv (the figures) and
benchmarks/results/city_scale_sample.csv (the sample's bench table).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from greenwave._io import atomic_write_text
from greenwave.city import city_corridors
from greenwave.corridor import Corridor

HERE = Path(__file__).resolve().parent


def solve(corridor: Corridor, fast_root: bool) -> dict[str, Any]:
    """One fixed-cycle band solve (in a pool worker): the row of city_scale.csv."""
    from greenwave.optimize import optimize_corridor

    t0 = time.perf_counter()
    plan = optimize_corridor(corridor, period="offpeak", fast_root=fast_root)
    return {
        "corridor": corridor.name, "n_signals": len(corridor.intersections),
        "length_m": corridor.length_m, "cycle_s": corridor.cycle_s,
        "speed_kmh": corridor.speed_kmh, "status": plan.solver["status"],
        "solve_s": round(time.perf_counter() - t0, 4),
        "bandwidth_out_s": round(plan.bandwidth_out_s, 3),
        "bandwidth_in_s": round(plan.bandwidth_in_s, 3),
        "efficiency": round(plan.efficiency, 4),
        "worker_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def optimize_all(corridors: list[Corridor], workers: int, fast_root: bool
                 ) -> tuple[list[dict[str, Any]], float]:
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        rows = list(pool.map(solve, corridors, [fast_root] * len(corridors), chunksize=4))
    return rows, time.perf_counter() - t0


def simulate_sample(count: int, seed: int, sample: int, seconds: float, seeds: str,
                    workers: int) -> tuple[pd.DataFrame, float]:
    from greenwave.bench import read_spec, run_bench

    with tempfile.TemporaryDirectory(prefix="greenwave-city-") as tmp:
        spec = Path(tmp) / "city.toml"
        spec.write_text(f'[bench]\nname = "city_sample"\nmethods = ["baseline", "greenwave"]\n'
                        f"seeds = [{seeds}]\nmeasure_s = {seconds}\n\n[[scenario]]\n"
                        f'name = "city"\ngenerate = {sample}\nseed = {seed}\n')
        t0 = time.perf_counter()
        run = run_bench(read_spec(spec), Path(tmp) / "out", workers=workers,
                        on_done=lambda o: print(f"  {o.scenario} {o.method} seed {o.seed}: "
                                                f"{o.status} ({o.run_time_s:.0f} s)",
                                                flush=True))
        return run.table, time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=165)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--default-settings", action="store_true",
                        help="also solve with SCIP's default settings and compare the bands")
    parser.add_argument("--sample", type=int, default=4, help="corridors simulated (0: none)")
    parser.add_argument("--sample-seconds", type=float, default=900.0)
    parser.add_argument("--sample-seeds", default="1")
    args = parser.parse_args()
    t0 = time.perf_counter()
    corridors = city_corridors(args.count, seed=args.seed)
    generate_s = time.perf_counter() - t0
    signals = [len(c.intersections) for c in corridors]
    print(f"{len(corridors)} corridors generated in {generate_s:.2f} s: {sum(signals)} signals, "
          f"{statistics.mean(signals):.1f} per corridor ({min(signals)}-{max(signals)})",
          flush=True)
    rows, wall = optimize_all(corridors, args.workers, fast_root=True)
    solve_times = [r["solve_s"] for r in rows]
    figures: dict[str, Any] = {
        "corridors": len(rows), "signals": sum(signals),
        "mean_signals": round(statistics.mean(signals), 2), "workers": args.workers,
        "generate_s": round(generate_s, 3), "optimize_wall_s": round(wall, 2),
        "solves_per_s": round(len(rows) / wall, 2),
        "solve_median_s": round(statistics.median(solve_times), 3),
        "solve_p95_s": round(sorted(solve_times)[int(0.95 * (len(rows) - 1))], 3),
        "solve_max_s": round(max(solve_times), 3),
        "optimal": sum(r["status"] == "optimal" for r in rows),
        "mean_efficiency": round(statistics.mean(r["efficiency"] for r in rows), 4),
        "main_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "worker_max_rss_mb": max(r["worker_max_rss_mb"] for r in rows),
    }
    print(f"optimized in {wall:.1f} s on {args.workers} processes: "
          f"{figures['solves_per_s']} solves/s, median {figures['solve_median_s']} s, "
          f"max {figures['solve_max_s']} s; {figures['optimal']} optimal; peak RSS "
          f"{figures['main_max_rss_mb']} MB (main), {figures['worker_max_rss_mb']} MB "
          f"(largest worker)", flush=True)
    if args.default_settings:
        default_rows, default_wall = optimize_all(corridors, args.workers, fast_root=False)
        for a, b in zip(rows, default_rows, strict=True):
            a.update({f"default_{k}": b[k] for k in ("status", "solve_s", "bandwidth_out_s",
                                                      "bandwidth_in_s")})
        total = [(r["bandwidth_out_s"] + r["bandwidth_in_s"],
                  r["default_bandwidth_out_s"] + r["default_bandwidth_in_s"]) for r in rows]
        figures.update(default_optimize_wall_s=round(default_wall, 2),
                       default_solves_per_s=round(len(rows) / default_wall, 2),
                       default_optimal=sum(r["default_status"] == "optimal" for r in rows),
                       same_two_way_total=sum(abs(a - b) < 1e-3 for a, b in total),
                       fast_root_wider=sum(a > b + 1e-3 for a, b in total),
                       same_bands=sum(abs(r["bandwidth_out_s"] - r["default_bandwidth_out_s"])
                                      < 1e-3 for r in rows))
        print(f"SCIP defaults: {default_wall:.1f} s ({figures['default_solves_per_s']} "
              f"solves/s), {figures['default_optimal']} optimal; the same two-way band "
              f"b + b̄ on {figures['same_two_way_total']} corridors, the same split on "
              f"{figures['same_bands']}", flush=True)
    results = HERE / "results"
    atomic_write_text(results / "city_scale.csv", pd.DataFrame(rows).to_csv(index=False))
    if args.sample:
        print(f"simulating {args.sample} corridors (baseline, greenwave; "
              f"{args.sample_seconds:g} s off-peak; seeds {args.sample_seeds})", flush=True)
        table, sim_wall = simulate_sample(args.count, args.seed, args.sample,
                                          args.sample_seconds, args.sample_seeds, args.workers)
        cells = table.drop_duplicates(["scenario", "method", "seed"])
        ok = table[table["status"] == "ok"]
        pooled = ok.groupby(["method", "direction"])[["travel_time_s",
                                                      "stops_per_trip"]].mean()
        figures.update(sample_corridors=args.sample, sample_cells=len(cells),
                       sample_failed=int((cells["status"] != "ok").sum()),
                       sample_wall_s=round(sim_wall, 1),
                       sample_cell_mean_s=round(float(cells["run_time_s"].mean()), 2),
                       sample_sumo_mean_s=round(float(cells["sim_time_s"].mean()), 2),
                       sample_teleports=int(ok.drop_duplicates(["scenario", "method", "seed"])
                                            ["teleports"].sum()))
        atomic_write_text(results / "city_scale_sample.csv", table.to_csv(index=False))
        print(pooled.round(2).to_string())
        print(f"sample simulated in {sim_wall:.0f} s", flush=True)
    atomic_write_text(results / "city_scale_summary.csv",
                      pd.DataFrame([figures]).to_csv(index=False))
    for k, v in figures.items():
        print(f"  {k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
