"""The green wave as vehicles drove it: arrivals on green, Purdue diagram data, the achieved
band and HCM control delay, from vehicle trajectories (pure pandas/numpy; no SUMO here).

Input: a *vehicle log*, one row per vehicle and sample, with columns ``vehicle``,
``direction`` (``"outbound"``/``"inbound"``), ``time_s``, ``dist_m`` (distance driven along
that direction's corridor path [m], increasing in the driving direction) and ``speed_mps``.
:func:`greenwave.sumo.fcd.read_fcd` reads it from SUMO's FCD output. A :class:`DirectionPath`
says where each signal's stop line lies on the path and what through green it shows.

Definitions
-----------
* **Stop-line passage** of a vehicle at a signal: the time its distance reaches the stop line,
  linear between the two samples around it.
* **Halt**: a sample with speed below ``HALT_SPEED_MPS`` (0.1 m/s) after the vehicle has moved
  (the brief's and SUMO's definition of a stop). A halt belongs to the signal whose approach
  it is on (after the previous stop line, up to this one).
* **Arrival** at a signal (Purdue coordination diagram, arrivals on green): the time the
  vehicle would have reached the stop line without being held, ``t(x_stop − A) + A / v_band``
  with A = ``advance_m`` (the ATSPM advance-detector practice; A at most half the link, so a
  queue at the previous signal is not counted). Its *time in cycle* is ``(t − offset) mod C``
  (SUMO's frame: phase 0 of the signal starts at ``offset + k·C``). An arrival is *on green*
  when it falls inside the direction's through green of that signal.
* **Measured band** of a direction: take every through vehicle (it passed every signal of the
  path) and its passage time at the first stop line in the common cycle frame,
  ``φ = t_first mod C`` (the frame of the plan's ``band_*_start_s``). It is *in progression*
  when it has no halt between the first and the last stop line. Sort the vehicles by φ on the
  cycle circle; the measured band is the widest arc from one in-progression vehicle to another
  that contains no vehicle that halted: its width is the difference of their φ [s], its start
  the first one's φ. Like the planned band it is a window of departure times at the first
  signal; unlike it, it is what the simulated vehicles achieved (their real speeds, starts
  from a queue at the first signal, passage on yellow). Its resolution is the spacing of the
  vehicles' φ: with too few vehicles it underestimates the band.
* **Control delay** (HCM) at a signal, per vehicle and direction: time spent in the signal's
  zone minus the time to cross it at the vehicle's desired speed (the highest speed it was
  seen at). The zone runs from half-way to the previous stop line to half-way to the next
  (``end_zone_m`` beyond the end signals), so deceleration, stopped and acceleration delay
  are all counted and every second lost on the main road belongs to exactly one signal.
  Level of service by the HCM signalized-intersection thresholds (:func:`hcm_los`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from greenwave.errors import InputError

HALT_SPEED_MPS = 0.1
LOG_COLUMNS: tuple[str, ...] = ("vehicle", "direction", "time_s", "dist_m", "speed_mps")
LOS_THRESHOLDS_S: tuple[tuple[str, float], ...] = (
    ("A", 10.0), ("B", 20.0), ("C", 35.0), ("D", 55.0), ("E", 80.0),
)  # fmt: skip
"""HCM (6th ed., exhibit 19-8) signalized intersections: upper control delay [s/veh] per LOS;
above 80 s it is F."""


@dataclass(frozen=True)
class StopLine:
    """One signal as a direction's vehicles meet it."""

    id: str
    dist_m: float  # stop line, distance along the direction's path [m]
    position_m: float  # the signal's position along the corridor (the plan's) [m]
    green_start_s: float  # the direction's through green start, common frame [s]
    green_s: float  # through green [s]
    offset_s: float  # the signal's offset: phase 0 starts at offset + k·C [s]


