"""Splits from demand on imported nets (greenwave.sumo.netsplits): counts, Webster's flow ratios
and green shares checked by hand, invariants by hypothesis."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenwave.errors import InputError
from greenwave.sumo.netsplits import (
    SignalLink,
    demand_greens,
    link_flows,
    phase_flow_ratios,
    webster_cycle_s,
)
from greenwave.sumo.simulate import DrivenRoute

LINKS = (SignalLink(0, "a_0", "a", "x"), SignalLink(1, "a_0", "a", "y"),
         SignalLink(2, "b_0", "b", "z"), SignalLink(3, "b_1", "b", "z"))


def route(depart: float, *edges: str) -> DrivenRoute:
    return DrivenRoute(tuple(edges), (), depart)


def test_link_flows_count_departures_in_the_period_and_share_parallel_lanes() -> None:
    routes = {"v1": route(10, "a", "x"), "v2": route(20, "a", "x"), "v3": route(30, "a", "y"),
              "v4": route(40, "b", "z"), "v5": route(900, "a", "x"),  # departs after the end
              "v6": route(50, "w", "a", "x", "q")}
    flows = link_flows(routes, {"T": LINKS}, begin_s=0, end_s=600)
    # 600 s = 1/6 h: 3 vehicles a→x are 18 veh/h; b→z (1 vehicle) shared by links 2 and 3
    assert flows["T"] == pytest.approx({0: 18.0, 1: 6.0, 2: 3.0, 3: 3.0})
    with pytest.raises(InputError):
        link_flows(routes, {"T": LINKS}, begin_s=600, end_s=600)


def test_flow_ratios_take_the_critical_lane_and_share_lanes_served_twice() -> None:
    flows = {0: 300.0, 1: 60.0, 2: 540.0, 3: 180.0}
    # lane a_0 carries 360 veh/h: y = 0.2; lanes b_0 / b_1: 0.3 / 0.1, the phase takes 0.3
    assert phase_flow_ratios(["GGrr", "yyrr", "rrGG", "rryy"], LINKS, flows) == \
        pytest.approx([0.2, 0.0, 0.3, 0.0])
    # a_0 green in both phases: its 360 veh/h count half in each (0.1); g (permissive) is no
    # protected service
    assert phase_flow_ratios(["GGgg", "GrGG"], LINKS, flows) == pytest.approx([0.1, 0.3])
    assert phase_flow_ratios(["GGrr"], LINKS, flows, saturation_vphpl=1200) == \
        pytest.approx([0.3])


def test_demand_greens_by_hand() -> None:
    # 60 s: 0.3 : 0.1 : 0 → 45 / 15 / 0, the last clamped at 5 s; the 55 s left 3 : 1
    assert demand_greens([0.3, 0.1, 0.0], [5, 5, 5], 60.0) == pytest.approx([41.25, 13.75, 5])
    assert demand_greens([0.0, 0.0], [5, 5], 30.0) == pytest.approx([15, 15])
    with pytest.raises(InputError):
        demand_greens([0.1, 0.2], [20, 20], 30.0)


def test_webster_cycle_by_hand() -> None:
    assert webster_cycle_s([0.2, 0.3], 12.0) == pytest.approx((1.5 * 12 + 5) / 0.5)
    assert webster_cycle_s([0.6, 0.4], 12.0) == math.inf


@given(st.lists(st.tuples(st.floats(0, 0.6), st.floats(1, 12)), min_size=1, max_size=6),
       st.floats(0, 80))
def test_demand_greens_fill_the_time_respect_minimums_and_follow_demand(
        phases: list[tuple[float, float]], spare: float) -> None:
    ratios = [r for r, _ in phases]
    mins = [m for _, m in phases]
    total = sum(mins) + spare
    greens = demand_greens(ratios, mins, total)
    assert sum(greens) == pytest.approx(total)
    assert all(g >= m - 1e-9 for g, m in zip(greens, mins, strict=True))
    for i in range(len(greens)):  # a phase above its minimum has its demand share or more
        for j in range(len(greens)):
            if greens[i] > mins[i] + 1e-6 and greens[j] > mins[j] + 1e-6 and ratios[j] > 0:
                assert greens[i] / greens[j] == pytest.approx(ratios[i] / ratios[j], rel=1e-6)
