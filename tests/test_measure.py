"""Measured green wave from hand-made trajectories whose answers are worked out by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from greenwave import measure
from greenwave.measure import DirectionPath, StopLine
from greenwave.sumo.fcd import path_geometry, read_fcd

# Two signals 500 m apart, stop lines at 100 m and 600 m of the path, C = 60 s, 10 m/s.
# S1: green [0, 30) (offset 0); S2: green [50, 80) = [50, 60) + [0, 20) (offset 50).
# A vehicle at 10 m/s passes S2 50 s after S1: the planned band is phi in [0, 30).
PATH = DirectionPath(
    "outbound",
    (StopLine("S1", 100.0, 0.0, 0.0, 30.0, 0.0), StopLine("S2", 600.0, 500.0, 50.0, 30.0, 50.0)),
    cycle_s=60.0,
    speed_mps=10.0,
)


def _vehicle(name: str, t_s1: float, *, halt: tuple[float, float] | None = None,
             to_m: float = 700.0) -> list[tuple[str, str, float, float, float]]:
    """Samples every second at 10 m/s from dist 0, passing S1 (100 m) at *t_s1*; *halt* =
    (distance, seconds) stands still there."""
    rows = []
    t, d = t_s1 - 10.0, 0.0
    halted = halt is None
    while d <= to_m:
        if not halted and halt is not None and d >= halt[0]:
            for k in range(int(halt[1])):
                rows.append((name, "outbound", t + k, d, 0.0))
            t += halt[1]
            halted = True
        rows.append((name, "outbound", t, d, 10.0))
        t, d = t + 1.0, d + 10.0
    return rows


def _log() -> pd.DataFrame:
    rows = []
    rows += _vehicle("v1", 65.0)  # phi 5
    rows += _vehicle("v2", 130.0)  # phi 10
    rows += _vehicle("v3", 200.0)  # phi 20
    rows += _vehicle("v4", 275.0, halt=(300.0, 20.0))  # phi 35, halts between S1 and S2
    rows += _vehicle("v5", 350.0, halt=(400.0, 20.0))  # phi 50, halts
    rows += _vehicle("v6", 422.0)  # phi 2
    rows += _vehicle("v7", 488.0, halt=(50.0, 5.0))  # stands 5 s before S1: passes at 493
    # (phi 13); a halt before the first signal does not take a vehicle out of progression
    rows += _vehicle("turn", 580.0, to_m=400.0)  # phi 40, leaves before S2: not through
    return pd.DataFrame(rows, columns=list(measure.LOG_COLUMNS))


def test_measured_band_by_hand() -> None:
    passed = measure.passages(_log(), PATH)
    band = measure.measured_band(passed, PATH)
    # phases: 2 5 10 13 20 (in progression), 35 50 (halted): the run 2..20
    assert band.width_s == pytest.approx(18.0)
    assert band.start_s == pytest.approx(2.0)
    assert (band.through_vehicles, band.in_progression, band.in_band) == (7, 5, 5)
    assert band.resolution_s == pytest.approx(15.0)  # gaps 50 -> 2 (12 s) and 20 -> 35 (15 s)


def test_arrivals_on_green_by_hand() -> None:
    points = measure.purdue_points(measure.passages(_log(), PATH), PATH)
    aog = measure.arrivals_on_green(points).set_index("signal")
    # S1 (advance point at 0 m): arrival = t(0 m) + 100 m / 10 m/s. Phases 2 5 10 20 on
    # green, 35 40 50 not; v7 passes 0 m at 478 and stands 5 s after it, so it arrives at
    # 478 + 10 = 488 (phi 8), on green: v1 v2 v3 v6 v7 = 5 of 8.
    assert aog.loc["S1", "arrivals"] == 8
    assert aog.loc["S1", "on_green"] == 5
    # S2 (advance point 500 m): through vehicles at band speed arrive at phi + 50:
    # 55 0 10 52 58 -> on green; v4 arrives at 275 + 20 + 20 + 20 + 10 = 345 (in cycle of
    # S2: (345 - 50) mod 60 = 55, green in its frame is [0, 30)) -> not on green;
    # v5 at 350 + 70 = 420 -> (420 - 50) mod 60 = 10 -> on green.
    assert aog.loc["S2", "arrivals"] == 7
    assert aog.loc["S2", "on_green"] == 6
    assert aog.loc["S2", "aog_share"] == pytest.approx(6 / 7)
    v4 = points[(points["vehicle"] == "v4") & (points["signal"] == "S2")].iloc[0]
    assert v4["arrival_s"] == pytest.approx(345.0)
    assert v4["time_in_cycle_s"] == pytest.approx(55.0)
    assert v4["cycle_start_s"] == pytest.approx(290.0)
    assert not v4["on_green"]


def test_control_delay_and_los_by_hand() -> None:
    log = _log()
    delays = measure.control_delay(log, PATH, end_zone_m=50.0)
    # zones: S1 [50, 350] m, S2 [350, 650] m; v4 loses 20 s in S1's zone, v5 20 s in S2's;
    # v7 reaches 50 m (the zone's start) and stands there 5 s: inside S1's zone
    table = measure.intersection_delay(delays, ["S1", "S2"]).set_index("signal")
    assert table.loc["S1", "vehicles"] == 8
    assert table.loc["S1", "delay_s"] == pytest.approx(25.0 / 8)
    assert table.loc["S2", "vehicles"] == 7
    assert table.loc["S2", "delay_s"] == pytest.approx(20.0 / 7)
    assert math.isnan(table.loc["S1", "delay_inbound_s"])
    assert list(table["los"]) == ["A", "A"]
    assert [measure.hcm_los(d) for d in (5, 15, 30, 50, 70, 90)] == list("ABCDEF")


def test_positions_follow_stop_lines() -> None:
    pos = PATH.to_position_m(pd.Series([0.0, 100.0, 350.0, 600.0, 700.0]))
    assert list(pos) == [-100.0, 0.0, 250.0, 500.0, 600.0]


NET = """<net version="1.20">
  <location netOffset="0,0" convBoundary="0,0,200,0" origBoundary="0,0,200,0" projParameter="!"/>
  <edge id=":J_0" function="internal"><lane id=":J_0_0" index="0" speed="10" length="12.0"
    shape="0,0 1,0"/></edge>
  <edge id="a" from="S" to="J"><lane id="a_0" index="0" speed="10" length="100.0"
    shape="0,0 1,0"/><lane id="a_1" index="1" speed="10" length="100.0" shape="0,0 1,0"/></edge>
  <edge id="b" from="J" to="E"><lane id="b_0" index="0" speed="10" length="80.0"
    shape="0,0 1,0"/></edge>
  <connection from="a" to="b" fromLane="0" toLane="0" via=":J_0_0" tl="J" linkIndex="0"/>
  <connection from=":J_0" to="b" fromLane="0" toLane="0"/>
</net>
"""

FCD = """<fcd-export>
  <timestep time="1.00"><vehicle id="x" lane="a_1" pos="90.0" speed="10.0"/>
    <vehicle id="other" lane="c_0" pos="5.0" speed="3.0"/></timestep>
  <timestep time="2.00"><vehicle id="x" lane=":J_0_0" pos="4.0" speed="10.0"/></timestep>
  <timestep time="3.00"><vehicle id="x" lane="b_0" pos="2.0" speed="10.0"/></timestep>
</fcd-export>
"""


def test_geometry_and_fcd(tmp_path: Path) -> None:
    net, fcd = tmp_path / "n.net.xml", tmp_path / "f.fcd.xml"
    net.write_text(NET)
    fcd.write_text(FCD)
    g = path_geometry(net, ["a", "b"], direction="outbound")
    assert g.edge_end_m == {"a": 100.0, "b": 192.0}
    assert g.lane_start_m[":J_0_0"] == 100.0 and g.lane_start_m["b_0"] == 112.0
    log = read_fcd(fcd, [g])
    assert list(log["dist_m"]) == [90.0, 104.0, 114.0]
    assert set(log["vehicle"]) == {"x"}
