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
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

import pandas as pd

from greenwave import __version__, workflow
from greenwave.corridor import Corridor
from greenwave.errors import GreenwaveError, InfeasibleError, InputError
from greenwave.plan import TimingPlan
from greenwave.tuning import COUNT_SEED, TUNING_SEEDS

if TYPE_CHECKING:
    from greenwave.sumo.importnet import ImportedCorridor

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


def _weight(text: str) -> float | str:
    return text if text == "demand" else _at_most(text, 100.0, "a weight from 0 to 100")


def _share(text: str) -> float:
    return _at_most(text, 1.0, "a share from 0 to 1")


def _multiband_p(text: str) -> float:
    return _at_most(text, 8.0, "p from 0 to 8")


def _at_most(text: str, hi: float, expected: str) -> float:
    value = _number(text, strict=False)
    if value > hi:
        raise argparse.ArgumentTypeError(f"expected {expected}, found {text!r}")
    return value


def _count_arg(text: str) -> int:
    return _count(text, hi=1000)


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


def _tune_budget(text: str) -> int:
    n = _count(text, hi=100000)
    if n < 2:
        raise argparse.ArgumentTypeError(f"expected at least 2 (the band plan and the net's own "
                                         f"offsets are the first two), found {text!r}")
    return n


def _seed(text: str) -> int:
    seeds = _seeds(text)
    if len(seeds) != 1:
        raise argparse.ArgumentTypeError(f"expected one seed, found {text!r}")
    return seeds[0]


def _add_optimize_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cycle-s", type=_cycle, help="common cycle [s] (default: the spec's)")
    p.add_argument("--speed-kmh", type=_speed, help="band speed, both directions [km/h]")
    p.add_argument("--speed-in-kmh", type=_speed, help="inbound band speed [km/h]")
    p.add_argument("--mode", default="balanced", choices=["balanced", "weighted", "equal"],
                   help="band objective (default: balanced = largest total, then even)")
    p.add_argument("--k", type=_weight, default=1.0,
                   help="inbound/outbound weight for --mode weighted or equal, 0 to 100, or "
                   "'demand': the period's inbound/outbound main-street volume ratio")
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
    full.add_argument("--splits", choices=["spec", "demand"], default=None,
                      help="greens of the spec's phase plans (default) or Webster/HCM "
                      "critical-lane splits of the period's demand at every cycle")
    after = p.add_argument_group("after the band")
    after.add_argument("--refine", action="store_true",
                       help="refine the offsets and splits on the delay model (platoon "
                       "dispersion on the main street, Webster/HCM delay on the cross streets; "
                       "needs demand), keeping --keep-band of the two-way band")
    after.add_argument("--keep-band", type=_share, default=0.8, metavar="SHARE",
                       help="share of the two-way band --refine must keep, 0 to 1 "
                       "(default 0.8)")
    after.add_argument("--max-shift-s", type=_count_arg, default=10,
                       help="largest offset change --refine may make per signal [s]")
    after.add_argument("--max-split-s", type=_count_arg, default=5,
                       help="largest green change --refine may make per phase [s] (0: "
                       "offsets only; minimum and pedestrian greens always hold)")
    after.add_argument("--sumo-check", action="store_true",
                       help="with --refine: simulate the band and the refined plan on "
                       "--check-seeds and keep the refined one only if it does not lose on "
                       "network delay (else half, a quarter of the change, else the band plan)")
    after.add_argument("--check-seeds", type=_seeds, default=TUNING_SEEDS,
                       help=f"seeds of the --sumo-check runs (default {_csv(TUNING_SEEDS)}; "
                       "keep them apart "
                       "from the seeds you evaluate on)")
    zones = p.add_argument_group("sub-zones (long arterials)")
    zones.add_argument("--zones", action="store_true",
                       help="partition the corridor into sub-zones, each on its own band "
                       "(the boundaries chosen by optimization); with --full each zone gets "
                       "its own speeds and sequences at the common cycle")
    zones.add_argument("--max-zones", type=_count_arg, default=4,
                       help="most zones (default 4)")
    zones.add_argument("--min-zone-signals", type=_count_arg, default=4,
                       help="fewest signals in a zone (default 4)")
    zones.add_argument("--boundary-penalty", type=_share, default=0.03,
                       help="mean efficiency a boundary must add (default 0.03)")
    day = p.add_argument_group("time-of-day plans")
    day.add_argument("--periods", metavar="P1,P2|all",
                     help="one plan per period in one run (TOML spec), into --out/<period>/")
    day.add_argument("--cycle-policy", choices=["independent", "common", "harmonic"],
                     default="independent",
                     help="with --periods: each period's own best cycle, one common cycle, "
                     "or half/double the first period's (default independent)")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other input error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"greenwave: error: {message} (see '{self.prog} --help')\n")


def _time(text: str) -> float:
    return _number(text, strict=False)


def _count(text: str, hi: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, found {text!r}") from None
    if hi is not None and not 1 <= value <= hi:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {hi}, found "
                                         f"{text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, found {text!r}")
    return value


def _baselines(text: str) -> tuple[str, ...]:
    from greenwave.netscenario import BASELINES

    items = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in items if s not in BASELINES]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"expected some of {', '.join(BASELINES)}, found "
                                         f"{text!r}")
    if len(set(items)) != len(items):
        raise argparse.ArgumentTypeError(f"baselines must differ, found {text!r}")
    return items


