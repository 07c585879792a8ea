"""Tests of the MAXBAND MILP.

Optimality is checked against an exhaustive search over all integer offsets, with bands
computed by an independent vectorized routine written here (not ``evaluate_bands``), and
against the textbook cases and hand-derived values in ORACLES.md.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenwave.bands import BandProblem, SignalWindow, evaluate_bands
from greenwave.errors import InfeasibleError, InputError
from greenwave.maxband import BandMode, BandSolution, solve_maxband, solver_backend

FT_M = 0.3048
TOL = 1e-6
Array = npt.NDArray[np.float64]


def fts_to_kmh(speed_fts: float) -> float:
    return speed_fts * FT_M * 3.6


def total(solution: BandSolution) -> float:
    return solution.result.bandwidth_out_s + solution.result.bandwidth_in_s


def milp_total(solution: BandSolution) -> float:
    return solution.milp_bandwidth_out_s + solution.milp_bandwidth_in_s


# --------------------------------------------------------------------------------------------
# independent brute force


def raw_bands(starts: Array, greens: Array, cycle: float) -> Array:
    """Per row of window *starts* (rows x signals): longest common green run [s].

    Tries each window start as the band's leading edge; from there the run lasts until the
    first window ends. Negative when no instant is green in every window. Full-cycle greens
    (within float noise) have no red and never end a run.
    """
    partial = greens < cycle - 1e-9
    if not partial.any():
        return np.full(starts.shape[0], float(cycle))
    starts, greens = starts[:, partial], greens[partial]
    best = np.full(starts.shape[0], -np.inf)
    for j in range(starts.shape[1]):
        into = (starts[:, [j]] - starts) % cycle
        into[into > cycle - 1e-9] = 0.0
        best = np.maximum(best, (greens - into).min(axis=1))
    return best


def raw_two_way(problem: BandProblem, offsets: Array) -> tuple[Array, Array]:
    """Raw outbound and inbound bands [s] for each row of green starts (rows x signals)."""
    sig, c = problem.signals, problem.cycle_s
    x = np.array([s.position_m for s in sig])
    t_out = (x - x[0]) / (problem.speed_out_kmh / 3.6)
    t_in = (x[-1] - x) / (problem.speed_in_kmh / 3.6)
    shift = np.array([s.inbound_shift_s for s in sig])
    out = raw_bands(offsets - t_out, np.array([s.green_out_s for s in sig], float), c)
    inb = raw_bands(offsets + shift - t_in, np.array([s.green_in_s for s in sig], float), c)
    return out, inb


def brute_force(problem: BandProblem) -> tuple[Array, Array]:
    """Raw bands of every integer offset set, signal 0 at 0 (row r: offsets in base C)."""
    c, n = int(problem.cycle_s), problem.n_signals
    grids = np.meshgrid(*([np.arange(c, dtype=float)] * (n - 1)), indexing="ij")
    offsets = np.column_stack([np.zeros(grids[0].size)] + [g.ravel() for g in grids])
    return raw_two_way(problem, offsets)


def random_corridor(seed: int) -> BandProblem:
    """2-4 signals, integer cycle 40-90 s; some full-cycle greens; seeds >= 12 add fractions
    of a second to the greens and shifts (as retimed corridors have)."""
    rng = random.Random(seed)
    n = 2 + seed % 3
    cycle = rng.randint(40, 90)
    def fraction() -> float:
        return rng.random() if seed >= 12 else 0.0

    position = 0.0
    signals = []
    for i in range(n):
        whole_out = cycle if rng.random() < 0.15 else rng.randint(max(5, cycle // 5), cycle - 5)
        whole_in = whole_out if rng.random() < 0.5 else rng.randint(max(5, cycle // 5), cycle - 1)
        shift = 0.0 if rng.random() < 0.5 else rng.randint(-cycle // 2, cycle // 2) + fraction()
        g_out = min(cycle, whole_out + fraction())
        g_in = min(cycle, whole_in + fraction())
        signals.append(SignalWindow(f"S{i}", position, g_out, g_in, shift))
        position += rng.uniform(80.0, 700.0)
    return BandProblem(tuple(signals), cycle, rng.uniform(30, 70), rng.uniform(30, 70))


def assert_valid_offsets(problem: BandProblem, solution: BandSolution) -> None:
    starts = solution.green_out_start_s
    assert starts[0] == 0.0
    assert all(0.0 <= t < problem.cycle_s and float(t).is_integer() for t in starts)
    assert solution.result == evaluate_bands(problem, starts)
    assert solution.result.bandwidth_out_s >= solution.milp_bandwidth_out_s - TOL
    assert solution.result.bandwidth_in_s >= solution.milp_bandwidth_in_s - TOL


# --------------------------------------------------------------------------------------------
# ORACLES.md


def oracle_problem(distance_ft: float, speed_fts: float) -> BandProblem:
    v = fts_to_kmh(speed_fts)
    signals = (SignalWindow("A", 0.0, 30, 30), SignalWindow("B", distance_ft * FT_M, 30, 30))
    return BandProblem(signals, cycle_s=60, speed_out_kmh=v, speed_in_kmh=v)


def test_oracle_case_1_outbound_only_band_is_30() -> None:
    problem = oracle_problem(1400, 40)
    solution = solve_maxband(problem, k=0.0, mode=BandMode.WEIGHTED)
    assert solution.milp_bandwidth_out_s == pytest.approx(30.0, abs=TOL)
    assert solution.result.bandwidth_out_s == pytest.approx(30.0, abs=TOL)
    assert solution.objective == pytest.approx(30.0, abs=TOL)
    assert solution.status == "optimal"
    assert solution.gap == 0.0


def test_oracle_case_2_full_bands_both_ways() -> None:
    solution = solve_maxband(oracle_problem(3000, 50), mode="balanced")
    assert solution.result.bandwidth_out_s == pytest.approx(30.0, abs=TOL)
    assert solution.result.bandwidth_in_s == pytest.approx(30.0, abs=TOL)
    assert solution.result.efficiency == pytest.approx(0.5)


def test_backend_is_scip() -> None:
    assert solver_backend() == "SCIP"


# --------------------------------------------------------------------------------------------
# hand-derived cases


def no_two_way_corridor() -> BandProblem:
    # 10 m/s both ways, C = 60 s, greens 10 s, signals at 0, 100, 200 m:
    # T_i - T̄_i = -20, 0, 20 s. A zero-width two-way band needs an inbound reference within
    # 10 s (circularly) of 40, 0 and 20 mod 60: impossible. One way the band is the full 10 s.
    signals = tuple(SignalWindow(f"S{i}", 100.0 * i, 10, 10) for i in range(3))
    return BandProblem(signals, cycle_s=60, speed_out_kmh=36.0, speed_in_kmh=36.0)


def test_one_way_band_when_no_two_way_band_exists() -> None:
    problem = no_two_way_corridor()
    solution = solve_maxband(problem, k=1.0, mode="weighted")
    assert total(solution) == pytest.approx(10.0, abs=TOL)
    assert milp_total(solution) == pytest.approx(10.0, abs=TOL)
    out, inb = brute_force(problem)
    assert not np.any((out >= -1e-9) & (inb >= -1e-9))
    assert np.max(np.maximum(out, 0) + np.maximum(inb, 0)) == pytest.approx(10.0, abs=TOL)


def test_two_way_demand_is_infeasible_without_a_two_way_band() -> None:
    with pytest.raises(InfeasibleError, match="both directions"):
        solve_maxband(no_two_way_corridor(), two_way=True)


def test_sub_second_greens_leave_no_integer_offsets() -> None:
    # T_1 = 10.6 s, greens 0.3 s. With whole-second offsets the band start u needs
    # frac(u) in [0, 0.3] (signal 0) and in [0.4, 0.7] (signal 1): no outbound band at all,
    # so the MILP falls back to a zero band; continuous offsets get the full 0.3 s.
    signals = (SignalWindow("A", 0.0, 0.3, 0.3), SignalWindow("B", 106.0, 0.3, 0.3))
    problem = BandProblem(signals, cycle_s=60, speed_out_kmh=36.0, speed_in_kmh=36.0)
    integer = solve_maxband(problem, mode="weighted", k=0.0)
    assert integer.milp_bandwidth_out_s == pytest.approx(0.0, abs=TOL)
    assert integer.result.bandwidth_out_s == pytest.approx(0.0, abs=TOL)
    with pytest.raises(InfeasibleError):
        solve_maxband(problem, mode="weighted", k=0.0, two_way=True)
    continuous = solve_maxband(problem, mode="weighted", k=0.0, integer_offsets=False)
    assert continuous.result.bandwidth_out_s == pytest.approx(0.3, abs=TOL)


def test_fractional_cycle_gives_continuous_offsets() -> None:
    # 1,400 ft at 40 ft/s = 35 s with a 60.5 s cycle: offset 35 s gives the full 30 s
    v = fts_to_kmh(40)
    signals = (SignalWindow("A", 0.0, 30, 30), SignalWindow("B", 1400 * FT_M, 30, 30))
    problem = BandProblem(signals, cycle_s=60.5, speed_out_kmh=v, speed_in_kmh=v)
    solution = solve_maxband(problem, k=0.0, mode="weighted")
    assert solution.result.bandwidth_out_s == pytest.approx(30.0, abs=TOL)
    assert solution.result == evaluate_bands(problem, solution.green_out_start_s)


# --------------------------------------------------------------------------------------------
# exhaustive search on small corridors


@pytest.mark.parametrize("seed", range(16))
def test_milp_matches_exhaustive_search(seed: int) -> None:
    problem = random_corridor(seed)
    out, inb = brute_force(problem)
    band_out, band_in = np.maximum(out, 0.0), np.maximum(inb, 0.0)
    best_total = float(np.max(band_out + band_in))

    weighted = solve_maxband(problem, k=1.0, mode=BandMode.WEIGHTED)
    assert_valid_offsets(problem, weighted)
    assert total(weighted) == pytest.approx(best_total, abs=TOL)
    assert milp_total(weighted) == pytest.approx(best_total, abs=TOL)
    assert weighted.milp_bandwidth_out_s == pytest.approx(weighted.result.bandwidth_out_s, abs=TOL)
    assert weighted.milp_bandwidth_in_s == pytest.approx(weighted.result.bandwidth_in_s, abs=TOL)

    # the evaluator and the independent routine agree on the solution's offsets
    ref_out, ref_in = raw_two_way(problem, np.array([weighted.green_out_start_s]))
    assert weighted.result.bandwidth_out_s == pytest.approx(max(ref_out[0], 0.0), abs=TOL)
    assert weighted.result.bandwidth_in_s == pytest.approx(max(ref_in[0], 0.0), abs=TOL)

    balanced = solve_maxband(problem, mode=BandMode.BALANCED)
    assert_valid_offsets(problem, balanced)
    assert total(balanced) == pytest.approx(best_total, abs=TOL)
    keeps_total = band_out + band_in >= best_total - TOL
    most_even = float(np.max(np.minimum(band_out, band_in)[keeps_total]))
    assert min(balanced.result.bandwidth_out_s, balanced.result.bandwidth_in_s) == pytest.approx(
        most_even, abs=1e-5
    )

    equal = solve_maxband(problem, mode=BandMode.EQUAL)
    assert_valid_offsets(problem, equal)
    assert equal.milp_bandwidth_out_s == pytest.approx(equal.milp_bandwidth_in_s, abs=TOL)
    assert equal.milp_bandwidth_out_s == pytest.approx(
        float(np.max(np.minimum(band_out, band_in))), abs=TOL
    )


@pytest.mark.parametrize("seed", range(16))
def test_two_way_milp_matches_exhaustive_search(seed: int) -> None:
    problem = random_corridor(seed)
    out, inb = brute_force(problem)
    both = (out >= -1e-9) & (inb >= -1e-9)
    if not np.any(both):
        with pytest.raises(InfeasibleError):
            solve_maxband(problem, mode="weighted", two_way=True)
        return
    best = float(np.max((np.maximum(out, 0.0) + np.maximum(inb, 0.0))[both]))
    solution = solve_maxband(problem, mode="weighted", two_way=True)
    assert_valid_offsets(problem, solution)
    assert milp_total(solution) == pytest.approx(best, abs=TOL)


def test_exhaustive_search_itself_on_oracle_case_1() -> None:
    # the brute force reproduces ORACLES case 1 (offset 35 s: 30 s out, 20 s in)
    out, inb = brute_force(oracle_problem(1400, 40))
    assert (out[35], inb[35]) == pytest.approx((30.0, 20.0))
    assert out.max() == pytest.approx(30.0)


def test_one_way_inbound_band_beats_short_two_way_bands() -> None:
    # 50 m at 25 km/h (7.2 s) out and 26 km/h (50/7.222 = 6.923 s) in, greens 8 s, C = 40 s.
    # Outbound band 8 - |φ - 7.2|, inbound 8 - |φ - 33.077| (circularly, φ = B's offset):
    # the two centres are 14.1 s apart, so the best total is one-way: φ = 33 -> 7.923 s in.
    signals = (SignalWindow("A", 0.0, 8, 8), SignalWindow("B", 50.0, 8, 8))
    problem = BandProblem(signals, cycle_s=40, speed_out_kmh=25.0, speed_in_kmh=26.0)
    solution = solve_maxband(problem, k=1.0, mode="weighted")
    assert solution.green_out_start_s == (0.0, 33.0)
    assert solution.result.bandwidth_in_s == pytest.approx(8 - (40 - 50 / (26 / 3.6) - 33))
    assert solution.result.bandwidth_out_s == 0.0


# --------------------------------------------------------------------------------------------
# invariants


@st.composite
def small_problems(draw: st.DrawFn, same_greens: bool = False) -> BandProblem:
    n = draw(st.integers(2, 4))
    cycle = draw(st.integers(40, 90))
    green = st.integers(max(5, cycle // 5), cycle)
    position = 0.0
    signals = []
    for i in range(n):
        g_out = draw(green)
        g_in = g_out if same_greens else draw(green)
        shift = draw(st.integers(-cycle, cycle))
        signals.append(SignalWindow(f"S{i}", position, g_out, g_in, shift))
        position += draw(st.floats(50.0, 800.0))
    speeds = st.floats(25.0, 70.0)
    return BandProblem(tuple(signals), cycle, draw(speeds), draw(speeds))


MILP_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@MILP_SETTINGS
@given(small_problems(), st.floats(0.0, 3.0))
def test_equal_mode_gives_equal_bands(problem: BandProblem, k: float) -> None:
    solution = solve_maxband(problem, k=k, mode="equal")
    assert solution.milp_bandwidth_out_s == pytest.approx(solution.milp_bandwidth_in_s, abs=TOL)
    assert_valid_offsets(problem, solution)


@MILP_SETTINGS
@given(small_problems())
def test_balanced_loses_no_total_band(problem: BandProblem) -> None:
    weighted = solve_maxband(problem, k=1.0, mode="weighted")
    balanced = solve_maxband(problem, mode="balanced")
    assert total(balanced) >= total(weighted) - TOL
    assert_valid_offsets(problem, balanced)


@MILP_SETTINGS
@given(small_problems(same_greens=True))
def test_two_way_total_can_be_shared_equally(problem: BandProblem) -> None:
    # ORACLES 4: fixed cycle and speeds, greens tied together, continuous offsets: the largest
    # two-way sum b + b̄ can be split evenly, so equal-band mode loses nothing.
    def solve(mode: str) -> BandSolution:
        return solve_maxband(problem, mode=mode, integer_offsets=False, two_way=True)

    try:
        weighted = solve("weighted")
    except InfeasibleError:
        with pytest.raises(InfeasibleError):
            solve("equal")
        return
    equal, balanced = solve("equal"), solve("balanced")
    assert milp_total(equal) == pytest.approx(milp_total(weighted), abs=TOL)
    assert balanced.milp_bandwidth_out_s == pytest.approx(milp_total(weighted) / 2, abs=TOL)
    assert balanced.milp_bandwidth_in_s == pytest.approx(milp_total(weighted) / 2, abs=TOL)


@MILP_SETTINGS
@given(small_problems(), st.floats(0.0, 3.0))
def test_weighted_respects_the_volume_ratio(problem: BandProblem, k: float) -> None:
    solution = solve_maxband(problem, k=k, mode="weighted")
    b, b_in = solution.milp_bandwidth_out_s, solution.milp_bandwidth_in_s
    assert (1.0 - k) * (b_in - k * b) >= -TOL
    assert solution.objective == pytest.approx(b + k * b_in, abs=TOL)
    assert b <= min(s.green_out_s for s in problem.signals) + TOL
    assert_valid_offsets(problem, solution)


@MILP_SETTINGS
@given(small_problems())
def test_reversed_corridor_has_the_same_best_total(problem: BandProblem) -> None:
    # integer shifts map integer offsets one-to-one onto the reversed corridor's
    forward = solve_maxband(problem, k=1.0, mode="weighted")
    backward = solve_maxband(problem.reversed(), k=1.0, mode="weighted")
    assert total(backward) == pytest.approx(total(forward), abs=TOL)


# --------------------------------------------------------------------------------------------
# a long corridor and bad options


def test_23_signal_corridor_solves_and_matches_the_evaluator() -> None:
    links = [380, 420, 350, 460, 510, 300, 440, 620, 1150, 480, 390,
             560, 430, 350, 700, 520, 450, 380, 600, 410, 330, 370]
    positions = [0.0, *itertools.accumulate(float(d) for d in links)]
    rng = random.Random(23)
    signals = tuple(
        SignalWindow(f"S{i}", x, g, g, rng.choice([0, 0, -4, 6]))
        for i, x in enumerate(positions)
        for g in [rng.randint(50, 85)]
    )
    problem = BandProblem(signals, cycle_s=120, speed_out_kmh=55.0, speed_in_kmh=50.0)
    solution = solve_maxband(problem, time_limit_s=60.0)
    assert len(solution.green_out_start_s) == 23
    assert_valid_offsets(problem, solution)
    if solution.status == "optimal":
        assert milp_total(solution) == pytest.approx(total(solution), abs=TOL)


@pytest.mark.parametrize(
    ("options", "field"),
    [({"k": -0.5}, "k"), ({"k": float("nan")}, "k"), ({"mode": "fastest"}, "mode"),
     ({"time_limit_s": 0.0}, "time_limit_s")],
)
def test_bad_options_raise_input_error(options: dict[str, object], field: str) -> None:
    with pytest.raises(InputError, match=field) as info:
        solve_maxband(oracle_problem(1400, 40), **options)  # type: ignore[arg-type]
    assert info.value.field == field


def test_bad_corridor_is_rejected_naming_the_signal() -> None:
    with pytest.raises(InputError, match=r"'B'.*green_in_s.*61"):
        BandProblem(
            (SignalWindow("A", 0.0, 30, 30), SignalWindow("B", 100.0, 30, 61)),
            cycle_s=60, speed_out_kmh=50.0, speed_in_kmh=50.0,
        )


def band_margins(problem: BandProblem, solution: BandSolution) -> float:
    """Sum over signals and directions of the smaller gap between band and green ends.

    Computed here from the offsets and the evaluator's band starts, independently of the MILP.
    """
    c = problem.cycle_s
    res = solution.result
    total_margin = 0.0
    arrive_out, arrive_in = problem.arrival_out_s(), problem.arrival_in_s()
    for i, sig in enumerate(problem.signals):
        start = solution.green_out_start_s[i]
        for band, edge, green_start, green in (
            (res.bandwidth_out_s, res.band_out_start_s + arrive_out[i], start, sig.green_out_s),
            (res.bandwidth_in_s, res.band_in_start_s + arrive_in[i],
             start + sig.inbound_shift_s, sig.green_in_s),
        ):
            if band <= 0 or green >= c:
                continue
            before = (edge - green_start) % c
            total_margin += min(before, green - band - before)
    return total_margin


@pytest.mark.parametrize("seed", range(6))
def test_centring_keeps_bands_and_widens_margins(seed: int) -> None:
    problem = random_corridor(100 + seed)
    plain = solve_maxband(problem, center=False)
    centred = solve_maxband(problem, center=True)
    assert centred.result.bandwidth_out_s >= plain.result.bandwidth_out_s - 1e-9
    assert centred.result.bandwidth_in_s >= plain.result.bandwidth_in_s - 1e-9
    assert band_margins(problem, centred) >= band_margins(problem, plain) - 1e-6
