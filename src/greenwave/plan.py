"""Timing plans: what the optimizer decides and what is written to signals and files.

Time frame: every time in a plan is in one common frame, modulo the cycle. ``offset_s`` follows
SUMO's convention for a tlLogic: the time in cycle at absolute simulation time t is
``(t - offset_s) mod cycle_s``, so phase 0 starts at t = offset_s + k·C, whatever the
simulation's begin time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from greenwave._io import atomic_write_text, read_json
from greenwave.corridor import MOVEMENTS, Corridor, Phase
from greenwave.errors import InputError


@dataclass(frozen=True)
class SignalTiming:
    """One signal's timing in the common frame [s]."""

    id: str
    offset_s: float  # SUMO tlLogic offset: phase 0 starts at offset_s + k·C
    green_out_start_s: float  # outbound through green start, in [0, C)
    green_out_s: float
    green_in_start_s: float  # inbound through green start, in [0, C)
    green_in_s: float
    position_m: float = 0.0
    phases: tuple[Phase, ...] = ()
    sequence: str = ""  # main-street left-turn sequence (greenwave.sequences), "" if none
    queue_out_s: float = 0.0  # queue clearance before the outbound band [s]
    queue_in_s: float = 0.0  # queue clearance before the inbound band [s]


@dataclass(frozen=True)
class TimingPlan:
    """A coordinated plan for a corridor at one cycle, with the bands it gives."""

    corridor: str
    cycle_s: float
    speed_out_kmh: float
    speed_in_kmh: float
    bandwidth_out_s: float
    bandwidth_in_s: float
    band_out_start_s: float  # leading edge of the outbound band at the first signal
    band_in_start_s: float  # leading edge of the inbound band at the last signal
    signals: tuple[SignalTiming, ...]
    period: str = ""
    program_id: str = "greenwave"
    solver: Mapping[str, Any] = field(default_factory=dict)
    link_speeds_out_kmh: tuple[float, ...] = ()  # per link when the speeds were optimized
    link_speeds_in_kmh: tuple[float, ...] = ()
    link_bands_out_s: tuple[float, ...] = ()  # exact band of every link on its own [s]
    link_bands_in_s: tuple[float, ...] = ()

    @property
    def efficiency(self) -> float:
        """Two-way band efficiency (b + b̄) / 2C."""
        return (self.bandwidth_out_s + self.bandwidth_in_s) / (2.0 * self.cycle_s)

    @property
    def offsets_s(self) -> tuple[float, ...]:
        return tuple(s.offset_s for s in self.signals)

    def band_problem(self) -> Any:
        """The plan's own band problem (positions, greens, shifts, cycle and speeds)."""
        from greenwave.bands import BandProblem, SignalWindow

        windows = tuple(
            SignalWindow(
                id=s.id,
                position_m=s.position_m,
                green_out_s=s.green_out_s,
                green_in_s=s.green_in_s,
                inbound_shift_s=s.green_in_start_s - s.green_out_start_s,
                queue_out_s=s.queue_out_s,
                queue_in_s=s.queue_in_s,
            )
            for s in self.signals
        )
        return BandProblem(windows, self.cycle_s, self.speed_out_kmh, self.speed_in_kmh,
                           link_speeds_out_kmh=self.link_speeds_out_kmh,
                           link_speeds_in_kmh=self.link_speeds_in_kmh)

    def evaluate_bands(self) -> Any:
        """Exact bands of this plan recomputed from its own green starts (a BandResult)."""
        from greenwave.bands import evaluate_bands

        return evaluate_bands(self.band_problem(), [s.green_out_start_s for s in self.signals])

    def at_green_starts(self, corridor: Corridor, green_out_start_s: Sequence[float], *,
                        period: str | None = None,
                        solver: Mapping[str, Any] | None = None) -> TimingPlan:
        """This plan moved to other outbound green starts on *corridor* (the intersections
        and phases the plan runs): the same cycle, speeds, sequences and queue clearance,
        exact bands of the new starts (:func:`plan_from_offsets`)."""
        return plan_from_offsets(
            corridor, list(green_out_start_s), speed_out_kmh=self.speed_out_kmh,
            speed_in_kmh=self.speed_in_kmh,
            period=self.period if period is None else period, program_id=self.program_id,
            solver=self.solver if solver is None else solver,
            link_speeds_out_kmh=self.link_speeds_out_kmh,
            link_speeds_in_kmh=self.link_speeds_in_kmh,
            sequences=[s.sequence for s in self.signals],
            queues_s=[(s.queue_out_s, s.queue_in_s) for s in self.signals])

    def with_exact_bands(self) -> TimingPlan:
        """This plan with its band fields recomputed exactly from its green starts."""
        from greenwave.bands import link_bands

        exact = self.evaluate_bands()
        links_out, links_in = link_bands(self.band_problem(),
                                         [s.green_out_start_s for s in self.signals])
        return replace(
            self,
            bandwidth_out_s=exact.bandwidth_out_s,
            bandwidth_in_s=exact.bandwidth_in_s,
            band_out_start_s=exact.band_out_start_s,
            band_in_start_s=exact.band_in_start_s,
            link_bands_out_s=links_out,
            link_bands_in_s=links_in,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "corridor": self.corridor,
            "period": self.period,
            "program_id": self.program_id,
            "cycle_s": self.cycle_s,
            "speed_out_kmh": self.speed_out_kmh,
            "speed_in_kmh": self.speed_in_kmh,
            "link_speeds_out_kmh": list(self.link_speeds_out_kmh),
            "link_speeds_in_kmh": list(self.link_speeds_in_kmh),
            "bandwidth_out_s": round(self.bandwidth_out_s, 6),
            "bandwidth_in_s": round(self.bandwidth_in_s, 6),
            "efficiency": round(self.efficiency, 6),
            "band_out_start_s": round(self.band_out_start_s, 6),
            "band_in_start_s": round(self.band_in_start_s, 6),
            "link_bandwidths_out_s": [round(b, 6) for b in self.link_bands_out_s],
            "link_bandwidths_in_s": [round(b, 6) for b in self.link_bands_in_s],
            "time_frame": "offset_s: phase 0 starts at t = offset_s + k*cycle_s (SUMO); "
            "all *_start_s in the same frame, modulo cycle_s",
            "solver": dict(self.solver),
            "intersections": [_signal_dict(s) for s in self.signals],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def write_json(self, path: str | Path) -> Path:
        return atomic_write_text(path, self.to_json())


def _signal_dict(s: SignalTiming) -> dict[str, Any]:
    d = asdict(s)
    d["phases"] = [
        {
            "name": p.name,
            "green_s": p.green_s,
            "yellow_s": p.yellow_s,
            "all_red_s": p.all_red_s,
            "min_green_s": p.min_green_s,
            "protected": sorted(p.protected),
            "permitted": sorted(p.permitted),
        }
        for p in s.phases
    ]
    return d


def read_plan(path: str | Path) -> TimingPlan:
    """Read and check a plan.json written by :meth:`TimingPlan.write_json`.

    Every number must be finite; an error names the file, the field (with the signal id) and
    the value.
    """
    p = Path(path)
    data: Any = read_json(p, "JSON plan")
    reader = _PlanReader(str(p))
    if not isinstance(data, dict):
        raise reader.fail("", f"expected a JSON object, found {type(data).__name__}")
    reader.check_keys(data, PLAN_FIELDS, "")
    raw = data.get("intersections")
    if not isinstance(raw, list) or not raw:
        raise reader.fail("intersections", "expected a non-empty list of signals")
    signals = tuple(reader.signal(s, k) for k, s in enumerate(raw))
    cycle = reader.number(data, "cycle_s", "", positive=True)
    return TimingPlan(
        corridor=str(data.get("corridor", "")),
        period=str(data.get("period", "")),
        program_id=str(data.get("program_id", "greenwave")),
        cycle_s=cycle,
        speed_out_kmh=reader.number(data, "speed_out_kmh", "", positive=True),
        speed_in_kmh=reader.number(data, "speed_in_kmh", "", positive=True),
        bandwidth_out_s=reader.number(data, "bandwidth_out_s", ""),
        bandwidth_in_s=reader.number(data, "bandwidth_in_s", ""),
        band_out_start_s=reader.number(data, "band_out_start_s", "", default=0.0),
        band_in_start_s=reader.number(data, "band_in_start_s", "", default=0.0),
        signals=signals,
        solver=data.get("solver", {}) if isinstance(data.get("solver"), dict) else {},
        link_speeds_out_kmh=reader.speeds(data, "link_speeds_out_kmh", len(signals)),
        link_speeds_in_kmh=reader.speeds(data, "link_speeds_in_kmh", len(signals)),
    )


#: The fields of plan.json (:meth:`TimingPlan.to_dict`); any other is refused, as a typing
#: mistake would otherwise be ignored without a word.
PLAN_FIELDS: tuple[str, ...] = (
    "corridor", "period", "program_id", "cycle_s", "speed_out_kmh", "speed_in_kmh",
    "link_speeds_out_kmh", "link_speeds_in_kmh", "bandwidth_out_s", "bandwidth_in_s",
    "efficiency", "band_out_start_s", "band_in_start_s", "link_bandwidths_out_s",
    "link_bandwidths_in_s", "time_frame", "solver", "intersections",
)  # fmt: skip
SIGNAL_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(SignalTiming))
PHASE_FIELDS: tuple[str, ...] = ("name", "green_s", "yellow_s", "all_red_s", "min_green_s",
                                 "protected", "permitted")


