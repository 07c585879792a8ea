"""Time-space diagrams of a timing plan: signal greens, the two bands and vehicle paths.

Time runs along x [s] in the plan's common frame (phase 0 of a signal starts at
``offset_s + k·C``), distance along y (m, or km for corridors of 2 km and more), outbound
upwards. Each signal is a horizontal bar at its position: the outbound through green/red just
above the position line, the inbound one just below. The outbound band is a parallelogram
whose leading edge leaves the first signal at ``band_out_start_s + k·C`` and climbs at
``speed_out_kmh``; the inbound band's leading edge leaves the last signal at
``band_in_start_s + k·C`` and descends at ``speed_in_kmh``.

The geometry (:func:`green_intervals`, :func:`band_corners`, :func:`time_window`) is pure and
tested on its own; :func:`time_space_diagram` only draws it. Matplotlib is used through its
object API with the Agg renderer: no display, no pyplot state.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Literal

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon

from greenwave._io import atomic_open
from greenwave.corridor import Phase
from greenwave.errors import InputError
from greenwave.plan import TimingPlan

Direction = Literal["outbound", "inbound"]
Corner = tuple[float, float]  # (time [s], position [m])

GREEN = "#2ca02c"
RED = "#d62728"
YELLOW = "#f2c200"
BAND_COLORS = {"outbound": "#1f77b4", "inbound": "#ff7f0e"}


# --------------------------------------------------------------------------------------------
# geometry


def green_intervals(
    start_s: float, green_s: float, cycle_s: float, t_from: float, t_to: float
) -> list[tuple[float, float]]:
    """Green windows ``(start, duration)`` [s] of a signal within ``[t_from, t_to]``.

    The green starts at ``start_s + k·C`` and lasts *green_s*; windows are clipped to the range.

    >>> green_intervals(80.0, 30.0, 90.0, 0.0, 180.0)
    [(0.0, 20.0), (80.0, 30.0), (170.0, 10.0)]
    """
    if cycle_s <= 0:
        raise InputError(f"must be positive, found {cycle_s:g}", field="cycle_s", value=cycle_s)
    if green_s <= 0:
        return []
    if green_s >= cycle_s:
        return [(t_from, t_to - t_from)]
    out = []
    k = math.floor((t_from - start_s - green_s) / cycle_s)
    while True:
        a = start_s + k * cycle_s
        if a >= t_to:
            break
        lo, hi = max(a, t_from), min(a + green_s, t_to)
        if hi > lo:
            out.append((lo, hi - lo))
        k += 1
    return out


def band_corners(
    plan: TimingPlan, direction: Direction, *, cycle_index: int = 0
) -> tuple[Corner, Corner, Corner, Corner]:
    """Corners ``(time_s, position_m)`` of one band's parallelogram, in drawing order.

    Outbound: leading edge at the first signal at ``t0 = band_out_start_s + cycle_index·C``,
    reaching the last signal at ``t0 + L / v_out`` (L the distance between them, v the band
    speed in m/s); corners ``(t0, x_first), (t0 + b, x_first), (t0 + b + L/v, x_last),
    (t0 + L/v, x_last)``. Inbound likewise from the last signal at ``band_in_start_s`` down
    to the first.

    >>> from greenwave.plan import SignalTiming
    >>> s = [SignalTiming("A", 0, 0, 40, 0, 40, position_m=0.0),
    ...      SignalTiming("B", 0, 0, 40, 0, 40, position_m=500.0)]
    >>> plan = TimingPlan("c", 90.0, 36.0, 36.0, 30.0, 20.0, 5.0, 60.0, tuple(s))
    >>> band_corners(plan, "outbound")
    ((5.0, 0.0), (35.0, 0.0), (85.0, 500.0), (55.0, 500.0))
    """
    x_first, x_last = _span(plan)
    length = x_last - x_first
    if direction == "outbound":
        t0 = plan.band_out_start_s + cycle_index * plan.cycle_s
        width, travel = plan.bandwidth_out_s, length / _mps(plan.speed_out_kmh, "speed_out_kmh")
        x_from, x_to = x_first, x_last
    elif direction == "inbound":
        t0 = plan.band_in_start_s + cycle_index * plan.cycle_s
        width, travel = plan.bandwidth_in_s, length / _mps(plan.speed_in_kmh, "speed_in_kmh")
        x_from, x_to = x_last, x_first
    else:
        raise InputError(
            f"expected 'outbound' or 'inbound', found {direction!r}",
            field="direction",
            value=direction,
        )
    return ((t0, x_from), (t0 + width, x_from), (t0 + width + travel, x_to), (t0 + travel, x_to))


def band_polygon(
    plan: TimingPlan, direction: Direction, *, cycle_index: int = 0
) -> list[Corner]:
    """The band's outline ``(time_s, position_m)``: leading edge signal by signal, then the
    trailing edge back. With per-link progression speeds the band bends at every signal; with
    one speed it is :func:`band_corners`' parallelogram (with the signals as extra points).
    """
    corners = band_corners(plan, direction, cycle_index=cycle_index)
    t0, width = corners[0][0], corners[1][0] - corners[0][0]
    problem = plan.band_problem()
    pos = [s.position_m for s in plan.signals]
    if direction == "outbound":
        lead = [(t0 + t, x) for t, x in zip(problem.arrival_out_s(), pos, strict=True)]
    else:
        lead = [(t0 + t, x) for t, x in zip(problem.arrival_in_s(), pos, strict=True)][::-1]
    return lead + [(t + width, x) for t, x in reversed(lead)]


def time_window(plan: TimingPlan, cycles: int, *, start_s: float = 0.0) -> tuple[float, float]:
    """The time range [s] of a diagram: *cycles* cycles, more when a band needs longer.

    The range starts at *start_s* and spans at least one whole band from end to end plus a
    cycle, so that long corridors (travel time over several cycles) still show complete bands.
    """
    if cycles < 1:
        raise InputError(f"must be at least 1, found {cycles}", field="cycles", value=cycles)
    x_first, x_last = _span(plan)
    slowest = min(
        _mps(plan.speed_out_kmh, "speed_out_kmh"), _mps(plan.speed_in_kmh, "speed_in_kmh")
    )
    needed = math.ceil((x_last - x_first) / slowest / plan.cycle_s) + 1
    return start_s, start_s + max(cycles, needed) * plan.cycle_s


def _span(plan: TimingPlan) -> tuple[float, float]:
    if len(plan.signals) < 2:
        raise InputError("a time-space diagram needs at least 2 signals", field="signals")
    pos = [s.position_m for s in plan.signals]
    for a, b in pairwise(plan.signals):
        if b.position_m <= a.position_m:
            raise InputError(
                f"signal {b.id} at {b.position_m:g} m is not after {a.id} at "
                f"{a.position_m:g} m (positions must increase outbound)",
                field="position_m",
                value=b.position_m,
            )
    return pos[0], pos[-1]


def _mps(speed_kmh: float, name: str) -> float:
    if not (math.isfinite(speed_kmh) and speed_kmh > 0):
        raise InputError(
            f"must be a positive speed, found {speed_kmh!r}", field=name, value=speed_kmh
        )
    return speed_kmh / 3.6


# --------------------------------------------------------------------------------------------
# drawing


def time_space_diagram(
    plan: TimingPlan,
    out_file: str | os.PathLike[str],
    *,
    cycles: int = 3,
    title: str | None = None,
    outbound_name: str = "outbound",
    inbound_name: str = "inbound",
    trajectories: pd.DataFrame | None = None,
    labels: Mapping[str, str] | None = None,
    size_in: tuple[float, float] | None = None,
    dpi: int = 100,
    start_s: float = 0.0,
) -> Path:
    """Draw the plan's time-space diagram and save it (atomically); return the path.

    The format follows the file's suffix (``.png``, ``.svg``, ``.pdf``). The time axis covers
    :func:`time_window` from *start_s* (*cycles* cycles, more when a band needs longer).
    *trajectories* (optional) has columns ``time_s``, ``pos_m`` and ``vehicle`` (or ``id``);
    each vehicle is drawn as a thin grey line. *labels* maps signal ids to the text shown on
    the right axis (e.g. with the cross street). The image is ``size_in`` × ``dpi`` pixels
    (default 12 in wide, taller for many signals). The yellow after each through green is
    drawn in yellow when the plan carries its phases.
    """
    if size_in is None:
        size_in = (12.0, max(7.0, 0.42 * len(plan.signals)))
    window = time_window(plan, cycles, start_s=start_s)
    x_first, x_last = _span(plan)
    span_m = x_last - x_first
    scale, unit = (1000.0, "km") if span_m >= 2000.0 else (1.0, "m")
    gaps = [b.position_m - a.position_m for a, b in pairwise(plan.signals)]
    bar = min(0.3 * min(gaps), 0.02 * span_m) / scale  # height of one direction's bar

    fig = Figure(figsize=size_in, dpi=dpi)
    fig.subplots_adjust(left=0.08, right=0.86, top=1 - 0.55 / size_in[1],
                        bottom=1.25 / size_in[1])
    ax = fig.add_subplot()
    for direction in ("outbound", "inbound"):
        _draw_band(ax, plan, direction, window, scale)
    _draw_signals(ax, plan, window, scale, bar)
    if trajectories is not None:
        _draw_trajectories(ax, trajectories, scale)

    pad = max(2.0 * bar, 0.03 * span_m / scale)
    ax.set_xlim(*window)
    ax.set_ylim(x_first / scale - pad, x_last / scale + pad)
    ax.set_xlabel("time [s] (common frame: phase 0 starts at offset + k·C)")
    ax.set_ylabel(f"distance [{unit}] ({outbound_name} ↑)")
    first_k = math.ceil(window[0] / plan.cycle_s)
    ax.set_xticks([k * plan.cycle_s for k in range(first_k, int(window[1] // plan.cycle_s) + 1)],
                  minor=True)
    ax.grid(axis="x", which="minor", linewidth=0.3, alpha=0.5)
    ids = ax.twinx()
    ids.set_ylim(ax.get_ylim())
    ids.set_yticks(
        [s.position_m / scale for s in plan.signals],
        labels=[(labels or {}).get(s.id, s.id) for s in plan.signals],
        fontsize=7 if len(plan.signals) > 12 else 9,
    )
    handles = _legend_handles(plan, outbound_name, inbound_name, trajectories is not None)
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    period = f", {plan.period}" if plan.period else ""
    ax.set_title(title if title is not None else f"{plan.corridor}{period}: time-space diagram")
    return _save(fig, out_file, dpi)


def _save(fig: Figure, out_file: str | os.PathLike[str], dpi: int) -> Path:
    """Save *fig* atomically in the format of the file's suffix (default PNG)."""
    fmt = Path(out_file).suffix.lstrip(".").lower() or "png"
    with atomic_open(out_file, "wb") as fh:
        fig.savefig(fh, format=fmt, dpi=dpi)
    return Path(out_file)


