"""The first slice's acceptance figures: Ganjiang off-peak, plan vs baseline, several seeds.

Usage: python benchmarks/demo_offpeak.py [--seeds 1,2,3]
Runs `greenwave demo` (methods: baseline = the network's default timings, uncoordinated = the
plan's cycle and splits with every offset 0, greenwave) and writes
benchmarks/results/demo_offpeak.csv (pooled over seeds) and
benchmarks/results/demo_offpeak_by_seed.csv (the raw metrics.csv).
Targets: through travel time at least 20 % lower and stops per through trip at least 50 % lower
than the baseline, in both directions.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from greenwave._io import atomic_write_text
from greenwave.metrics import compare, pool_seeds

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        subprocess.run([sys.executable, "-m", "greenwave.cli", "demo", "--seeds", args.seeds,
                        "--out", str(out)], check=True, cwd=HERE.parent)
        raw = pd.read_csv(out / "metrics.csv")
    pooled = pool_seeds(raw)
    changes = compare(pooled)
    changes = changes[changes.method == "greenwave"]
    coordination = compare(pooled[pooled.method != "baseline"], baseline="uncoordinated")
    results = HERE / "results"
    atomic_write_text(results / "demo_offpeak_by_seed.csv", raw.to_csv(index=False))
    atomic_write_text(results / "demo_offpeak.csv", pooled.to_csv(index=False))
    ok = True
    for d in ("outbound", "inbound"):
        rows = changes[(changes.direction == d)].set_index("metric")["change_pct"]
        tt, stops = rows["travel_time_s"], rows["stops_per_trip"]
        verdict = tt <= -20 and stops <= -50
        ok &= bool(verdict)
        print(f"{d}: travel time {tt:+.1f} %, stops {stops:+.1f} % vs baseline -> "
              f"{'meets' if verdict else 'MISSES'} the targets (-20 %, -50 %)")
        alone = coordination[coordination.direction == d].set_index("metric")["change_pct"]
        print(f"{d}: coordination alone (vs the same splits with offsets 0): travel time "
              f"{alone['travel_time_s']:+.1f} %, stops {alone['stops_per_trip']:+.1f} %")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