class _PlanReader:
    def __init__(self, source: str) -> None:
        self.src = source

    def fail(self, fieldname: str, message: str, value: object = None) -> InputError:
        return InputError(message, file=self.src, field=fieldname or None, value=value)

    def check_keys(self, data: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
        for key in data:
            if key not in allowed:
                raise self.fail(f"{where}{key}", f"unknown field {key!r}; expected one of "
                                f"{', '.join(allowed)}", key)

    def number(self, data: Mapping[str, Any], key: str, where: str, *, positive: bool = False,
               default: float | None = None) -> float:
        if key not in data:
            if default is not None:
                return default
            raise self.fail(f"{where}{key}", "missing field")
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value
        ):
            raise self.fail(f"{where}{key}", f"expected a finite number, found {value!r}",
                            value)
        if positive and value <= 0:
            raise self.fail(f"{where}{key}", f"must be positive, found {value!r}", value)
        return float(value)

    def speeds(self, data: Mapping[str, Any], key: str, n_signals: int) -> tuple[float, ...]:
        """Optional per-link speeds: absent or empty, or n_signals - 1 positive numbers."""
        raw = data.get(key, [])
        if not isinstance(raw, list):
            raise self.fail(key, f"expected a list of speeds [km/h], found {raw!r}", raw)
        if raw and len(raw) != n_signals - 1:
            raise self.fail(key, f"expected {n_signals - 1} link speeds (one per link), "
                            f"found {len(raw)}", len(raw))
        wrapped = {f"[{j}]": v for j, v in enumerate(raw)}
        return tuple(self.number(wrapped, f"[{j}]", key, positive=True)
                     for j in range(len(raw)))

    def signal(self, s: Any, k: int) -> SignalTiming:
        if not isinstance(s, dict):
            raise self.fail(f"intersections[{k}]", f"expected an object, found {s!r}", s)
        ident = s.get("id")
        if not isinstance(ident, str) or not ident:
            raise self.fail(f"intersections[{k}].id", f"expected a signal id, found {ident!r}",
                            ident)
        w = f"intersections[{ident}]."
        self.check_keys(s, SIGNAL_FIELDS, w)
        phases = s.get("phases", [])
        if not isinstance(phases, list):
            raise self.fail(f"{w}phases", "expected a list of phases", phases)
        return SignalTiming(
            id=ident,
            offset_s=self.number(s, "offset_s", w),
            green_out_start_s=self.number(s, "green_out_start_s", w),
            green_out_s=self.number(s, "green_out_s", w, positive=True),
            green_in_start_s=self.number(s, "green_in_start_s", w),
            green_in_s=self.number(s, "green_in_s", w, positive=True),
            position_m=self.number(s, "position_m", w, default=0.0),
            phases=tuple(self.phase(ph, f"{w}phases[{j}].") for j, ph in enumerate(phases)),
            sequence=str(s.get("sequence", "")),
            queue_out_s=self.number(s, "queue_out_s", w, default=0.0),
            queue_in_s=self.number(s, "queue_in_s", w, default=0.0),
        )

    def phase(self, ph: Any, w: str) -> Phase:
        if not isinstance(ph, dict):
            raise self.fail(w.rstrip("."), f"expected an object, found {ph!r}", ph)
        self.check_keys(ph, PHASE_FIELDS, w)
        moves = {}
        for key in ("protected", "permitted"):
            value = ph.get(key, [])
            if not isinstance(value, list) or not all(m in MOVEMENTS for m in value):
                raise self.fail(f"{w}{key}", f"expected a list of movements, found {value!r}",
                                value)
            moves[key] = frozenset(value)
        return Phase(
            name=str(ph.get("name", "")),
            green_s=self.number(ph, "green_s", w, positive=True),
            yellow_s=self.number(ph, "yellow_s", w),
            all_red_s=self.number(ph, "all_red_s", w),
            min_green_s=self.number(ph, "min_green_s", w),
            protected=moves["protected"],
            permitted=moves["permitted"],
        )