def _draw_band(
    ax: Axes, plan: TimingPlan, direction: Direction, window: tuple[float, float], scale: float
) -> None:
    first = band_corners(plan, direction)
    if first[1][0] - first[0][0] <= 0:  # no band
        return
    earliest, latest = first[0][0], first[2][0]  # leading edge leaves, trailing edge arrives
    k_from = math.floor((window[0] - latest) / plan.cycle_s)
    k_to = math.ceil((window[1] - earliest) / plan.cycle_s)
    for k in range(k_from, k_to + 1):
        corners = band_polygon(plan, direction, cycle_index=k)
        ax.add_patch(
            Polygon(
                [(t, x / scale) for t, x in corners],
                closed=True,
                facecolor=BAND_COLORS[direction],
                edgecolor=BAND_COLORS[direction],
                alpha=0.25,
                linewidth=0.8,
                zorder=1,
            )
        )


def _draw_signals(
    ax: Axes, plan: TimingPlan, window: tuple[float, float], scale: float, bar: float
) -> None:
    """Outbound green/red just above each signal's line, inbound just below."""
    t0, t1 = window
    for s in plan.signals:
        y = s.position_m / scale
        for start, green, lower, movement in (
            (s.green_out_start_s, s.green_out_s, y, "out_T"),
            (s.green_in_start_s, s.green_in_s, y - bar, "in_T"),
        ):
            ax.broken_barh([(t0, t1 - t0)], (lower, bar), facecolors=RED, zorder=2)
            yellow = _yellow_after(s.phases, movement) if green < plan.cycle_s else 0.0
            if yellow > 0:
                ambers = green_intervals(start + green, yellow, plan.cycle_s, t0, t1)
                ax.broken_barh(ambers, (lower, bar), facecolors=YELLOW, zorder=3)
            greens = green_intervals(start, green, plan.cycle_s, t0, t1)
            ax.broken_barh(greens, (lower, bar), facecolors=GREEN, zorder=3)
        ax.axhline(y, color="black", linewidth=0.4, zorder=4)