@dataclass(frozen=True)
class DirectionPath:
    """A direction's signals in driving order on its path, the cycle and the band speed."""

    direction: str
    stop_lines: tuple[StopLine, ...]
    cycle_s: float
    speed_mps: float

    def __post_init__(self) -> None:
        dists = [s.dist_m for s in self.stop_lines]
        if len(dists) < 2 or any(b <= a for a, b in pairwise(dists)):
            raise InputError(f"{self.direction}: expected at least 2 stop lines at increasing "
                             f"distances, found {dists}", field="stop_lines")
        if not (self.cycle_s > 0 and self.speed_mps > 0):
            raise InputError(f"{self.direction}: cycle and speed must be positive, found "
                             f"{self.cycle_s!r}, {self.speed_mps!r}", field="cycle_s")

    def to_position_m(self, dist_m: np.ndarray | pd.Series) -> np.ndarray:
        """Corridor positions of path distances: piecewise linear through the stop lines
        (each stop line at its signal's position), slope ±1 beyond the end signals."""
        d = np.asarray(dist_m, dtype="float64")
        xp = np.array([s.dist_m for s in self.stop_lines])
        fp = np.array([s.position_m for s in self.stop_lines])
        sign = 1.0 if fp[-1] > fp[0] else -1.0
        out = np.interp(d, xp, fp)
        out = np.where(d < xp[0], fp[0] + sign * (d - xp[0]), out)
        result: np.ndarray = np.where(d > xp[-1], fp[-1] + sign * (d - xp[-1]), out)
        return result


def direction_paths(plan: object, stop_lines_m: Mapping[str, Sequence[float]]) -> dict[
        str, DirectionPath]:
    """The two :class:`DirectionPath` of a :class:`~greenwave.plan.TimingPlan`.

    *stop_lines_m* maps ``"outbound"``/``"inbound"`` to the stop-line distances of the signals
    along that direction's path, in the plan's signal order (outbound first to last).
    """
    from greenwave.plan import TimingPlan

    if not isinstance(plan, TimingPlan):
        raise InputError("expected a TimingPlan", field="plan")
    out: dict[str, DirectionPath] = {}
    for direction, speed in (("outbound", plan.speed_out_kmh), ("inbound", plan.speed_in_kmh)):
        dists = list(stop_lines_m[direction])
        if len(dists) != len(plan.signals):
            raise InputError(f"{direction}: {len(dists)} stop lines for "
                             f"{len(plan.signals)} signals", field="stop_lines_m")
        lines = [
            StopLine(
                s.id, float(d), s.position_m,
                s.green_out_start_s if direction == "outbound" else s.green_in_start_s,
                s.green_out_s if direction == "outbound" else s.green_in_s,
                s.offset_s,
            )
            for s, d in zip(plan.signals, dists, strict=True)
        ]
        if direction == "inbound":
            lines.reverse()
        out[direction] = DirectionPath(direction, tuple(lines), plan.cycle_s, speed / 3.6)
    return out


def _check_log(log: pd.DataFrame) -> None:
    missing = [c for c in LOG_COLUMNS if c not in log.columns]
    if missing:
        raise InputError(f"vehicle log needs columns {missing}; found "
                         f"{sorted(map(str, log.columns))}", field="log")


def _crossing(t: np.ndarray, d: np.ndarray, at: float) -> float:
    """Time the (nondecreasing) distance *d* reaches *at*; NaN when it is not seen doing so."""
    j = int(np.searchsorted(d, at, side="left"))
    if j >= len(d):
        return math.nan
    if j == 0:
        return float(t[0]) if d[0] == at else math.nan
    d0, d1 = d[j - 1], d[j]
    return float(t[j - 1] + (at - d0) / (d1 - d0) * (t[j] - t[j - 1]))


def _vehicles(log: pd.DataFrame, direction: str) -> Iterable[tuple[str, np.ndarray, np.ndarray,
                                                                  np.ndarray]]:
    rows = log[log["direction"] == direction].sort_values(["vehicle", "time_s"], kind="stable")
    for vehicle, g in rows.groupby("vehicle", sort=False):
        d = np.maximum.accumulate(g["dist_m"].to_numpy(dtype="float64"))
        yield (str(vehicle), g["time_s"].to_numpy(dtype="float64"), d,
               g["speed_mps"].to_numpy(dtype="float64"))


def _halt_mask(v: np.ndarray) -> np.ndarray:
    moved = np.maximum.accumulate(v >= HALT_SPEED_MPS)
    return (v < HALT_SPEED_MPS) & moved