def check_plan_matches(plan: TimingPlan, corridor: Corridor, source: str = "") -> TimingPlan:
    """Check that *plan* safely times the corridor's signals; return it with exact bands.

    Checked: the same signal ids in order, at the corridor's positions; for a corridor with
    phase plans, each signal's phases add up to the cycle, serve every movement the
    corridor's plan serves (protected where it protects them), keep every green at least its
    minimum (the largest minimum green of the corridor's phases protecting the same
    movements) and yellow and all-red no shorter than the corridor's, and the plan's through
    greens, inbound shift and offset are the ones its own phases give (so a plan may use
    another left-turn sequence or other splits than the corridor's template); for a CSV
    corridor, the corridor's through greens and inbound shifts. The bands written in the file
    are not trusted: they are recomputed from the green starts.
    """
    src = source or None
    plan_ids = [s.id for s in plan.signals]
    if plan.corridor and plan.corridor != corridor.name:
        raise InputError(f"plan is for corridor {plan.corridor!r}, not {corridor.name!r}",
                         file=src, field="corridor", value=plan.corridor)
    periods = [p.name for p in corridor.demand]
    if plan.period and periods and plan.period not in periods:
        raise InputError(f"plan is for period {plan.period!r}, which {corridor.name} does not "
                         f"define (it defines: {', '.join(periods)})", file=src,
                         field="period", value=plan.period)
    if plan_ids != list(corridor.ids):
        missing = [i for i in corridor.ids if i not in plan_ids]
        extra = [i for i in plan_ids if i not in corridor.ids]
        detail = (f"missing {missing}" if missing else "") + (
            f"{'; ' if missing else ''}unknown {extra}" if extra else "")
        raise InputError(f"plan signals do not match the corridor's "
                         f"({detail or 'different order'})", file=src, field="intersections")
    cycle = plan.cycle_s
    for s, i in zip(plan.signals, corridor.intersections, strict=True):
        w = f"intersections[{s.id}]."
        if not math.isclose(s.position_m, i.position_m, abs_tol=1e-6):
            raise InputError(f"{s.position_m:g} differs from the corridor's {i.position_m:g}",
                             file=src, field=w + "position_m", value=s.position_m)
        if corridor.has_phases:
            g_out, g_in, shift, start = _check_phases(s, i.phases, cycle, src)
            what = "its phases give"
        else:
            g_out, g_in, shift, start = i.green_out_s, i.green_in_s, i.inbound_shift_s, 0.0
            what = "the corridor's"
        for name, got, want in (("green_out_s", s.green_out_s, g_out),
                                ("green_in_s", s.green_in_s, g_in)):
            if not math.isclose(got, want, abs_tol=1e-6):
                raise InputError(f"{got:g} differs from the {want:g} {what}", file=src,
                                 field=w + name, value=got)
        checks = (
            ("green_in_start_s", s.green_in_start_s - s.green_out_start_s, shift),
            ("offset_s", s.offset_s, s.green_out_start_s - start),
        )
        for name, got, want in checks:
            if not _same_mod(got, want, cycle):
                raise InputError(f"{getattr(s, name):g} is inconsistent with the signal's "
                                 "other green starts and phases", file=src, field=w + name,
                                 value=getattr(s, name))
    return plan.with_exact_bands()


