"""Corridor performance metrics from trip tables (pure pandas; no SUMO here).

A *through trip* of a direction enters the corridor on that direction's first edge and leaves
it on its last edge. Per direction and period the metrics follow the brief (GA/T 527.2 and
common practice):

* ``travel_time_s`` — mean trip duration [s];
* ``delay_s`` — mean control delay, SUMO's ``timeLoss`` [s] (time lost against driving at the
  desired speed; departure delay not included);
* ``stops_per_trip`` — mean number of halts, SUMO's ``waitingCount`` (a halt is counted each
  time the speed falls below 0.1 m/s);
* ``pass_without_stop_rate`` — share of trips with no halt, in [0, 1].

Trip tables are SUMO tripinfo records as read by :func:`greenwave.sumo.simulate.read_tripinfo`
(columns ``duration``, ``timeLoss``, ``waitingCount`` and either ``first_edge``/``last_edge`` or
``departLane``/``arrivalLane``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from greenwave._io import atomic_open
from greenwave.errors import InputError

METRIC_COLUMNS: tuple[str, ...] = (
    "method", "period", "direction", "trips", "travel_time_s", "delay_s", "stops_per_trip",
    "pass_without_stop_rate",
)  # fmt: skip
"""Columns of :func:`through_trip_metrics` tables, in order."""

MEASURES: tuple[str, ...] = ("travel_time_s", "delay_s", "stops_per_trip", "pass_without_stop_rate")
"""The per-direction measures compared by :func:`compare`."""

EXTRA_MEASURES: tuple[str, ...] = ("corridor_time_s",)
"""Optional measures that :func:`pool_seeds` pools too when a table has them."""

COMPARE_COLUMNS: tuple[str, ...] = (
    "method", "period", "direction", "metric", "baseline", "value", "difference", "change_pct",
)  # fmt: skip
"""Columns of :func:`compare` tables, in order."""

_LANE_INDEX = r"_\d+$"


class RunTotals(Protocol):
    """What :func:`network_totals` needs from a run (a ``SimulationResult`` has it)."""

    @property
    def total_delay_s(self) -> float: ...
    @property
    def teleports(self) -> int: ...
    @property
    def vehicles_inserted(self) -> int: ...
    @property
    def vehicles_arrived(self) -> int: ...
    @property
    def vehicles_running(self) -> int: ...
    @property
    def vehicles_waiting(self) -> int: ...
    @property
    def begin_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...


# --------------------------------------------------------------------------------------------
# per direction


def through_trip_metrics(
    trips: pd.DataFrame,
    *,
    method: str,
    period: str,
    through: Mapping[str, tuple[str, str]],
) -> pd.DataFrame:
    """Metrics of end-to-end trips, one row per direction of *through* (in its order).

    *through* maps a direction name to the ``(first_edge, last_edge)`` of its through trips.
    Trips that match no direction (turning, cross-street, unfinished) are left out. A direction
    without trips gets ``trips`` 0 and NaN measures, so its absence stays visible.

    >>> trips = pd.DataFrame({"duration": [60.0, 80.0], "timeLoss": [5.0, 25.0],
    ...     "waitingCount": [0, 2], "first_edge": ["W", "W"], "last_edge": ["E", "E"]})
    >>> m = through_trip_metrics(trips, method="plan", period="offpeak",
    ...                          through={"eastbound": ("W", "E")})
    >>> m.loc[0, ["travel_time_s", "delay_s", "stops_per_trip", "pass_without_stop_rate"]].tolist()
    [70.0, 15.0, 1.0, 0.5]
    """
    first, last = _trip_edges(trips)
    finished = _finished(trips)
    rows = []
    for direction, (from_edge, to_edge) in through.items():
        chosen = trips[finished & (first == from_edge) & (last == to_edge)]
        rows.append(_trip_row(chosen, method, period, direction))
    table = pd.DataFrame(rows, columns=list(METRIC_COLUMNS))
    return table.astype({"trips": "int64"})


def selected_trip_metrics(
    trips: pd.DataFrame,
    selected: Mapping[str, Mapping[str, float]],
    *,
    method: str,
    period: str,
) -> pd.DataFrame:
    """Metrics of chosen trips, one row per direction of *selected* (in its order).

    *selected* maps a direction to ``{vehicle id: seconds on the corridor}`` (NaN when
    unknown); unfinished trips and ids not in *trips* are left out. Measures are the trip's
    own, as in :func:`through_trip_metrics` (SUMO's tripinfo), and ``corridor_time_s`` is the
    mean time on the corridor.

    >>> trips = pd.DataFrame({"id": ["v1", "v2", "v3"], "duration": [90.0, 70.0, 30.0],
    ...     "timeLoss": [20.0, 10.0, 3.0], "waitingCount": [1, 0, 0]})
    >>> m = selected_trip_metrics(trips, {"outbound": {"v1": 50.0, "v2": 40.0}},
    ...                           method="m", period="p")
    >>> m.loc[0, ["trips", "travel_time_s", "stops_per_trip", "corridor_time_s"]].tolist()
    [2, 80.0, 0.5, 45.0]
    """
    missing = [c for c in ("id", "duration", "timeLoss", "waitingCount")
               if c not in trips.columns]
    if missing:
        raise InputError(f"trip table needs columns {missing}; found "
                         f"{sorted(map(str, trips.columns))}", field="trips")
    finished = trips[_finished(trips)]
    ids = finished["id"].astype(str)
    rows = []
    for direction, chosen_ids in selected.items():
        chosen = finished[ids.isin(set(chosen_ids))]
        section = [float(chosen_ids[v]) for v in chosen["id"].astype(str)]
        section = [t for t in section if math.isfinite(t)]
        rows.append({
            **_trip_row(chosen, method, period, direction),
            "corridor_time_s": sum(section) / len(section) if section else math.nan,
        })
    columns = [*METRIC_COLUMNS, "corridor_time_s"]
    return pd.DataFrame(rows, columns=columns).astype({"trips": "int64"})


def _trip_row(chosen: pd.DataFrame, method: str, period: str,
              direction: str) -> dict[str, Any]:
    """One metrics.csv row of the *chosen* trips (SUMO tripinfo columns)."""
    n = len(chosen)
    halts = chosen["waitingCount"]
    return {
        "method": method,
        "period": period,
        "direction": direction,
        "trips": n,
        "travel_time_s": float(chosen["duration"].mean()) if n else math.nan,
        "delay_s": float(chosen["timeLoss"].mean()) if n else math.nan,
        "stops_per_trip": float(halts.mean()) if n else math.nan,
        "pass_without_stop_rate": float((halts == 0).mean()) if n else math.nan,
    }


def _trip_edges(trips: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    cols = set(trips.columns)
    missing = [c for c in ("duration", "timeLoss", "waitingCount") if c not in cols]
    if {"first_edge", "last_edge"} <= cols:
        first, last = trips["first_edge"], trips["last_edge"]
    elif {"departLane", "arrivalLane"} <= cols:
        first = _edge_of(trips["departLane"])
        last = _edge_of(trips["arrivalLane"])
    else:
        missing.append("first_edge/last_edge (or departLane/arrivalLane)")
    if missing:
        raise InputError(
            f"trip table needs columns {missing}; found {sorted(map(str, trips.columns))}",
            field="trips",
        )
    return first.fillna("").astype(str), last.fillna("").astype(str)


def _edge_of(lanes: pd.Series) -> pd.Series:
    return lanes.fillna("").astype(str).str.replace(_LANE_INDEX, "", regex=True)


def _finished(trips: pd.DataFrame) -> pd.Series:
    if "finished" in trips.columns:
        return trips["finished"].astype(bool)
    if "arrival" in trips.columns:
        return trips["arrival"].notna() & (trips["arrival"] >= 0)
    return pd.Series(True, index=trips.index)


# --------------------------------------------------------------------------------------------
# network


def network_totals(result: RunTotals) -> dict[str, float]:
    """Network-wide totals of one run.

    ``total_delay_s`` (sum of time loss + departure delay of finished trips [s]) and the same in
    vehicle-hours, ``throughput_veh`` (arrived vehicles) and ``throughput_vph`` over the run,
    ``teleports`` (must be 0), inserted vehicles and those still running or waiting at the end.
    """
    hours = (result.end_s - result.begin_s) / 3600.0
    arrived = result.vehicles_arrived
    return {
        "total_delay_s": float(result.total_delay_s),
        "total_delay_veh_h": float(result.total_delay_s) / 3600.0,
        "mean_delay_s": float(result.total_delay_s) / arrived if arrived else math.nan,
        "throughput_veh": arrived,
        "throughput_vph": arrived / hours if hours > 0 else math.nan,
        "teleports": result.teleports,
        "vehicles_inserted": result.vehicles_inserted,
        "vehicles_running": result.vehicles_running,
        "vehicles_waiting": result.vehicles_waiting,
    }


# --------------------------------------------------------------------------------------------
# comparison


def pool_seeds(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per method, period and direction: the measures over all seeds' trips.

    Means are weighted by each seed's trip count (the mean over all trips pooled); ``trips``
    is the total and ``seeds`` the number of runs pooled. Columns of :data:`EXTRA_MEASURES`
    are pooled the same way when present.
    """
    keys = ["method", "period", "direction"]
    extra = [c for c in EXTRA_MEASURES if c in metrics.columns]
    rows = []
    for key, group in metrics.groupby(keys, sort=False):
        trips = group["trips"].astype("float64")
        row = dict(zip(keys, key, strict=True))
        row["trips"] = int(trips.sum())
        for m in (*MEASURES, *extra):
            values = group[m].astype("float64")
            ok = values.notna() & (trips > 0)
            total = trips[ok].sum()
            row[m] = float((values[ok] * trips[ok]).sum() / total) if total > 0 else math.nan
        row["seeds"] = len(group)
        rows.append(row)
    return pd.DataFrame(rows, columns=[*METRIC_COLUMNS, *extra, "seeds"])


def compare(metrics: pd.DataFrame, *, baseline: str = "baseline") -> pd.DataFrame:
    """Each method's change against the *baseline* method, per period, direction and measure.

    Tidy rows with columns :data:`COMPARE_COLUMNS`: ``difference = value - baseline`` and
    ``change_pct = 100 · difference / baseline`` (NaN when the baseline is 0 or missing). A
    travel time going from 80 s to 60 s is ``change_pct`` −25.0.

    Raises :class:`InputError` when the table lacks the baseline method.
    """
    missing = [c for c in ("method", "period", "direction", *MEASURES) if c not in metrics.columns]
    if missing:
        raise InputError(f"metrics table needs columns {missing}", field="metrics")
    methods = list(dict.fromkeys(metrics["method"]))
    if baseline not in methods:
        raise InputError(
            f"no rows for the baseline method {baseline!r}; methods found: {methods}",
            field="method",
            value=baseline,
        )
    keys = ["period", "direction"]
    long = metrics.melt(
        id_vars=["method", *keys], value_vars=list(MEASURES), var_name="metric", value_name="value"
    )
    base = long[long["method"] == baseline].drop(columns="method")
    base = base.drop_duplicates([*keys, "metric"]).rename(columns={"value": "baseline"})
    out = long[long["method"] != baseline].merge(base, on=[*keys, "metric"], how="left")
    out["value"] = out["value"].astype("float64")
    out["baseline"] = out["baseline"].astype("float64")
    out["difference"] = out["value"] - out["baseline"]
    ratio = out["difference"] / out["baseline"].where(out["baseline"] != 0)
    out["change_pct"] = 100.0 * ratio
    order = {
        "method": {m: k for k, m in enumerate(methods)},
        "period": {p: k for k, p in enumerate(dict.fromkeys(metrics["period"]))},
        "direction": {d: k for k, d in enumerate(dict.fromkeys(metrics["direction"]))},
        "metric": {m: k for k, m in enumerate(MEASURES)},
    }
    out = out.sort_values(
        ["method", "period", "direction", "metric"],
        key=lambda col: col.map(order[col.name]),
        kind="stable",
    )
    return out[list(COMPARE_COLUMNS)].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# output


def _number(v: Any, *, sign: bool = False) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:+d}" if sign else f"{v:d}"
    x = float(v)
    if math.isnan(x):
        return "-"
    body = f"{x:+.1f}" if sign else f"{x:.1f}"
    if abs(x) < 1000:
        body = f"{x:+.4g}" if sign else f"{x:.4g}"
    return body


