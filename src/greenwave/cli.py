"""The ``greenwave`` command: thin wrappers around :mod:`greenwave.workflow`.

Exit codes: 0 success, 1 a failure while running (solver, simulation, file system),
2 bad usage or input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import pandas as pd

from greenwave import __version__, workflow
from greenwave.corridor import Corridor
from greenwave.errors import GreenwaveError, InfeasibleError, InputError
from greenwave.plan import TimingPlan

SEEDS_HELP = "comma-separated simulation seeds, the same for every method"
PERIOD_HELP = "demand period of the TOML spec (default: offpeak, else its first period)"


def _number(text: str, *, minimum: float = 0.0, strict: bool = True) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, found {text!r}") from None
    ok = math.isfinite(value) and (value > minimum if strict else value >= minimum)
    if not ok:
        kind = "positive" if strict and minimum == 0 else f">= {minimum:g}"
        raise argparse.ArgumentTypeError(f"expected a finite {kind} number, found {text!r}")
    return value


def _positive(text: str) -> float:
    return _number(text)


def _in_range(name: str, text: str) -> float:
    from greenwave.corridor import LIMITS

    value = _number(text)
    lo, hi = LIMITS[name]
    if not lo <= value <= hi:
        raise argparse.ArgumentTypeError(f"{value:g} is outside the plausible range "
                                         f"[{lo:g}, {hi:g}]")
    return value


def _cycle(text: str) -> float:
    return _in_range("cycle_s", text)


def _speed(text: str) -> float:
    return _in_range("speed_kmh", text)


def _weight(text: str) -> float:
    value = _number(text, strict=False)
    if value > 100:
        raise argparse.ArgumentTypeError(f"expected a weight from 0 to 100, found {text!r}")
    return value


def _multiband_p(text: str) -> float:
    value = _number(text, strict=False)
    if value > 8:
        raise argparse.ArgumentTypeError(f"expected p from 0 to 8, found {text!r}")
    return value


def _seeds(text: str) -> tuple[int, ...]:
    items = [s.strip() for s in text.split(",")]
    try:
        seeds = tuple(int(s) for s in items)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds like 1,2,3, found {text!r}") from None
    if any(not 0 <= s <= 2**31 - 1 for s in seeds):
        raise argparse.ArgumentTypeError(
            f"expected seeds from 0 to 2147483647 (SUMO's range), found {text!r}")
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"seeds must differ, found {text!r}")
    return seeds


def _add_optimize_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cycle-s", type=_cycle, help="common cycle [s] (default: the spec's)")
    p.add_argument("--speed-kmh", type=_speed, help="band speed, both directions [km/h]")
    p.add_argument("--speed-in-kmh", type=_speed, help="inbound band speed [km/h]")
    p.add_argument("--mode", default="balanced", choices=["balanced", "weighted", "equal"],
                   help="band objective (default: balanced = largest total, then even)")
    p.add_argument("--k", type=_weight, default=1.0,
                   help="inbound/outbound weight for --mode weighted or equal, 0 to 100")
    full = p.add_argument_group(
        "full MAXBAND (any of these switches it on: the cycle, progression speeds and "
        "left-turn sequences become decisions)")
    full.add_argument("--full", action="store_true",
                      help="use the spec's cycle and speed ranges and choose the left-turn "
                      "sequences")
    full.add_argument("--cycle-range-s", type=_cycle, nargs=2, metavar=("MIN", "MAX"),
                      help="cycle range [s] (default: the spec's cycle_range_s)")
    full.add_argument("--speed-range-kmh", type=_speed, nargs=2, metavar=("MIN", "MAX"),
                      help="progression speed range of every link [km/h] (default: the "
                      "spec's speed_range_kmh)")
    full.add_argument("--speed-in-range-kmh", type=_speed, nargs=2, metavar=("MIN", "MAX"),
                      help="inbound speed range [km/h] (default: as outbound)")
    full.add_argument("--max-speed-change-kmh", type=_positive,
                      help="largest progression speed change between consecutive links")
    full.add_argument("--sequences", action=argparse.BooleanOptionalAction, default=None,
                      help="choose each major signal's left-turn sequence (lead/lag); "
                      "default on with the full model")
    full.add_argument("--queue-clearance", action="store_true",
                      help="leave the queue of upstream turning-in flows ahead of the band")
    full.add_argument("--method", choices=["maxband", "multiband"], default="maxband",
                      help="maxband: one band per direction through every signal (default); "
                      "multiband: a band per link, weighted by (V/S)^p")
    full.add_argument("--multiband-p", type=_multiband_p, default=1.0, metavar="P",
                      help="MULTIBAND weight exponent p in (V/S)^p, 0 to 8 (default 1)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="greenwave",
        description="Coordinate an arterial's signals into a green wave and prove it in SUMO.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"greenwave {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fmt = argparse.ArgumentDefaultsHelpFormatter

    p = sub.add_parser("optimize", help="offsets maximizing the two-way band -> plan.json",
                       formatter_class=fmt)
    p.add_argument("corridor", help="corridor TOML/CSV file, or a built-in name (ganjiang)")
    _add_optimize_options(p)
    p.add_argument("--period", help=PERIOD_HELP)
    p.add_argument("--out", default="greenwave-out", help="output folder")

    p = sub.add_parser("build-net", help="generate the SUMO scenario of a TOML corridor spec",
                       formatter_class=fmt)
    p.add_argument("corridor", nargs="?", default="ganjiang",
                   help="corridor TOML file or built-in name")
    p.add_argument("--period", help=PERIOD_HELP)
    p.add_argument("--seed", type=int, default=42, help="seed written into the .sumocfg")
    p.add_argument("--out", help="output folder (default sumo_configs/<corridor>)")

    p = sub.add_parser("evaluate", help="simulate a plan against the baseline in SUMO",
                       formatter_class=fmt)
    p.add_argument("corridor", nargs="?", default="ganjiang",
                   help="corridor TOML file or built-in name")
    p.add_argument("--plan", required=True, help="plan.json written by 'greenwave optimize'")
    p.add_argument("--period", help=PERIOD_HELP)
    p.add_argument("--seeds", type=_seeds, default=(1, 2, 3), help=SEEDS_HELP)
    p.add_argument("--end-s", type=_positive,
                   help="measure trips departing before this time [s] (default: the period)")
    p.add_argument("--out", default="greenwave-out", help="output folder")

    p = sub.add_parser("demo", help="the main job on the built-in Ganjiang corridor",
                       formatter_class=fmt)
    p.add_argument("--out", default="greenwave-out", help="output folder")
    p.add_argument("--period", help=PERIOD_HELP)
    p.add_argument("--seeds", type=_seeds, default=(1, 2, 3), help=SEEDS_HELP)
    p.add_argument("--end-s", type=_positive,
                   help="measure trips departing before this time [s] (default: the period)")
    p = sub.add_parser("retime", help="run the dynamic retiming loop on a day segment in SUMO",
                       formatter_class=fmt)
    p.add_argument("scenario", nargs="?", default="ganjiang",
                   help="corridor TOML file or built-in name; its off-peak → AM-peak segment")
    p.add_argument("--alerts", metavar="FILE|-",
                   help="external alerts, JSON Lines (a file, or - for stdin)")
    p.add_argument("--until", type=_clock, metavar="T",
                   help="stop at simulation time T (seconds of the day, or HH:MM)")
    p.add_argument("--method", choices=["retiming", "static"], default="retiming",
                   help="retiming: the loop; static: the time-of-day plans only")
    p.add_argument("--seed", type=int, default=1, help="simulation seed")
    p.add_argument("--hours", type=_positive, default=2.0,
                   help="length of the segment from 06:00, at most 2")
    p.add_argument("--gui", action="store_true", help="run in sumo-gui (over traci)")
    p.add_argument("--out", default="greenwave-retime", help="output folder")
    return parser


def _clock(text: str) -> float:
    if ":" in text:
        try:
            h, m = (int(x) for x in text.split(":"))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected seconds or HH:MM, found {text!r}") from None
        if not (0 <= h < 48 and 0 <= m < 60):
            raise argparse.ArgumentTypeError(f"expected HH:MM, found {text!r}")
        return h * 3600.0 + m * 60.0
    return _positive(text)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds like an error: scratch files are removed


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    handler = {
        "optimize": cmd_optimize,
        "build-net": cmd_build_net,
        "evaluate": cmd_evaluate,
        "demo": cmd_demo,
        "retime": cmd_retime,
    }[args.command]
    try:
        return handler(args)
    except (InputError, InfeasibleError) as exc:
        _error(f"error: {exc}")
        return 2
    except GreenwaveError as exc:
        _error(f"failed: {exc}")
        return 1
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        _error(f"failed:{where}: {exc.strerror or exc}")
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130


def _error(message: str) -> None:
    print(f"greenwave: {message}", file=sys.stderr)


def _net_dir(name: str) -> Path:
    return Path("sumo_configs") / name


def _scenario_corridor(name: str) -> Corridor:
    path = workflow.resolve_corridor_path(name)
    if path.suffix.lower() == ".csv":
        raise InputError("this command needs the full TOML spec (phase plans, lanes, demand); "
                         "a CSV corridor has only green windows: use it with 'optimize'",
                         file=str(path))
    corridor = workflow.load(path)
    workflow.require_network_spec(corridor)
    return corridor


def cmd_optimize(args: argparse.Namespace) -> int:
    from greenwave._io import staged_dir
    from greenwave.optimize import optimize_corridor

    _check_out(args.out)
    corridor = workflow.load(args.corridor, cycle_s=args.cycle_s, speed_kmh=args.speed_kmh)
    period = args.period or corridor.default_period
    if corridor.demand:
        corridor.period(period)
    if _wants_full(args):
        from greenwave.optimize import optimize_progression

        if args.queue_clearance and not corridor.demand:
            raise InputError("--queue-clearance needs demand (a TOML spec with periods)",
                             field="queue_clearance")
        plan = optimize_progression(
            corridor,
            cycle_range_s=tuple(args.cycle_range_s) if args.cycle_range_s else (
                None if args.full or corridor.cycle_s is None else (corridor.cycle_s,) * 2),
            speed_range_kmh=tuple(args.speed_range_kmh) if args.speed_range_kmh else (
                None if args.full else (corridor.speed_kmh,) * 2),
            speed_in_range_kmh=tuple(args.speed_in_range_kmh) if args.speed_in_range_kmh
            else None,
            max_speed_change_kmh=args.max_speed_change_kmh,
            sequences=args.sequences if args.sequences is not None else True,
            queue_from_demand=args.queue_clearance,
            mode=args.mode, k=args.k, period=period if corridor.demand else "",
            method=args.method, multiband_p=args.multiband_p,
        )
    else:
        plan = optimize_corridor(corridor, speed_in_kmh=args.speed_in_kmh, mode=args.mode,
                                 k=args.k, period=period if corridor.demand else "")
    scenario = None
    if corridor.has_phases and corridor.demand:
        scenario = workflow.build_scenario(corridor, _net_dir(corridor.name), period=period)
    with staged_dir(args.out) as tmp:
        files = workflow.write_plan_files(plan, corridor, tmp, scenario)
    print(_plan_summary(plan, corridor))
    out = Path(args.out)
    written = [files.plan_json, files.programs, files.diagram, files.replay,
               *files.reference_programs.values()]
    print("wrote " + ", ".join(str(out / f.name) for f in written if f is not None))
    return 0


def _wants_full(args: argparse.Namespace) -> bool:
    return bool(args.full or args.cycle_range_s or args.speed_range_kmh
                or args.speed_in_range_kmh or args.max_speed_change_kmh is not None
                or args.sequences or args.queue_clearance or args.method != "maxband")


def cmd_build_net(args: argparse.Namespace) -> int:
    corridor = _scenario_corridor(args.corridor)
    out = Path(args.out) if args.out else _net_dir(corridor.name)
    scenario = workflow.build_scenario(corridor, out, period=args.period, seed=args.seed,
                                       progress=workflow.stderr_progress)
    print(f"network: {scenario.layout.net_file}")
    print(f"demand:  {scenario.routes_file}")
    cfg = out / "corridor.sumocfg"
    print(f"config:  {cfg}  (open with: sumo-gui -c {cfg})")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from greenwave.plan import check_plan_matches, read_plan

    _check_out(args.out)
    corridor = _scenario_corridor(args.corridor)
    plan = read_plan(args.plan)
    if not math.isclose(plan.cycle_s, corridor.cycle_s or 0.0):
        corridor = corridor.with_cycle(plan.cycle_s)
    plan = check_plan_matches(plan, corridor, args.plan)
    period = args.period or plan.period or corridor.default_period
    corridor.period(period)
    if plan.period and plan.period != period:
        workflow.stderr_progress(f"note: the plan was made for period {plan.period!r}; "
                                 f"evaluating it on {period!r} demand")
    _check_end(args.end_s, corridor, period)
    _simulate_and_report(args, corridor, plan, scenario_period=period)
    return 0


def _check_out(out: str) -> None:
    """Refuse an unusable --out before any work (staged_dir checks again when writing)."""
    if not out.strip():
        raise InputError("empty output folder name", field="--out", value=out)
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise InputError(f"{out} exists and is not a folder", field="--out", value=out)
    for parent in p.resolve().parents:
        if parent.exists():
            if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
                raise InputError(f"cannot create {out}: {parent} is not a writable folder",
                                 field="--out", value=out)
            break


def _check_end(end_s: float | None, corridor: Corridor, period: str) -> None:
    duration = corridor.period(period).duration_s
    if end_s is not None and end_s > duration:
        raise InputError(f"{end_s:g} s is beyond the period's demand ({period}: {duration:g} s)",
                         field="--end-s", value=end_s)


def cmd_retime(args: argparse.Namespace) -> int:
    from greenwave.sumo.dayseg import build_day_segment, day_segment, ganjiang_day_segment

    corridor = _scenario_corridor(args.scenario)
    if not 0 <= args.seed <= 2147483647:
        raise InputError(f"seed must lie in 0..2147483647, found {args.seed}", field="seed")
    seg = (ganjiang_day_segment(corridor, hours=args.hours) if corridor.name == "ganjiang"
           else day_segment(corridor, hours=args.hours))
    if args.until is not None and not seg.begin_s < args.until:
        raise InputError(f"--until {args.until:g} s is not after the segment's begin "
                         f"{seg.begin_s:g} s (06:00)", field="until", value=args.until)
    from greenwave.retiming.loop import LiveFeed

    feed: Any = None
    if args.alerts == "-":
        feed = LiveFeed(sys.stdin)
    elif args.alerts is not None:
        path = Path(args.alerts)
        if not path.is_file():
            raise InputError(f"no alert file {path}", file=str(path))
        feed = path.open(encoding="utf-8")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    say = workflow.stderr_progress
    say(f"retime: building the {seg.name} segment of {corridor.name} (detectors, demand, "
        "time-of-day plans)")
    built = build_day_segment(seg, _net_dir(f"{corridor.name}_{seg.name}"))
    log_path = out / "retime_log.jsonl"
    say(f"retime: running {args.method} (seed {args.seed}) in SUMO; log {log_path}")
    from greenwave.sumo.dayseg import run_day_segment

    with open(log_path, "w", encoding="utf-8") as log:
        try:
            run = run_day_segment(built, args.method, seed=args.seed, out_dir=out / "sumo",
                                  feed=feed, log_stream=log, until_s=args.until, gui=args.gui)
        finally:
            if feed is not None and not isinstance(feed, LiveFeed):
                feed.close()
    from greenwave.metrics import write_metrics_csv

    write_metrics_csv(run.metrics, out / "metrics.csv")
    pd.DataFrame(run.loop.latency).to_csv(out / "latency.csv", index=False)
    run.safety.to_frame().to_csv(out / "safety_violations.csv", index=False)
    decisions = [r for r in run.loop.log.records if r["event"] == "decision"]
    rejected = [r for r in run.loop.log.records if r["event"] == "rejected"]
    print(f"{args.method}: {len(decisions)} decisions, {len(rejected)} alerts rejected, "
          f"safety violations {len(run.safety.violations)}, wall {run.wall_s:.0f} s")
    if len(run.metrics):
        print(run.metrics[["direction", "trips", "travel_time_s", "delay_s",
                           "total_delay_s"]].to_string(index=False))
    if run.loop.crashed:
        say(f"retime: the simulation ended early: {run.loop.crashed} (log kept: {log_path})")
        return 1
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from greenwave.optimize import optimize_corridor

    say = workflow.stderr_progress
    t0 = time.perf_counter()
    _check_out(args.out)
    corridor = workflow.load("ganjiang")
    period = args.period or corridor.default_period
    corridor.period(period)
    _check_end(args.end_s, corridor, period)
    say(f"[1/4] corridor {corridor.name}: {len(corridor.intersections)} signals, "
        f"{corridor.length_m / 1000:.1f} km, cycle {corridor.cycle_s:g} s, "
        f"band speed {corridor.speed_kmh:g} km/h")
    say("[2/4] optimizing offsets (MAXBAND MILP)")
    plan = optimize_corridor(corridor, period=period)
    say(f"      bands {plan.bandwidth_out_s:.1f} s / {plan.bandwidth_in_s:.1f} s, "
        f"solved in {plan.solver.get('solve_s', 0):.2f} s ({plan.solver.get('status')})")
    _simulate_and_report(args, corridor, plan, scenario_period=period,
                         steps=("[3/4]", "[4/4]"))
    print(f"done in {time.perf_counter() - t0:.0f} s")
    return 0


def _prefixed(prefix: str) -> workflow.Progress:
    def say(message: str) -> None:
        workflow.stderr_progress(f"{prefix} {message}" if prefix else message)

    return say


def _simulate_and_report(args: argparse.Namespace, corridor: Corridor, plan: TimingPlan, *,
                         scenario_period: str | None,
                         steps: tuple[str, str] = ("", "")) -> None:
    """Build the scenario, write the plan files, simulate all methods, report.

    *steps* prefix the progress lines of the build and of the simulations.
    """
    from greenwave._io import staged_dir
    from greenwave.metrics import write_metrics_csv

    scenario = workflow.build_scenario(corridor, _net_dir(corridor.name),
                                       period=scenario_period, progress=_prefixed(steps[0]))
    out = Path(args.out)
    with staged_dir(out) as tmp:
        files = workflow.write_plan_files(plan, corridor, tmp, scenario, seed=args.seeds[0],
                                          end_s=args.end_s)
        methods = {**{m: (f,) for m, f in files.reference_programs.items()},
                   "greenwave": (files.programs,)}
        metrics = workflow.evaluate(scenario, methods, out_dir=tmp, end_s=args.end_s,
                                    seeds=args.seeds, progress=_prefixed(steps[1]))
        write_metrics_csv(metrics, tmp / "metrics.csv")
    print()
    print(_plan_summary(plan, corridor))
    print()
    _print_metrics(metrics, corridor)
    print(f"outputs in {out}/: plan.json, programs.add.xml, uncoordinated.add.xml, metrics.csv, "
          "time_space.png, replay.sumocfg, runs/")
    print(f"replay in sumo-gui: sumo-gui -c {out / 'replay.sumocfg'}")


def _print_metrics(metrics: pd.DataFrame, corridor: Corridor) -> None:
    from greenwave.metrics import format_comparison, format_table, pool_seeds

    names = {"outbound": corridor.outbound_name, "inbound": corridor.inbound_name}
    print("main-street through trips (all seeds pooled):")
    print(format_table(pool_seeds(metrics)))
    print()
    print(format_comparison(metrics, direction_names=names))
    runs = metrics.drop_duplicates(["method", "seed"])
    print(f"\nteleports: {int(runs['teleports'].sum())}")
    for run in runs[runs["not_inserted"] > 0].itertuples():
        _error(f"warning: {run.method}, seed {run.seed}: {run.not_inserted} vehicles could not "
               "enter the network before the run ended (demand above capacity); trip counts "
               "and averages are not comparable")
    for row in metrics[metrics["trips"] == 0].itertuples():
        _error(f"warning: {row.method}, seed {row.seed}: no {row.direction} through trip was "
               "measured (measuring window too short?)")
    print()


def _speed_text(plan: TimingPlan) -> str:
    if not plan.link_speeds_out_kmh:
        return f"band speed {plan.speed_out_kmh:g}/{plan.speed_in_kmh:g} km/h"
    speeds = plan.link_speeds_out_kmh + plan.link_speeds_in_kmh
    text = (f"progression speeds {min(speeds):.1f}-{max(speeds):.1f} km/h (mean "
            f"{plan.speed_out_kmh:.1f}/{plan.speed_in_kmh:.1f})")
    chosen = [s.sequence for s in plan.signals if s.sequence]
    if chosen:
        counts = {name: chosen.count(name) for name in sorted(set(chosen))}
        text += "\n  left-turn sequences: " + ", ".join(f"{n} x{k}" for n, k in counts.items())
    return text


def _plan_summary(plan: TimingPlan, corridor: Corridor) -> str:
    c = plan.cycle_s
    lines = [
        f"plan for {plan.corridor}: cycle {c:g} s, " + _speed_text(plan),
        f"  band {corridor.outbound_name:>10}: {plan.bandwidth_out_s:6.1f} s "
        f"({plan.bandwidth_out_s / c:.0%} of cycle)",
        f"  band {corridor.inbound_name:>10}: {plan.bandwidth_in_s:6.1f} s "
        f"({plan.bandwidth_in_s / c:.0%} of cycle)",
        f"  efficiency (b + b̄)/2C: {plan.efficiency:.1%}   solver: "
        f"{plan.solver.get('status', '?')}, gap {plan.solver.get('gap', 0):.2g}",
    ]
    if plan.solver.get("two_way") is False:
        lines.append("  note: no offsets give a band in both directions at this cycle and "
                     "speed; this is the best one-way plan")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
