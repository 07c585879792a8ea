"""Splits from demand on imported nets (greenwave.sumo.netsplits): counts, Webster's flow ratios
and green shares checked by hand, invariants by hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenwave.errors import InfeasibleError, InputError
from greenwave.splits import phase_greens, webster_optimum_cycle_s
from greenwave.sumo.netsplits import SignalLink, link_flows, phase_flow_ratios
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
    # a lane still green in a yellow phase (G beside y) is served by the green phase alone
    assert phase_flow_ratios(["GGGG", "GyGy"], LINKS, flows) == pytest.approx([0.3, 0.0])


def test_phase_greens_by_hand() -> None:
    # coordinated: 72 s cycle, 12 s lost: phase 1 gets 72 * 0.1 / 0.9 = 8 s, phase 2 its 5 s
    # minimum, the slack phase 0 the rest, 60 - 13 = 47 s
    assert phase_greens([0.3, 0.1, 0.0], [5, 5, 5], 12, 72, slack_phases=[0]) == \
        pytest.approx([47, 8, 5])
    # webster: 60 s as 0.3 : 0.1 : 0 is 45 / 15 / 0; raising the last to 5 s takes 5 s from the
    # others by their surplus over 5 s (40 : 10), 4 s and 1 s
    assert phase_greens([0.3, 0.1, 0.0], [5, 5, 5], 12, 72, policy="webster") == \
        pytest.approx([41, 14, 5])
    with pytest.raises(InfeasibleError):
        phase_greens([0.1, 0.2], [20, 20], 12, 42)
    with pytest.raises(InputError):
        phase_greens([0.1, 0.2], [5, 5], 12, 42, slack_phases=[2])


def test_webster_cycle_by_hand() -> None:
    # of a signal's phase ratios (0.2 + 0.3) and its 12 s of yellow and all-red
    assert webster_optimum_cycle_s(12.0, 0.2 + 0.3) == pytest.approx((1.5 * 12 + 5) / 0.5)
    with pytest.raises(InfeasibleError):
        webster_optimum_cycle_s(12.0, 0.6 + 0.4)


@given(st.lists(st.tuples(st.floats(0, 0.3), st.floats(1, 12)), min_size=1, max_size=6),
       st.floats(0, 80), st.data())
def test_phase_greens_fill_the_time_respect_minimums_and_serve_demand(
        phases: list[tuple[float, float]], spare: float, data: st.DataObject) -> None:
    ratios = [r for r, _ in phases]
    mins = [m for _, m in phases]
    lost = 12.0
    cycle = lost + sum(mins) + spare
    slack = data.draw(st.lists(st.integers(0, len(phases) - 1), min_size=1, unique=True))
    greens = phase_greens(ratios, mins, lost, cycle, slack_phases=slack)
    assert sum(greens) == pytest.approx(cycle - lost)
    assert all(g >= m - 1e-9 for g, m in zip(greens, mins, strict=True))
    demand = [max(m, cycle * y / 0.9) for y, m in zip(ratios, mins, strict=True)]
    if sum(demand) <= cycle - lost:  # every phase served at v/c 0.9; only slack phases get more
        for k, (g, d) in enumerate(zip(greens, demand, strict=True)):
            assert g >= d - 1e-6
            if k not in slack:
                assert g == pytest.approx(d)
