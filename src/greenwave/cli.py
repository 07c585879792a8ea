"""The ``greenwave`` command: thin wrappers around :mod:`greenwave.workflow`.

Exit codes: 0 success, 1 a failure while running (solver, simulation), 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from greenwave import workflow
from greenwave.corridor import Corridor
from greenwave.errors import GreenwaveError, InputError
from greenwave.plan import TimingPlan


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, found {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, found {text!r}")
    return value


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected seeds like 1,2,3, found {text!r}"
        ) from None
    if not seeds or any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"expected non-negative seeds, found {text!r}")
    return seeds


SEEDS_HELP = "comma-separated simulation seeds, same for every method (default 1,2,3)"


def _add_optimize_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cycle-s", type=_positive, help="common cycle [s] (default: the spec's)")
    p.add_argument("--speed-kmh", type=_positive, help="band speed, both directions [km/h]")
    p.add_argument("--speed-in-kmh", type=_positive, help="inbound band speed [km/h]")
    p.add_argument("--mode", default="balanced", choices=["balanced", "weighted", "equal"],
                   help="band objective (default: balanced = largest total, then even)")
    p.add_argument("--k", type=float, default=1.0,
                   help="inbound weight for --mode weighted, in [0, 1] (default 1)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="greenwave",
        description="Coordinate an arterial's signals into a green wave and prove it in SUMO.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("optimize", help="offsets maximizing the two-way band -> plan.json")
    p.add_argument("corridor", help="corridor TOML/CSV file, or a built-in name (ganjiang)")
    _add_optimize_options(p)
    p.add_argument("--period", default="offpeak", help="demand period (TOML specs)")
    p.add_argument("--out", default="greenwave-out", help="output folder")

    p = sub.add_parser("build-net", help="generate the SUMO scenario of a corridor spec")
    p.add_argument("corridor", nargs="?", default="ganjiang")
    p.add_argument("--period", default="offpeak")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", help="output folder (default sumo_configs/<corridor>)")

    p = sub.add_parser("evaluate", help="simulate a plan against the baseline in SUMO")
    p.add_argument("corridor", nargs="?", default="ganjiang")
    p.add_argument("--plan", required=True, help="plan.json written by 'greenwave optimize'")
    p.add_argument("--period", default="offpeak")
    p.add_argument("--seeds", type=_seeds, default=(1, 2, 3), help=SEEDS_HELP)
    p.add_argument("--end-s", type=_positive, help="simulated time [s] (default: the period)")
    p.add_argument("--out", default="greenwave-out")

    p = sub.add_parser("demo", help="the main job on the built-in Ganjiang corridor")
    p.add_argument("--out", default="greenwave-out")
    p.add_argument("--period", default="offpeak")
    p.add_argument("--seeds", type=_seeds, default=(1, 2, 3), help=SEEDS_HELP)
    p.add_argument("--end-s", type=_positive, help="simulated time [s] (default: the period)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        handler = {
            "optimize": cmd_optimize,
            "build-net": cmd_build_net,
            "evaluate": cmd_evaluate,
            "demo": cmd_demo,
        }[args.command]
        return handler(args)
    except InputError as exc:
        print(f"greenwave: error: {exc}", file=sys.stderr)
        return 2
    except GreenwaveError as exc:
        print(f"greenwave: failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("greenwave: interrupted", file=sys.stderr)
        return 130


def cmd_optimize(args: argparse.Namespace) -> int:
    from greenwave._io import staged_dir
    from greenwave.optimize import optimize_corridor

    corridor = workflow.load(args.corridor, cycle_s=args.cycle_s, speed_kmh=args.speed_kmh)
    if corridor.demand:
        corridor.period(args.period)
    plan = optimize_corridor(corridor, speed_in_kmh=args.speed_in_kmh, mode=args.mode,
                             k=args.k, period=args.period if corridor.demand else "")
    scenario = None
    if corridor.has_phases:
        scenario = workflow.build_scenario(corridor, _net_dir(corridor.name),
                                           period=args.period)
    with staged_dir(args.out) as tmp:
        workflow.write_plan_files(plan, corridor, tmp, scenario)
    print(_plan_summary(plan, corridor))
    print(f"wrote {Path(args.out) / 'plan.json'} and {Path(args.out) / 'programs.add.xml'}")
    return 0


def _net_dir(name: str) -> Path:
    return Path("sumo_configs") / name


def cmd_build_net(args: argparse.Namespace) -> int:
    corridor = workflow.load(args.corridor)
    out = Path(args.out) if args.out else _net_dir(corridor.name)
    scenario = workflow.build_scenario(corridor, out, period=args.period, seed=args.seed,
                                       progress=workflow.stderr_progress)
    print(f"network: {scenario.layout.net_file}")
    print(f"demand:  {scenario.routes_file}")
    cfg = out / "corridor.sumocfg"
    print(f"config:  {cfg}  (open with: sumo-gui -c {cfg})")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from greenwave._io import staged_dir
    from greenwave.metrics import write_metrics_csv
    from greenwave.plan import read_plan

    corridor = workflow.load(args.corridor)
    plan = read_plan(args.plan)
    if plan.corridor and plan.corridor != corridor.name:
        raise InputError(f"plan is for corridor {plan.corridor!r}, not {corridor.name!r}",
                         file=args.plan, field="corridor", value=plan.corridor)
    if abs(plan.cycle_s - (corridor.cycle_s or 0)) > 1e-9:
        corridor = corridor.with_cycle(plan.cycle_s)
    scenario = workflow.build_scenario(corridor, _net_dir(corridor.name), period=args.period,
                                       progress=workflow.stderr_progress)
    with staged_dir(args.out) as tmp:
        files = workflow.write_plan_files(plan, corridor, tmp, scenario)
        metrics = workflow.evaluate(scenario, files[1], out_dir=tmp, end_s=args.end_s,
                                    seeds=args.seeds, progress=workflow.stderr_progress)
        write_metrics_csv(metrics, tmp / "metrics.csv")
    _print_metrics(metrics, corridor)
    print(f"wrote {Path(args.out) / 'metrics.csv'}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from greenwave._io import staged_dir
    from greenwave.diagrams import time_space_diagram
    from greenwave.metrics import write_metrics_csv
    from greenwave.optimize import optimize_corridor

    say = workflow.stderr_progress
    t0 = time.perf_counter()
    corridor = workflow.load("ganjiang")
    corridor.period(args.period)
    say(f"[1/4] corridor {corridor.name}: {len(corridor.intersections)} signals, "
        f"{corridor.length_m / 1000:.1f} km, cycle {corridor.cycle_s:g} s, "
        f"band speed {corridor.speed_kmh:g} km/h")
    scenario = workflow.build_scenario(corridor, _net_dir(corridor.name), period=args.period,
                                       progress=lambda m: say(f"[2/4] {m}"))
    say("[3/4] optimizing offsets (MAXBAND MILP)")
    plan = optimize_corridor(corridor, period=args.period)
    say(f"      bands {plan.bandwidth_out_s:.1f} s / {plan.bandwidth_in_s:.1f} s, "
        f"solved in {plan.solver.get('solve_s', 0):.2f} s ({plan.solver.get('status')})")
    with staged_dir(args.out) as tmp:
        files = workflow.write_plan_files(plan, corridor, tmp, scenario)
        time_space_diagram(plan, tmp / "time_space.png",
                           outbound_name=corridor.outbound_name,
                           inbound_name=corridor.inbound_name,
                           title=f"{corridor.description or corridor.name} — {args.period}")
        metrics = workflow.evaluate(scenario, files[1], out_dir=tmp, end_s=args.end_s,
                                    seeds=args.seeds, progress=lambda m: say(f"[4/4] {m}"))
        write_metrics_csv(metrics, tmp / "metrics.csv")
    print()
    print(_plan_summary(plan, corridor))
    print()
    _print_metrics(metrics, corridor)
    out = Path(args.out)
    print(f"outputs in {out}/: plan.json, programs.add.xml, metrics.csv, time_space.png, "
          "replay.sumocfg, runs/")
    print(f"replay in sumo-gui: sumo-gui -c {out / 'replay.sumocfg'}")
    print(f"done in {time.perf_counter() - t0:.0f} s")
    return 0


def _print_metrics(metrics: pd.DataFrame, corridor: Corridor) -> None:
    from greenwave.metrics import format_comparison, format_table, pool_seeds

    names = {"outbound": corridor.outbound_name, "inbound": corridor.inbound_name}
    print("main-street through trips (all seeds pooled):")
    print(format_table(pool_seeds(metrics)))
    print()
    print(format_comparison(metrics, direction_names=names))
    teleports = int(metrics.drop_duplicates(["method", "seed"])["teleports"].sum())
    print(f"\nteleports: {teleports}")
    print()


def _plan_summary(plan: TimingPlan, corridor: Corridor) -> str:
    c = plan.cycle_s
    lines = [
        f"plan for {plan.corridor}: cycle {c:g} s, band speed {plan.speed_out_kmh:g}/"
        f"{plan.speed_in_kmh:g} km/h",
        f"  band {corridor.outbound_name:>10}: {plan.bandwidth_out_s:6.1f} s "
        f"({plan.bandwidth_out_s / c:.0%} of cycle)",
        f"  band {corridor.inbound_name:>10}: {plan.bandwidth_in_s:6.1f} s "
        f"({plan.bandwidth_in_s / c:.0%} of cycle)",
        f"  efficiency (b + b̄)/2C: {plan.efficiency:.1%}   solver: "
        f"{plan.solver.get('status', '?')}, gap {plan.solver.get('gap', 0):.2g}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
