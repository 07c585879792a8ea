"""SUMO's own coordination tools as baselines: ``tlsCoordinator.py`` and ``tlsCycleAdaptation.py``.

Both tools ship in the eclipse-sumo wheel (``<sumo package>/tools``) and are run here as they
are, in a subprocess of the installed Python with ``SUMO_HOME`` pointing at the wheel:

* ``tlsCoordinator.py`` sets offsets only: it walks the routes of the demand, sorts pairs of
  consecutive signals by priority and vehicles per travel time, and greedily chains offsets so
  that a vehicle leaving one signal at the start of green meets the start of green at the next
  (travel time at ``speed_factor`` × speed limit). One direction per pair; no bandwidth.
* ``tlsCycleAdaptation.py`` sets cycle and splits per signal with Webster's formula from the
  hourly flow per link, counted from the vehicles departing in ``[begin, begin + 3600)``.

Neither tool reads ``<flow>`` elements, and the coordinator counts only ``<route>`` elements
that carry ``edges`` (a named route used by 100 vehicles counts once). Given SUMO's usual
flow-based demand, tlsCycleAdaptation silently optimizes for zero demand. So every run first
expands the demand (:func:`expand_demand`: flows, trips, vehicles and named routes become
vehicles, each with its own ``<route edges=...>``), and an input without demand is refused.

The tools write an additional file of ``<tlLogic>`` elements into a scratch folder; it is read
back into a :class:`BaselineResult` and written to its place atomically (complete or not at
all), without the tool's header, so equal inputs give equal files. Offsets are in
SUMO's frame: the time in cycle at absolute simulation time ``t`` is ``(t - offset) mod C``.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import math
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from greenwave.errors import InputError, SimulationError
from greenwave.sumo.binaries import binary, sumo_env, tool
from greenwave.sumo.netbuild import write_xml
from greenwave.sumo.programs import SumoPhase

PathLike = str | os.PathLike[str]

COORDINATOR = "tlsCoordinator.py"
CYCLE_ADAPTATION = "tlsCycleAdaptation.py"
DEMAND_TAGS = frozenset({"vehicle", "trip", "flow"})
"""Elements of a route file that put vehicles on the road (persons are not signal demand)."""

_TAIL_LINES = 10
_NOTHING_TO_ROUTE = "No route input specified or all routes were invalid"


@dataclass(frozen=True)
class ExpandedDemand:
    """Demand written as vehicles with explicit routes, departing in ``[begin_s, end_s)``."""

    path: Path
    vehicles: int
    seed: int
    begin_s: float
    end_s: float


@dataclass(frozen=True)
class BaselineProgram:
    """One ``<tlLogic>`` a tool wrote.

    ``phases`` is empty when the tool changed only the offset (tlsCoordinator); ``cycle_s`` is
    then the cycle of the program the offset applies to (from the net or the replacement
    programs), NaN when that program is unknown.
    """

    tls_id: str
    program_id: str
    offset_s: float
    cycle_s: float
    phases: tuple[SumoPhase, ...] = ()

    @property
    def offset_in_cycle_s(self) -> float:
        """The offset folded into ``[0, cycle_s)`` [s] (NaN when the cycle is unknown)."""
        if not math.isfinite(self.cycle_s) or self.cycle_s <= 0:
            return math.nan
        return self.offset_s % self.cycle_s

    @property
    def green_s(self) -> tuple[float, ...]:
        """Durations of the phases that show a green (``G``/``g``) and no yellow [s]."""
        return tuple(
            p.duration_s for p in self.phases
            if ("G" in p.state or "g" in p.state) and not ("y" in p.state or "Y" in p.state)
        )  # fmt: skip


@dataclass(frozen=True)
class BaselineResult:
    """What one run of a SUMO coordination tool produced."""

    tool: str  # "tlsCoordinator.py" or "tlsCycleAdaptation.py"
    path: Path  # the additional file written
    programs: tuple[BaselineProgram, ...]
    vehicles: int  # vehicles in the expanded demand the tool was given
    demand_file: Path | None  # the expanded demand, when it was kept
    stderr_tail: tuple[str, ...]  # the tool's last stderr lines
    messages: tuple[str, ...] = ()  # the tool's warning lines (it prints most to stdout)

    @property
    def offsets_s(self) -> dict[str, float]:
        """Offset per signal id [s], as the tool wrote it."""
        return {p.tls_id: p.offset_s for p in self.programs}

    def program(self, tls_id: str) -> BaselineProgram:
        """The program written for *tls_id*."""
        for p in self.programs:
            if p.tls_id == tls_id:
                return p
        raise InputError(
            f"{self.tool} wrote no program for it (signals: {sorted(self.offsets_s)})",
            field="tls_id",
            value=tls_id,
        )


# --------------------------------------------------------------------------------------------
# demand expansion


def expand_demand(
    route_files: PathLike | Sequence[PathLike],
    net: PathLike,
    out_file: PathLike,
    *,
    seed: int = 42,
    begin: float = 0.0,
    end: float = 3600.0,
) -> ExpandedDemand:
    """Write the demand of *route_files* as vehicles with explicit routes to *out_file*.

    Flows, trips, vehicles and vehicles on named routes or route distributions all become
    ``<vehicle>`` elements with their own ``<route edges=...>``, sorted by departure, departing
    in ``[begin, end)`` [s]. SUMO's duarouter does the work (flows expand with SUMO's own
    semantics: a ``vehsPerHour`` flow inserts at ``begin`` and then every ``3600 / vph`` s,
    rounded to the ms; trips get shortest-time routes; random choices follow *seed*), and the
    result is rewritten with ElementTree, so equal inputs and seed give equal files. Routes
    given in the input are kept exactly (duarouter's route choice would otherwise replace
    some by faster ones).

    Raises :class:`InputError` when an input is missing or malformed, when the route files
    hold no ``<vehicle>``, ``<trip>`` or ``<flow>`` at all, or when no vehicle departs in the
    period; :class:`SimulationError` when duarouter fails (e.g. an unreachable destination).
    """
    routes = _as_paths(route_files)
    net_path = Path(net)
    _check_window(seed, begin, end)
    _check_net(net_path)
    if not routes:
        raise InputError("at least one route file is needed", field="route_files")
    demand = sum(_count_demand(r) for r in routes)
    if demand == 0:
        names = ", ".join(str(r) for r in routes)
        raise InputError(
            "no demand: no <vehicle>, <trip> or <flow> element (SUMO's tools would "
            "optimize for zero traffic)",
            file=names,
        )
    with tempfile.TemporaryDirectory(prefix="greenwave-demand-") as tmp:
        routed = Path(tmp) / "routed.rou.xml"
        args = [
            str(binary("duarouter")),
            "--net-file", str(net_path.resolve()),  # duarouter runs in the scratch folder
            "--route-files", ",".join(str(r.resolve()) for r in routes),
            "--output-file", str(routed),
            "--alternatives-output", str(Path(tmp) / "routed.rou.alt.xml"),
            "--begin", repr(float(begin)),
            "--end", repr(float(end)),
            "--seed", str(seed),
            # a DUA router swaps given routes for faster ones (snake routes become shortcuts);
            # a baseline must see the demand's own routes, so keep every route it names
            "--skip-new-routes",
            "--keep-route-probability", "1",
            "--no-step-log",
        ]  # fmt: skip
        try:
            _run("duarouter", args, cwd=Path(tmp), about=net_path)
        except SimulationError as exc:
            # duarouter's only complaint when nothing departs in [begin, end) — not a crash
            errors = [x for x in str(exc).splitlines() if x.strip().startswith("Error:")]
            if errors and all(_NOTHING_TO_ROUTE in x for x in errors):
                raise _outside_period(routes, demand, begin, end) from exc
            raise
        root = _parse(routed, "duarouter output", SimulationError)
    vehicles = _embed_routes(root, begin, end)
    if vehicles == 0:
        raise _outside_period(routes, demand, begin, end)
    path = write_xml(root, Path(out_file))
    return ExpandedDemand(path=path, vehicles=vehicles, seed=seed, begin_s=float(begin),
                          end_s=float(end))


def _outside_period(routes: Sequence[Path], demand: int, begin: float, end: float) -> InputError:
    return InputError(
        f"no vehicle departs in the period [{begin:g}, {end:g}) s "
        f"({demand} demand elements, all outside it)",
        file=", ".join(str(r) for r in routes),
    )


def _count_demand(path: Path) -> int:
    """Number of vehicle, trip and flow elements in a route file."""
    if not path.is_file():
        raise InputError("no such route file", file=str(path))
    count = 0
    try:
        for _, elem in ET.iterparse(path, events=("end",)):
            if elem.tag in DEMAND_TAGS:
                count += 1
            elem.clear()
    except ET.ParseError as exc:
        raise InputError(f"not well-formed XML ({exc})", file=str(path)) from exc
    return count


def _embed_routes(root: ET.Element, begin: float, end: float) -> int:
    """Give every vehicle its own ``<route edges>`` and drop departures outside the period.

    duarouter already embeds routes; named ones (``route="id"``) are resolved here too, since
    tlsCoordinator counts route elements, not vehicles. Returns the number of vehicles kept.
    """
    named = {r.get("id", ""): r.get("edges", "") for r in root.findall("route")}
    kept = 0
    for veh in list(root):
        if veh.tag != "vehicle":
            continue
        depart = _float(veh.get("depart", ""))
        if depart is not None and not begin <= depart < end:
            root.remove(veh)  # a Poisson flow may insert after its end
            continue
        ref = veh.attrib.pop("route", None)
        if ref is not None and veh.find("route") is None:
            if ref not in named:
                raise SimulationError(f"duarouter output: vehicle {veh.get('id')!r} uses the "
                                      f"unknown route {ref!r}")
            ET.SubElement(veh, "route", edges=named[ref])
        route = veh.find("route")
        if route is None or not route.get("edges"):
            raise SimulationError(f"duarouter output: vehicle {veh.get('id')!r} has no route")
        kept += 1
    for r in [r for r in root if r.tag == "route"]:
        root.remove(r)  # resolved above; left standing they would count as extra routes
    return kept


# --------------------------------------------------------------------------------------------
# the tools


def tls_coordinator(
    net: PathLike,
    route_files: PathLike | Sequence[PathLike],
    out_add: PathLike,
    *,
    programs_file: PathLike | None = None,
    speed_factor: float = 0.8,
    ignore_priority: bool = False,
    seed: int = 42,
    begin: float = 0.0,
    end: float = 3600.0,
    demand_file: PathLike | None = None,
    extra_args: Sequence[str] = (),
) -> BaselineResult:
    """Offsets by SUMO's ``tlsCoordinator.py`` for the demand of *route_files*.

    *programs_file* holds replacement programs to coordinate (e.g. the output of
    :func:`tls_cycle_adaptation`); *speed_factor* is the assumed vehicle speed over the speed
    limit; *ignore_priority* sorts signal pairs by traffic only. The demand in ``[begin, end)``
    [s] is expanded first (:func:`expand_demand`, with *seed*); pass *demand_file* to keep it.
    Writes *out_add* (``<tlLogic id programID offset>`` only) and returns what it holds.
    """
    if not (math.isfinite(speed_factor) and speed_factor > 0):
        raise InputError(f"must be a positive number, found {speed_factor!r}",
                         field="speed_factor", value=speed_factor)
    extra: list[str] = ["--speed-factor", repr(float(speed_factor))]
    if ignore_priority:
        extra.append("--ignore-priority")
    programs = Path(programs_file) if programs_file is not None else None
    if programs is not None:
        if not programs.is_file():
            raise InputError("no such programs file", file=str(programs))
        extra += ["--additional-file", str(programs.resolve())]
    return _run_baseline(
        COORDINATOR, net, route_files, out_add, route_option="--route-file",
        options=[*extra, *extra_args], program_files=(programs,) if programs else (),
        seed=seed, begin=begin, end=end, demand_file=demand_file,
    )  # fmt: skip


def tls_cycle_adaptation(
    net: PathLike,
    route_files: PathLike | Sequence[PathLike],
    out_add: PathLike,
    *,
    yellow_s: int = 4,
    all_red_s: int = 0,
    lost_time_s: int = 4,
    min_green_s: int = 4,
    min_cycle_s: int = 20,
    max_cycle_s: int = 120,
    saturation_headway_s: float = 2.0,
    existing_cycle: bool = False,
    unified_cycle: bool = False,
    program_id: str = "a",
    seed: int = 42,
    begin: float = 0.0,
    end: float = 3600.0,
    demand_file: PathLike | None = None,
    extra_args: Sequence[str] = (),
) -> BaselineResult:
    """Cycles and splits by SUMO's ``tlsCycleAdaptation.py`` (Webster) for *route_files*.

    The tool counts the vehicles departing in ``[begin, begin + 3600)`` as the hourly flow per
    link and sets, per signal, the cycle ``C = (1.5 L + 5) / (1 - Y)`` (L: *lost_time_s* per
    green phase plus *all_red_s*; Y: sum of critical flow ratios at ``3600 /
    saturation_headway_s`` veh/h per lane), clipped to ``[min_cycle_s, max_cycle_s]``, and greens
    in proportion to the critical flows (at least *min_green_s*); yellows become *yellow_s*.
    *existing_cycle* keeps each signal's cycle, *unified_cycle* gives all the longest one. The
    tool's defaults are passed explicitly so results do not move with its version. Signals no
    vehicle passes are left out of the file (the tool's warning is in ``messages``).
    Demand expansion and *demand_file* as in :func:`tls_coordinator`.
    """
    numbers = {"yellow_s": yellow_s, "all_red_s": all_red_s, "lost_time_s": lost_time_s,
               "min_green_s": min_green_s, "min_cycle_s": min_cycle_s,
               "max_cycle_s": max_cycle_s}
    for name, v in numbers.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise InputError(f"must be a non-negative whole number of seconds, found {v!r}",
                             field=name, value=v)
    if min_cycle_s > max_cycle_s:
        raise InputError(f"min_cycle_s {min_cycle_s} is above max_cycle_s {max_cycle_s}",
                         field="min_cycle_s", value=min_cycle_s)
    if not (math.isfinite(saturation_headway_s) and saturation_headway_s > 0):
        raise InputError(f"must be a positive number, found {saturation_headway_s!r}",
                         field="saturation_headway_s", value=saturation_headway_s)
    if not program_id or any(c.isspace() for c in program_id):
        raise InputError(f"must be a non-empty id without spaces, found {program_id!r}",
                         field="program_id", value=program_id)
    options = [
        "--begin", repr(float(begin)),
        "--yellow-time", str(yellow_s),
        "--all-red", str(all_red_s),
        "--lost-time", str(lost_time_s),
        "--min-green", str(min_green_s),
        "--min-cycle", str(min_cycle_s),
        "--max-cycle", str(max_cycle_s),
        "--saturation-headway", repr(float(saturation_headway_s)),
        "--program", program_id,
        *(["--existing-cycle"] if existing_cycle else []),
        *(["--unified-cycle"] if unified_cycle else []),
        *extra_args,
    ]  # fmt: skip
    return _run_baseline(
        CYCLE_ADAPTATION, net, route_files, out_add, route_option="--route-files",
        options=options, program_files=(), seed=seed, begin=begin, end=end,
        demand_file=demand_file,
    )  # fmt: skip


def _run_baseline(
    name: str,
    net: PathLike,
    route_files: PathLike | Sequence[PathLike],
    out_add: PathLike,
    *,
    route_option: str,
    options: Sequence[str],
    program_files: Sequence[Path],
    seed: int,
    begin: float,
    end: float,
    demand_file: PathLike | None,
) -> BaselineResult:
    script = tool(name)
    net_path = Path(net).resolve()
    with tempfile.TemporaryDirectory(prefix="greenwave-baseline-") as tmp:
        scratch = Path(tmp)
        demand_path = Path(demand_file) if demand_file is not None else scratch / "demand.rou.xml"
        demand = expand_demand(route_files, net, demand_path, seed=seed, begin=begin, end=end)
        raw = scratch / "tool.add.xml"
        args = [
            sys.executable, str(script),
            "--net-file", str(net_path),
            route_option, str(demand.path.resolve()),
            "--output-file", str(raw),
            *options,
        ]  # fmt: skip
        stdout, stderr = _run(name, args, cwd=scratch, about=net_path)
        if not raw.is_file():
            raise SimulationError(f"{name} exited without writing {raw.name} (net {net_path}); "
                                  f"stderr: {' | '.join(_tail(stderr)) or '(empty)'}")
        root = _parse(raw, f"{name} output", SimulationError)
    cycles = _program_cycles([net_path, *program_files])
    programs = tuple(_read_program(e, cycles) for e in root.iter("tlLogic"))
    # rewritten without the tool's header (a timestamp and scratch paths): same inputs, same file
    root.insert(0, ET.Comment(f" {name} of eclipse-sumo {_sumo_version()}, run by greenwave "))
    path = write_xml(root, Path(out_add))
    return BaselineResult(
        tool=name,
        path=path,
        programs=programs,
        vehicles=demand.vehicles,
        demand_file=demand.path if demand_file is not None else None,
        stderr_tail=_tail(stderr),
        messages=tuple(line.strip() for line in (stdout + "\n" + stderr).splitlines()
                       if line.strip().lower().startswith("warning")),
    )


def _read_program(elem: ET.Element, cycles: Mapping[tuple[str, str], float]) -> BaselineProgram:
    tls_id, program_id = elem.get("id", ""), elem.get("programID", "")
    offset = _float(elem.get("offset", "0"))
    if offset is None:
        raise SimulationError(f"tool output: tlLogic {tls_id!r} has offset "
                              f"{elem.get('offset')!r}, expected a number of seconds")
    phases = []
    for p in elem.iter("phase"):
        duration = _float(p.get("duration", ""))
        if duration is None:
            raise SimulationError(f"tool output: tlLogic {tls_id!r} has a phase with duration "
                                  f"{p.get('duration')!r}, expected a number of seconds")
        phases.append(SumoPhase(duration, p.get("state", ""), p.get("name", "")))
    if phases:
        cycle = math.fsum(p.duration_s for p in phases)
    else:
        cycle = cycles.get((tls_id, program_id), math.nan)
    return BaselineProgram(tls_id, program_id, offset, cycle, tuple(phases))


def _program_cycles(files: Sequence[Path]) -> dict[tuple[str, str], float]:
    """Cycle [s] per (signal, program) in networks and additional files; later files win."""
    cycles: dict[tuple[str, str], float] = {}
    for path in files:
        for elem in _iter_tl_logics(path):
            durations = [_float(p.get("duration", "")) for p in elem.iter("phase")]
            if durations and all(d is not None for d in durations):
                key = (elem.get("id", ""), elem.get("programID", ""))
                cycles[key] = math.fsum(d for d in durations if d is not None)
    return cycles


def _iter_tl_logics(path: Path) -> Iterator[ET.Element]:
    try:
        for _, elem in ET.iterparse(path, events=("end",)):
            if elem.tag == "tlLogic":
                yield elem
            if elem.tag != "phase":
                elem.clear()
    except (OSError, ET.ParseError):
        return  # cycles are a convenience; the tool already read these files


# --------------------------------------------------------------------------------------------
# plumbing


def _run(name: str, args: Sequence[str], *, cwd: Path, about: Path) -> tuple[str, str]:
    """Run a SUMO program; its (stdout, stderr), or SimulationError with its last lines."""
    try:
        proc = subprocess.run(list(args), cwd=cwd, env=sumo_env(), capture_output=True,
                              text=True, errors="replace", check=False)
    except OSError as exc:
        raise SimulationError(f"{name} could not be started ({exc})") from exc
    if proc.returncode != 0:
        how = (f"was killed by signal {-proc.returncode}" if proc.returncode < 0
               else f"failed with exit code {proc.returncode}")
        lines = _tail(proc.stderr) or _tail(proc.stdout) or ("(no output)",)
        listing = "\n".join("  " + line for line in lines)
        raise SimulationError(f"{name} {how} (net {about}); last lines:\n{listing}")
    return proc.stdout, proc.stderr


def _sumo_version() -> str:
    try:
        return importlib.metadata.version("eclipse-sumo")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a source install
        return "(version unknown)"


def _tail(text: str) -> tuple[str, ...]:
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return tuple(lines[-_TAIL_LINES:])


def _check_net(path: Path) -> None:
    if not path.is_file():
        raise InputError("no such network file", file=str(path))
    try:
        with path.open("rb") as fh:
            _, first = next(ET.iterparse(fh, events=("start",)))
    except (ET.ParseError, StopIteration) as exc:
        raise InputError(f"not a SUMO network: not well-formed XML ({exc})",
                         file=str(path)) from exc
    if first.tag != "net":
        raise InputError(f"not a SUMO network: root element is <{first.tag}>, expected <net>",
                         file=str(path))


def _check_window(seed: int, begin: float, end: float) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"must be a non-negative integer, found {seed!r}", field="seed",
                         value=seed)
    for name, v in (("begin", begin), ("end", end)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise InputError(f"must be a finite number of seconds, found {v!r}", field=name,
                             value=v)
    if end <= begin:
        raise InputError(f"end {end:g} s must be after begin {begin:g} s", field="end",
                         value=end)


def _parse(path: Path, what: str, error: type[Exception]) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise error(f"{what} {path}: cannot be read ({exc})") from exc


def _as_paths(value: PathLike | Sequence[PathLike]) -> tuple[Path, ...]:
    if isinstance(value, str | os.PathLike):
        return (Path(value),)
    return tuple(Path(v) for v in value)


def _float(text: str) -> float | None:
    with contextlib.suppress(ValueError):
        x = float(text)
        if math.isfinite(x):
            return x
    return None