def passages(log: pd.DataFrame, path: DirectionPath, *, advance_m: float = 100.0
             ) -> pd.DataFrame:
    """One row per vehicle and signal it passed: ``vehicle, signal, k`` (index along the path),
    ``passage_s`` (stop-line passage), ``arrival_s`` (projected arrival, see the module doc;
    NaN when the vehicle was not seen at the advance point) and ``halted`` (a halt on the
    approach of this signal)."""
    _check_log(log)
    lines = path.stop_lines
    stops = np.array([s.dist_m for s in lines])
    gaps = np.diff(stops)
    advance = [min(advance_m, 0.5 * gaps[k - 1]) if k else advance_m for k in range(len(lines))]
    rows = []
    for vehicle, t, d, v in _vehicles(log, path.direction):
        halt_at = d[_halt_mask(v)]
        for k, line in enumerate(lines):
            passed = _crossing(t, d, line.dist_m)
            if math.isnan(passed):
                continue
            upstream = _crossing(t, d, line.dist_m - advance[k])
            arrival = upstream + advance[k] / path.speed_mps
            lo = stops[k - 1] if k else -math.inf
            halted = bool(((halt_at > lo) & (halt_at <= line.dist_m)).any())
            rows.append((vehicle, line.id, k, passed, arrival, halted))
    return pd.DataFrame(rows, columns=["vehicle", "signal", "k", "passage_s", "arrival_s",
                                       "halted"])


def time_in_cycle(t: np.ndarray | pd.Series | float, offset_s: float, cycle_s: float
                  ) -> np.ndarray:
    """``(t − offset) mod C`` [s]: SUMO's time in cycle of a signal at time t.

    >>> time_in_cycle(250.0, 30.0, 100.0).item()
    20.0
    """
    return np.mod(np.asarray(t, dtype="float64") - offset_s, cycle_s)


def purdue_points(passed: pd.DataFrame, path: DirectionPath) -> pd.DataFrame:
    """Purdue coordination diagram data: one row per arrival.

    Columns ``direction, signal, k, vehicle, arrival_s, cycle_start_s`` (start of the
    signal's cycle the arrival falls in), ``time_in_cycle_s``, ``green_start_in_cycle_s`` and
    ``green_end_in_cycle_s`` (the through green in the same frame; the end may exceed C when
    the green wraps), ``on_green``.
    """
    rows = []
    for k, line in enumerate(path.stop_lines):
        sel = passed[(passed["k"] == k) & passed["arrival_s"].notna()]
        t = sel["arrival_s"].to_numpy(dtype="float64")
        tic = time_in_cycle(t, line.offset_s, path.cycle_s)
        g0 = float(time_in_cycle(line.green_start_s, line.offset_s, path.cycle_s))
        on = np.mod(tic - g0, path.cycle_s) < line.green_s
        rows.append(pd.DataFrame({
            "direction": path.direction, "signal": line.id, "k": k,
            "vehicle": sel["vehicle"].to_numpy(), "arrival_s": t,
            "cycle_start_s": t - tic, "time_in_cycle_s": tic,
            "green_start_in_cycle_s": g0, "green_end_in_cycle_s": g0 + line.green_s,
            "on_green": on,
        }))
    return pd.concat(rows, ignore_index=True)


def arrivals_on_green(points: pd.DataFrame) -> pd.DataFrame:
    """Per direction and signal: ``arrivals``, ``on_green`` and ``aog_share`` (arrivals on
    green / arrivals; NaN without arrivals), in the order of *points*."""
    g = points.groupby(["direction", "k", "signal"], sort=True)["on_green"]
    table = g.agg(arrivals="size", on_green="sum").reset_index()
    table["on_green"] = table["on_green"].astype("int64")
    table["aog_share"] = table["on_green"] / table["arrivals"].where(table["arrivals"] > 0)
    return table


@dataclass(frozen=True)
class MeasuredBand:
    """The band the through vehicles of one direction achieved (see the module doc)."""

    direction: str
    width_s: float
    start_s: float  # φ of its first vehicle at the first stop line, in [0, C) [s]
    through_vehicles: int
    in_progression: int  # through vehicles without a halt between first and last stop line
    in_band: int  # through vehicles inside the widest run
    resolution_s: float  # φ spacing between the band's end vehicles and their halted
    # neighbours: the true edges lie within it [s]


