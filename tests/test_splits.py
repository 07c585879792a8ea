"""Splits from demand: volumes, flow ratios, minimum greens, Webster's cycle, the two policies.

Reference values are worked by hand from the textbook formulas (Webster 1958; HCM 6th ed.):
saturation flow 1,800 veh/h/ln, protected left 0.95 × 1,800 = 1,710 veh/h, right turn 1.18
through-car equivalents, pedestrian minimum 7 s + crossing / 1.2 m/s − intergreen.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwave.corridor import MOVEMENTS, Corridor, Intersection, Phase, load_corridor
from greenwave.errors import InfeasibleError, InputError
from greenwave.splits import (
    corridor_splits,
    corridor_webster_cycle,
    critical_flow_ratios,
    demand_splits,
    flow_ratios,
    green_model,
    min_cycle_s,
    min_greens,
    movement_volumes,
    pedestrian_min_green_s,
    webster_cycle,
    webster_optimum_cycle_s,
)

GANJIANG = Path(__file__).resolve().parents[1] / "networks" / "ganjiang" / "corridor.toml"
MAIN = frozenset({"out_T", "out_R", "in_T", "in_R"})
CROSS = frozenset({"cross_T", "cross_R"})


@cache
def ganjiang() -> Corridor:
    return load_corridor(GANJIANG)


def _signal(ident: str) -> Intersection:
    return next(i for i in ganjiang().intersections if i.id == ident)


def _intersection(*phases: Phase, cross_lanes: int = 1) -> Intersection:
    # A 6 m crossing: pedestrian minimum 7 + 5 - 5 = 7 s, below the 10 s vehicle minimum.
    return Intersection(id="X1", position_m=0.0, green_out_s=1.0, green_in_s=1.0,
                        through_lanes=3, cross_lanes=cross_lanes, left_turn_bay=True,
                        crossing_length_m=6.0, phases=phases)


def _two_phase(min_cross_s: float = 10.0) -> Intersection:
    return _intersection(Phase("main", 20.0, protected=MAIN),
                         Phase("cross", 20.0, min_green_s=min_cross_s, protected=CROSS))


def _three_phase() -> Intersection:
    return _intersection(Phase("main", 20.0, protected=MAIN),
                         Phase("left", 10.0, protected=frozenset({"out_L", "in_L"})),
                         Phase("cross", 20.0, protected=CROSS))


# y = v / (1800 · lanes): 1620 / 5400 = 0.3 on three lanes, 360 / 1800 = 0.2 on one.
TEXTBOOK = {"out_T": 1620.0, "in_T": 1080.0, "cross_T": 360.0}


def _greens(i: Intersection) -> list[float]:
    return [p.green_s for p in i.phases]


# --------------------------------------------------------------------------------------------
# Webster's worked example: critical y 0.3 and 0.2, L = 2 × (3 + 2) = 10 s


def test_webster_textbook_example() -> None:
    i = _two_phase()
    assert critical_flow_ratios(i, TEXTBOOK) == pytest.approx((0.3, 0.2))
    # C0 = (1.5·10 + 5) / (1 - 0.5) = 40 s
    assert webster_optimum_cycle_s(10.0, 0.5) == pytest.approx(40.0)
    assert webster_cycle(i, TEXTBOOK) == pytest.approx(40.0)
    # greens (40 - 10)·0.3/0.5 = 18 s and (40 - 10)·0.2/0.5 = 12 s
    split = demand_splits(i, TEXTBOOK, 40.0, policy="webster")
    assert _greens(split) == [18.0, 12.0]
    assert (split.green_out_s, split.green_in_s, split.inbound_shift_s) == (18.0, 18.0, 0.0)
    assert split.cycle_s == 40.0


def test_webster_cycle_is_clamped_to_the_range_and_the_minimums() -> None:
    i = _two_phase()
    assert webster_cycle(i, TEXTBOOK, cycle_range_s=(60.0, 120.0)) == 60.0
    assert webster_cycle(i, TEXTBOOK, cycle_range_s=(20.0, 35.0)) == 35.0
    # no demand: C0 = (15 + 5) / 1 = 20 s, but the minimums need 10 + 10 + 10 = 30 s
    assert webster_cycle(i, {}) == 30.0
    with pytest.raises(InfeasibleError, match=r"X1.*need 30 s, more than the cycle 25 s"):
        webster_cycle(i, TEXTBOOK, cycle_range_s=(20.0, 25.0))


def test_oversaturation_names_the_intersection_and_y() -> None:
    # y = 4320 / 5400 = 0.8 and 540 / 1800 = 0.3: Y = 1.1
    with pytest.raises(InfeasibleError, match=r"intersection X1: .*Y = 1\.100"):
        webster_cycle(_two_phase(), {"out_T": 4320.0, "cross_T": 540.0})
    with pytest.raises(InfeasibleError, match="oversaturated"):
        webster_optimum_cycle_s(10.0, 1.0)


# --------------------------------------------------------------------------------------------
# minimum greens


def test_pedestrian_minimum_of_ganjiang() -> None:
    assert pedestrian_min_green_s(30.0, 5.0) == pytest.approx(27.0)  # 7 + 30/1.2 - 5
    s01, s02 = _signal("S01"), _signal("S02")
    assert min_greens(s01) == pytest.approx((10.0, 10.0, 27.0))
    # minor: 7 + 26/1.2 - 5 = 23.67 s, below the template's 24 s
    assert min_greens(s02) == pytest.approx((10.0, 24.0))
    assert min_cycle_s(s01) == pytest.approx(15.0 + 47.0)
    assert min_cycle_s(s02) == pytest.approx(10.0 + 34.0)
    # with a 10 s vehicle minimum the pedestrian minimum governs: 7 + 26/1.2 - 5
    cross = s02.phases[1]
    s02_low = replace(s02, phases=(s02.phases[0], replace(cross, min_green_s=10.0)))
    assert min_greens(s02_low)[1] == pytest.approx(7 + 26 / 1.2 - 5)


def test_webster_raises_short_phases_to_their_minimum() -> None:
    i = _three_phase()
    # y: 1620/5400 = 0.3, 34.2/1710 = 0.02 (protected left in its bay), 324/1800 = 0.18
    volumes = {"out_T": 1620.0, "out_L": 34.2, "cross_T": 324.0}
    assert critical_flow_ratios(i, volumes) == pytest.approx((0.3, 0.02, 0.18))
    # C = 65.5, L = 15: 50.5 s of green -> 30.3, 2.02, 18.18; the left is raised to 10 s and
    # the 7.98 s it takes come from the others by their surplus 20.3 and 8.18.
    split = demand_splits(i, volumes, 65.5, policy="webster")
    debt, pool = 7.98, 20.3 + 8.18
    assert _greens(split) == pytest.approx([30.3 - debt * 20.3 / pool, 10.0,
                                            18.18 - debt * 8.18 / pool])
    # C = 65: 30, 2, 18 -> 30 - 8·20/28 = 24.29, 10, 18 - 8·8/28 = 15.71 -> whole 24, 10, 16
    assert _greens(demand_splits(i, volumes, 65.0, policy="webster")) == [24.0, 10.0, 16.0]


def test_minimums_that_do_not_fit_name_intersection_phase_and_constraint() -> None:
    s01 = _signal("S01")
    with pytest.raises(InfeasibleError) as err:
        demand_splits(s01, {}, 60.0)
    text = str(err.value)
    assert "intersection S01" in text
    assert "10 (main through) + 10 (main left) + 27 (cross: pedestrian" in text
    assert "30 m / 1.2 m/s" in text
    assert "intergreens 15 s need 62 s, more than the cycle 60 s" in text
    with pytest.raises(InfeasibleError, match="S01"):
        corridor_splits(ganjiang(), "offpeak", 60.0)


# --------------------------------------------------------------------------------------------
# the coordinated policy


def test_coordinated_gives_all_slack_to_the_through_phase() -> None:
    i = _two_phase()
    # cross: 100.5 · 0.2 / 0.9 = 22.33 s; main: 100.5 - 10 - 22.33 = 68.17 s
    split = demand_splits(i, TEXTBOOK, 100.5)
    assert _greens(split) == pytest.approx([90.5 - 100.5 * 0.2 / 0.9, 100.5 * 0.2 / 0.9])
    # whole cycle: 67.78 and 22.22 -> 68 and 22
    assert _greens(demand_splits(i, TEXTBOOK, 100.0)) == [68.0, 22.0]
    continuous = demand_splits(i, TEXTBOOK, 100.0, whole_seconds=False)
    assert _greens(continuous) == pytest.approx([90 - 100 * 0.2 / 0.9, 100 * 0.2 / 0.9])
    # three phases: left 100 · 0.02 / 0.9 = 2.2 s -> its 10 s minimum; cross 100·0.18/0.9 = 20
    j = _three_phase()
    volumes = {"out_T": 1620.0, "out_L": 34.2, "cross_T": 324.0}
    assert _greens(demand_splits(j, volumes, 100.0)) == [55.0, 10.0, 20.0]
    assert _greens(demand_splits(j, volumes, 140.0)) == [87.0, 10.0, 28.0]


def test_coordinated_cycle_too_short_for_the_target() -> None:
    # y 0.5 and 0.3 at C = 50 (40 s of green): the target 0.9 needs 27.8 + 16.7 s; instead
    # both run at one degree of saturation x = 0.8 · 50 / 40 = 1.0: greens 25 and 15 s.
    volumes = {"out_T": 2700.0, "cross_T": 540.0}
    assert _greens(demand_splits(_two_phase(), volumes, 50.0)) == [25.0, 15.0]
    assert _greens(demand_splits(_two_phase(), volumes, 50.0, policy="webster")) == [25.0, 15.0]


def test_movement_over_two_phases_is_not_critical_for_either() -> None:
    # lead/lag: out_T runs in A and B; in_T only in A, out_L only in B
    i = _intersection(Phase("A", 20.0, protected=MAIN),
                      Phase("B", 10.0, protected=frozenset({"out_T", "out_R", "out_L"})),
                      Phase("X", 20.0, protected=CROSS))
    # y: out_T 0.3, in_T 1080/5400 = 0.2, out_L 85.5/1710 = 0.05, cross 0.1
    volumes = {"out_T": 1620.0, "in_T": 1080.0, "out_L": 85.5, "cross_T": 180.0}
    # A 0.2, B 0.05; out_T needs 0.3 > 0.25: the 0.05 deficit goes to A (the larger)
    assert critical_flow_ratios(i, volumes) == pytest.approx((0.25, 0.05, 0.1))
    # slack to A alone (it serves both through movements); B at its 10 s minimum
    split = demand_splits(i, volumes, 100.0)
    assert _greens(split)[1:] == [10.0, round(100 * 0.1 / 0.9)]
    assert split.green_out_s == split.phases[0].green_s + 5.0 + 10.0


# --------------------------------------------------------------------------------------------
# invariants


@st.composite
def _cases(draw: st.DrawFn) -> tuple[Intersection, dict[str, float], float, str]:
    i = _signal(draw(st.sampled_from(["S01", "S02"])))
    volumes = {m: draw(st.floats(0.0, 2500.0)) for m in MOVEMENTS}
    whole = draw(st.booleans())
    cycle = float(draw(st.integers(62, 220))) if whole else draw(st.floats(62.0, 220.0))
    return i, volumes, cycle, draw(st.sampled_from(["coordinated", "webster"]))


@settings(max_examples=80, deadline=None)
@given(_cases())
def test_phases_add_up_to_the_cycle(case: tuple[Intersection, dict[str, float], float, str]
                                    ) -> None:
    i, volumes, cycle, policy = case
    split = demand_splits(i, volumes, cycle, policy=policy)
    assert split.cycle_s == pytest.approx(cycle, abs=1e-9)
    for p, low in zip(split.phases, min_greens(i), strict=True):
        assert p.green_s >= low - 1e-9
    if cycle == int(cycle):
        assert all(p.green_s == int(p.green_s) for p in split.phases)
        assert sum(p.green_s for p in split.phases) + 5 * len(split.phases) == cycle
    for p, q in zip(split.phases, i.phases, strict=True):
        assert (p.yellow_s, p.all_red_s) == (q.yellow_s, q.all_red_s)


# --------------------------------------------------------------------------------------------
# Ganjiang


def test_ganjiang_offpeak_volumes_by_hand() -> None:
    v = movement_volumes(ganjiang(), "offpeak")
    # S01, major: l = r = 0.07; section flows 1100 (southbound) and 1000 (northbound)
    s01 = v["S01"]
    assert s01["out_T"] == pytest.approx(1100 * 0.86)  # 946
    assert s01["out_L"] == pytest.approx(77.0) and s01["out_R"] == pytest.approx(77.0)
    assert s01["in_T"] == pytest.approx(860.0)
    assert s01["in_L"] == pytest.approx(70.0) and s01["in_R"] == pytest.approx(70.0)
    # cross approaches of 350 veh/h: west feeds 77 right + 70 left, east 70 right + 77 left;
    # same total, east has the larger left turn: through 350 - 147 = 203
    assert (s01["cross_T"], s01["cross_L"], s01["cross_R"]) == pytest.approx((203, 77, 70))
    # S02, minor: l = r = 0.07 · 0.25 = 0.0175
    s02 = v["S02"]
    assert s02["out_T"] == pytest.approx(1061.5)
    assert s02["out_L"] == pytest.approx(19.25) and s02["out_R"] == pytest.approx(19.25)
    assert s02["in_T"] == pytest.approx(965.0)
    assert s02["in_L"] == pytest.approx(17.5) and s02["in_R"] == pytest.approx(17.5)
    assert (s02["cross_T"], s02["cross_L"], s02["cross_R"]) == pytest.approx((83.25, 19.25,
                                                                              17.5))


def test_ganjiang_offpeak_flow_ratios_by_hand() -> None:
    s01 = _signal("S01")
    y = flow_ratios(s01, movement_volumes(ganjiang(), "offpeak")["S01"])
    assert y["out_T"] == pytest.approx((946 + 1.18 * 77) / (3 * 1800))
    assert y["in_L"] == pytest.approx(70 / 1710)  # protected, from the bay
    # permitted cross left, opposed by 203 + 70 veh/h (HCM gap acceptance, 4.5 s / 2.5 s)
    vo = 273.0
    s_left = vo * math.exp(-vo * 4.5 / 3600) / (1 - math.exp(-vo * 2.5 / 3600))
    cross = (203 + 1.18 * 70 + 77 * 1800 / s_left) / (2 * 1800)
    assert y["cross_T"] == pytest.approx(cross)
    assert critical_flow_ratios(s01, movement_volumes(ganjiang(), "offpeak")["S01"]) == (
        pytest.approx((y["out_T"], 77 / 1710, cross)))


def test_ganjiang_corridor_splits() -> None:
    c = ganjiang()
    assert corridor_webster_cycle(c, "offpeak") == 100.0  # C0 ≈ 62 s, below the range
    new = corridor_splits(c, "offpeak", 120.0)
    assert new.cycle_s == 120.0
    assert all(i.cycle_s == pytest.approx(120.0) for i in new.intersections)
    s01 = new.intersections[0]
    # offpeak S01: left 120 · (77/1710) / 0.9 = 6 s -> 10; cross 120 · 0.114 / 0.9 = 15 -> 27
    assert _greens(s01) == [68.0, 10.0, 27.0]
    assert (s01.green_out_s, s01.green_in_s) == (68.0, 68.0)


def test_green_model_of_am_peak_s01() -> None:
    s01 = _signal("S01")
    volumes = movement_volumes(ganjiang(), "am_peak")["S01"]
    model = green_model(s01, volumes, (100.0, 140.0))
    # the left phase (y = 144/1710) leaves its 10 s minimum at C = 10 · 0.9 · 1710 / 144
    assert model.breakpoints_s == pytest.approx((10 * 0.9 * 1710 / 144,))
    assert not model.affine
    low, high = model.pieces
    assert low.exact and high.exact
    assert low.coefficients["green_out_s"] == pytest.approx((-52.0, 1.0))  # C - 15 - 10 - 27
    b_left = 144 / 1710 / 0.9
    assert high.coefficients["main left"] == pytest.approx((0.0, b_left), abs=1e-9)
    assert high.coefficients["green_in_s"] == pytest.approx((-42.0, 1 - b_left))
    assert high.coefficients["cross"] == pytest.approx((27.0, 0.0), abs=1e-9)
    with pytest.raises(ValueError, match=r"breakpoints at 106\.875"):
        model.coefficients()
    # the model reproduces the unrounded splits
    split = demand_splits(s01, volumes, 123.5)
    assert model.green_s("main through", 123.5) == pytest.approx(split.phases[0].green_s)
    # over a range without a switch it is one affine function
    offpeak = green_model(s01, movement_volumes(ganjiang(), "offpeak")["S01"], (100, 140))
    assert offpeak.coefficients()["green_out_s"] == pytest.approx((-52.0, 1.0))


def test_bad_inputs() -> None:
    i = _two_phase()
    with pytest.raises(InputError, match="unknown split policy"):
        demand_splits(i, TEXTBOOK, 60.0, policy="fair")
    with pytest.raises(InputError, match="unknown movement 'out_U'"):
        flow_ratios(i, {"out_U": 10.0})
    with pytest.raises(InputError, match="volume of in_T"):
        flow_ratios(i, {"in_T": -1.0})
    with pytest.raises(InputError, match="target degree of saturation"):
        demand_splits(i, TEXTBOOK, 60.0, target_vc=1.5)


@settings(max_examples=25, deadline=None)
@given(_cases(), st.floats(0.0, 1.0))
def test_green_model_reproduces_the_unrounded_splits(
    case: tuple[Intersection, dict[str, float], float, str], where: float
) -> None:
    i, volumes, _, policy = case
    lo, hi = 62.0, 180.0
    model = green_model(i, volumes, (lo, hi), policy=policy)
    cycle = lo + (hi - lo) * where
    split = demand_splits(i, volumes, cycle, policy=policy, whole_seconds=False)
    piece = next(p for p in model.pieces if cycle <= p.cycle_hi_s + 1e-9)
    if policy == "coordinated":
        assert all(p.exact for p in model.pieces)
    if piece.exact:
        assert model.green_s("green_out_s", cycle) == pytest.approx(split.green_out_s, abs=1e-6)
        assert model.green_s("green_in_s", cycle) == pytest.approx(split.green_in_s, abs=1e-6)
        for p in split.phases:
            assert model.green_s(p.name, cycle) == pytest.approx(p.green_s, abs=1e-6)
