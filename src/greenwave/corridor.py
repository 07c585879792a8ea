"""The corridor model: signalized intersections along an arterial, their phase plans and demand.

Conventions
-----------
* *Outbound* is the direction of increasing ``position_m``; *inbound* the opposite one.
* Movements are named ``<approach>_<turn>``: approaches ``out`` (vehicles travelling outbound),
  ``in`` (travelling inbound) and ``cross`` (both cross-street approaches), turns ``T`` (through),
  ``L`` (left) and ``R`` (right). ``out_T`` is the outbound through movement.
* A phase plan is a cyclic sequence of phases; each phase shows green, then yellow, then all-red.
  Time in the plan is measured from the start of phase 0's green.
* The *through green* of a direction is the window in which its through movement shows green
  (``G`` or ``g``); it must be one contiguous window per cycle.

Two input forms are read by :func:`load_corridor`: the full TOML spec and the minimal CSV table
(``id,position_m,green_out_s,green_in_s[,inbound_shift_s][,speed_kmh]``).
"""

from __future__ import annotations

import csv
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from greenwave.errors import InputError

MOVEMENTS: tuple[str, ...] = (
    "out_T", "out_L", "out_R", "in_T", "in_L", "in_R", "cross_T", "cross_L", "cross_R",
)  # fmt: skip


@dataclass(frozen=True)
class Phase:
    """One phase of a fixed-time plan: green, then yellow, then all-red [s]."""

    name: str
    green_s: float
    yellow_s: float = 3.0
    all_red_s: float = 2.0
    min_green_s: float = 10.0
    protected: frozenset[str] = frozenset()  # movements shown 'G'
    permitted: frozenset[str] = frozenset()  # movements shown 'g' (yield to conflicts)

    @property
    def duration_s(self) -> float:
        return self.green_s + self.yellow_s + self.all_red_s

    def serves(self, movement: str) -> bool:
        return movement in self.protected or movement in self.permitted


@dataclass(frozen=True)
class Intersection:
    """A signalized intersection of the corridor.

    ``green_out_s``/``green_in_s`` are the through greens [s]; ``inbound_shift_s`` is the start of
    the inbound through green minus the start of the outbound one; ``out_green_start_s`` is the
    start of the outbound through green measured from the start of phase 0. For the CSV form
    (no phases) ``out_green_start_s`` is 0.
    """

    id: str
    position_m: float
    green_out_s: float
    green_in_s: float
    inbound_shift_s: float = 0.0
    out_green_start_s: float = 0.0
    name: str = ""
    cross_street: str = ""
    through_lanes: int = 3
    cross_lanes: int = 1
    left_turn_bay: bool = False
    major: bool = False
    crossing_length_m: float = 20.0
    phases: tuple[Phase, ...] = ()

    @property
    def cycle_s(self) -> float | None:
        """Sum of the phase durations, or None without a phase plan."""
        return sum(p.duration_s for p in self.phases) if self.phases else None

    def with_phases(self, phases: Sequence[Phase], source: str = "") -> Intersection:
        """This intersection with *phases*, its through windows recomputed from them."""
        phases = tuple(phases)
        g_out, g_in, shift, start = _windows_from_phases(phases, self.id, source)
        return replace(self, phases=phases, green_out_s=g_out, green_in_s=g_in,
                       inbound_shift_s=shift, out_green_start_s=start)


@dataclass(frozen=True)
class PeriodDemand:
    """Traffic demand of one period [veh/h]."""

    name: str
    duration_s: float = 3600.0
    main_out_vph: float = 1000.0  # entering the corridor at its outbound start
    main_in_vph: float = 1000.0  # entering at its inbound start (the far end)
    cross_major_vph: float = 400.0  # per approach at major crossings
    cross_minor_vph: float = 150.0  # per approach at minor crossings
    left_share: float = 0.07  # of the main-street flow at a major crossing, turning left
    right_share: float = 0.07  # turning right
    minor_turn_factor: float = 0.25  # turning shares at minor crossings, relative to major


