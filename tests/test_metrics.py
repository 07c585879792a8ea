"""Metrics on hand-built trip tables with answers worked out by hand."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from greenwave.errors import InputError
from greenwave.metrics import (
    COMPARE_COLUMNS,
    METRIC_COLUMNS,
    compare,
    format_table,
    network_totals,
    through_trip_metrics,
    write_metrics_csv,
)

THROUGH = {"eastbound": ("W_J1", "J2_E"), "westbound": ("E_J2", "J1_W")}


def _trips(rows: list[tuple[str, str, float, float, int]]) -> pd.DataFrame:
    """Rows of (departLane, arrivalLane, duration, timeLoss, waitingCount)."""
    return pd.DataFrame(
        rows, columns=["departLane", "arrivalLane", "duration", "timeLoss", "waitingCount"]
    )


def test_four_trips_known_answers() -> None:
    trips = _trips(
        [
            ("W_J1_0", "J2_E_0", 60.0, 5.0, 0),
            ("W_J1_1", "J2_E_2", 70.0, 10.0, 0),  # other lanes, same edges
            ("W_J1_0", "J2_E_1", 90.0, 30.0, 1),
            ("W_J1_2", "J2_E_0", 100.0, 55.0, 3),
        ]
    )
    m = through_trip_metrics(trips, method="plan", period="offpeak", through=THROUGH)
    assert list(m.columns) == list(METRIC_COLUMNS)
    east = m.set_index("direction").loc["eastbound"]
    assert east["trips"] == 4
    assert east["travel_time_s"] == pytest.approx((60 + 70 + 90 + 100) / 4)  # 80
    assert east["delay_s"] == pytest.approx((5 + 10 + 30 + 55) / 4)  # 25
    assert east["stops_per_trip"] == pytest.approx(1.0)  # (0 + 0 + 1 + 3) / 4
    assert east["pass_without_stop_rate"] == pytest.approx(0.5)  # 2 of 4
    assert (m["method"] == "plan").all() and (m["period"] == "offpeak").all()


def test_directions_by_edges_and_others_left_out() -> None:
    trips = _trips(
        [
            ("W_J1_0", "J2_E_0", 60.0, 4.0, 0),  # eastbound
            ("E_J2_0", "J1_W_0", 50.0, 2.0, 0),  # westbound
            ("E_J2_1", "J1_W_0", 70.0, 22.0, 2),  # westbound
            ("W_J1_0", "J1_S_0", 30.0, 9.0, 1),  # turns off: not a through trip
            ("N_J1_0", "J2_E_0", 40.0, 1.0, 0),  # enters from a cross street
            ("J2_E_0", "W_J1_0", 99.0, 9.0, 9),  # edges swapped: matches nothing
        ]
    )
    m = through_trip_metrics(trips, method="baseline", period="am", through=THROUGH)
    assert m["direction"].tolist() == ["eastbound", "westbound"]  # order of `through`
    assert m["trips"].tolist() == [1, 2]
    west = m.set_index("direction").loc["westbound"]
    assert west["travel_time_s"] == pytest.approx(60.0)
    assert west["delay_s"] == pytest.approx(12.0)
    assert west["pass_without_stop_rate"] == pytest.approx(0.5)


def test_edge_ids_with_underscores_and_ready_made_edge_columns() -> None:
    # 'J1_J2_10' is lane 10 of edge 'J1_J2'; only the trailing index is stripped
    trips = _trips([("A_B_10", "C_D_0", 10.0, 1.0, 0)])
    m = through_trip_metrics(trips, method="x", period="p", through={"d": ("A_B", "C_D")})
    assert m["trips"].tolist() == [1]
    by_edge = pd.DataFrame(
        {
            "first_edge": ["A"],
            "last_edge": ["B"],
            "duration": [5.0],
            "timeLoss": [0.0],
            "waitingCount": [0],
        }
    )
    m = through_trip_metrics(by_edge, method="x", period="p", through={"d": ("A", "B")})
    assert m["trips"].tolist() == [1]


def test_unfinished_trips_are_not_counted() -> None:
    trips = _trips([("W_J1_0", "J2_E_0", 60.0, 0.0, 0), ("W_J1_0", "J2_E_0", 600.0, 500.0, 5)])
    trips["arrival"] = [100.0, math.nan]  # the second is still driving at the end
    m = through_trip_metrics(trips, method="x", period="p", through=THROUGH)
    assert m["trips"].tolist() == [1, 0]
    assert m.loc[0, "travel_time_s"] == 60.0


def test_direction_without_trips_shows_zero_and_nan() -> None:
    m = through_trip_metrics(_trips([]), method="x", period="p", through=THROUGH)
    assert m["trips"].tolist() == [0, 0]
    assert (
        m[["travel_time_s", "delay_s", "stops_per_trip", "pass_without_stop_rate"]]
        .isna()
        .all(axis=None)
    )


def test_missing_columns_are_named() -> None:
    trips = pd.DataFrame({"duration": [1.0], "departLane": ["a_0"], "arrivalLane": ["b_0"]})
    with pytest.raises(InputError, match=r"timeLoss.*waitingCount"):
        through_trip_metrics(trips, method="x", period="p", through=THROUGH)


def _table(method: str, tt: float, delay: float, stops: float, pws: float) -> pd.DataFrame:
    return pd.DataFrame(
        [[method, "offpeak", "eastbound", 10, tt, delay, stops, pws]], columns=METRIC_COLUMNS
    )


def test_compare_by_hand() -> None:
    metrics = pd.concat(
        [
            _table("baseline", 80.0, 40.0, 1.0, 0.5),
            _table("greenwave", 60.0, 10.0, 0.5, 0.75),
            _table("tlsCoordinator", 88.0, 40.0, 0.0, 0.0),
        ],
        ignore_index=True,
    )
    c = compare(metrics)
    assert list(c.columns) == list(COMPARE_COLUMNS)
    assert set(c["method"]) == {"greenwave", "tlsCoordinator"}  # baseline not compared to itself
    g = c[c["method"] == "greenwave"].set_index("metric")
    assert g.loc["travel_time_s", "change_pct"] == pytest.approx(-25.0)  # 80 -> 60
    assert g.loc["delay_s", "change_pct"] == pytest.approx(-75.0)  # 40 -> 10
    assert g.loc["stops_per_trip", "change_pct"] == pytest.approx(-50.0)  # 1 -> 0.5
    assert g.loc["pass_without_stop_rate", "change_pct"] == pytest.approx(50.0)  # 0.5 -> 0.75
    assert g.loc["pass_without_stop_rate", "difference"] == pytest.approx(0.25)
    t = c[c["method"] == "tlsCoordinator"].set_index("metric")
    assert t.loc["travel_time_s", "change_pct"] == pytest.approx(10.0)
    assert t.loc["delay_s", "change_pct"] == 0.0
    assert c["metric"].tolist()[:4] == [
        "travel_time_s",
        "delay_s",
        "stops_per_trip",
        "pass_without_stop_rate",
    ]
    assert c["method"].tolist() == ["greenwave"] * 4 + ["tlsCoordinator"] * 4


def test_compare_zero_baseline_and_missing_baseline() -> None:
    metrics = pd.concat(
        [_table("baseline", 80.0, 0.0, 0.0, 0.0), _table("plan", 70.0, 5.0, 0.0, 0.2)],
        ignore_index=True,
    )
    c = compare(metrics).set_index("metric")
    assert math.isnan(c.loc["delay_s", "change_pct"])  # relative change from 0 is undefined
    assert c.loc["delay_s", "difference"] == 5.0
    with pytest.raises(InputError, match=r"'sumo'.*\['baseline', 'plan'\]"):
        compare(metrics, baseline="sumo")


@dataclass(frozen=True)
class _Run:
    total_delay_s: float = 7200.0
    teleports: int = 0
    vehicles_inserted: int = 110
    vehicles_arrived: int = 100
    vehicles_running: int = 10
    vehicles_waiting: int = 0
    begin_s: float = 0.0
    end_s: float = 1800.0


def test_network_totals() -> None:
    t = network_totals(_Run())
    assert t["total_delay_veh_h"] == pytest.approx(2.0)
    assert t["mean_delay_s"] == pytest.approx(72.0)
    assert t["throughput_veh"] == 100
    assert t["throughput_vph"] == pytest.approx(200.0)  # 100 vehicles in half an hour
    assert t["teleports"] == 0


def test_format_table_and_csv(tmp_path: Path) -> None:
    metrics = pd.concat(
        [_table("baseline", 80.0, 40.0, 1.0, 0.5), _table("plan", 60.0, 10.0, 0.5, 0.75)],
        ignore_index=True,
    )
    text = format_table(metrics)
    lines = text.splitlines()
    assert len(lines) == 2 + len(metrics)
    assert lines[0].split() == list(METRIC_COLUMNS)
    assert "50.0%" in lines[2] and "75.0%" in lines[3] and "80.0" in lines[2]
    # fixed width: every right-aligned value ends in the same column as its header
    assert lines[2].index("80.0") + 4 == lines[0].index("travel_time_s") + len("travel_time_s")
    assert "-25.0 %" in format_table(compare(metrics))
    path = write_metrics_csv(metrics, tmp_path / "out" / "metrics.csv")
    back = pd.read_csv(path)
    pd.testing.assert_frame_equal(back, metrics)
    assert [p.name for p in path.parent.iterdir()] == ["metrics.csv"]  # no temp file left


def test_pool_seeds_weights_by_trips() -> None:
    from greenwave.metrics import pool_seeds

    table = pd.DataFrame(
        {
            "method": ["greenwave", "greenwave"],
            "period": ["offpeak", "offpeak"],
            "direction": ["outbound", "outbound"],
            "trips": [10, 30],
            "travel_time_s": [100.0, 200.0],
            "delay_s": [10.0, 20.0],
            "stops_per_trip": [1.0, 3.0],
            "pass_without_stop_rate": [0.5, 0.1],
        }
    )
    pooled = pool_seeds(table).iloc[0]
    # by hand: (10 * 100 + 30 * 200) / 40 = 175; stops (10 + 90) / 40 = 2.5
    assert pooled["trips"] == 40
    assert pooled["travel_time_s"] == pytest.approx(175.0)
    assert pooled["stops_per_trip"] == pytest.approx(2.5)
    assert pooled["pass_without_stop_rate"] == pytest.approx((5 + 3) / 40)
    assert pooled["seeds"] == 2