def _yellow_after(phases: Sequence[Phase], movement: str) -> float:
    """Yellow [s] shown when *movement*'s green ends: that of the last phase serving it."""
    n = len(phases)
    for k, p in enumerate(phases):
        if p.serves(movement) and not phases[(k + 1) % n].serves(movement):
            return p.yellow_s
    return 0.0


def _legend_handles(
    plan: TimingPlan, outbound_name: str, inbound_name: str, with_trajectories: bool
) -> list[Patch | Line2D]:
    bands = (
        (outbound_name, "outbound", plan.bandwidth_out_s, plan.speed_out_kmh),
        (inbound_name, "inbound", plan.bandwidth_in_s, plan.speed_in_kmh),
    )
    at = "at mean" if plan.link_speeds_out_kmh else "at"
    handles: list[Patch | Line2D] = [
        Patch(color=BAND_COLORS[d], alpha=0.4,
              label=f"{name} band {b:.1f} s {at} {round(v, 1):g} km/h")
        for name, d, b, v in bands
    ]
    handles += [
        Patch(
            color=GREEN, label=f"through green (upper bar {outbound_name}, lower {inbound_name})"
        ),
        Patch(color=YELLOW, label="yellow"),
        Patch(color=RED, label="red (no through green)"),
        Line2D(
            [],
            [],
            linestyle="none",
            label=f"efficiency (b + b̄)/2C = {plan.efficiency:.1%}, C = {plan.cycle_s:g} s",
        ),
    ]
    if with_trajectories:
        handles.append(Line2D([], [], color="0.3", linewidth=0.6, label="vehicle trajectories"))
    return handles


