"""Harness overhead: a scenario simulated through greenwave vs the plain ``sumo`` binary.

Usage: PYTHONPATH=src python benchmarks/harness_overhead.py [--corridor ganjiang]
       [--measure-s 1800] [--seed 1] [--repeats 3]

The same files (the corridor's built network, its demand, the greenwave band plan's programs),
the same seed and end time, run four ways, each *repeats* times, alternating:

* ``sumo`` — the plain binary in a subprocess, with the outputs greenwave reads
  (``--tripinfo-output`` with unfinished vehicles, ``--statistic-output``,
  ``--duration-log.statistics``): what anyone measuring the run needs;
* ``sumo-bare`` — the plain binary without outputs (for reference);
* ``greenwave`` — greenwave's evaluation path as ``evaluate`` and ``bench`` run it:
  ``run_simulations`` (a fresh worker process, libsumo), then reading SUMO's outputs and the
  through-trip metrics;
* ``greenwave-inprocess`` — ``run_simulation`` in this process (libsumo) and the metrics.

The ratio is the median wall time of each over the median of ``sumo``; the trips of both
runs are compared (the same seed must give the same trips). Writes
benchmarks/results/harness_overhead.csv.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from greenwave import workflow
from greenwave._io import atomic_write_text
from greenwave.optimize import optimize_corridor
from greenwave.sumo.binaries import binary
from greenwave.sumo.simulate import read_tripinfo, run_simulation, run_simulations

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corridor", default="ganjiang")
    parser.add_argument("--measure-s", type=float, default=1800.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    corridor = workflow.load(args.corridor)
    with tempfile.TemporaryDirectory(prefix="greenwave-overhead-") as tmp:
        root = Path(tmp)
        scenario = workflow.build_scenario(corridor, root / "sumo")
        plan = optimize_corridor(corridor, period=scenario.period)
        files = workflow.write_plan_files(plan, corridor, root / "plan", scenario)
        end = args.measure_s + workflow.default_drain_s(corridor)
        job = workflow.simulation_job(scenario, "greenwave", [files.programs], args.seed,
                                      out_dir=root / "gw", end_s=end)
        layout = scenario.layout
        plain = [str(binary("sumo")), "--net-file", str(layout.net_file), "--route-files",
                 str(scenario.routes_file), "--additional-files", str(files.programs),
                 "--begin", "0", "--end", repr(end), "--seed", str(args.seed), "--no-step-log"]
        outputs = ["--tripinfo-output", str(root / "plain.tripinfo.xml"),
                   "--tripinfo-output.write-unfinished", "--statistic-output",
                   str(root / "plain.stats.xml"), "--duration-log.statistics"]

        def sumo(extra: list[str]) -> Callable[[], None]:
            return lambda: subprocess.run([*plain, *extra], check=True, capture_output=True)

        def through_greenwave() -> None:
            (result,) = run_simulations([job], processes=1)
            workflow.run_metrics(scenario, job, result, horizon_s=args.measure_s)

        def in_process() -> None:
            result = run_simulation(job.net_file, job.route_files,
                                    additional_files=job.additional_files, seed=job.seed,
                                    end_s=job.end_s, out_dir=root / "inproc", label="greenwave")
            workflow.run_metrics(scenario, job, result, horizon_s=args.measure_s)

        variants: dict[str, Callable[[], None]] = {
            "sumo": sumo(outputs), "sumo-bare": sumo([]), "greenwave": through_greenwave,
            "greenwave-inprocess": in_process,
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        for r in range(args.repeats):
            for name, fn in variants.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
                print(f"repeat {r + 1} {name}: {times[name][-1]:.2f} s", flush=True)
        ours = read_tripinfo(Path(job.out_dir) / "greenwave.tripinfo.xml")
        theirs = read_tripinfo(root / "plain.tripinfo.xml")
        same = ours.drop(columns=[]).equals(theirs)
    base = statistics.median(times["sumo"])
    rows = [{"variant": name, "corridor": corridor.name, "seed": args.seed, "end_s": end,
             "vehicles": len(ours), "repeats": args.repeats,
             "median_s": round(statistics.median(t), 3), "min_s": round(min(t), 3),
             "ratio_to_sumo": round(statistics.median(t) / base, 3), "same_trips": same}
            for name, t in times.items()]
    table = pd.DataFrame(rows)
    atomic_write_text(HERE / "results" / "harness_overhead.csv", table.to_csv(index=False))
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