def measured_band(passed: pd.DataFrame, path: DirectionPath) -> MeasuredBand:
    """The widest arc of first-signal passage phases spanned by vehicles in progression with
    no halted through vehicle inside (see the module docstring)."""
    n = len(path.stop_lines)
    cycle = path.cycle_s
    by_vehicle = passed.groupby("vehicle")
    rows = []
    for vehicle, g in by_vehicle:
        if g["k"].nunique() < n:
            continue  # not a through vehicle of this path
        first = float(g.loc[g["k"] == 0, "passage_s"].iloc[0])
        stopped = bool(g.loc[g["k"] > 0, "halted"].any())
        rows.append((str(vehicle), first % cycle, not stopped))
    if not rows:
        return MeasuredBand(path.direction, 0.0, 0.0, 0, 0, 0, math.nan)
    rows.sort(key=lambda r: r[1])
    phase = np.array([r[1] for r in rows])
    good = np.array([r[2] for r in rows])
    m = len(rows)
    spacing = np.diff(np.append(phase, phase[0] + cycle))
    if good.all():  # no halted vehicle: the band is the arc that avoids the largest gap
        j = int(spacing.argmax())
        return MeasuredBand(path.direction, cycle - float(spacing[j]),
                            float(phase[(j + 1) % m]), m, m, m, float(spacing[j]))
    best = (0.0, 0.0, 0, math.nan)
    # walk the circle from just after a halted vehicle, so runs never wrap past the start
    start = (int(np.flatnonzero(~good)[0]) + 1) % m
    run: list[int] = []
    for step in range(m + 1):
        j = (start + step) % m
        if step < m and good[j]:
            run.append(j)
            continue
        if run:
            width = float((phase[run[-1]] - phase[run[0]]) % cycle)
            # the band's edges lie somewhere in the gaps to the halted neighbours
            edge_gap = float(max(spacing[(run[0] - 1) % m], spacing[run[-1]]))
            if width > best[0] or (width == best[0] and len(run) > best[2]):
                best = (width, float(phase[run[0]]), len(run), edge_gap)
        run = []
    return MeasuredBand(path.direction, best[0], best[1], m, int(good.sum()), best[2],
                        best[3])


def control_delay(log: pd.DataFrame, path: DirectionPath, *, end_zone_m: float = 150.0
                  ) -> pd.DataFrame:
    """Per vehicle and signal of the direction: HCM control delay [s] (see the module doc).

    Columns ``direction, signal, k, vehicle, delay_s``. Vehicles not seen crossing both ends
    of a zone are left out of that zone.
    """
    _check_log(log)
    stops = np.array([s.dist_m for s in path.stop_lines])
    mids = (stops[1:] + stops[:-1]) / 2.0
    lo = np.concatenate([[stops[0] - end_zone_m], mids])
    hi = np.concatenate([mids, [stops[-1] + end_zone_m]])
    rows = []
    for vehicle, t, d, v in _vehicles(log, path.direction):
        desired = float(v.max()) if len(v) else 0.0
        if desired <= HALT_SPEED_MPS:
            continue
        for k, line in enumerate(path.stop_lines):
            t0, t1 = _crossing(t, d, float(lo[k])), _crossing(t, d, float(hi[k]))
            if math.isnan(t0) or math.isnan(t1):
                continue
            delay = max(0.0, (t1 - t0) - (hi[k] - lo[k]) / desired)
            rows.append((path.direction, line.id, k, vehicle, delay))
    return pd.DataFrame(rows, columns=["direction", "signal", "k", "vehicle", "delay_s"])


def hcm_los(delay_s: float) -> str:
    """HCM level of service of a signalized intersection from its control delay [s/veh].

    >>> [hcm_los(d) for d in (10.0, 10.1, 35.0, 55.5, 80.0, 80.1)]
    ['A', 'B', 'C', 'E', 'E', 'F']
    """
    if not math.isfinite(delay_s):
        return "-"
    for los, upper in LOS_THRESHOLDS_S:
        if delay_s <= upper:
            return los
    return "F"


def intersection_delay(delays: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """Per intersection (in *order*): ``vehicles``, mean control delay of each main-street
    direction and of both together (weighted by vehicles) [s/veh], and its HCM ``los``."""
    rows = []
    for sid in order:
        sel = delays[delays["signal"] == sid]
        row: dict[str, object] = {"signal": sid, "vehicles": len(sel)}
        for direction in ("outbound", "inbound"):
            part = sel.loc[sel["direction"] == direction, "delay_s"]
            row[f"delay_{direction}_s"] = float(part.mean()) if len(part) else math.nan
        mean = float(sel["delay_s"].mean()) if len(sel) else math.nan
        row["delay_s"] = mean
        row["los"] = hcm_los(mean)
        rows.append(row)
    return pd.DataFrame(rows, columns=["signal", "vehicles", "delay_outbound_s",
                                       "delay_inbound_s", "delay_s", "los"])