@dataclass(frozen=True)
class Corridor:
    """An arterial: ordered intersections, band speed, signal settings and demand."""

    name: str
    intersections: tuple[Intersection, ...]
    cycle_s: float | None = None
    speed_kmh: float = 50.0
    speed_in_kmh: float | None = None
    speed_range_kmh: tuple[float, float] | None = None
    cycle_range_s: tuple[float, float] | None = None
    speed_limit_kmh: float = 60.0
    outbound_name: str = "outbound"
    inbound_name: str = "inbound"
    approach_m: float = 300.0  # length of the entry/exit links beyond the end signals
    cross_link_m: float = 250.0  # length of the cross-street legs
    demand: tuple[PeriodDemand, ...] = ()
    source: str = ""
    description: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(i.id for i in self.intersections)

    @property
    def length_m(self) -> float:
        return self.intersections[-1].position_m - self.intersections[0].position_m

    @property
    def has_phases(self) -> bool:
        return all(i.phases for i in self.intersections)

    @property
    def default_period(self) -> str:
        """``offpeak`` when the corridor defines it, else its first period ("" if none)."""
        names = [p.name for p in self.demand]
        if "offpeak" in names:
            return "offpeak"
        return names[0] if names else ""

    def period(self, name: str) -> PeriodDemand:
        for p in self.demand:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.demand) or "none"
        raise InputError(f"unknown period {name!r}; the corridor defines: {known}",
                         file=self.source or None, field="period", value=name)

    def band_problem(
        self,
        *,
        cycle_s: float | None = None,
        speed_kmh: float | None = None,
        speed_in_kmh: float | None = None,
    ) -> Any:
        """The corridor as a :class:`greenwave.bands.BandProblem` at one cycle and speed."""
        from greenwave.bands import BandProblem, SignalWindow

        corridor = self.with_cycle(cycle_s) if cycle_s is not None else self
        cycle = corridor.cycle_s
        if cycle is None:
            raise InputError("no cycle given: pass --cycle-s", field="cycle_s")
        v_out = speed_kmh if speed_kmh is not None else corridor.speed_kmh
        if speed_in_kmh is not None:
            v_in = speed_in_kmh
        elif speed_kmh is not None:
            v_in = speed_kmh
        else:
            v_in = corridor.speed_in_kmh or corridor.speed_kmh
        _check_positive("speed_kmh", v_out, self.source)
        _check_positive("speed_kmh", v_in, self.source)
        windows = tuple(
            SignalWindow(
                id=i.id,
                position_m=i.position_m,
                green_out_s=i.green_out_s,
                green_in_s=i.green_in_s,
                inbound_shift_s=i.inbound_shift_s,
            )
            for i in corridor.intersections
        )
        return BandProblem(
            signals=windows, cycle_s=cycle, speed_out_kmh=v_out, speed_in_kmh=v_in
        )

    def with_cycle(self, cycle_s: float, *, whole_seconds: bool = True) -> Corridor:
        """The corridor retimed to *cycle_s*.

        Phase plans keep their yellow and all-red; the change in green time is shared in
        proportion to each phase's green, never below its minimum green (raises InputError
        when the minimums do not fit), in whole seconds when the green time is a whole number
        of seconds and *whole_seconds* is set. A CSV corridor without a cycle takes
        *cycle_s* as its cycle; one with a cycle scales its greens and inbound shifts in
        proportion to the cycle.
        """
        _check_positive("cycle_s", cycle_s, self.source)
        if self.cycle_s is not None and math.isclose(cycle_s, self.cycle_s):
            return self
        if self.cycle_s is None:
            for i in self.intersections:
                _check_green_fits(i, cycle_s, self.source)
            return replace(self, cycle_s=cycle_s)
        if not self.has_phases:
            ratio = cycle_s / self.cycle_s
            scaled = tuple(replace(i, green_out_s=i.green_out_s * ratio,
                                   green_in_s=i.green_in_s * ratio,
                                   inbound_shift_s=i.inbound_shift_s * ratio)
                           for i in self.intersections)
            return replace(self, intersections=scaled, cycle_s=cycle_s)
        new = tuple(_retime(i, cycle_s, self.source, whole_seconds)
                    for i in self.intersections)
        return replace(self, intersections=new, cycle_s=cycle_s)


# --------------------------------------------------------------------------------------------
# derived windows