def _same_mod(a: float, b: float, cycle: float) -> bool:
    d = (a - b) % cycle
    return min(d, cycle - d) <= 1e-6


def _check_phases(s: SignalTiming, reference: Sequence[Phase], cycle: float,
                  src: str | None) -> tuple[float, float, float, float]:
    """Check a signal's phases against the corridor's; return the windows they give."""
    from greenwave.corridor import _windows_from_phases

    w = f"intersections[{s.id}].phases"
    if not s.phases:
        raise InputError("no phases; the corridor's signals have a phase plan", file=src,
                         field=w, value=0)
    total = sum(p.duration_s for p in s.phases)
    if not math.isclose(total, cycle, abs_tol=1e-6):
        raise InputError(f"phases add up to {total:g} s but cycle_s is {cycle:g} s",
                         file=src, field=w, value=total)
    for move in sorted({m for p in reference for m in p.protected | p.permitted}):
        protected = any(move in p.protected for p in reference)
        served = [p for p in s.phases if (move in p.protected if protected else p.serves(move))]
        if not served:
            kind = "protected " if protected else ""
            raise InputError(f"no phase gives {move} the {kind}green the corridor's plan "
                             "gives it", file=src, field=w, value=move)
    for k, p in enumerate(s.phases):
        where = f"{w}[{k}]."
        moves = p.protected or p.permitted
        refs = [r for r in reference if moves & (r.protected or r.permitted)]
        unknown = (p.protected | p.permitted) - {m for r in reference
                                                 for m in r.protected | r.permitted}
        if unknown:
            raise InputError(f"serves {sorted(unknown)}, which the corridor's plan never "
                             "serves", file=src, field=where + "protected")
        for name, need in (("green_s", max((r.min_green_s for r in refs), default=0.0)),
                           ("yellow_s", max((r.yellow_s for r in refs), default=0.0)),
                           ("all_red_s", max((r.all_red_s for r in refs), default=0.0))):
            if getattr(p, name) < need - 1e-9:
                raise InputError(f"{getattr(p, name):g} s is below the corridor's {need:g} s",
                                 file=src, field=where + name, value=getattr(p, name))
    return _windows_from_phases(s.phases, s.id, src or "")


