"""The full optimizer proven in SUMO on Ganjiang: band plan, refined plan and baselines.

Usage: python benchmarks/optimizer_sumo.py [--periods offpeak,am_peak] [--seeds 1,2,3] [--merge]
Writes benchmarks/results/optimizer_sumo.csv (pooled over seeds) and
benchmarks/results/optimizer_sumo_by_seed.csv (metrics.csv columns plus seed), and
benchmarks/results/optimizer_sumo_plans.csv (band, delay-model figures and solve time of
each plan).

Per period, on the same demand and seeds:
- ``baseline``: the network's own programs (netconvert's defaults);
- ``uncoordinated``: the band plan's cycle and splits with every offset 0;
- ``tlscoordinator``: SUMO's tools/tlsCoordinator.py (from the installed eclipse-sumo) given
  those same programs and the demand expanded into routed vehicles: it sets the offsets only,
  so it is compared with greenwave on equal splits;
- ``greenwave``: full MAXBAND (cycle range, 50-60 km/h per link, left-turn sequences);
  with the spec's splits, off-peak in 100-140 s (balanced bands), AM peak in 140-180 s
  (weighted, MAXBAND's k = inbound/outbound volume of the tidal peak); splits from demand
  starve the cross streets in SUMO at these cycles (see benchmarks/README.md);
- ``refined``: the band plan's offsets refined on the platoon-dispersion delay model
  (greenwave.refine, keeping 80 % of the two-way band).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from greenwave import load_corridor, workflow
from greenwave._io import atomic_write_text
from greenwave.metrics import pool_seeds
from greenwave.optimize import directional_ratio, optimize_progression
from greenwave.refine import evaluate_plan, refine_offsets
from greenwave.sumo.baselines import tls_coordinator

HERE = Path(__file__).resolve().parent
SETTINGS = {
    "offpeak": {"cycle_range_s": (100.0, 140.0), "splits": "spec"},
    "am_peak": {"cycle_range_s": (140.0, 180.0), "splits": "spec", "mode": "weighted",
                "k": "demand"},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--periods", default="offpeak,am_peak")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other periods' rows of earlier results")
    args = parser.parse_args()
    seeds = tuple(int(s) for s in args.seeds.split(","))
    corridor = load_corridor(HERE.parent / "networks/ganjiang/corridor.toml")
    frames, plans = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for period in args.periods.split(","):
            out = Path(tmp) / period
            scenario = workflow.build_scenario(corridor, out / "sumo", period=period,
                                               progress=workflow.stderr_progress)
            t0 = time.perf_counter()
            settings = dict(SETTINGS[period])
            if settings.get("k") == "demand":  # MAXBAND's k: inbound / outbound volume
                settings["k"] = directional_ratio(corridor, period)
            band = optimize_progression(corridor, speed_range_kmh=(50.0, 60.0),
                                        sequences=True, period=period,
                                        **settings)  # type: ignore[arg-type]
            band_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            refined, report = refine_offsets(band, corridor, period, keep_band=0.8)
            refine_s = time.perf_counter() - t0
            files = {}
            for name, plan in (("greenwave", band), ("refined", refined)):
                d = out / name
                d.mkdir(parents=True)
                files[name] = workflow.write_plan_files(plan, corridor, d, scenario)
            uncoordinated = files["greenwave"].reference_programs["uncoordinated"]
            coordinated = tls_coordinator(scenario.layout.net_file, [scenario.routes_file],
                                          out / "tlscoordinator.add.xml",
                                          programs_file=uncoordinated, seed=seeds[0],
                                          end=corridor.period(period).duration_s)
            methods = {
                "uncoordinated": [uncoordinated],
                "tlscoordinator": [uncoordinated, coordinated.path],
                "greenwave": [files["greenwave"].programs],
                "refined": [files["refined"].programs],
            }
            metrics = workflow.evaluate(scenario, methods, out_dir=out / "eval", seeds=seeds,
                                        progress=workflow.stderr_progress)
            frames.append(metrics)
            for name, plan, solve_s in (("greenwave", band, band_s),
                                        ("refined", refined, refine_s)):
                perf = evaluate_plan(plan, corridor, period)
                plans.append({
                    "period": period, "method": name, "cycle_s": plan.cycle_s,
                    "bandwidth_out_s": round(plan.bandwidth_out_s, 3),
                    "bandwidth_in_s": round(plan.bandwidth_in_s, 3),
                    "efficiency": round(plan.efficiency, 4),
                    "model_delay_vehh_per_h": round(perf.total_delay_vehh_per_h, 3),
                    "model_stops_per_h": round(perf.total_stops_per_h, 1),
                    "model_pi": round(perf.performance_index, 3),
                    "solve_s": round(solve_s, 3),
                })
            print(f"{period}: band plan C = {band.cycle_s:g} s, bands "
                  f"{band.bandwidth_out_s:.1f}/{band.bandwidth_in_s:.1f} s; refined "
                  f"{refined.bandwidth_out_s:.1f}/{refined.bandwidth_in_s:.1f} s, model PI "
                  f"{report.pi_before:.1f} -> {report.pi_after:.1f}", flush=True)
    raw = pd.concat(frames, ignore_index=True)
    plan_rows = pd.DataFrame(plans)
    results = HERE / "results"
    if args.merge and (results / "optimizer_sumo_by_seed.csv").is_file():
        old = pd.read_csv(results / "optimizer_sumo_by_seed.csv")
        raw = pd.concat([old[~old.period.isin(raw.period.unique())], raw], ignore_index=True)
        old_plans = pd.read_csv(results / "optimizer_sumo_plans.csv")
        plan_rows = pd.concat([old_plans[~old_plans.period.isin(plan_rows.period.unique())],
                               plan_rows], ignore_index=True)
    pooled = pool_seeds(raw)
    atomic_write_text(results / "optimizer_sumo_by_seed.csv", raw.to_csv(index=False))
    atomic_write_text(results / "optimizer_sumo.csv", pooled.to_csv(index=False))
    atomic_write_text(results / "optimizer_sumo_plans.csv", plan_rows.to_csv(index=False))
    totals = raw.groupby(["period", "method"])["total_delay_s"].mean().unstack(0)
    print(pooled.to_string(index=False))
    print("network total delay [s] (mean over seeds):")
    print(totals.round(0).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
