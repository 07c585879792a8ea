"""Time-of-day plans (greenwave.optimize.optimize_day) on the Ganjiang spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenwave import load_corridor
from greenwave.errors import InfeasibleError, InputError
from greenwave.optimize import optimize_day, optimize_progression

GANJIANG = Path(__file__).resolve().parents[1] / "networks" / "ganjiang" / "corridor.toml"
FAST = {"speed_range_kmh": (55.0, 55.0), "sequences": False}


@pytest.fixture(scope="module")
def corridor():  # type: ignore[no-untyped-def]
    return load_corridor(GANJIANG)


def test_independent_plans_follow_each_period(corridor) -> None:  # type: ignore[no-untyped-def]
    ranges = {"offpeak": (100.0, 100.0), "am_peak": (140.0, 140.0)}
    plans = optimize_day(corridor, periods=["offpeak", "am_peak"], cycle_ranges_s=ranges,
                         **FAST)
    assert list(plans) == ["offpeak", "am_peak"]
    assert plans["offpeak"].cycle_s == 100.0 and plans["am_peak"].cycle_s == 140.0
    assert plans["offpeak"].period == "offpeak" and plans["am_peak"].period == "am_peak"
    # splits from each period's demand (hand computation, HCM critical lane, target v/c 0.9):
    # AM main left 1,800 veh/h × 0.08 = 144 veh/h on one bay lane at 1,800 × 0.95 veh/h:
    # y = 0.0842, g = 140 × 0.0842 / 0.9 = 13.1 s -> 13 s; off-peak 1,100 × 0.07 = 77 veh/h:
    # g = 100 × 0.045 / 0.9 = 5.0 s, below the 10 s minimum -> 10 s; the cross phase sits at
    # its pedestrian minimum (27 s) in both.
    left = {n: next(ph.green_s for ph in p.signals[0].phases if ph.name == "main left")
            for n, p in plans.items()}
    assert left == {"offpeak": 10.0, "am_peak": 13.0}
    cross = {n: next(ph.green_s for ph in p.signals[0].phases if ph.name == "cross")
             for n, p in plans.items()}
    assert cross == {"offpeak": 27.0, "am_peak": 27.0}
    # each plan is what optimize_progression gives for its period alone
    alone = optimize_progression(corridor, cycle_range_s=(140.0, 140.0), period="am_peak",
                                 splits="demand", **FAST)
    day = plans["am_peak"]
    assert alone.bandwidth_out_s + alone.bandwidth_in_s == pytest.approx(
        day.bandwidth_out_s + day.bandwidth_in_s, abs=1e-6)  # alternate optima may split
    assert min(alone.bandwidth_out_s, alone.bandwidth_in_s) == pytest.approx(
        min(day.bandwidth_out_s, day.bandwidth_in_s), abs=1e-6)


def test_common_cycle_is_one_cycle(corridor) -> None:  # type: ignore[no-untyped-def]
    ranges = {"offpeak": (100.0, 110.0), "am_peak": (100.0, 110.0)}
    plans = optimize_day(corridor, periods=["offpeak", "am_peak"], cycle_policy="common",
                         cycle_ranges_s=ranges, **FAST)
    cycles = {p.cycle_s for p in plans.values()}
    assert len(cycles) == 1 and 100.0 <= cycles.pop() <= 110.0


def test_harmonic_cycles(corridor) -> None:  # type: ignore[no-untyped-def]
    ranges = {"offpeak": (90.0, 90.0), "am_peak": (150.0, 180.0)}
    plans = optimize_day(corridor, periods=["offpeak", "am_peak"], cycle_policy="harmonic",
                         cycle_ranges_s=ranges, **FAST)
    assert plans["am_peak"].cycle_s == 180.0  # 2 × 90 s, the only harmonic in range
    with pytest.raises(InfeasibleError, match="no harmonic"):
        optimize_day(corridor, periods=["offpeak", "am_peak"], cycle_policy="harmonic",
                     cycle_ranges_s={"offpeak": (100.0, 100.0), "am_peak": (140.0, 180.0)},
                     **FAST)


def test_bad_input(corridor) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="cycle policy"):
        optimize_day(corridor, cycle_policy="weekly")
    with pytest.raises(InputError, match="nosuch"):
        optimize_day(corridor, periods=["nosuch"])
    with pytest.raises(InfeasibleError, match="do not overlap"):
        optimize_day(corridor, periods=["offpeak", "am_peak"], cycle_policy="common",
                     cycle_ranges_s={"offpeak": (100.0, 110.0), "am_peak": (140.0, 180.0)},
                     **FAST)
