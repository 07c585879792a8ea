"""The full optimizer proven in SUMO on Ganjiang: band plan, refined plan and baselines.

Usage: python benchmarks/optimizer_sumo.py [--periods offpeak,am_peak] [--seeds 1,2,3] [--merge]
       [--methods baseline,uncoordinated,tlscoordinator,greenwave,refined]
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
- ``refined``: the band plan's offsets and splits refined together on the delay model
  (greenwave.refine.refine_plan: platoon dispersion on the main street, Webster/HCM delay on the
  cross streets and left-turn bays, keeping 80 % of the two-way band), then checked in SUMO on
  the tuning seeds 101, 102 (greenwave.refine_check: kept only if it does not lose on network
  delay there, else backed off to half, a quarter, else the band plan).

``--methods`` simulates only some methods; with ``--merge`` the other methods' rows of the same
periods are kept from the earlier results (the programs are deterministic: the baseline, the
uncoordinated reference, tlsCoordinator and the band plan do not change when only the
refinement does).
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
from greenwave.refine import evaluate_plan, refine_plan
from greenwave.refine_check import TUNING_SEEDS, check_refinement
from greenwave.sumo.baselines import tls_coordinator

HERE = Path(__file__).resolve().parent
METHODS = ("baseline", "uncoordinated", "tlscoordinator", "greenwave", "refined")
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
                        help="keep the other periods' (and other methods') rows of earlier "
                        "results")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="methods to simulate (default all)")
    args = parser.parse_args()
    seeds = tuple(int(s) for s in args.seeds.split(","))
    wanted = [m.strip() for m in args.methods.split(",") if m.strip()]
    if unknown := sorted(set(wanted) - set(METHODS)):
        parser.error(f"unknown methods {unknown}; expected some of {', '.join(METHODS)}")
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
            model_refined, report = refine_plan(band, corridor, period, keep_band=0.8)
            refine_s = time.perf_counter() - t0
            refined, check = band, None
            if "refined" in wanted:
                refined, check = check_refinement(band, model_refined, corridor, scenario,
                                                  out_dir=out / "check", seeds=TUNING_SEEDS,
                                                  progress=workflow.stderr_progress)
            files = {}
            for name, plan in (("greenwave", band), ("refined", refined)):
                d = out / name
                d.mkdir(parents=True)
                files[name] = workflow.write_plan_files(plan, corridor, d, scenario)
            uncoordinated = files["greenwave"].reference_programs["uncoordinated"]
            methods = {
                "uncoordinated": [uncoordinated],
                "greenwave": [files["greenwave"].programs],
                "refined": [files["refined"].programs],
            }
            if "tlscoordinator" in wanted:
                coordinated = tls_coordinator(scenario.layout.net_file, [scenario.routes_file],
                                              out / "tlscoordinator.add.xml",
                                              programs_file=uncoordinated, seed=seeds[0],
                                              end=corridor.period(period).duration_s)
                methods["tlscoordinator"] = [uncoordinated, coordinated.path]
            methods = {m: methods[m] for m in METHODS if m in wanted and m in methods}
            metrics = workflow.evaluate(scenario, methods, out_dir=out / "eval", seeds=seeds,
                                        baseline="baseline" in wanted,
                                        progress=workflow.stderr_progress)
            frames.append(metrics)
            for name, plan, solve_s in (("greenwave", band, band_s),
                                        ("refined_model", model_refined, refine_s),
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
                    "model_side_delay_vehh_per_h": round(perf.side_delay_vehh_per_h, 3),
                    "model_network_pi": round(perf.network_performance_index, 3),
                    "solve_s": round(solve_s, 3),
                    "sumo_check": check.outcome if check and name == "refined" else "",
                })
            if check is not None:
                print(f"{period}: SUMO check {check.to_dict()}", flush=True)
            print(f"{period}: band plan C = {band.cycle_s:g} s, bands "
                  f"{band.bandwidth_out_s:.1f}/{band.bandwidth_in_s:.1f} s; refined (model) "
                  f"{model_refined.bandwidth_out_s:.1f}/{model_refined.bandwidth_in_s:.1f} s, "
                  f"network PI {report.network_pi_before:.1f} -> "
                  f"{report.network_pi_after:.1f}", flush=True)
    raw = pd.concat(frames, ignore_index=True)
    plan_rows = pd.DataFrame(plans)
    results = HERE / "results"
    if args.merge and (results / "optimizer_sumo_by_seed.csv").is_file():
        old = pd.read_csv(results / "optimizer_sumo_by_seed.csv")
        redone = old.period.isin(raw.period.unique()) & old.method.isin(raw.method.unique())
        raw = pd.concat([old[~redone], raw], ignore_index=True)
        # the file's order: periods as they first appear, methods as in METHODS, then seeds
        periods = {p: k for k, p in enumerate(dict.fromkeys(raw.period))}
        ranks = {"period": periods, "method": {m: k for k, m in enumerate(METHODS)}}
        raw = raw.sort_values(["period", "method", "seed"], kind="stable", ignore_index=True,
                              key=lambda c: c.map(ranks[str(c.name)]) if c.name in ranks
                              else c)
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
