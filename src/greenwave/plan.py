"""Timing plans: what the optimizer decides and what is written to signals and files.

Time frame: every time in a plan is in one common frame, modulo the cycle. ``offset_s`` follows
SUMO's convention for a tlLogic: the time in cycle at absolute simulation time t is
``(t - offset_s) mod cycle_s``, so phase 0 starts at t = offset_s + k·C, whatever the
simulation's begin time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from greenwave._io import atomic_write_text, read_json
from greenwave.corridor import Corridor, Phase
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
    """Read a plan.json written by :meth:`TimingPlan.write_json`."""
    p = Path(path)
    data: Any = read_json(p, "JSON plan")
    if not isinstance(data, dict):
        raise InputError("not a plan: expected a JSON object", file=str(p))
    try:
        signals = tuple(
            SignalTiming(
                id=str(s["id"]),
                offset_s=float(s["offset_s"]),
                green_out_start_s=float(s["green_out_start_s"]),
                green_out_s=float(s["green_out_s"]),
                green_in_start_s=float(s["green_in_start_s"]),
                green_in_s=float(s["green_in_s"]),
                position_m=float(s.get("position_m", 0.0)),
                phases=tuple(
                    Phase(
                        name=str(ph["name"]),
                        green_s=float(ph["green_s"]),
                        yellow_s=float(ph["yellow_s"]),
                        all_red_s=float(ph["all_red_s"]),
                        min_green_s=float(ph["min_green_s"]),
                        protected=frozenset(ph["protected"]),
                        permitted=frozenset(ph["permitted"]),
                    )
                    for ph in s.get("phases", [])
                ),
            )
            for s in data["intersections"]
        )
        return TimingPlan(
            corridor=str(data.get("corridor", "")),
            period=str(data.get("period", "")),
            program_id=str(data.get("program_id", "greenwave")),
            cycle_s=float(data["cycle_s"]),
            speed_out_kmh=float(data["speed_out_kmh"]),
            speed_in_kmh=float(data["speed_in_kmh"]),
            bandwidth_out_s=float(data["bandwidth_out_s"]),
            bandwidth_in_s=float(data["bandwidth_in_s"]),
            band_out_start_s=float(data.get("band_out_start_s", 0.0)),
            band_in_start_s=float(data.get("band_in_start_s", 0.0)),
            signals=signals,
            solver=data.get("solver", {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"malformed plan: missing or bad field {exc}", file=str(p)) from exc


def plan_from_offsets(
    corridor: Corridor,
    green_out_start_s: Sequence[float],
    *,
    bandwidth_out_s: float,
    bandwidth_in_s: float,
    band_out_start_s: float = 0.0,
    band_in_start_s: float = 0.0,
    speed_out_kmh: float | None = None,
    speed_in_kmh: float | None = None,
    period: str = "",
    program_id: str = "greenwave",
    solver: Mapping[str, Any] | None = None,
) -> TimingPlan:
    """Build a plan from outbound green starts in the common frame (one per intersection)."""
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
        bandwidth_out_s=bandwidth_out_s,
        bandwidth_in_s=bandwidth_in_s,
        band_out_start_s=band_out_start_s,
        band_in_start_s=band_in_start_s,
        signals=tuple(signals),
        period=period,
        program_id=program_id,
        solver=dict(solver or {}),
    )