def _add_route_options(p: argparse.ArgumentParser) -> None:
    route = p.add_mutually_exclusive_group(required=True)
    route.add_argument("--route", nargs="+", metavar="EDGE",
                       help="outbound edge ids in driving order (or one quoted string of them; "
                       "quote ids that begin with '-')")
    route.add_argument("--from", dest="from_edge", metavar="EDGE",
                       help="first edge (with --to: the shortest path for passenger cars)")
    p.add_argument("--to", dest="to_edge", metavar="EDGE", help="last edge (with --from)")
    p.add_argument("--reverse-route", nargs="+", metavar="EDGE",
                   help="inbound edge ids (default: found from the outbound signals)")
    p.add_argument("--name", help="corridor name (default: from the network file name)")


def _edge_list(values: Sequence[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [e for v in values for e in v.split()]


def _import(args: argparse.Namespace, net: str | Path) -> ImportedCorridor:
    from greenwave.sumo.importnet import import_corridor

    if args.from_edge is not None and args.to_edge is None:
        raise InputError("--from needs --to", field="--to")
    if args.route is not None and args.to_edge is not None:
        raise InputError("give --route or --from/--to, not both", field="--to")
    return import_corridor(net, route=_edge_list(args.route), from_edge=args.from_edge,
                           to_edge=args.to_edge, reverse_route=_edge_list(args.reverse_route),
                           name=args.name)


def _csv(values: Sequence[object]) -> str:
    """*values* as a comma-separated option takes them (``1,2,3``)."""
    return ",".join(map(str, values))


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default unless its help already says it or there is none (None,
    False, a flag)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        d = action.default
        if "default" in text.lower() or d in (None, False, argparse.SUPPRESS) \
                or action.nargs == 0:
            return text
        if isinstance(d, list | tuple):  # as the comma-separated options are typed
            return f"{text} (default: {_csv(d)})"
        return super()._get_help_string(action) or text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="greenwave",
        description="Coordinate an arterial's signals into a green wave and prove it in SUMO.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"greenwave {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fmt = _HelpFormatter

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

    p = sub.add_parser("import-net", help="read a corridor (signals, phases, greens) from a "
                       "SUMO network -> corridor CSV + .import.json", formatter_class=fmt)
    p.add_argument("net", help="SUMO network (.net.xml or .net.xml.gz)")
    _add_route_options(p)
    p.add_argument("--out", help="corridor CSV to write (default: <name>.csv); the "
                   "<stem>.import.json sidecar is written next to it")
    p.add_argument("--detectors", metavar="FILE",
                   help="also write the corridor's detectors (a SUMO additional file): an "
                   "induction loop near the upstream end and a queue detector before the stop "
                   "line of every car lane of every approach of every signal")

    p = sub.add_parser("evaluate-net", help="import, coordinate and evaluate a corridor of a "
                       "SUMO network against its own programs and SUMO's tools",
                       formatter_class=fmt)
    p.add_argument("net", help="SUMO network (.net.xml) or configuration (.sumocfg: net, "
                   "routes, begin and end are read from it)")
    _add_route_options(p)
    p.add_argument("--demand", nargs="+", metavar="ROUTES",
                   help="route files (default: the .sumocfg's)")
    p.add_argument("--begin", type=_time, help="start of the measured period [s] (default: "
                   "the .sumocfg's, else 0)")
    p.add_argument("--end", type=_time, help="end of the measured period [s] (default: the "
                   ".sumocfg's, else begin + 3600)")
    p.add_argument("--cycle-s", type=_cycle, help="common cycle [s] (default: the cycle most "
                   "signals run); other signals' green phases are retimed to it")
    p.add_argument("--keep-own-cycle", action=argparse.BooleanOptionalAction, default=None,
                   help="leave signals whose own cycle differs from the common cycle out of "
                   "coordination: they keep their original program, the band is optimized "
                   "over the others (default: on when at least two signals run the common "
                   "cycle; --no-keep-own-cycle retimes every signal to it)")
    p.add_argument("--speed-kmh", type=_speed, help="band speed [km/h] (default: the route's "
                   "free-flow speed)")
    p.add_argument("--speed-in-kmh", type=_speed, help="inbound band speed [km/h]")
    p.add_argument("--mode", default="balanced", choices=["balanced", "weighted", "equal"],
                   help="band objective")
    p.add_argument("--seeds", type=_seeds, default=(1, 2, 3), help=SEEDS_HELP)
    p.add_argument("--baselines", type=_baselines, default=("original", "tlscoordinator"),
                   help="comma-separated: original, tlscoordinator, tlscycleadaptation")
    p.add_argument("--min-signals", type=_count, default=2,
                   help="a corridor trip drives through at least this many consecutive "
                   "signals (the number of signals: the whole corridor)")
    p.add_argument("--splits", choices=["demand", "own"], default="demand",
                   help="demand: Webster splits at the common cycle from link flows counted in "
                   "a run of the net's own programs (--count-seed); own: keep each program's "
                   "proportions")
    p.add_argument("--count-seed", type=_seed, default=COUNT_SEED,
                   help="seed of the counting run (--splits demand); must differ from --seeds")
    p.add_argument("--tune", action="store_true",
                   help="tune the coordinated offsets in SUMO before the evaluation (compass "
                   "search from the better of the band plan and the net's own offsets, on "
                   "--tune-seeds)")
    p.add_argument("--tune-seeds", type=_seeds, default=None,
                   help=f"seeds of the tuning runs (default {_csv(TUNING_SEEDS)}); they must "
                   "differ from "
                   "--seeds")
    p.add_argument("--tune-evaluations", type=_tune_budget, default=None,
                   help="most candidate plans simulated by --tune, at least 2: the band plan "
                   "and the net's own offsets (default 100; each on every tuning seed)")
    p.add_argument("--out", default="greenwave-out", help="output folder")

    p = sub.add_parser("replay", help="open a simulated run in sumo-gui (network, demand, "
                       "plan and seed as evaluated), tracking a probe vehicle",
                       formatter_class=fmt)
    p.add_argument("run_dir", help="a run folder (runs/<method>_seed<N>/), its .sumocfg, or "
                   "an output folder (its first greenwave run)")
    p.add_argument("--screenshot", metavar="FILE", help="render a PNG headless (under "
                   "xvfb-run without a display) instead of opening the window, then quit")
    p.add_argument("--time", type=_time, help="simulation time of the screenshot [s] "
                   "(default: when the probe vehicle is half-way)")
    p.add_argument("--delay-ms", type=_time, default=20.0, help="delay per simulation step "
                   "[ms] of the replay")
    p.add_argument("--view-m", type=_positive, default=1200.0,
                   help="length of road in view [m]")

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

    p = sub.add_parser("bench", help="run a benchmark matrix (scenarios x methods x periods x "
                       "seeds) on a local pool or a Dask cluster; resumable",
                       formatter_class=fmt)
    p.add_argument("spec", help="benchmark spec (TOML; see the README)")
    p.add_argument("--out", default="bench-out", help="output folder: results.csv, "
                   "results.parquet, summary.md, plots/, cells/ (what makes it resumable)")
    p.add_argument("--workers", type=_count_arg,
                   help="processes of the local pool (default: the machine's cores)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on the Dask cluster at ADDRESS (e.g. tcp://host:8786) instead of "
                   "the local pool; needs pip install 'greenwave[dask]'")
    p.add_argument("--work-dir", help="networks, plans and SUMO runs (default: OUT/work); on "
                   "a cluster a folder every worker can write")
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
        "import-net": cmd_import_net,
        "evaluate-net": cmd_evaluate_net,
        "replay": cmd_replay,
        "retime": cmd_retime,
        "bench": cmd_bench,
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

    _check_out(args.out)
    corridor = workflow.load(args.corridor, cycle_s=args.cycle_s, speed_kmh=args.speed_kmh)
    needs_demand = [flag for flag, on in (("--refine", args.refine),
                                          ("--queue-clearance", args.queue_clearance),
                                          ("--splits demand", args.splits == "demand"),
                                          ("--periods", args.periods is not None)) if on]
    if needs_demand and not corridor.demand:
        raise InputError(f"{needs_demand[0]} needs demand periods (a TOML spec)",
                         file=corridor.source or None, field=needs_demand[0].split()[0])
    if args.zones and (args.periods or args.method != "maxband"):
        raise InputError("--zones works on one period with --method maxband",
                         field="--zones")
    if args.k == "demand" and args.periods is None:
        if not corridor.demand:
            raise InputError("--k demand needs demand periods (a TOML spec)",
                             file=corridor.source or None, field="--k", value="demand")
        from greenwave.optimize import directional_ratio

        args.k = directional_ratio(corridor, _select_period(corridor, args.period))
    if args.periods is not None:
        names = _period_list(corridor, args.periods)
        plans = _day_plans(corridor, names, args)
        period = names[0]
    else:
        period = _select_period(corridor, args.period)
        plans = {period: _one_plan(corridor, period, args)}
    if args.sumo_check and not (args.refine and corridor.has_phases):
        raise InputError("--sumo-check needs --refine and a TOML spec with phase plans",
                         file=corridor.source or None, field="--sumo-check")
    scenarios: dict[str, workflow.Scenario] = {}

    def scenario_of(name: str) -> workflow.Scenario:
        if name not in scenarios:
            scenarios[name] = workflow.build_scenario(corridor, _net_dir(corridor.name),
                                                      period=name)
        return scenarios[name]

    refined: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    if args.refine:
        plans, refined, checks = _refined_plans(corridor, plans, args, scenario_of)
    written = []
    with staged_dir(args.out) as tmp:
        for name, plan in plans.items():
            scenario = None
            if corridor.has_phases and corridor.demand:
                scenario = scenario_of(name)
            folder = tmp / name if args.periods is not None else tmp
            folder.mkdir(parents=True, exist_ok=True)
            files = workflow.write_plan_files(plan, corridor, folder, scenario)
            rel = Path(args.out) / (name if args.periods is not None else "")
            written += [rel / f.name for f in (files.plan_json, files.programs, files.diagram,
                                               files.replay, *files.reference_programs.values())
                        if f is not None]
    for name, plan in plans.items():
        if len(plans) > 1:
            print(f"[{name}]")
        print(_plan_summary(plan, corridor))
        if name in refined:
            print(_refine_summary(refined[name]))
        if name in checks:
            print(f"  SUMO check (seeds {', '.join(map(str, checks[name].seeds))}): "
                  f"{checks[name].outcome}")
    print("wrote " + ", ".join(map(str, written)))
    return 0


def _refined_plans(corridor: Corridor, plans: dict[str, TimingPlan], args: argparse.Namespace,
                   scenario_of: Any) -> tuple[dict[str, TimingPlan], dict[str, Any],
                                              dict[str, Any]]:
    """--refine (and --sumo-check): the refined plan of every period, the reports, checks."""
    import tempfile

    from greenwave.refine import refine_plan

    out, reports, checks = dict(plans), {}, {}
    for name, plan in plans.items():
        out[name], reports[name] = refine_plan(
            plan, corridor, name, keep_band=args.keep_band, max_shift_s=args.max_shift_s,
            max_split_s=args.max_split_s)
        if args.sumo_check:
            from greenwave.refine_check import check_refinement

            with tempfile.TemporaryDirectory(prefix="greenwave-check-") as work:
                out[name], checks[name] = check_refinement(
                    plan, out[name], corridor, scenario_of(name), out_dir=work,
                    seeds=args.check_seeds, progress=workflow.stderr_progress)
    return out, reports, checks


def _period_list(corridor: Corridor, text: str) -> list[str]:
    names = [p.name for p in corridor.demand]
    if text.strip() == "all":
        return names
    wanted = [t.strip() for t in text.split(",") if t.strip()]
    for w in wanted:
        _select_period(corridor, w, option="--periods")
    if not wanted or len(set(wanted)) != len(wanted):
        raise InputError(f"--periods: expected distinct period names or 'all', found {text!r}",
                         field="--periods", value=text)
    return wanted


def _full_options(corridor: Corridor, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "speed_range_kmh": tuple(args.speed_range_kmh) if args.speed_range_kmh else (
            None if args.full else (corridor.speed_kmh,) * 2),
        "speed_in_range_kmh": tuple(args.speed_in_range_kmh) if args.speed_in_range_kmh
        else None,
        "max_speed_change_kmh": args.max_speed_change_kmh,
        "sequences": args.sequences if args.sequences is not None else True,
        "queue_from_demand": args.queue_clearance,
        "mode": args.mode, "k": args.k,
        "method": args.method, "multiband_p": args.multiband_p,
    }


def _cycle_range(corridor: Corridor, args: argparse.Namespace) -> tuple[float, float] | None:
    if args.cycle_range_s:
        return tuple(args.cycle_range_s)
    return None if args.full or corridor.cycle_s is None else (corridor.cycle_s,) * 2


def _one_plan(corridor: Corridor, period: str, args: argparse.Namespace) -> TimingPlan:
    from greenwave.optimize import optimize_corridor, optimize_progression

    demand_period = period if corridor.demand else ""
    if args.zones:
        from greenwave.zones import optimize_zones

        full = _wants_full(args)
        return optimize_zones(
            corridor, max_zones=args.max_zones, min_signals=args.min_zone_signals,
            boundary_penalty=args.boundary_penalty, mode=args.mode, period=demand_period,
            speed_range_kmh=(tuple(args.speed_range_kmh) if args.speed_range_kmh else
                             corridor.speed_range_kmh) if full else None,
            sequences=bool(args.sequences if args.sequences is not None else full),
        ).plan
    if _wants_full(args):
        return optimize_progression(corridor, cycle_range_s=_cycle_range(corridor, args),
                                    period=demand_period, splits=args.splits or "spec",
                                    **_full_options(corridor, args))
    return optimize_corridor(corridor, speed_in_kmh=args.speed_in_kmh, mode=args.mode,
                             k=args.k, period=demand_period)


def _day_plans(corridor: Corridor, names: list[str],
               args: argparse.Namespace) -> dict[str, TimingPlan]:
    from greenwave.optimize import optimize_day

    rng = _cycle_range(corridor, args) if (args.cycle_range_s or not args.full) else None
    return optimize_day(corridor, periods=names, cycle_policy=args.cycle_policy,
                        cycle_ranges_s={n: rng for n in names} if rng else None,
                        splits=args.splits or "demand", **_full_options(corridor, args))


def _refine_summary(report: Any) -> str:
    moved = sum(abs(d) for signal in report.split_changes_s for d in signal) / 2
    return (f"  refined offsets and splits (delay model; {moved:g} s of green moved): network "
            f"index {report.network_pi_before:.1f} -> {report.network_pi_after:.1f} veh·h/h "
            f"(cross streets and left bays {report.side_delay_before_vehh_per_h:.1f} -> "
            f"{report.side_delay_after_vehh_per_h:.1f} veh·h/h); main street: performance "
            f"index {report.pi_before:.1f} -> "
            f"{report.pi_after:.1f} veh·h/h, delay {report.delay_before_vehh_per_h:.1f} -> "
            f"{report.delay_after_vehh_per_h:.1f} veh·h/h, stops {report.stops_before_per_h:.0f}"
            f" -> {report.stops_after_per_h:.0f} /h; band {sum(report.band_before_s):.1f} -> "
            f"{sum(report.band_after_s):.1f} s ({report.band_kept:.0%} kept)")


def _wants_full(args: argparse.Namespace) -> bool:
    return bool(args.full or args.cycle_range_s or args.speed_range_kmh
                or args.speed_in_range_kmh or args.max_speed_change_kmh is not None
                or args.sequences or args.queue_clearance or args.method != "maxband"
                or args.splits is not None)


def _select_period(corridor: Corridor, requested: str | None, *,
                   default: str | None = None, option: str = "--period") -> str:
    """The demand period to use: ``--period`` (checked against the corridor's periods),
    else *default*, else the corridor's default period ("" for a corridor without demand)."""
    names = [p.name for p in corridor.demand]
    if requested is None:
        return default or corridor.default_period
    if not names:
        raise InputError(f"the corridor has no demand periods (a CSV corridor has none; they "
                         f"come from a TOML spec), found {requested!r}",
                         file=corridor.source or None, field=option, value=requested)
    if requested not in names:
        raise InputError(f"unknown period {requested!r}; {corridor.name} defines: "
                         f"{', '.join(names)}", field=option, value=requested)
    return requested


def cmd_build_net(args: argparse.Namespace) -> int:
    corridor = _scenario_corridor(args.corridor)
    period = _select_period(corridor, args.period)
    out = Path(args.out) if args.out else _net_dir(corridor.name)
    scenario = workflow.build_scenario(corridor, out, period=period, seed=args.seed,
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
    plan = check_plan_matches(plan, corridor, args.plan)  # also the plan's period
    period = _select_period(corridor, args.period, default=plan.period)
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
    from greenwave._io import staged_dir
    from greenwave._progress import day_clock
    from greenwave.sumo.dayseg import build_day_segment, day_segment, ganjiang_day_segment

    _check_out(args.out)
    corridor = _scenario_corridor(args.scenario)
    if not 0 <= args.seed <= 2147483647:
        raise InputError(f"seed must lie in 0..2147483647, found {args.seed}", field="--seed")
    seg = (ganjiang_day_segment(corridor, hours=args.hours) if corridor.name == "ganjiang"
           else day_segment(corridor, hours=args.hours))
    end = seg.end_s + seg.drain_s
    if args.until is not None and not seg.begin_s < args.until <= end:
        where = (f"is not after the segment's begin {seg.begin_s:g} s ({day_clock(seg.begin_s)})"
                 if args.until <= seg.begin_s else
                 f"is after the segment's end {end:g} s ({day_clock(end)}: its demand, then "
                 f"{seg.drain_s / 60:g} min for the trips to finish)")
        raise InputError(f"{args.until:g} s ({day_clock(args.until)}) {where}",
                         field="--until", value=args.until)
    if args.gui and sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        raise InputError("sumo-gui needs a display and DISPLAY is not set (run under "
                         "xvfb-run, or leave --gui out)", field="--gui")
    from greenwave.retiming.loop import LATENCY_FIELDS, LiveFeed

    feed: Any = None
    if args.alerts == "-":
        feed = LiveFeed(sys.stdin)
    elif args.alerts is not None:
        path = Path(args.alerts)
        if path.is_dir():
            raise InputError("is a folder, not an alert file", file=str(path),
                             field="--alerts")
        if not path.is_file():
            raise InputError("no such alert file", file=str(path), field="--alerts")
        # a line with bytes that are not UTF-8 is read with U+FFFD in their place and then
        # rejected on its own like any other bad line (unknown target, bad JSON, ...)
        feed = path.open(encoding="utf-8", errors="replace")
    say = workflow.stderr_progress
    say(f"retime: building the {seg.name} segment of {corridor.name} (detectors, demand, "
        "time-of-day plans)")
    built = build_day_segment(seg, _net_dir(f"{corridor.name}_{seg.name}"))
    from greenwave.metrics import write_metrics_csv
    from greenwave.sumo.dayseg import run_day_segment

    out = Path(args.out)
    say(f"retime: running {args.method} (seed {args.seed}) in SUMO; the log, "
        f"{out / 'retime_log.jsonl'}, and the other outputs appear when the run ends")
    with staged_dir(out) as tmp:
        with open(tmp / "retime_log.jsonl", "w", encoding="utf-8") as log:
            try:
                run = run_day_segment(built, args.method, seed=args.seed, out_dir=tmp / "sumo",
                                      feed=feed, log_stream=log, until_s=args.until,
                                      gui=args.gui)
            finally:
                if feed is not None and not isinstance(feed, LiveFeed):
                    feed.close()
        write_metrics_csv(run.metrics, tmp / "metrics.csv")
        pd.DataFrame(run.loop.latency, columns=list(LATENCY_FIELDS)).to_csv(
            tmp / "latency.csv", index=False)
        run.safety.to_frame().to_csv(tmp / "safety_violations.csv", index=False)
    decisions = [r for r in run.loop.log.records if r["event"] == "decision"]
    rejected = [r for r in run.loop.log.records if r["event"] == "rejected"]
    print(f"{args.method}: {len(decisions)} decisions, {len(rejected)} alerts rejected, "
          f"safety violations {len(run.safety.violations)}, wall {run.wall_s:.0f} s")
    if len(run.metrics) and run.metrics["trips"].sum() > 0:
        print(run.metrics[["direction", "trips", "travel_time_s", "delay_s",
                           "total_delay_s"]].to_string(index=False))
    else:
        say("retime: no through trip finished in the run (metrics.csv has no figures); "
            "a later --until lets them finish")
    if run.loop.crashed:
        say(f"retime: the simulation ended early: {run.loop.crashed} (log kept: "
            f"{out / 'retime_log.jsonl'})")
        return 1
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from greenwave.optimize import optimize_corridor

    say = workflow.stderr_progress
    t0 = time.perf_counter()
    _check_out(args.out)
    corridor = workflow.load("ganjiang")
    period = _select_period(corridor, args.period)
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


def cmd_bench(args: argparse.Namespace) -> int:
    from greenwave._progress import ProgressBar, clock
    from greenwave.bench import read_spec, run_bench

    say = workflow.stderr_progress
    t0 = time.perf_counter()
    _check_out(args.out)
    spec = read_spec(args.spec)  # the whole spec is checked before any cell runs
    where = (f"the Dask cluster at {args.scheduler}" if args.scheduler else
             f"a local pool of {args.workers or os.cpu_count() or 1} processes")
    bar: list[ProgressBar] = []

    def start(total: int, todo: int) -> None:
        pairs = sum(len(s.periods) for s in spec.scenarios)
        say(f"bench {spec.name}: {total} cells ({pairs} scenario-periods x "
            f"{len(spec.methods)} methods x {len(spec.seeds)} seeds); "
            f"{total - todo} already done, {todo} to run on {where}")
        bar.append(ProgressBar(todo))

    def done(outcome: Any) -> None:
        cell = f"{outcome.scenario} {outcome.method} seed {outcome.seed}"
        bar[0].advance(failed=not outcome.ok,
                       note=f"{cell}: {'ok' if outcome.ok else 'FAILED'}")

    run = run_bench(spec, args.out, workers=args.workers, scheduler=args.scheduler,
                    work_dir=args.work_dir, on_start=start, on_done=done)
    failed = run.table[run.table["status"] != "ok"].drop_duplicates(
        ["scenario", "period", "method", "seed"])
    for row in failed.itertuples(index=False):
        _error(f"cell failed: {row.scenario} {row.period} {row.method} seed {row.seed}: "
               f"{row.error}")
    out = Path(args.out)
    print(f"{run.ran} cells run ({run.failed} failed), {run.skipped} already done, "
          f"{run.total} in the matrix; {clock(time.perf_counter() - t0)}")
    parquet = f" and {run.files['parquet']}" if "parquet" in run.files else \
        " (no Parquet: pip install 'greenwave[parquet]')"
    print(f"table:   {out / 'results.csv'}{parquet}")
    print(f"summary: {out / 'summary.md'}")
    print(f"plots:   {out / 'plots'}/")
    return 1 if len(failed) else 0


def cmd_import_net(args: argparse.Namespace) -> int:
    from greenwave.sumo.importnet import explain, sidecar_path, write_corridor_spec

    imported = _import(args, args.net)
    out = Path(args.out) if args.out else Path(f"{imported.name}.csv")
    detectors = None if args.detectors is None else _output_file(
        args.detectors, "--detectors", taken={
            out: "the corridor CSV", sidecar_path(out): "its sidecar",
            Path(args.net): "the input network"})
    if detectors is not None:
        from greenwave.sumo.detectors import detector_specs, queue_detectors, write_detectors

        # placed before anything is written: a net they do not fit leaves no files behind
        loops, queues = detector_specs(imported), queue_detectors(imported)
    existed = {p for p in (out, sidecar_path(out)) if p.exists()}
    csv_path, sidecar = write_corridor_spec(imported, out)
    if detectors is not None:
        try:
            write_detectors(imported, detectors)
        except OSError as exc:  # the spec goes too: all outputs or none
            for p in {csv_path, sidecar} - existed:
                p.unlink(missing_ok=True)
            raise InputError(f"cannot write {args.detectors!r}: {exc.strerror or exc}",
                             field="--detectors", value=args.detectors) from exc
    print(explain(imported))
    print(f"\nwrote {csv_path} and {sidecar}")
    if detectors is not None:
        areas = sum(len(q) for q in queues.values())
        approaches = len({s.approach for s in loops})
        print(f"wrote {detectors}: {len(loops)} induction loops and {areas} queue detectors "
              f"on {approaches} approaches")
    return 0


def _output_file(path: str, option: str, *, taken: Mapping[Path, str]) -> Path:
    """Refuse an output file that cannot be written before any work: its folder must exist
    and take a file (tried, not only asked: root passes every permission check), and it must
    be none of the *taken* paths (other outputs, inputs: path -> what it is)."""
    import tempfile

    target = Path(path)
    folder = target.absolute().parent
    clash = [what for p, what in taken.items() if target.resolve() == p.resolve()]
    problem = ""
    if not path.strip():
        problem = "empty file name"
    elif target.is_dir():
        problem = "is a folder, expected a file name"
    elif not folder.is_dir():
        problem = f"the folder {folder} does not exist"
    elif clash:
        problem = f"is {clash[0]}"
    else:
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            problem = f"the folder {folder} takes no file ({exc.strerror or exc})"
    if not problem:
        return target
    raise InputError(f"cannot write {path!r}: {problem}", field=option, value=path)


def cmd_evaluate_net(args: argparse.Namespace) -> int:
    from greenwave._io import staged_dir
    from greenwave.diagrams import method_comparison_chart, time_space_diagram
    from greenwave.metrics import format_comparison, format_table, pool_seeds, write_metrics_csv
    from greenwave.netscenario import (
        NetDemand,
        check_route_files,
        coordinate,
        count_link_flows,
        default_keep_own_cycle,
        evaluate_net,
        read_sumocfg,
        tune_net_plan,
        wins,
    )
    from greenwave.sumo.importnet import explain, write_corridor_spec
    from greenwave.sumo.writeback import timing_sheet, write_net_programs

    say = workflow.stderr_progress
    t0 = time.perf_counter()
    _check_out(args.out)
    source = Path(args.net)
    if source.suffix == ".sumocfg":
        cfg = read_sumocfg(source)
        demand = NetDemand(cfg.net_file,
                           tuple(Path(d) for d in args.demand) if args.demand else cfg.route_files,
                           cfg.begin_s if args.begin is None else args.begin,
                           cfg.end_s if args.end is None else args.end)
    else:
        if not args.demand:
            raise InputError("--demand (route files) is needed with a .net.xml", field="--demand")
        begin = 0.0 if args.begin is None else args.begin
        demand = NetDemand(source, tuple(Path(d) for d in args.demand), begin,
                           begin + 3600.0 if args.end is None else args.end)
    if demand.end_s <= demand.begin_s:
        raise InputError(f"end {demand.end_s:g} s must be after begin {demand.begin_s:g} s",
                         field="--end", value=demand.end_s)
    if args.splits == "demand" and args.count_seed in args.seeds:
        raise InputError(f"the counting seed {args.count_seed} is also an evaluation seed; "
                         "choose another --count-seed", field="--count-seed",
                         value=args.count_seed)
    if not args.tune and (args.tune_seeds is not None or args.tune_evaluations is not None):
        given = "--tune-seeds" if args.tune_seeds is not None else "--tune-evaluations"
        raise InputError(f"{given} is for the tuning run: add --tune", field=given)
    args.tune_seeds = args.tune_seeds or TUNING_SEEDS
    args.tune_evaluations = args.tune_evaluations or 100
    if args.tune and set(args.tune_seeds) & set(args.seeds):
        both = sorted(set(args.tune_seeds) & set(args.seeds))
        raise InputError(f"tuning seeds {both} are also evaluation seeds: the comparison would "
                         "favour the tuned plan; choose other --tune-seeds",
                         field="--tune-seeds", value=",".join(map(str, both)))
    if args.demand:
        check_route_files(demand.route_files, field="--demand")
    else:
        check_route_files(demand.route_files, source=str(source))
    say(f"[1/4] importing the corridor from {demand.net_file}")
    imported = _import(args, demand.net_file)
    if args.min_signals > len(imported.signals):
        raise InputError(f"the corridor has {len(imported.signals)} signals; a corridor trip "
                         f"cannot drive through {args.min_signals}", field="--min-signals",
                         value=args.min_signals)
    say(f"[2/4] coordinating {len(imported.signals)} signals (MAXBAND MILP)")
    keep = args.keep_own_cycle
    if keep is None:  # auto: with the programs' own splits keep own cycles unless fewer than
        # two signals would be left; splits from demand retime every signal to the common cycle
        keep = args.splits == "own" and default_keep_own_cycle(imported, args.cycle_s)
    out = Path(args.out)
    with staged_dir(out) as tmp:
        counts = None
        if args.splits == "demand":
            counts = count_link_flows(demand, imported, out_dir=tmp, seed=args.count_seed,
                                      progress=_prefixed("     "))
            counts.flows.to_csv(tmp / "flows.csv", index=False)
        net_plan = coordinate(imported, cycle_s=args.cycle_s, speed_kmh=args.speed_kmh,
                              speed_in_kmh=args.speed_in_kmh, mode=args.mode,
                              period=demand.period, keep_own_cycle=keep,
                              flow_ratios=counts.ratios if counts else None)
        for e in net_plan.retimed.excluded:
            say(f"      not coordinated: {e.tls_id}: {e.reason}")
        band_plan = net_plan.plan
        tuning = None
        if args.tune:
            net_plan, tuning = tune_net_plan(
                net_plan, demand, out_dir=tmp, seeds=args.tune_seeds,
                max_evaluations=args.tune_evaluations, min_signals=args.min_signals,
                progress=_prefixed("     "))
            tuning.trials.to_csv(tmp / "tuning.csv", index=False)
        plan = net_plan.plan
        corridor = net_plan.retimed.corridor
        write_corridor_spec(imported, tmp / "corridor.csv")
        if tuning is not None:
            plan = replace(plan, solver={**plan.solver, "tuning": tuning.to_dict()})
            band_plan.write_json(tmp / "plan_band.json")
        plan.write_json(tmp / "plan.json")
        programs, notes = write_net_programs(
            net_plan.retimed, net_plan.programs, tmp / "greenwave.add.xml",
            comment=f"greenwave plan for {imported.name} ({demand.period}): cycle "
                    f"{plan.cycle_s:g} s")
        sheet = timing_sheet(net_plan.retimed, net_plan.programs)
        (tmp / "timing.txt").write_text(explain(imported) + "\n\n" + sheet + "\n",
                                        encoding="utf-8")
        labels = {s.id: f"{k} {s.tls_id[:18]}" for k, s in enumerate(imported.signals, 1)}
        time_space_diagram(plan, tmp / "time_space.png", labels=labels,
                           title=f"{imported.name} ({demand.period}): greenwave plan, cycle "
                                 f"{plan.cycle_s:g} s")
        say(f"[3/4] baselines and simulations ({', '.join(args.baselines)}, greenwave)")
        result = evaluate_net(demand, imported, programs, out_dir=tmp, seeds=args.seeds,
                              baselines=args.baselines, min_signals=args.min_signals,
                              progress=_prefixed("     "))
        metrics = result.metrics
        write_metrics_csv(metrics, tmp / "metrics.csv")
        pooled = pool_seeds(metrics)
        method_comparison_chart(pooled, tmp / "comparison.png",
                                title=f"{imported.name} {demand.period}: through trips, "
                                      f"seeds {', '.join(map(str, args.seeds))}")
    say("[4/4] report")
    print(explain(imported))
    print()
    print(sheet)
    for n in notes:
        print(f"  note: {n}")
    print()
    print(_plan_summary(plan, corridor))
    if tuning is not None:
        print(_tuning_summary(tuning, band_plan, plan))
    print()
    print(f"corridor trips (through at least {args.min_signals} consecutive signals; all "
          "seeds pooled):")
    print(format_table(pooled))
    for base in dict.fromkeys(metrics["method"]):
        if base != "greenwave":
            print(format_comparison(metrics, baseline=str(base)))
            print()
    verdict = wins(metrics)
    for row in verdict.itertuples():
        print(f"greenwave vs best baseline ({row.best_baseline}) {row.direction} "
              f"{row.measure}: {row.greenwave:.2f} vs {row.baseline_value:.2f} "
              f"{'better' if row.better else 'NOT better'}")
    for name, why in result.failures.items():
        _error(f"warning: baseline {name} failed and is left out: {why}")
    runs = metrics.drop_duplicates(["method", "seed"])
    per_method = runs.groupby("method", sort=False)["teleports"].sum()
    print(f"\nteleports ({len(args.seeds)} runs each): "
          + ", ".join(f"{m} {int(n)}" for m, n in per_method.items()))
    listed = ["corridor.csv", "corridor.import.json", "plan.json", "greenwave.add.xml",
              *(["flows.csv"] if counts is not None else []),
              *(["plan_band.json", "tuning.csv"] if tuning is not None else []),
              *[f"{b}.add.xml" for b in args.baselines if b != "original"
                and b not in result.failures],
              "metrics.csv", "time_space.png", "comparison.png", "timing.txt", "runs/"]
    print(f"outputs in {out}/: {', '.join(listed)}")
    print(f"done in {time.perf_counter() - t0:.0f} s")
    return 0


def _tuning_summary(tuning: Any, band: TimingPlan, tuned: TimingPlan) -> str:
    """Lines on what tuning in SUMO changed (a NetTuning)."""
    shifts = " ".join(f"{x:+g}" for x in tuning.shifts_s)
    own_note = "" if tuning.own_eligible else ", outside the band rule"
    return (f"tuned in SUMO (seeds {', '.join(map(str, tuning.seeds))}; {tuning.evaluations} "
            f"candidates, {tuning.runtime_s:.0f} s): start {tuning.start} "
            f"(band plan {tuning.start_values['band']:.1f}, net's own offsets "
            f"{tuning.start_values['original']:.1f} veh·h{own_note}), tuned "
            f"{tuning.value_after:.1f} veh·h ({-100 * tuning.improvement:+.1f} % vs band plan)\n"
            f"  offset changes vs band plan [s]: {shifts}\n"
            f"  band of the tuned offsets: {tuned.bandwidth_out_s:.1f} / "
            f"{tuned.bandwidth_in_s:.1f} s (band plan {band.bandwidth_out_s:.1f} / "
            f"{band.bandwidth_in_s:.1f} s)")


def cmd_replay(args: argparse.Namespace) -> int:
    from greenwave.sumo.replay import find_run, read_run, replay

    run = read_run(find_run(args.run_dir))
    probe = f", tracking {run.probe}" if run.probe else ""
    workflow.stderr_progress(f"replaying {run.config}{probe}")
    shot = replay(run.config, screenshot_file=args.screenshot, at_s=args.time,
                  delay_ms=args.delay_ms, view_m=args.view_m)
    if shot is not None:
        print(f"wrote {shot}")
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
    from greenwave.metrics import format_table, write_metrics_csv

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
        measured = _measure_band(corridor, scenario, plan, files.programs, tmp,
                                 progress=_prefixed(steps[1]))
    print()
    print(_plan_summary(plan, corridor))
    print()
    print("band achieved in SUMO (low demand: through vehicles alone at the band speed, no "
          "speed deviation;\n  measured = widest run of first-signal phases without a halt "
          "on the corridor):")
    print(format_table(measured))
    print()
    _print_metrics(metrics, corridor)
    print(f"outputs in {out}/: plan.json, programs.add.xml, uncoordinated.add.xml, metrics.csv, "
          "time_space.png, replay.sumocfg, measured/ (band, arrivals on green, Purdue, "
          "control delay; pictures), runs/")
    print(f"replay in sumo-gui: sumo-gui -c {out / 'replay.sumocfg'}")


def _measure_band(corridor: Corridor, scenario: workflow.Scenario, plan: TimingPlan,
                  programs: Path, out: Path, *, progress: workflow.Progress) -> pd.DataFrame:
    """The probe run (:func:`greenwave.workflow.probe_run`) and its files under
    ``out/measured/``; returns the planned-vs-measured band table with direction names."""
    progress("probe run: through vehicles at the band speed, one per cycle + 1 s")
    names = {"outbound": corridor.outbound_name, "inbound": corridor.inbound_name}
    m = workflow.probe_run(scenario, plan, programs, out / "runs" / "probe")
    workflow.write_measurement_files(
        m, plan, out / "measured", scenario=corridor.name, method="greenwave",
        direction_names=names)
    table = m.bands[["direction", "planned_band_s", "measured_band_s", "difference_s",
                     "through_vehicles", "in_band"]]
    return table.assign(direction=table["direction"].map(names))


def _print_metrics(metrics: pd.DataFrame, corridor: Corridor) -> None:
    from greenwave.metrics import format_comparison, format_table, pool_seeds

    names = {"outbound": corridor.outbound_name, "inbound": corridor.inbound_name}
    pooled = pool_seeds(metrics)
    pooled["direction"] = pooled["direction"].map(lambda d: names.get(d, d))
    print("main-street through trips (all seeds pooled):")
    print(format_table(pooled))
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
        return f"band speed {plan.speed_out_kmh:.4g}/{plan.speed_in_kmh:.4g} km/h"
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
    if plan.solver.get("zones"):
        from greenwave.zones import zone_bands

        ranges = [tuple(r) for r in plan.solver["zones"]]
        lines.append(f"  sub-zones ({len(ranges)}; the through band above spans them all):")
        for z in zone_bands(plan, ranges):
            lines.append(
                f"    {z.first_id}-{z.last_id} ({z.length_m / 1000:.1f} km): "
                f"{corridor.outbound_name} {z.bandwidth_out_s:.1f} s, {corridor.inbound_name} "
                f"{z.bandwidth_in_s:.1f} s, efficiency {z.efficiency:.1%}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