def through_window(phases: Sequence[Phase], movement: str) -> tuple[float, float]:
    """Start (from phase 0's green start) and duration of *movement*'s green window [s].

    The movement must be served by one cyclically contiguous run of phases; between two such
    phases it stays green through the intergreen (it does not stop).
    """
    serving = [p.serves(movement) for p in phases]
    n = len(phases)
    if not any(serving):
        raise ValueError(f"no phase serves {movement}")
    if all(serving):
        return 0.0, sum(p.duration_s for p in phases)
    starts = [sum(p.duration_s for p in phases[:k]) for k in range(n)]
    first = next(k for k in range(n) if serving[k] and not serving[k - 1])
    run = []
    k = first
    while serving[k % n]:
        run.append(k % n)
        k += 1
    if sum(serving) != len(run):
        raise ValueError(f"{movement} is served by phases that are not consecutive")
    duration = sum(phases[j].duration_s for j in run[:-1]) + phases[run[-1]].green_s
    return starts[first], duration


def _windows_from_phases(
    phases: Sequence[Phase], where: str, source: str
) -> tuple[float, float, float, float]:
    try:
        out_start, g_out = through_window(phases, "out_T")
        in_start, g_in = through_window(phases, "in_T")
    except ValueError as exc:
        raise InputError(f"intersection {where}: {exc}", file=source, field="phases") from exc
    cycle = sum(p.duration_s for p in phases)
    shift = (in_start - out_start) % cycle
    if shift > cycle / 2:
        shift -= cycle
    return g_out, g_in, shift, out_start


def _retime(i: Intersection, cycle_s: float, source: str,
            whole_seconds: bool = True) -> Intersection:
    old = i.cycle_s or 0.0
    delta = cycle_s - old
    greens = [p.green_s for p in i.phases]
    mins = [p.min_green_s for p in i.phases]
    spare = cycle_s - sum(p.yellow_s + p.all_red_s for p in i.phases) - sum(mins)
    if spare < -1e-9:
        raise InputError(
            f"intersection {i.id}: minimum greens and intergreens need "
            f"{cycle_s - spare:g} s, more than the cycle {cycle_s:g} s",
            file=source,
            field="cycle_s",
            value=cycle_s,
        )
    total = sum(greens)
    new = [g + delta * g / total for g in greens]
    # Clamp at the minimums and give what clamping took to the others, by share of green.
    for _ in range(len(new)):
        short = [k for k, g in enumerate(new) if g < mins[k] - 1e-9]
        if not short:
            break
        debt = sum(mins[k] - new[k] for k in short)
        for k in short:
            new[k] = mins[k]
        free = [k for k in range(len(new)) if new[k] > mins[k] + 1e-9]
        pool = sum(new[k] - mins[k] for k in free)
        for k in free:
            new[k] -= debt * (new[k] - mins[k]) / pool
    green_total = sum(new)
    if whole_seconds and math.isclose(green_total, round(green_total), abs_tol=1e-9):
        # whole-second greens when the green time allows it (signal controllers count seconds)
        new = [float(g) for g in _round_preserving_sum(new, round(green_total))]
    return i.with_phases([replace(p, green_s=g) for p, g in zip(i.phases, new, strict=True)],
                         source)


def _round_preserving_sum(values: Sequence[float], total: int) -> list[int]:
    """Largest-remainder rounding: integers that add up to *total*."""
    floors = [math.floor(v) for v in values]
    left = total - sum(floors)
    order = sorted(range(len(values)), key=lambda k: values[k] - floors[k], reverse=True)
    for k in order[:left]:
        floors[k] += 1
    return floors


# --------------------------------------------------------------------------------------------
# loading


def load_corridor(
    path: str | Path,
    *,
    cycle_s: float | None = None,
    speed_kmh: float | None = None,
) -> Corridor:
    """Read a corridor from a TOML spec or a CSV table; validate it; optionally retime it.

    Raises :class:`InputError` naming the file, the field and the value on any problem.
    """
    p = Path(path)
    if p.is_dir():
        raise InputError("is a folder, not a corridor file (expected a .toml or .csv file)",
                         file=str(p))
    if not p.is_file():
        raise InputError("not a regular file" if p.exists() else "no such file", file=str(p))
    suffix = p.suffix.lower()
    if suffix == ".toml":
        corridor = _load_toml(p)
    elif suffix == ".csv":
        corridor = _load_csv(p, cycle_s=cycle_s, speed_kmh=speed_kmh)
    else:
        raise InputError(
            f"unknown corridor format {suffix or '(no extension)'!r}; expected .toml or .csv",
            file=str(p),
        )
    if speed_kmh is not None:
        _check_positive("speed_kmh", speed_kmh, str(p))
        corridor = replace(corridor, speed_kmh=speed_kmh, speed_in_kmh=speed_kmh)
    if cycle_s is not None:
        corridor = corridor.with_cycle(cycle_s)
    if corridor.cycle_s is None:
        # only a CSV corridor lacks a cycle (the TOML spec requires signals.cycle_s)
        raise InputError("a CSV corridor has no cycle: pass --cycle-s", file=str(p),
                         field="cycle_s")
    return corridor