def _fixed(pattern: str) -> Callable[[Any], str]:
    def fmt(v: Any) -> str:
        return "-" if isinstance(v, float) and math.isnan(v) else pattern.format(v)

    return fmt


_FORMATS: dict[str, Callable[[Any], str]] = {
    "travel_time_s": _fixed("{:.1f}"),
    "delay_s": _fixed("{:.1f}"),
    "stops_per_trip": _fixed("{:.2f}"),
    "pass_without_stop_rate": _fixed("{:.1%}"),
    "difference": lambda v: _number(v, sign=True),
    "change_pct": _fixed("{:+.1f} %"),
}


def format_table(table: pd.DataFrame, *, columns: Sequence[str] | None = None) -> str:
    """A fixed-width text table for the terminal (metrics, comparison or any other table).

    Text columns are left-aligned, numbers right-aligned with a precision suited to the
    measure (rates as percentages); NaN is shown as ``-``.
    """
    cols = list(columns) if columns is not None else [str(c) for c in table.columns]
    rendered: list[list[str]] = []
    numeric: list[bool] = []
    for c in cols:
        is_number = bool(pd.api.types.is_numeric_dtype(table[c]))
        fmt: Callable[[Any], str] = _FORMATS.get(c, _number if is_number else str)
        rendered.append([c, *(fmt(v) for v in table[c].tolist())])
        numeric.append(is_number and not pd.api.types.is_bool_dtype(table[c]))
    widths = [max(map(len, col)) for col in rendered]
    lines = []
    for r in range(len(table) + 1):
        parts = [
            col[r].rjust(w) if num else col[r].ljust(w)
            for col, w, num in zip(rendered, widths, numeric, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def write_metrics_csv(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write *table* as CSV (no index) atomically; return the path."""
    with atomic_open(path, "w") as fh:
        table.to_csv(fh, index=False, lineterminator="\n")
    return Path(path)


_MEASURE_LABELS = {
    "travel_time_s": "travel time [s]",
    "delay_s": "delay [s]",
    "stops_per_trip": "stops per trip",
    "pass_without_stop_rate": "pass without stop",
}


def format_comparison(
    metrics: pd.DataFrame,
    *,
    baseline: str = "baseline",
    direction_names: Mapping[str, str] | None = None,
) -> str:
    """A readable before/after table: each measure of each method against the baseline.

    Seeds are pooled first (:func:`pool_seeds`); rates are shown in percent, changes as
    relative change of the measure (for the rate: the difference in percentage points).
    """
    pooled = pool_seeds(metrics)
    changes = compare(pooled, baseline=baseline)
    names = dict(direction_names or {})
    trips = pooled.set_index(["method", "period", "direction"])["trips"]
    pw = max(9, 1 + max((len(str(p)) for p in pooled["period"]), default=0))
    lines = [
        f"{'method':<15}{'period':<{pw}}{'direction (trips)':<30}{'measure':<19}"
        f"{'baseline':>10}{'value':>10}{'change':>9}"
    ]
    for row in changes.itertuples(index=False):
        label = names.get(str(row.direction), str(row.direction))
        base_trips = trips.get((baseline, row.period, row.direction), 0)
        trip_text = f"{label} ({trips.get((row.method, row.period, row.direction), 0)}"
        trip_text += f" vs {base_trips})"
        rate = row.metric == "pass_without_stop_rate"
        if rate:
            before, after = f"{100 * row.baseline:.1f}%", f"{100 * row.value:.1f}%"
            change = f"{100 * row.difference:+.1f} pt"
        else:
            before, after = f"{row.baseline:.1f}", f"{row.value:.1f}"
            change = "-" if math.isnan(row.change_pct) else f"{row.change_pct:+.1f}%"
        lines.append(
            f"{row.method:<15}{row.period:<{pw}}{trip_text:<30}{_MEASURE_LABELS[row.metric]:<19}"
            f"{before:>10}{after:>10}{change:>9}"
        )
    return "\n".join(lines)
