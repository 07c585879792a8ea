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
from dataclasses import asdict, dataclass, field, replace
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
            )
            for s in self.signals
        )
        return BandProblem(windows, self.cycle_s, self.speed_out_kmh, self.speed_in_kmh)

    def evaluate_bands(self) -> Any:
        """Exact bands of this plan recomputed from its own green starts (a BandResult)."""
        from greenwave.bands import evaluate_bands

        return evaluate_bands(self.band_problem(), [s.green_out_start_s for s in self.signals])

    def with_exact_bands(self) -> TimingPlan:
        """This plan with its band fields recomputed exactly from its green starts."""
        exact = self.evaluate_bands()
        return replace(
            self,
            bandwidth_out_s=exact.bandwidth_out_s,
            bandwidth_in_s=exact.bandwidth_in_s,
            band_out_start_s=exact.band_out_start_s,
            band_in_start_s=exact.band_in_start_s,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "corridor": self.corridor,
            "period": self.period,
            "program_id": self.program_id,
            "cycle_s": self.cycle_s,
            "speed_out_kmh": self.speed_out_kmh,
            "speed_in_kmh": self.speed_in_kmh,
            "bandwidth_out_s": round(self.bandwidth_out_s, 6),
            "bandwidth_in_s": round(self.bandwidth_in_s, 6),
            "efficiency": round(self.efficiency, 6),
            "band_out_start_s": round(self.band_out_start_s, 6),
            "band_in_start_s": round(self.band_in_start_s, 6),
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
    )


class _PlanReader:
    def __init__(self, source: str) -> None:
        self.src = source

    def fail(self, fieldname: str, message: str, value: object = None) -> InputError:
        return InputError(message, file=self.src, field=fieldname or None, value=value)

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

    def signal(self, s: Any, k: int) -> SignalTiming:
        if not isinstance(s, dict):
            raise self.fail(f"intersections[{k}]", f"expected an object, found {s!r}", s)
        ident = s.get("id")
        if not isinstance(ident, str) or not ident:
            raise self.fail(f"intersections[{k}].id", f"expected a signal id, found {ident!r}",
                            ident)
        w = f"intersections[{ident}]."
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
        )

    def phase(self, ph: Any, w: str) -> Phase:
        if not isinstance(ph, dict):
            raise self.fail(w.rstrip("."), f"expected an object, found {ph!r}", ph)
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
    """Check that *plan* times exactly the corridor's signals; return it with exact bands.

    The corridor must already be at the plan's cycle. Checked: same signal ids in order, the
    same positions, through greens and inbound shifts as the corridor's, offsets consistent
    with the green starts, and (for corridors with phase plans) phases that keep every
    movement of the corridor's plan, each green at least its minimum and yellow and all-red
    no shorter than the corridor's. The bands written in the file are not trusted: they are
    recomputed from the green starts.
    """
    src = source or None
    plan_ids = [s.id for s in plan.signals]
    if plan.corridor and plan.corridor != corridor.name:
        raise InputError(f"plan is for corridor {plan.corridor!r}, not {corridor.name!r}",
                         file=src, field="corridor", value=plan.corridor)
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
        expected = {
            "position_m": i.position_m,
            "green_out_s": i.green_out_s,
            "green_in_s": i.green_in_s,
        }
        for name, want in expected.items():
            got = getattr(s, name)
            if not math.isclose(got, want, abs_tol=1e-6):
                raise InputError(f"{got:g} differs from the corridor's {want:g}", file=src,
                                 field=w + name, value=got)
        checks = (
            ("green_in_start_s", s.green_in_start_s - s.green_out_start_s, i.inbound_shift_s),
            ("offset_s", s.offset_s, s.green_out_start_s - i.out_green_start_s),
        )
        for name, got, want in checks:
            if not _same_mod(got, want, cycle):
                raise InputError(f"{getattr(s, name):g} is inconsistent with the signal's "
                                 "other green starts and phases", file=src, field=w + name,
                                 value=getattr(s, name))
        if corridor.has_phases:
            _check_phases(s, i.phases, cycle, src)
    return plan.with_exact_bands()


def _same_mod(a: float, b: float, cycle: float) -> bool:
    d = (a - b) % cycle
    return min(d, cycle - d) <= 1e-6


def _check_phases(s: SignalTiming, reference: Sequence[Phase], cycle: float,
                  src: str | None) -> None:
    w = f"intersections[{s.id}].phases"
    if len(s.phases) != len(reference):
        raise InputError(f"{len(s.phases)} phases, the corridor's plan has {len(reference)}",
                         file=src, field=w, value=len(s.phases))
    total = sum(p.duration_s for p in s.phases)
    if not math.isclose(total, cycle, abs_tol=1e-6):
        raise InputError(f"phases add up to {total:g} s but cycle_s is {cycle:g} s",
                         file=src, field=w, value=total)
    for k, (p, ref) in enumerate(zip(s.phases, reference, strict=True)):
        where = f"{w}[{k}]."
        if (p.protected, p.permitted) != (ref.protected, ref.permitted):
            raise InputError("serves other movements than the corridor's phase", file=src,
                             field=where + "protected")
        for name, low in (("green_s", ref.min_green_s), ("yellow_s", ref.yellow_s),
                          ("all_red_s", ref.all_red_s)):
            if getattr(p, name) < low - 1e-9:
                raise InputError(f"{getattr(p, name):g} s is below the corridor's {low:g} s",
                                 file=src, field=where + name, value=getattr(p, name))


def plan_from_offsets(
    corridor: Corridor,
    green_out_start_s: Sequence[float],
    *,
    speed_out_kmh: float | None = None,
    speed_in_kmh: float | None = None,
    period: str = "",
    program_id: str = "greenwave",
    solver: Mapping[str, Any] | None = None,
) -> TimingPlan:
    """Build a plan from outbound green starts in the common frame (one per intersection).

    Its bands are computed exactly from these green starts (a plan cannot carry other bands
    than the ones its offsets give).
    """
    cycle = corridor.cycle_s
    if cycle is None:
        raise InputError("corridor has no cycle", field="cycle_s")
    signals = []
    for i, start in zip(corridor.intersections, green_out_start_s, strict=True):
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
    ).with_exact_bands()