def _draw_trajectories(ax: Axes, trajectories: pd.DataFrame, scale: float) -> None:
    cols = set(trajectories.columns)
    vehicle = "vehicle" if "vehicle" in cols else "id"
    missing = [c for c in ("time_s", "pos_m") if c not in cols]
    if missing or vehicle not in cols:
        raise InputError(
            f"trajectories need columns time_s, pos_m and vehicle (or id); found "
            f"{sorted(map(str, cols))}",
            field="trajectories",
        )
    for _, path in trajectories.sort_values([vehicle, "time_s"]).groupby(vehicle, sort=False):
        if path.empty:
            continue
        ax.plot(
            path["time_s"], path["pos_m"] / scale, color="0.3", linewidth=0.5, alpha=0.7, zorder=5
        )


# --------------------------------------------------------------------------------------------
# comparison of methods

_CHART_MEASURES = {
    "travel_time_s": "travel time [s]",
    "delay_s": "delay [s]",
    "stops_per_trip": "stops per trip",
    "pass_without_stop_rate": "pass without stop [%]",
}


def method_comparison_chart(
    pooled: pd.DataFrame,
    out_file: str | os.PathLike[str],
    *,
    title: str = "",
    direction_names: Mapping[str, str] | None = None,
    dpi: int = 100,
) -> Path:
    """Bar charts of each measure per direction and method (one panel per measure).

    *pooled* has one row per method and direction (e.g.
    :func:`greenwave.metrics.pool_seeds`); bars keep the order of the methods in the table.
    Saved as a PNG atomically; returns the path.
    """
    missing = [c for c in ("method", "direction", *_CHART_MEASURES) if c not in pooled.columns]
    if missing:
        raise InputError(f"the table needs columns {missing}", field="pooled")
    methods = list(dict.fromkeys(pooled["method"]))
    directions = list(dict.fromkeys(pooled["direction"]))
    names = dict(direction_names or {})
    fig = Figure(figsize=(12.0, 3.6), dpi=dpi)
    fig.subplots_adjust(left=0.05, right=0.99, top=0.82, bottom=0.2, wspace=0.3)
    width = 0.8 / max(1, len(methods))
    colors = ["#7f7f7f", "#9467bd", "#8c564b", "#2ca02c", "#1f77b4", "#ff7f0e"]
    for j, (measure, label) in enumerate(_CHART_MEASURES.items()):
        ax = fig.add_subplot(1, len(_CHART_MEASURES), j + 1)
        scale = 100.0 if measure == "pass_without_stop_rate" else 1.0
        for k, method in enumerate(methods):
            rows = pooled[pooled["method"] == method].set_index("direction")
            values = [scale * float(rows[measure].get(d, math.nan)) for d in directions]
            xs = [x + (k - (len(methods) - 1) / 2) * width for x in range(len(directions))]
            ax.bar(xs, values, width=width, color=colors[k % len(colors)], label=method)
        ax.set_xticks(range(len(directions)), labels=[names.get(d, d) for d in directions])
        ax.set_title(label, fontsize=10)
        ax.grid(axis="y", linewidth=0.3, alpha=0.6)
    handles = [Patch(color=colors[k % len(colors)], label=m) for k, m in enumerate(methods)]
    fig.legend(handles=handles, loc="lower center", ncol=len(methods), fontsize=9,
               frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, out_file, dpi)


