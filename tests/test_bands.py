"""Tests of the exact band evaluator.

Reference values come from the textbook cases in ORACLES.md, from hand computation (shown in
each test) and from an independent brute-force routine written here, never from the code
under test.
"""

from __future__ import annotations

import doctest
import math
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import greenwave.bands
from greenwave.bands import BandProblem, BandResult, SignalWindow, evaluate_bands
from greenwave.errors import InputError

FT_M = 0.3048


def fts_to_kmh(speed_fts: float) -> float:
    return speed_fts * FT_M * 3.6


def two_signals(
    distance_m: float, cycle: float, speed_kmh: float, green: float = 30.0
) -> BandProblem:
    signals = (SignalWindow("A", 0.0, green, green), SignalWindow("B", distance_m, green, green))
    return BandProblem(signals, cycle_s=cycle, speed_out_kmh=speed_kmh, speed_in_kmh=speed_kmh)


def at_10_ms(*signals: SignalWindow, cycle: float = 60.0) -> BandProblem:
    """Problem at 36 km/h = 10 m/s both ways, so travel time [s] = distance [m] / 10."""
    return BandProblem(signals, cycle_s=cycle, speed_out_kmh=36.0, speed_in_kmh=36.0)


# --------------------------------------------------------------------------------------------
# independent reference: try every window start as the band's leading edge


def reference_band(window_starts: Sequence[float], greens: Sequence[float], cycle: float) -> float:
    """Longest run of times green in every window [s], by brute force over candidate starts.

    A longest common run starts where some window starts; from a candidate start the run
    lasts until the first window ends (a window not containing the start rules it out).
    """
    # a green within float noise of the cycle is a full-cycle green (no red at all)
    partial = [(a, g) for a, g in zip(window_starts, greens, strict=True) if g < cycle - 1e-9]
    if not partial:
        return cycle
    best = 0.0
    for s, _ in partial:
        remaining = []
        for a, g in partial:
            d = (s - a) % cycle
            remaining.append(g - (0.0 if d > cycle - 1e-9 else d))
        best = max(best, min(remaining))
    return best


def reference_bands(problem: BandProblem, starts: Sequence[float]) -> tuple[float, float]:
    sig = problem.signals
    v_out, v_in = problem.speed_out_kmh / 3.6, problem.speed_in_kmh / 3.6
    x0, xl = sig[0].position_m, sig[-1].position_m
    out_starts = [t - (s.position_m - x0) / v_out for s, t in zip(sig, starts, strict=True)]
    in_starts = [
        t + s.inbound_shift_s - (xl - s.position_m) / v_in for s, t in zip(sig, starts, strict=True)
    ]
    return (
        reference_band(out_starts, [s.green_out_s for s in sig], problem.cycle_s),
        reference_band(in_starts, [s.green_in_s for s in sig], problem.cycle_s),
    )


def circular_distance(a: float, b: float, cycle: float) -> float:
    d = (a - b) % cycle
    return min(d, cycle - d)


# --------------------------------------------------------------------------------------------
# ORACLES.md cases


def test_oracle_case_1_offset_35_gives_30_out_20_in() -> None:
    # 1,400 ft at 40 ft/s = 35 s; C = 60 s, 50/50 split, offset A->B 35 s
    problem = two_signals(1400 * FT_M, 60.0, fts_to_kmh(40.0))
    result = evaluate_bands(problem, [0.0, 35.0])
    assert result.bandwidth_out_s == pytest.approx(30.0, abs=1e-9)
    assert result.bandwidth_in_s == pytest.approx(20.0, abs=1e-9)
    assert result.efficiency == pytest.approx(50.0 / 120.0)


def test_oracle_case_2_simultaneous_system_at_50_fts() -> None:
    # 3,000 ft at 50 ft/s = 60 s = one cycle: offset 0 gives full bands both ways
    problem = two_signals(3000 * FT_M, 60.0, fts_to_kmh(50.0))
    result = evaluate_bands(problem, [0.0, 0.0])
    assert result.bandwidth_out_s == pytest.approx(30.0, abs=1e-9)
    assert result.bandwidth_in_s == pytest.approx(30.0, abs=1e-9)
    assert result.efficiency == pytest.approx(0.5)


# --------------------------------------------------------------------------------------------
# hand-computed cases (36 km/h: travel time = distance / 10 m/s)


def test_arrival_times() -> None:
    problem = at_10_ms(
        SignalWindow("A", 0.0, 30, 30), SignalWindow("B", 100.0, 30, 30),
        SignalWindow("C", 250.0, 30, 30),
    )
    assert problem.arrival_out_s() == pytest.approx((0.0, 10.0, 25.0))
    assert problem.arrival_in_s() == pytest.approx((25.0, 15.0, 0.0))


