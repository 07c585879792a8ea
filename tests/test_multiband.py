"""MULTIBAND (greenwave.progression.solve_multiband) against an independent exhaustive oracle.

The oracle knows nothing of the MILP. Fix the outbound progression line at signal 0 at time
0, so it passes signal ``i`` at ``T_i``; the inbound line passes the last signal at ``ū`` and
signal ``i`` at ``ū + T̄_i``. For an offset ``φ_i`` the line's *margin* at signal ``i`` is its
distance inside the green (negative outside). Link ``j``'s band, centred on the line, is
``2·min(h_j, h_{j+1})`` outbound and the same inbound; every margin must be ≥ 0 (the line
passes every green, as in the MILP). A dynamic programme over the signals (state: ``φ_i``)
finds the best weighted sum for each ``ū`` on a quarter-second grid of ``φ_i`` and ``ū``.

The optimum may lie between grid points (LP vertices at thirds of a second occur), so the
oracle brackets it: the strict grid search is a lower bound; rounding the true optimum to the
grid moves each outbound margin by at most ``STEP/2`` and each inbound one by at most
``STEP``, so the grid search with margins allowed down to ``−STEP`` plus
``Σ_j (a_j STEP + 2 ā_j STEP) / (n − 1)`` is an upper bound.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwave.bands import evaluate_bands, link_bands
from greenwave.errors import InfeasibleError, InputError
from greenwave.progression import (
    Affine,
    ProgressionProblem,
    ProgressionSignal,
    SignalOption,
    solve_multiband,
)

STEP = 0.25


def margin(line: np.ndarray, start: np.ndarray, green: float, cycle: float) -> np.ndarray:
    """Distance of *line* inside the window ``[start, start + green]`` on the cycle circle."""
    x = (line - start) % cycle  # time since the window opened, in [0, C)
    inside = np.minimum(x, green - x)
    outside = -np.minimum(x - green, cycle - x)  # before the next opening / after closing
    return np.where(x <= green, inside, outside)


def oracle(cycle: float, positions: list[float], speed_ms: float,
           signals: list[tuple[float, float, float]], w_out: list[float],
           w_in: list[float]) -> tuple[float, float]:
    """Bounds ``(lo, hi)`` of the largest ``Σ_j (a_j b_j + ā_j b̄_j) / (n − 1)`` [s];
    signals are (g, ḡ, Δ)."""
    lo = _grid_search(cycle, positions, speed_ms, signals, w_out, w_in, 0.0)
    slack = sum(a * STEP + 2 * b * STEP for a, b in zip(w_out, w_in, strict=True))
    hi = _grid_search(cycle, positions, speed_ms, signals, w_out, w_in, STEP)
    return lo / (len(positions) - 1), (hi + slack) / (len(positions) - 1)


def _grid_search(cycle: float, positions: list[float], speed_ms: float,
                 signals: list[tuple[float, float, float]], w_out: list[float],
                 w_in: list[float], tolerance: float) -> float:
    n = len(positions)
    t_out = [(x - positions[0]) / speed_ms for x in positions]
    t_in = [(positions[-1] - x) / speed_ms for x in positions]
    phis = np.arange(0.0, cycle, STEP)
    best = -np.inf
    for u_in in np.arange(0.0, cycle, STEP):
        h = [margin(np.full_like(phis, t_out[i]), phis, g, cycle)
             for i, (g, _, _) in enumerate(signals)]
        hb = [margin(np.full_like(phis, u_in + t_in[i]), phis + d, gi, cycle)
              for i, (_, gi, d) in enumerate(signals)]
        ok = [(a >= -tolerance - 1e-9) & (b >= -tolerance - 1e-9)
              for a, b in zip(h, hb, strict=True)]
        value = np.where(ok[0], 0.0, -np.inf)
        for j in range(n - 1):
            link = (2 * w_out[j] * np.minimum.outer(h[j], h[j + 1])
                    + 2 * w_in[j] * np.minimum.outer(hb[j], hb[j + 1]))
            link = np.where(np.logical_and.outer(ok[j], ok[j + 1]), link, -np.inf)
            value = np.max(value[:, None] + link, axis=0)
        best = max(best, float(np.max(value)))
    return best


def problem_of(cycle: float, positions: list[float],
               signals: list[tuple[float, float, float]]) -> ProgressionProblem:
    return ProgressionProblem(
        tuple(ProgressionSignal(f"S{i}", x, (SignalOption(
            "o", Affine.constant(g), Affine.constant(gi), Affine.constant(d)),))
              for i, (x, (g, gi, d)) in enumerate(zip(positions, signals, strict=True))),
        (cycle, cycle), (36.0, 36.0), (36.0, 36.0))


def random_case(rng: random.Random, n: int, cycle: int = 40
                ) -> tuple[list[float], list[tuple[float, float, float]]]:
    positions = [0.0]
    for _ in range(n - 1):
        positions.append(positions[-1] + 10.0 * rng.randint(5, 60))
    signals = [(float(rng.randint(10, cycle - 8)), float(rng.randint(10, cycle - 8)),
                float(rng.randint(-8, 8))) for _ in range(n)]
    return positions, signals


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 5), st.integers(0, 10**6), st.booleans())
def test_multiband_equals_exhaustive_search(n: int, seed: int, weighted: bool) -> None:
    rng = random.Random(seed)
    positions, signals = random_case(rng, n)
    w_out = [rng.choice([0.25, 1.0, 2.0]) if weighted else 1.0 for _ in range(n - 1)]
    w_in = [rng.choice([0.25, 1.0, 2.0]) if weighted else 1.0 for _ in range(n - 1)]
    lo, hi = oracle(40.0, positions, 10.0, signals, w_out, w_in)
    problem = problem_of(40.0, positions, signals)
    if hi == -np.inf:
        with pytest.raises(InfeasibleError):
            solve_multiband(problem, weights_out=w_out, weights_in=w_in,
                            integer_offsets=False)
        return
    if lo == -np.inf:
        return  # only a line off the grid might pass every green: no sharp reference
    sol = solve_multiband(problem, weights_out=w_out, weights_in=w_in,
                          integer_offsets=False)
    milp = sum(a * b + c * d for a, b, c, d in zip(
        w_out, sol.milp_link_bands_out_s, w_in, sol.milp_link_bands_in_s, strict=True))
    assert lo - 1e-6 <= milp / (n - 1) <= hi + 1e-6
    # the link bands reported are the exact ones of the returned offsets, never below the MILP's
    exact_out, exact_in = link_bands(sol.problem, sol.green_out_start_s)
    assert sol.link_bands_out_s == exact_out and sol.link_bands_in_s == exact_in
    for e, m in zip(exact_out + exact_in,
                    sol.milp_link_bands_out_s + sol.milp_link_bands_in_s, strict=True):
        assert e >= m - 1e-6
    # the through band is at least the narrowest link band
    through = evaluate_bands(sol.problem, sol.green_out_start_s)
    assert through.bandwidth_out_s >= min(sol.milp_link_bands_out_s) - 1e-6
    assert through.bandwidth_in_s >= min(sol.milp_link_bands_in_s) - 1e-6


def test_link_bands_of_the_textbook_pair() -> None:
    """ORACLES 1: 1,400 ft at 40 ft/s (35 s), C = 60 s, 50/50: offset 35 s gives a 30 s
    outbound band and 20 s inbound; a two-signal corridor's link band is its band."""
    from greenwave.bands import BandProblem, SignalWindow

    ft = 0.3048
    p = BandProblem((SignalWindow("A", 0.0, 30.0, 30.0), SignalWindow("B", 1400 * ft, 30.0,
                                                                       30.0)),
                    60.0, 40 * ft * 3.6, 40 * ft * 3.6)
    out, inb = link_bands(p, [0.0, 35.0])
    assert out == pytest.approx((30.0,)) and inb == pytest.approx((20.0,))


