"""Benchmark: the retiming loop against the static time-of-day plans on the Ganjiang day segment.

The segment (greenwave.sumo.dayseg.ganjiang_day_segment): 06:00-08:00, off-peak into the AM
tidal peak from 06:30 while the time-of-day table switches at 07:00, +650 veh/h on the west
approach of S09 from 07:10 to 07:50, the loop on inbound lane 0 at S05 stuck from 06:40. Both
methods run on the same demand and seeds; trips departing 06:00-08:00 are measured, the run
goes on 15 min so that they can finish.

Writes benchmarks/results/retiming.csv (the metrics.csv columns, method static or retiming,
plus safety_violations) and benchmarks/results/retiming_latency.csv (per alert that led to a
decision: seed, alert id, plan, level, decision wall ms (the MAXBAND re-solve for the corridor
and area levels), sim seconds until the new plan was in force at every signal, transition
cycles), and prints the figures of benchmarks/README.md.

    PYTHONPATH=src python benchmarks/retiming.py [--seeds 1,2] [--hours 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from greenwave.sumo.dayseg import build_day_segment, ganjiang_day_segment, run_day_segment
from greenwave.workflow import load

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--work", default=str(HERE / "scratch" / "retiming"))
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    work = Path(args.work)
    seg = ganjiang_day_segment(load("ganjiang"), hours=args.hours)
    t0 = time.perf_counter()
    built = build_day_segment(seg, work / "scenario")
    print(f"built in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    metrics, latency = [], []
    for seed in seeds:
        for method in ("static", "retiming"):
            log_path = work / f"{method}_seed{seed}.jsonl"
            with open(log_path, "w", encoding="utf-8") as log:
                run = run_day_segment(built, method, seed=seed,
                                      out_dir=work / f"{method}_seed{seed}", log_stream=log)
            print(f"{method} seed {seed}: wall {run.wall_s:.0f} s, violations "
                  f"{len(run.safety.violations)}, total delay "
                  f"{run.metrics['total_delay_s'].iloc[0]:.0f} s", file=sys.stderr, flush=True)
            metrics.append(run.metrics)
            if method == "retiming":
                for row in run.loop.latency:
                    for alert in (row["alerts"].split(";") if row["alerts"] else [""]):
                        if row["level"] == "time_of_day":
                            continue
                        latency.append({"seed": seed, "alert": alert, "plan": row["plan"],
                                        "level": row["level"],
                                        "resolve_wall_ms": round(row["resolve_wall_ms"], 1),
                                        "in_force_after_s": row["in_force_after_s"],
                                        "transition_cycles": row["transition_cycles"]})
                decisions = [json.loads(x) for x in log_path.read_text().splitlines()]
                levels = pd.Series([d["level"] for d in decisions if d["event"] == "decision"])
                print("  decisions by level:", levels.value_counts().to_dict(), file=sys.stderr)
    RESULTS.mkdir(parents=True, exist_ok=True)
    table = pd.concat(metrics, ignore_index=True)
    table.to_csv(RESULTS / "retiming.csv", index=False, lineterminator="\n")
    lat = pd.DataFrame(latency, columns=["seed", "alert", "plan", "level", "resolve_wall_ms",
                                         "in_force_after_s", "transition_cycles"])
    lat.to_csv(RESULTS / "retiming_latency.csv", index=False, lineterminator="\n")
    per_run = table.groupby(["method", "seed"])["total_delay_s"].first().unstack(0)
    static, loop = per_run["static"].sum(), per_run["retiming"].sum()
    print(per_run.to_string())
    print(f"total corridor delay: static {static:.0f} s, retiming {loop:.0f} s, "
          f"change {100 * (loop - static) / static:+.1f} %")
    solves = lat.drop_duplicates(["seed", "plan"])
    print(f"decisions with alerts: {len(solves)}; decision wall ms p95 "
          f"{solves['resolve_wall_ms'].quantile(0.95):.0f} (max "
          f"{solves['resolve_wall_ms'].max():.0f}); transition cycles max "
          f"{solves['transition_cycles'].max()}; in force after s max "
          f"{solves['in_force_after_s'].max():.0f}")
    violations = table.groupby(["method", "seed"])["safety_violations"].first().sum()
    print(f"safety violations: {int(violations)}")
    runs = table.groupby(["method", "seed"])[["teleports", "not_inserted"]].first()
    print("teleports and vehicles never inserted per run:")
    print(runs.to_string())
    print(table.groupby(["method", "direction"])[["trips", "travel_time_s", "delay_s",
                                                  "stops_per_trip"]].mean().to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