def test_band_wraps_across_cycle_boundary() -> None:
    # A green [50, 70]; B green [55, 85] arrives 10 s later -> seen at A: [45, 75].
    # Common: [50, 70] = 20 s starting at 50, across the 60 s boundary.
    problem = at_10_ms(SignalWindow("A", 0.0, 20, 20), SignalWindow("B", 100.0, 30, 30))
    result = evaluate_bands(problem, [50.0, 55.0])
    assert result.bandwidth_out_s == pytest.approx(20.0)
    assert result.band_out_start_s == pytest.approx(50.0)


def test_full_cycle_green_is_always_green() -> None:
    # A green all cycle; B green 25 s from 7 -> seen at A: [-3, 22] -> starts at 57
    problem = at_10_ms(SignalWindow("A", 0.0, 60, 60), SignalWindow("B", 100.0, 25, 25))
    result = evaluate_bands(problem, [13.0, 7.0])
    assert result.bandwidth_out_s == pytest.approx(25.0)
    assert result.band_out_start_s == pytest.approx(57.0)


def test_all_greens_full_cycle_give_the_whole_cycle() -> None:
    problem = at_10_ms(SignalWindow("A", 0.0, 60, 60), SignalWindow("B", 123.0, 60, 60))
    result = evaluate_bands(problem, [3.0, 41.5])
    assert result == BandResult(60.0, 60.0, 0.0, 0.0, 60.0)
    assert result.efficiency == pytest.approx(1.0)


def test_two_disjoint_pieces_band_is_the_longest() -> None:
    # A [0, 40]; B green [35, 75] seen at A: [25, 65] = [25, 60] + [0, 5].
    # Common: [0, 5] and [25, 40] -> band 15 s from 25.
    problem = at_10_ms(SignalWindow("A", 0.0, 40, 40), SignalWindow("B", 100.0, 40, 40))
    result = evaluate_bands(problem, [0.0, 35.0])
    assert result.bandwidth_out_s == pytest.approx(15.0)
    assert result.band_out_start_s == pytest.approx(25.0)


def test_inbound_shift() -> None:
    # inbound: A green_in 20 from 0 + 30 = [30, 50], reached 10 s after B -> seen at B [20, 40];
    # B green_in 25 from 0 + 5 = [5, 30]; common [20, 30] -> 10 s from 20.
    # outbound: A [0, 30], B [0, 30] seen at A [-10, 20] -> [0, 20] = 20 s from 0.
    problem = at_10_ms(
        SignalWindow("A", 0.0, 30, 20, inbound_shift_s=30.0),
        SignalWindow("B", 100.0, 30, 25, inbound_shift_s=5.0),
    )
    result = evaluate_bands(problem, [0.0, 0.0])
    assert result.bandwidth_in_s == pytest.approx(10.0)
    assert result.band_in_start_s == pytest.approx(20.0)
    assert result.bandwidth_out_s == pytest.approx(20.0)
    assert result.band_out_start_s == pytest.approx(0.0)


def test_touching_greens_give_zero_band() -> None:
    # A [0, 30]; B [40, 70] seen at A [30, 60]: they share the instants 30 and 0 only
    problem = at_10_ms(SignalWindow("A", 0.0, 30, 30), SignalWindow("B", 100.0, 30, 30))
    assert evaluate_bands(problem, [0.0, 40.0]).bandwidth_out_s == pytest.approx(0.0, abs=1e-9)


def test_disjoint_greens_give_zero_band() -> None:
    # A [0, 20]; B [35, 55] seen at A [25, 45]: no common time
    problem = at_10_ms(SignalWindow("A", 0.0, 20, 20), SignalWindow("B", 100.0, 20, 20))
    result = evaluate_bands(problem, [0.0, 35.0])
    assert result.bandwidth_out_s == 0.0
    assert result.band_out_start_s == 0.0


def test_single_signal_band_is_its_green() -> None:
    problem = at_10_ms(SignalWindow("A", 0.0, 25, 35, inbound_shift_s=-5.0))
    result = evaluate_bands(problem, [70.0])
    assert (result.bandwidth_out_s, result.bandwidth_in_s) == pytest.approx((25.0, 35.0))
    assert (result.band_out_start_s, result.band_in_start_s) == pytest.approx((10.0, 5.0))