def test_multiband_link_bands_beat_the_one_band_where_greens_differ() -> None:
    """One narrow green caps MAXBAND's single band everywhere; MULTIBAND keeps the wide
    greens' links wide: the mean link band exceeds the narrowest green."""
    positions = [0.0, 300.0, 600.0, 900.0]
    signals = [(30.0, 30.0, 0.0), (30.0, 30.0, 0.0), (12.0, 12.0, 0.0), (30.0, 30.0, 0.0)]
    sol = solve_multiband(problem_of(40.0, positions, signals), integer_offsets=False)
    mean = sum(sol.link_bands_out_s + sol.link_bands_in_s) / 6
    assert min(sol.link_bands_out_s) <= 12.0 + 1e-9
    assert mean > 12.0 + 1.0
    lo, hi = oracle(40.0, positions, 10.0, signals, [1.0] * 3, [1.0] * 3)
    milp = sum(sol.milp_link_bands_out_s + sol.milp_link_bands_in_s) / 3
    assert lo - 1e-6 <= milp <= hi + 1e-6


def test_weights_steer_the_bands() -> None:
    rng = random.Random(11)
    positions, signals = random_case(rng, 5)
    heavy_out = solve_multiband(problem_of(40.0, positions, signals),
                                weights_out=[4.0] * 4, weights_in=[0.25] * 4,
                                integer_offsets=False)
    heavy_in = solve_multiband(problem_of(40.0, positions, signals),
                               weights_out=[0.25] * 4, weights_in=[4.0] * 4,
                               integer_offsets=False)
    assert sum(heavy_out.milp_link_bands_out_s) >= sum(heavy_in.milp_link_bands_out_s) - 1e-9
    assert sum(heavy_in.milp_link_bands_in_s) >= sum(heavy_out.milp_link_bands_in_s) - 1e-9