def plan_from_offsets(
    corridor: Corridor,
    green_out_start_s: Sequence[float],
    *,
    speed_out_kmh: float | None = None,
    speed_in_kmh: float | None = None,
    period: str = "",
    program_id: str = "greenwave",
    solver: Mapping[str, Any] | None = None,
    link_speeds_out_kmh: Sequence[float] = (),
    link_speeds_in_kmh: Sequence[float] = (),
    sequences: Sequence[str] | None = None,
    queues_s: Sequence[tuple[float, float]] | None = None,
) -> TimingPlan:
    """Build a plan from outbound green starts in the common frame (one per intersection).

    Optional: per-link progression speeds, each signal's left-turn sequence name and queue
    clearance ``(outbound, inbound)`` [s]. Its bands are computed exactly from these green
    starts (a plan cannot carry other bands than the ones its offsets give).
    """
    cycle = corridor.cycle_s
    if cycle is None:
        raise InputError("corridor has no cycle", field="cycle_s")
    n = len(corridor.intersections)
    names = list(sequences) if sequences is not None else [""] * n
    queues = list(queues_s) if queues_s is not None else [(0.0, 0.0)] * n
    signals = []
    for i, start, name, (q_out, q_in) in zip(corridor.intersections, green_out_start_s, names,
                                             queues, strict=True):
        out_start = start % cycle
        signals.append(
            SignalTiming(
                id=i.id,
                offset_s=(out_start - i.out_green_start_s) % cycle,
                green_out_start_s=out_start,
                green_out_s=i.green_out_s,
                green_in_start_s=(out_start + i.inbound_shift_s) % cycle,
                green_in_s=i.green_in_s,
                position_m=i.position_m,
                phases=i.phases,
                sequence=name,
                queue_out_s=q_out,
                queue_in_s=q_in,
            )
        )
    return TimingPlan(
        corridor=corridor.name,
        cycle_s=cycle,
        speed_out_kmh=speed_out_kmh or corridor.speed_kmh,
        speed_in_kmh=speed_in_kmh or corridor.speed_in_kmh or corridor.speed_kmh,
        bandwidth_out_s=0.0,
        bandwidth_in_s=0.0,
        band_out_start_s=0.0,
        band_in_start_s=0.0,
        signals=tuple(signals),
        period=period,
        program_id=program_id,
        solver=dict(solver or {}),
        link_speeds_out_kmh=tuple(link_speeds_out_kmh),
        link_speeds_in_kmh=tuple(link_speeds_in_kmh),
    ).with_exact_bands()