def test_reversed_mirrors_the_corridor() -> None:
    problem = BandProblem(
        (SignalWindow("A", 100.0, 30, 20, 5.0), SignalWindow("B", 400.0, 25, 35, -7.0)),
        cycle_s=80.0, speed_out_kmh=50.0, speed_in_kmh=40.0,
    )
    rev = problem.reversed()
    assert [s.id for s in rev.signals] == ["B", "A"]
    assert [s.position_m for s in rev.signals] == pytest.approx([100.0, 400.0])
    assert [(s.green_out_s, s.green_in_s, s.inbound_shift_s) for s in rev.signals] == [
        (35, 25, 7.0), (20, 30, -5.0)
    ]
    assert (rev.speed_out_kmh, rev.speed_in_kmh, rev.cycle_s) == (40.0, 50.0, 80.0)


def test_docstring_examples() -> None:
    assert doctest.testmod(greenwave.bands).failed == 0


# --------------------------------------------------------------------------------------------
# bad input


def test_green_longer_than_cycle_names_signal_field_and_value() -> None:
    with pytest.raises(InputError, match=r"'B'.*green_out_s.*75") as info:
        BandProblem(
            (SignalWindow("A", 0.0, 30, 30), SignalWindow("B", 100.0, 75, 30)),
            cycle_s=60.0, speed_out_kmh=50.0, speed_in_kmh=50.0,
        )
    assert info.value.field == "green_out_s"
    assert info.value.value == 75


def test_positions_must_increase() -> None:
    with pytest.raises(InputError, match=r"'C'.*position_m.*90"):
        at_10_ms(
            SignalWindow("A", 0.0, 30, 30), SignalWindow("B", 100.0, 30, 30),
            SignalWindow("C", 90.0, 30, 30),
        )


@pytest.mark.parametrize(
    ("cycle", "v_out", "v_in", "field"),
    [(0.0, 50.0, 50.0, "cycle_s"), (60.0, -5.0, 50.0, "speed_out_kmh"),
     (60.0, 50.0, math.nan, "speed_in_kmh"), (math.inf, 50.0, 50.0, "cycle_s")],
)
def test_bad_cycle_or_speed(cycle: float, v_out: float, v_in: float, field: str) -> None:
    with pytest.raises(InputError, match=field) as info:
        BandProblem((SignalWindow("A", 0.0, 30, 30),), cycle, v_out, v_in)
    assert info.value.field == field


@pytest.mark.parametrize(
    "signal",
    [SignalWindow("Z", 10.0, 0.0, 30), SignalWindow("Z", 10.0, 30, -1.0),
     SignalWindow("Z", math.nan, 30, 30), SignalWindow("Z", 10.0, 30, 30, math.inf)],
)
def test_bad_signal_fields_name_the_signal(signal: SignalWindow) -> None:
    with pytest.raises(InputError, match="'Z'"):
        at_10_ms(SignalWindow("A", 0.0, 30, 30), signal)


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(InputError) as info:
        at_10_ms(SignalWindow("A", 0.0, 61, 30), SignalWindow("B", 100.0, 30, 0))
    assert "'A'" in str(info.value)
    assert "'B'" in str(info.value)


def test_duplicate_ids_and_empty_corridor() -> None:
    with pytest.raises(InputError, match=r"'A'.*more than once"):
        at_10_ms(SignalWindow("A", 0.0, 30, 30), SignalWindow("A", 100.0, 30, 30))
    with pytest.raises(InputError, match="at least one signal"):
        at_10_ms()


def test_offsets_must_match_signals() -> None:
    problem = at_10_ms(SignalWindow("A", 0.0, 30, 30), SignalWindow("B", 100.0, 30, 30))
    with pytest.raises(InputError, match="expected 2"):
        evaluate_bands(problem, [0.0])
    with pytest.raises(InputError, match="'B'"):
        evaluate_bands(problem, [0.0, math.nan])


# --------------------------------------------------------------------------------------------
# invariants


@st.composite
def problems(draw: st.DrawFn, max_signals: int = 5) -> BandProblem:
    n = draw(st.integers(1, max_signals))
    cycle = draw(st.floats(30.0, 180.0))
    gaps = draw(st.lists(st.floats(5.0, 1500.0), min_size=n - 1, max_size=n - 1))
    share = st.one_of(st.just(1.0), st.floats(0.05, 1.0))
    positions = [0.0]
    for gap in gaps:
        positions.append(positions[-1] + gap)
    signals = tuple(
        SignalWindow(
            id=f"S{i}",
            position_m=x,
            green_out_s=draw(share) * cycle,
            green_in_s=draw(share) * cycle,
            inbound_shift_s=draw(st.floats(-200.0, 200.0)),
        )
        for i, x in enumerate(positions)
    )
    speeds = st.floats(10.0, 90.0)
    return BandProblem(signals, cycle, draw(speeds), draw(speeds))


@st.composite
def cases(draw: st.DrawFn) -> tuple[BandProblem, list[float]]:
    problem = draw(problems())
    starts = draw(st.lists(st.floats(-500.0, 500.0), min_size=problem.n_signals,
                           max_size=problem.n_signals))
    return problem, starts