def test_whole_second_offsets() -> None:
    rng = random.Random(5)
    positions, signals = random_case(rng, 6)
    sol = solve_multiband(problem_of(40.0, positions, signals))
    assert all(float(s).is_integer() for s in sol.green_out_start_s)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"weights_out": [1.0]}, "weights_out: expected one value per link"),
    ({"weights_in": [1.0, -1.0, 1.0]}, r"weights_in\[1\]"),
    ({"k_links": [float("nan")] * 3}, r"k_links\[0\]"),
])
def test_bad_weights_are_refused(kwargs: dict[str, list[float]], match: str) -> None:
    positions = [0.0, 300.0, 600.0, 900.0]
    signals = [(30.0, 30.0, 0.0)] * 4
    with pytest.raises(InputError, match=match):
        solve_multiband(problem_of(40.0, positions, signals), **kwargs)  # type: ignore[arg-type]


def test_pairs_are_checked_exhaustively_for_tiny_cases() -> None:
    """All 2-signal corridors on a coarse grid: MILP = oracle (a sweep, not a sample)."""
    for g1, g2, d in itertools.product((12.0, 20.0, 28.0), (12.0, 24.0), (-6.0, 0.0, 5.0)):
        positions = [0.0, 230.0]
        signals = [(g1, 20.0, d), (g2, 16.0, 0.0)]
        lo, hi = oracle(40.0, positions, 10.0, signals, [1.0], [1.0])
        sol = solve_multiband(problem_of(40.0, positions, signals), integer_offsets=False)
        got = sol.milp_link_bands_out_s[0] + sol.milp_link_bands_in_s[0]
        assert lo - 1e-6 <= got <= hi + 1e-6
        # two signals: the MULTIBAND link band is MAXBAND's band (one link, one line)
        through = evaluate_bands(sol.problem, sol.green_out_start_s)
        assert through.bandwidth_out_s + through.bandwidth_in_s >= got - 1e-6
