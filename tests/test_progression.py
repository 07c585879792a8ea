"""Full MAXBAND (greenwave.progression) against an independent exhaustive oracle.

The oracle knows nothing of the MILP. With the outbound band's leading edge at signal 0 at
time 0 and the inbound one at the last signal at time ``ū``, signal ``i`` with option ``o``
(greens ``g``, ``ḡ``, shift ``Δ``) can hold bands ``b`` and ``b̄`` iff some offset puts both
inside its greens, i.e. (circle arithmetic) with ``x = (ū + T̄_i − Δ − T_i) mod C``:
``b̄ <= ḡ − x`` or ``b <= g − C + x`` (and ``b <= g``, ``b̄ <= ḡ``). Each signal's feasible
set is a union of rectangles; for a fixed ``ū`` the best ``b + k·b̄`` is found at a rectangle
corner. With integer data every breakpoint in ``ū`` is a multiple of 1/2 s, so a half-second
grid over one cycle is exhaustive. Options (lead/lag choices) are enumerated per signal inside
the union, which is exhaustive over all combinations because signals couple only through
``(ū, b, b̄)``.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwave.bands import evaluate_bands
from greenwave.errors import InputError
from greenwave.progression import (
    Affine,
    ProgressionProblem,
    ProgressionSignal,
    SignalOption,
    solve_progression,
)

Option = tuple[float, float, float]  # green_out, green_in, shift [s]


def oracle(cycle: float, positions: list[float], speed_ms: float,
           options: list[list[Option]], k: float = 1.0, equal: bool = False) -> float:
    """Largest b + k·b̄ (or, with *equal*, 2·b with b = b̄) over offsets and options [s]."""
    t_out = [(x - positions[0]) / speed_ms for x in positions]
    t_in = [(positions[-1] - x) / speed_ms for x in positions]
    best = -math.inf
    for step in range(int(2 * cycle)):
        u_in = step / 2.0
        rects = []  # per signal: list of (B, B̄)
        for i, opts in enumerate(options):
            r = []
            for g, g_in, shift in opts:
                x = (u_in + t_in[i] - shift - t_out[i]) % cycle
                r.append((g, g_in - x))
                r.append((g - cycle + x, g_in))
            rects.append([(b, bb) for b, bb in r if b >= -1e-9 and bb >= -1e-9])
        if any(not r for r in rects):
            continue
        candidates = sorted({max(0.0, b) for r in rects for b, _ in r} | {0.0})
        for b in candidates:
            b_in = min(max((bb for bb_b, bb in r if bb_b >= b - 1e-9), default=-math.inf)
                       for r in rects)
            if b_in < -1e-9:
                continue
            value = 2 * min(b, b_in) if equal else b + k * b_in
            best = max(best, value)
    return best


def problem_of(cycle: float, positions: list[float], speed_kmh: float,
               options: list[list[Option]]) -> ProgressionProblem:
    signals = tuple(
        ProgressionSignal(f"S{i}", x, tuple(
            SignalOption(f"o{j}", Affine.constant(g), Affine.constant(gi), Affine.constant(d))
            for j, (g, gi, d) in enumerate(opts)))
        for i, (x, opts) in enumerate(zip(positions, options, strict=True))
    )
    return ProgressionProblem(signals, (cycle, cycle), (speed_kmh, speed_kmh),
                              (speed_kmh, speed_kmh))


def random_corridor(rng: random.Random, n: int, cycle: int = 40,
                    with_options: bool = True) -> tuple[list[float], list[list[Option]]]:
    """Integer data: 10 m/s progression, positions multiples of 10 m (whole-second links)."""
    positions = [0.0]
    for _ in range(n - 1):
        positions.append(positions[-1] + 10.0 * rng.randint(5, 60))
    options = []
    for _ in range(n):
        g, g_in = rng.randint(8, cycle - 8), rng.randint(8, cycle - 8)
        opts = [(float(g), float(g_in), float(rng.randint(-5, 5)))]
        if with_options and rng.random() < 0.6:
            lead = rng.randint(3, 10)
            opts += [(float(g), float(g_in), opts[0][2] + lead),
                     (float(g), float(g_in), opts[0][2] - lead)]
        options.append(opts)
    return positions, options


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 8), st.integers(0, 10**6), st.sampled_from(["weighted", "equal"]))
def test_milp_equals_exhaustive_search_with_lead_lag(n: int, seed: int, mode: str) -> None:
    rng = random.Random(seed)
    positions, options = random_corridor(rng, n)
    sol = solve_progression(problem_of(40.0, positions, 36.0, options), mode=mode,
                            integer_offsets=False)
    best = oracle(40.0, positions, 10.0, options, equal=mode == "equal")
    if mode == "equal":
        # the MILP holds b = b̄; the exact bands of its offsets may be wider, never narrower
        assert sol.milp_bandwidth_out_s == pytest.approx(sol.milp_bandwidth_in_s, abs=1e-6)
        exact_min = min(sol.result.bandwidth_out_s, sol.result.bandwidth_in_s)
        assert 2 * exact_min == pytest.approx(best, abs=1e-6)
    else:
        total = sol.result.bandwidth_out_s + sol.result.bandwidth_in_s
        assert total == pytest.approx(best, abs=1e-6)
    # the bands reported are the exact evaluator's for the options chosen
    again = evaluate_bands(sol.problem, sol.green_out_start_s)
    assert again.bandwidth_out_s == sol.result.bandwidth_out_s
    assert sol.milp_bandwidth_out_s <= sol.result.bandwidth_out_s + 1e-6


def test_lead_lag_choice_can_only_help_and_is_used() -> None:
    rng = random.Random(7)
    for _ in range(5):
        positions, options = random_corridor(rng, 6)
        plain = [[o[0]] for o in options]
        with_choice = solve_progression(problem_of(40.0, positions, 36.0, options),
                                        mode="weighted", integer_offsets=False)
        without = solve_progression(problem_of(40.0, positions, 36.0, plain),
                                    mode="weighted", integer_offsets=False)
        a = with_choice.result
        b = without.result
        assert a.bandwidth_out_s + a.bandwidth_in_s >= b.bandwidth_out_s + b.bandwidth_in_s - 1e-6
        chosen = [options[i][o] for i, o in enumerate(with_choice.choice)]
        assert [w.inbound_shift_s for w in with_choice.problem.signals] == [
            c[2] for c in chosen]


def test_integer_offsets_are_whole_seconds_and_never_beat_the_continuous_optimum() -> None:
    rng = random.Random(3)
    positions, options = random_corridor(rng, 6)
    p = problem_of(40.0, positions, 36.0, options)
    whole = solve_progression(p, mode="weighted")
    assert all(float(s).is_integer() for s in whole.green_out_start_s)
    cont = solve_progression(p, mode="weighted", integer_offsets=False)
    assert (whole.result.bandwidth_out_s + whole.result.bandwidth_in_s
            <= cont.result.bandwidth_out_s + cont.result.bandwidth_in_s + 1e-6)
    # integer data: whole seconds lose nothing
    assert whole.result.bandwidth_out_s + whole.result.bandwidth_in_s == pytest.approx(
        oracle(40.0, positions, 10.0, options), abs=1e-6)


def test_cycle_range_finds_the_best_cycle_of_a_grid() -> None:
    """Greens proportional to the cycle (50 % and 40 %): the free-cycle MILP is at least as
    good as every whole-second cycle of the range, searched exhaustively."""
    positions = [0.0, 300.0, 750.0, 1000.0, 1600.0]
    shares = [(0.5, 0.5), (0.4, 0.5), (0.5, 0.4), (0.45, 0.45), (0.5, 0.5)]
    signals = tuple(
        ProgressionSignal(f"S{i}", x, (SignalOption("only", Affine(0, g), Affine(0, gi)),))
        for i, (x, (g, gi)) in enumerate(zip(positions, shares, strict=True))
    )
    free = solve_progression(ProgressionProblem(signals, (40.0, 90.0), (36.0, 36.0),
                                                (36.0, 36.0)), mode="weighted",
                             integer_offsets=False)
    assert 40.0 - 1e-9 <= free.cycle_s <= 90.0 + 1e-9
    eff = (free.result.bandwidth_out_s + free.result.bandwidth_in_s) / free.cycle_s
    grid_best = 0.0
    for cycle in range(40, 91):
        opts = [[(g * cycle, gi * cycle, 0.0)] for g, gi in shares]
        best = oracle(float(cycle), positions, 10.0, opts)
        grid_best = max(grid_best, best / cycle)
    assert eff >= grid_best - 1e-6


def test_speed_range_beats_every_single_speed_and_respects_the_change_limit() -> None:
    rng = random.Random(11)
    positions, options = random_corridor(rng, 5, with_options=False)
    base = problem_of(40.0, positions, 36.0, options)
    free = ProgressionProblem(base.signals, (40.0, 40.0), (30.0, 45.0), (30.0, 45.0))
    sol = solve_progression(free, mode="weighted", integer_offsets=False)
    total = sol.result.bandwidth_out_s + sol.result.bandwidth_in_s
    for v in (30.0, 33.0, 36.0, 39.0, 42.0, 45.0):
        fixed = solve_progression(problem_of(40.0, positions, v, options), mode="weighted",
                                  integer_offsets=False)
        assert total >= fixed.result.bandwidth_out_s + fixed.result.bandwidth_in_s - 1e-6
    assert all(30 - 1e-6 <= v <= 45 + 1e-6
               for v in sol.link_speeds_out_kmh + sol.link_speeds_in_kmh)
    limited = ProgressionProblem(base.signals, (40.0, 40.0), (30.0, 45.0), (30.0, 45.0),
                                 max_change_s_per_m=3.6 * 2.0 / 45.0**2)
    sol = solve_progression(limited, mode="weighted", integer_offsets=False)
    for speeds in (sol.link_speeds_out_kmh, sol.link_speeds_in_kmh):
        for a, b in itertools.pairwise(speeds):
            assert abs(a - b) <= 2.0 + 1e-6


def test_queue_clearance_oracle_case() -> None:
    """ORACLES case 2: 1,500 ft at 40 ft/s (37.5 s); 8 queued vehicles × 2 s + 3 s lost time
    = 19 s of queue: the ideal offset 37.5 s becomes 18.5 s."""
    ft = 0.3048
    speed_kmh = 40 * ft * 3.6
    signals = (
        ProgressionSignal("A", 0.0, (SignalOption("o", Affine.constant(30), Affine.constant(30)),)),
        ProgressionSignal("B", 1500 * ft, (SignalOption(
            "o", Affine.constant(30), Affine.constant(30), queue_out=Affine.constant(19.0)),)),
    )
    p = ProgressionProblem(signals, (60.0, 60.0), (speed_kmh, speed_kmh), (speed_kmh, speed_kmh))
    sol = solve_progression(p, mode="weighted", k=0.0, integer_offsets=False)
    assert sol.result.bandwidth_out_s == pytest.approx(11.0, abs=1e-6)  # 30 − 19 at B
    # the evaluator, independently: offset 18.5 s gives the whole 11 s band from A's green start
    fixed = sol.problem
    at_ideal = evaluate_bands(fixed, [0.0, 18.5])
    assert at_ideal.bandwidth_out_s == pytest.approx(11.0, abs=1e-9)
    assert at_ideal.band_out_start_s == pytest.approx(0.0, abs=1e-9)


def test_bad_ranges_are_refused_with_the_field() -> None:
    positions, options = random_corridor(random.Random(1), 3)
    p = problem_of(40.0, positions, 36.0, options)
    with pytest.raises(InputError, match="cycle range 90-40 s is empty"):
        ProgressionProblem(p.signals, (90.0, 40.0), p.speed_out_kmh, p.speed_in_kmh)
    with pytest.raises(InputError, match=r"speed_out_kmh\[0\]: speed range 50-40 km/h is empty"):
        ProgressionProblem(p.signals, (40.0, 40.0), (50.0, 40.0), p.speed_in_kmh)
    big = ProgressionSignal("X", 5000.0, (SignalOption("o", Affine.constant(50),
                                                       Affine.constant(10)),))
    with pytest.raises(InputError, match=r"signal X .*outbound through green 50 s at cycle 40"):
        ProgressionProblem((*p.signals, big), (40.0, 40.0), (36.0, 36.0), (36.0, 36.0))


def test_solution_that_broke_scip_loop_integers() -> None:
    """With continuous loop integers SCIP returned 4.85 s of inbound band here (the MILP's
    own constraints violated by 0.27); the exhaustive search says b + b̄ = 5 s."""
    positions = [0.0, 230.0, 540.0, 680.0, 1070.0, 1190.0]
    options = [[(26.0, 17.0, 3.0)], [(13.0, 11.0, 4.0)], [(19.0, 11.0, 3.0)],
               [(26.0, 9.0, 4.0)], [(32.0, 18.0, 2.0)], [(19.0, 17.0, -2.0)]]
    assert oracle(40.0, positions, 10.0, options) == pytest.approx(5.0)
    sol = solve_progression(problem_of(40.0, positions, 36.0, options), mode="weighted",
                            integer_offsets=False)
    total = sol.result.bandwidth_out_s + sol.result.bandwidth_in_s
    assert total == pytest.approx(5.0, abs=1e-6)