def _read_text(path: Path, encoding: str, what: str) -> str:
    try:
        return path.read_text(encoding=encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file (expected {what})", file=str(path)) from exc
    except PermissionError:
        raise InputError("cannot be read (permission denied)", file=str(path)) from None


_CSV_REQUIRED = ("id", "position_m", "green_out_s", "green_in_s")
_CSV_OPTIONAL = ("inbound_shift_s", "speed_kmh")


def _load_csv(path: Path, *, cycle_s: float | None, speed_kmh: float | None) -> Corridor:
    src = str(path)
    text = _read_text(path, "utf-8-sig", "a CSV table")
    rows = list(csv.reader(text.splitlines()))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise InputError("empty file; expected a header " + ",".join(_CSV_REQUIRED), file=src)
    header = [h.strip() for h in rows[0]]
    for h in header:
        if h not in _CSV_REQUIRED + _CSV_OPTIONAL:
            raise InputError(
                f"unknown column {h!r}; expected {', '.join(_CSV_REQUIRED + _CSV_OPTIONAL)}",
                file=src,
                field=h,
            )
    for h in _CSV_REQUIRED:
        if h not in header:
            raise InputError(f"missing column {h!r}", file=src, field=h)
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise InputError(f"duplicate column {repeated[0]!r} in the header", file=src,
                         field=repeated[0], value=repeated[0])
    if len(rows) < 3:
        raise InputError("a corridor needs at least 2 intersections", file=src)
    records = []
    speeds: set[float] = set()
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(
                f"line {n}: {len(row)} values for {len(header)} columns", file=src
            )
        rec = dict(zip(header, (c.strip() for c in row), strict=True))
        where = f"line {n}"
        ident = rec["id"]
        if not ident:
            raise InputError(f"{where}: empty id", file=src, field="id")
        values = {
            k: _number(rec[k], src, k, where)
            for k in header
            if k != "id" and not (k in _CSV_OPTIONAL and rec[k] == "")
        }
        if "speed_kmh" in values:
            # checked even when --speed-kmh overrides it: a bad file is a bad file
            _check_positive("speed_kmh", values["speed_kmh"], src, f"{where}: ")
            speeds.add(values["speed_kmh"])
        records.append(
            Intersection(
                id=ident,
                position_m=values["position_m"],
                green_out_s=values["green_out_s"],
                green_in_s=values["green_in_s"],
                inbound_shift_s=values.get("inbound_shift_s", 0.0),
            )
        )
    if len(speeds) > 1:
        raise InputError(
            f"speed_kmh differs between rows ({sorted(speeds)}); use one band speed",
            file=src,
            field="speed_kmh",
        )
    speed = speed_kmh if speed_kmh is not None else (speeds.pop() if speeds else None)
    if speed is None:
        raise InputError("no band speed given: pass --speed-kmh or add a speed_kmh column",
                         file=src, field="speed_kmh")
    corridor = Corridor(
        name=path.stem,
        intersections=tuple(records),
        cycle_s=cycle_s,
        speed_kmh=speed,
        source=src,
        approach_m=300.0,
    )
    validate(corridor)
    return corridor


def _number(text: str, src: str, fieldname: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: {text!r} is not a number", file=src, field=fieldname,
                         value=text) from None
    if not math.isfinite(value):
        raise InputError(f"{where}: {text!r} is not a finite number", file=src,
                         field=fieldname, value=text)
    return value


def _load_toml(path: Path) -> Corridor:
    src = str(path)
    text = _read_text(path, "utf-8", "a TOML spec")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not a valid TOML file ({exc})", file=src) from exc
    reader = _TomlReader(src)
    return reader.corridor(data)


class _TomlReader:
    """Reads the TOML spec, naming the file and the dotted field in every error."""

    def __init__(self, source: str) -> None:
        self.src = source

    def fail(self, where: str, msg: str, value: object = None) -> InputError:
        return InputError(msg, file=self.src, field=where, value=value)

    def table(self, data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        value = data.get(key)
        if not isinstance(value, Mapping):
            raise self.fail(f"{where}{key}", "missing table" if value is None else
                            f"expected a table, found {value!r}", value)
        return value

    def get(self, data: Mapping[str, Any], key: str, where: str, kind: type,
            default: Any = ..., *, positive: bool = False,
            at_least: float | None = None) -> Any:
        """``data[key]`` checked to be of *kind*; numbers optionally positive or
        at least *at_least* (defaults are not checked)."""
        if key not in data:
            if default is ...:
                raise self.fail(f"{where}{key}", "missing field")
            return default
        value = data[key]
        if kind is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(f"{where}{key}", f"expected a number, found {value!r}", value)
            if not math.isfinite(value):
                raise self.fail(f"{where}{key}", f"expected a finite number, found {value!r}",
                                value)
            if positive and value <= 0:
                raise self.fail(f"{where}{key}", f"must be positive, found {value:g}", value)
            if at_least is not None and value < at_least:
                raise self.fail(f"{where}{key}", f"must be at least {at_least:g}, found "
                                f"{value:g}", value)
            return float(value)
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(f"{where}{key}", f"expected a whole number, found {value!r}",
                                value)
            if at_least is not None and value < at_least:
                raise self.fail(f"{where}{key}", f"must be at least {at_least:g}, found "
                                f"{value}", value)
            return value
        if not isinstance(value, kind):
            raise self.fail(f"{where}{key}", f"expected {kind.__name__}, found {value!r}", value)
        return value

    def check_keys(self, data: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
        for key in data:
            if key not in allowed:
                raise self.fail(f"{where}{key}",
                                f"unknown field; expected one of {', '.join(allowed)}")

    def pair(self, data: Mapping[str, Any], key: str, where: str) -> tuple[float, float] | None:
        value = data.get(key)
        if value is None:
            return None
        ok = (isinstance(value, list) and len(value) == 2
              and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value))
        if not ok or not 0 < value[0] <= value[1]:
            raise self.fail(f"{where}{key}", f"expected [low, high] with 0 < low <= high, "
                            f"found {value!r}", value)
        return float(value[0]), float(value[1])

    def corridor(self, data: Mapping[str, Any]) -> Corridor:
        self.check_keys(data, ("corridor", "signals", "phase_templates", "intersection",
                               "period"), "")
        c = self.table(data, "corridor", "")
        self.check_keys(c, ("name", "description", "speed_kmh", "speed_in_kmh",
                            "speed_range_kmh", "speed_limit_kmh", "outbound_name",
                            "inbound_name", "approach_m", "cross_link_m"), "corridor.")
        s = self.table(data, "signals", "")
        self.check_keys(s, ("cycle_s", "cycle_range_s", "yellow_s", "all_red_s",
                            "min_green_s"), "signals.")
        defaults = {
            "yellow_s": self.get(s, "yellow_s", "signals.", float, 3.0, at_least=0),
            "all_red_s": self.get(s, "all_red_s", "signals.", float, 2.0, at_least=0),
            "min_green_s": self.get(s, "min_green_s", "signals.", float, 10.0, at_least=0),
        }
        cycle = self.get(s, "cycle_s", "signals.", float, positive=True)
        templates_raw = data.get("phase_templates", {})
        if not isinstance(templates_raw, Mapping):
            raise self.fail("phase_templates", "expected a table of templates")
        templates = {
            name: self.phases(t, f"phase_templates.{name}.", defaults)
            for name, t in templates_raw.items()
        }
        raw = data.get("intersection")
        if not isinstance(raw, list) or not raw:
            raise self.fail("intersection", "missing [[intersection]] entries")
        intersections = tuple(
            self.intersection(item, f"intersection[{k}].", templates, defaults, cycle)
            for k, item in enumerate(raw)
        )
        periods_raw = data.get("period", [])
        if not isinstance(periods_raw, list):
            raise self.fail("period", "expected [[period]] entries")
        demand = tuple(self.period(p, f"period[{k}].") for k, p in enumerate(periods_raw))
        corridor = Corridor(
            name=self.get(c, "name", "corridor.", str),
            description=self.get(c, "description", "corridor.", str, ""),
            intersections=intersections,
            cycle_s=cycle,
            cycle_range_s=self.pair(s, "cycle_range_s", "signals."),
            speed_kmh=self.get(c, "speed_kmh", "corridor.", float, positive=True),
            speed_in_kmh=self.get(c, "speed_in_kmh", "corridor.", float, None, positive=True),
            speed_range_kmh=self.pair(c, "speed_range_kmh", "corridor."),
            speed_limit_kmh=self.get(c, "speed_limit_kmh", "corridor.", float, 60.0),
            outbound_name=self.get(c, "outbound_name", "corridor.", str, "outbound"),
            inbound_name=self.get(c, "inbound_name", "corridor.", str, "inbound"),
            approach_m=self.get(c, "approach_m", "corridor.", float, 300.0),
            cross_link_m=self.get(c, "cross_link_m", "corridor.", float, 250.0),
            demand=demand,
            source=self.src,
        )
        validate(corridor)
        return corridor

    def phases(self, t: Any, where: str, defaults: Mapping[str, float]) -> tuple[Phase, ...]:
        if isinstance(t, Mapping):
            self.check_keys(t, ("phases",), where)
            t = t.get("phases")
        if not isinstance(t, list) or not t:
            raise self.fail(f"{where}phases", "expected a non-empty list of phases")
        out = []
        for k, ph in enumerate(t):
            w = f"{where}phases[{k}]."
            if not isinstance(ph, Mapping):
                raise self.fail(w.rstrip("."), f"expected a table, found {ph!r}", ph)
            self.check_keys(ph, ("name", "green_s", "yellow_s", "all_red_s", "min_green_s",
                                 "protected", "permitted"), w)
            moves = {}
            for key in ("protected", "permitted"):
                value = self.get(ph, key, w, list, [])
                for m in value:
                    if m not in MOVEMENTS:
                        raise self.fail(f"{w}{key}", f"unknown movement {m!r}; expected one "
                                        f"of {', '.join(MOVEMENTS)}", m)
                moves[key] = frozenset(value)
            if not moves["protected"] and not moves["permitted"]:
                raise self.fail(f"{w}protected", "a phase must serve at least one movement")
            out.append(Phase(
                name=self.get(ph, "name", w, str, f"phase {k}"),
                green_s=self.get(ph, "green_s", w, float, positive=True),
                yellow_s=self.get(ph, "yellow_s", w, float, defaults["yellow_s"], at_least=0),
                all_red_s=self.get(ph, "all_red_s", w, float, defaults["all_red_s"],
                                   at_least=0),
                min_green_s=self.get(ph, "min_green_s", w, float, defaults["min_green_s"],
                                     at_least=0),
                protected=moves["protected"],
                permitted=moves["permitted"],
            ))
        return tuple(out)

    def intersection(self, item: Any, where: str, templates: Mapping[str, tuple[Phase, ...]],
                     defaults: Mapping[str, float], cycle: float) -> Intersection:
        if not isinstance(item, Mapping):
            raise self.fail(where.rstrip("."), "expected a table")
        self.check_keys(item, ("id", "name", "position_m", "cross_street", "through_lanes",
                               "cross_lanes", "left_turn_bay", "major", "crossing_length_m",
                               "template", "greens_s", "phases"), where)
        ident = self.get(item, "id", where, str)
        where = f"intersection {ident}."
        # where each phase's green comes from, so that an error names the field to fix
        plan_field, context = f"{where}phases", ""
        if "phases" in item:
            phases = self.phases(item["phases"], where, defaults)
        else:
            name = self.get(item, "template", where, str)
            if name not in templates:
                raise self.fail(f"{where}template", f"unknown template {name!r}; defined: "
                                f"{', '.join(templates) or 'none'}", name)
            phases = templates[name]
            plan_field = f"phase_templates.{name}.phases"
            context = f" (template of intersection {ident})"
        green_fields = [f"{plan_field}[{k}].green_s" for k in range(len(phases))]
        greens = self.get(item, "greens_s", where, list, None)
        if greens is not None:
            if len(greens) != len(phases) or not all(
                isinstance(g, int | float) and not isinstance(g, bool) and math.isfinite(g)
                and g > 0 for g in greens
            ):
                raise self.fail(f"{where}greens_s", f"expected {len(phases)} positive numbers, "
                                f"found {greens!r}", greens)
            phases = tuple(replace(p, green_s=float(g)) for p, g in zip(phases, greens,
                                                                        strict=True))
            plan_field, context = f"{where}greens_s", ""
            green_fields = [f"{plan_field}[{k}]" for k in range(len(phases))]
        for k, p in enumerate(phases):
            if p.green_s < p.min_green_s:
                raise self.fail(green_fields[k], f"green {p.green_s:g} s is below the minimum "
                                f"green {p.min_green_s:g} s{context}", p.green_s)
        total = sum(p.duration_s for p in phases)
        if not math.isclose(total, cycle, abs_tol=1e-6):
            sums = (f"the phases add up to {total:g} s, but signals.cycle_s is {cycle:g} s"
                    f"{context}")
            alone = [k for k, p in enumerate(phases) if p.duration_s > cycle + 1e-6]
            if alone:
                g = phases[alone[0]].green_s
                raise self.fail(green_fields[alone[0]], f"green {g:g} s does not fit the "
                                f"cycle: {sums}", g)
            raise self.fail(plan_field, sums, total)
        g_out, g_in, shift, start = _windows_from_phases(phases, ident, self.src)
        return Intersection(
            id=ident,
            name=self.get(item, "name", where, str, ""),
            position_m=self.get(item, "position_m", where, float),
            cross_street=self.get(item, "cross_street", where, str, ""),
            through_lanes=self.get(item, "through_lanes", where, int, 3, at_least=1),
            cross_lanes=self.get(item, "cross_lanes", where, int, 1, at_least=1),
            left_turn_bay=self.get(item, "left_turn_bay", where, bool, False),
            major=self.get(item, "major", where, bool, False),
            crossing_length_m=self.get(item, "crossing_length_m", where, float, 20.0,
                                       at_least=0),
            phases=phases,
            green_out_s=g_out,
            green_in_s=g_in,
            inbound_shift_s=shift,
            out_green_start_s=start,
        )

    def period(self, p: Any, where: str) -> PeriodDemand:
        if not isinstance(p, Mapping):
            raise self.fail(where.rstrip("."), "expected a table")
        self.check_keys(p, ("name", "duration_s", "main_out_vph", "main_in_vph",
                            "cross_major_vph", "cross_minor_vph", "left_share",
                            "right_share", "minor_turn_factor"), where)
        name = self.get(p, "name", where, str)
        if not _NAME.match(name):
            raise self.fail(f"{where}name", f"period name {name!r} must be letters, digits, "
                            "'_', '.' or '-' (it names the demand file)", name)
        where = f"period {name}."
        values = {k: self.get(p, k, where, float, getattr(PeriodDemand, k))
                  for k in ("duration_s", "main_out_vph", "main_in_vph", "cross_major_vph",
                            "cross_minor_vph", "left_share", "right_share",
                            "minor_turn_factor")}
        for k, v in values.items():
            if v < 0:
                raise self.fail(f"{where}{k}", f"must not be negative, found {v:g}", v)
        if values["duration_s"] <= 0:
            raise self.fail(f"{where}duration_s", f"must be positive, found "
                            f"{values['duration_s']:g}", values["duration_s"])
        left, right = values["left_share"], values["right_share"]
        for k, v in (("left_share", left), ("right_share", right)):
            if v > 1:
                raise self.fail(f"{where}{k}", f"a share of the flow must lie in [0, 1], "
                                f"found {v:g}", v)
        if left + right > 1:
            raise self.fail(f"{where}left_share", f"left_share + right_share = {left:g} + "
                            f"{right:g} = {left + right:g} exceeds 1", left)
        factor = values["minor_turn_factor"]
        if factor * (left + right) > 1:
            raise self.fail(f"{where}minor_turn_factor", f"{factor:g} makes the turning "
                            f"shares at minor crossings {factor * (left + right):g}, more "
                            "than 1", factor)
        return PeriodDemand(name=name, **values)


# --------------------------------------------------------------------------------------------
# validation


#: Plausible ranges: values outside are typing mistakes, not corridors.
LIMITS: dict[str, tuple[float, float]] = {
    "cycle_s": (10.0, 600.0),
    "speed_kmh": (5.0, 200.0),
    "speed_in_kmh": (5.0, 200.0),
    "speed_limit_kmh": (5.0, 200.0),
    "position_m": (-1e6, 1e6),
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _check_positive(fieldname: str, value: float, source: str, where: str = "") -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        shown = f"{value:g}" if isinstance(value, int | float) else repr(value)
        raise InputError(f"{where}must be a positive number, found {shown}",
                         file=source or None, field=fieldname, value=value)
    _check_limits(fieldname, value, source, where)


def _check_limits(fieldname: str, value: float, source: str, where: str = "") -> None:
    lo, hi = LIMITS.get(fieldname, (-math.inf, math.inf))
    if not lo <= value <= hi:
        raise InputError(f"{where}{value:g} is outside the plausible range [{lo:g}, {hi:g}]",
                         file=source or None, field=fieldname, value=value)


def _check_green_fits(i: Intersection, cycle_s: float, source: str) -> None:
    for name, g in (("green_out_s", i.green_out_s), ("green_in_s", i.green_in_s)):
        if g > cycle_s + 1e-9:
            raise InputError(
                f"intersection {i.id}: green {g:g} s is longer than the cycle {cycle_s:g} s",
                file=source or None, field=name, value=g,
            )


def validate(corridor: Corridor) -> None:
    """Check a corridor; raise one InputError naming the first problem found."""
    src = corridor.source or None
    items = corridor.intersections
    if len(items) < 2:
        raise InputError("a corridor needs at least 2 intersections", file=src,
                         field="intersection")
    if not _NAME.match(corridor.name):
        raise InputError(f"corridor name {corridor.name!r} must be letters, digits, '_', '.' "
                         "or '-' (it names the scenario folder)", file=src, field="name",
                         value=corridor.name)
    seen: set[str] = set()
    for k, i in enumerate(items):
        if i.id in seen:
            raise InputError(f"duplicate intersection id {i.id!r}", file=src, field="id",
                             value=i.id)
        seen.add(i.id)
        if not _NAME.match(i.id):
            raise InputError(f"intersection id {i.id!r} must be letters, digits, '_', '.' or "
                             "'-'", file=src, field="id", value=i.id)
        _check_limits("position_m", i.position_m, corridor.source, f"intersection {i.id}: ")
        if k > 0:
            gap = i.position_m - items[k - 1].position_m
            if gap <= 0:
                raise InputError(
                    f"intersection {i.id}: position {i.position_m:g} m is not after "
                    f"{items[k - 1].id} at {items[k - 1].position_m:g} m "
                    f"(spacing {gap:g} m; positions must increase)",
                    file=src, field="position_m", value=i.position_m,
                )
        for name in ("green_out_s", "green_in_s"):
            g = getattr(i, name)
            if g <= 0:
                raise InputError(f"intersection {i.id}: green must be positive, found {g:g}",
                                 file=src, field=name, value=g)
        for name in ("through_lanes", "cross_lanes"):
            lanes = getattr(i, name)
            if lanes < 1:
                raise InputError(f"must be at least 1, found {lanes}", file=src,
                                 field=f"intersection {i.id}.{name}", value=lanes)
        if not (math.isfinite(i.crossing_length_m) and i.crossing_length_m >= 0):
            raise InputError(f"must be at least 0, found {i.crossing_length_m:g}", file=src,
                             field=f"intersection {i.id}.crossing_length_m",
                             value=i.crossing_length_m)
        if corridor.cycle_s is not None:
            _check_green_fits(i, corridor.cycle_s, corridor.source)
    if corridor.cycle_s is not None:
        _check_positive("cycle_s", corridor.cycle_s, corridor.source)
    _check_positive("speed_kmh", corridor.speed_kmh, corridor.source)
    if corridor.speed_in_kmh is not None:
        _check_positive("speed_in_kmh", corridor.speed_in_kmh, corridor.source)
    # lengths and speed of the SUMO network (field names as in the TOML spec)
    for name in ("approach_m", "cross_link_m", "speed_limit_kmh"):
        value = getattr(corridor, name)
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"must be positive, found {value:g}", file=src,
                             field=f"corridor.{name}", value=value)
    lo, hi = LIMITS["speed_limit_kmh"]
    if not lo <= corridor.speed_limit_kmh <= hi:
        raise InputError(f"{corridor.speed_limit_kmh:g} is outside the plausible range "
                         f"[{lo:g}, {hi:g}]", file=src, field="corridor.speed_limit_kmh",
                         value=corridor.speed_limit_kmh)
    names = [p.name for p in corridor.demand]
    for k, name in enumerate(names):
        if name in names[:k]:
            raise InputError(f"duplicate period name {name!r} (period[{names.index(name)}] "
                             "has it too)", file=src, field=f"period[{k}].name", value=name)