# --------------------------------------------------------------------------------------------
# Purdue coordination diagrams


def purdue_diagram(
    points: pd.DataFrame,
    out_file: str | os.PathLike[str],
    *,
    cycle_s: float,
    title: str = "",
    labels: Mapping[str, str] | None = None,
    dpi: int = 100,
) -> Path:
    """Purdue coordination diagrams of one direction: a panel per signal, in driving order.

    Each arrival is a dot at (start of its cycle, time in cycle) in the signal's own frame
    (``(t − offset) mod C``); the through green is the shaded band, so a good progression puts
    the dots inside it. *points* are :func:`greenwave.measure.purdue_points` rows (one
    direction). Saved atomically in the format of the suffix; returns the path.
    """
    missing = [c for c in ("signal", "k", "cycle_start_s", "time_in_cycle_s",
                           "green_start_in_cycle_s", "green_end_in_cycle_s", "on_green")
               if c not in points.columns]
    if missing:
        raise InputError(f"the table needs columns {missing}", field="points")
    signals = list(dict.fromkeys(points.sort_values("k", kind="stable")["signal"]))
    n = max(1, len(signals))
    cols = min(6, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(2.3 * cols + 0.6, 2.0 * rows + 0.8), dpi=dpi)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.08, top=1 - 0.55 / (2.0 * rows + 0.8),
                        hspace=0.55, wspace=0.3)
    for j, sid in enumerate(signals):
        ax = fig.add_subplot(rows, cols, j + 1)
        sel = points[points["signal"] == sid]
        g0 = float(sel["green_start_in_cycle_s"].iloc[0])
        g1 = float(sel["green_end_in_cycle_s"].iloc[0])
        for lo, hi in ((g0, min(g1, cycle_s)), (0.0, g1 - cycle_s)):
            if hi > lo:
                ax.axhspan(lo, hi, color=GREEN, alpha=0.25, linewidth=0)
        ax.scatter(sel["cycle_start_s"], sel["time_in_cycle_s"], s=4, color="black",
                   linewidths=0)
        share = float(sel["on_green"].mean()) if len(sel) else math.nan
        name = (labels or {}).get(sid, sid)
        ax.set_title(f"{name}  AOG {share:.0%}", fontsize=8)
        ax.set_ylim(0, cycle_s)
        ax.tick_params(labelsize=6)
    fig.supxlabel("cycle start [s]", fontsize=8)
    fig.supylabel("arrival, time in cycle [s]", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, out_file, dpi)