def assert_same_bands(a: BandResult, b: BandResult) -> None:
    assert a.bandwidth_out_s == pytest.approx(b.bandwidth_out_s, abs=1e-6)
    assert a.bandwidth_in_s == pytest.approx(b.bandwidth_in_s, abs=1e-6)


def assert_inside_green(arrival: float, green_start: float, band: float, green: float,
                        cycle: float) -> None:
    """The run [arrival, arrival + band] lies in the green [green_start, + green] mod C."""
    if green >= cycle - 1e-9 or band <= 0.0:  # a full-cycle green (within float noise)
        return
    into_green = (arrival - green_start) % cycle
    if into_green > cycle - 1e-6:
        into_green -= cycle
    assert into_green >= -1e-6
    assert into_green + band <= green + 1e-6


def assert_band_is_green(problem: BandProblem, starts: Sequence[float], r: BandResult) -> None:
    """Every departure in the reported bands meets green everywhere (checked directly)."""
    sig, c = problem.signals, problem.cycle_s
    v_out, v_in = problem.speed_out_kmh / 3.6, problem.speed_in_kmh / 3.6
    for s, t in zip(sig, starts, strict=True):
        arrival_out = r.band_out_start_s + (s.position_m - sig[0].position_m) / v_out
        assert_inside_green(arrival_out, t, r.bandwidth_out_s, s.green_out_s, c)
        arrival_in = r.band_in_start_s + (sig[-1].position_m - s.position_m) / v_in
        assert_inside_green(arrival_in, t + s.inbound_shift_s, r.bandwidth_in_s, s.green_in_s, c)


@settings(max_examples=300, deadline=None)
@given(cases())
def test_matches_independent_reference(case: tuple[BandProblem, list[float]]) -> None:
    problem, starts = case
    result = evaluate_bands(problem, starts)
    ref_out, ref_in = reference_bands(problem, starts)
    assert result.bandwidth_out_s == pytest.approx(ref_out, abs=1e-7)
    assert result.bandwidth_in_s == pytest.approx(ref_in, abs=1e-7)
    assert_band_is_green(problem, starts, result)
    assert 0.0 <= result.band_out_start_s < problem.cycle_s
    assert 0.0 <= result.band_in_start_s < problem.cycle_s


@settings(max_examples=200, deadline=None)
@given(cases())
def test_band_never_exceeds_smallest_green(case: tuple[BandProblem, list[float]]) -> None:
    problem, starts = case
    result = evaluate_bands(problem, starts)
    assert 0.0 <= result.bandwidth_out_s <= min(s.green_out_s for s in problem.signals) + 1e-9
    assert 0.0 <= result.bandwidth_in_s <= min(s.green_in_s for s in problem.signals) + 1e-9


@settings(max_examples=200, deadline=None)
@given(cases(), st.integers(-3, 3), st.data())
def test_whole_cycle_shifts_change_nothing(
    case: tuple[BandProblem, list[float]], cycles: int, data: st.DataObject
) -> None:
    problem, starts = case
    base = evaluate_bands(problem, starts)
    c = problem.cycle_s
    assert_same_bands(evaluate_bands(problem, [t + cycles * c for t in starts]), base)
    i = data.draw(st.integers(0, problem.n_signals - 1))
    one = list(starts)
    one[i] += cycles * c
    assert_same_bands(evaluate_bands(problem, one), base)


@settings(max_examples=200, deadline=None)
@given(cases(), st.floats(-1000.0, 1000.0))
def test_common_time_shift_moves_bands_only(
    case: tuple[BandProblem, list[float]], shift: float
) -> None:
    problem, starts = case
    base = evaluate_bands(problem, starts)
    moved_starts = [t + shift for t in starts]
    moved = evaluate_bands(problem, moved_starts)
    assert_same_bands(moved, base)
    assert_band_is_green(problem, moved_starts, moved)


@settings(max_examples=200, deadline=None)
@given(cases())
def test_reversing_the_corridor_swaps_the_bands(case: tuple[BandProblem, list[float]]) -> None:
    problem, starts = case
    # the reversed corridor's outbound greens are this corridor's inbound greens
    rev_starts = [t + s.inbound_shift_s for s, t in zip(problem.signals, starts, strict=True)]
    rev = evaluate_bands(problem.reversed(), rev_starts[::-1])
    base = evaluate_bands(problem, starts)
    assert rev.bandwidth_out_s == pytest.approx(base.bandwidth_in_s, abs=1e-6)
    assert rev.bandwidth_in_s == pytest.approx(base.bandwidth_out_s, abs=1e-6)
