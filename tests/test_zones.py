"""Sub-zones (greenwave.zones): the partition search against plain enumeration."""

from __future__ import annotations

import itertools

import pytest

from greenwave.bands import BandProblem, evaluate_bands
from greenwave.corridor import Corridor, Intersection
from greenwave.errors import InputError
from greenwave.maxband import solve_maxband
from greenwave.zones import optimize_zones


def corridor(spacings: list[float], greens: list[float], cycle: float = 60.0) -> Corridor:
    positions = list(itertools.accumulate(spacings, initial=0.0))
    xs = tuple(Intersection(id=f"S{i}", position_m=x, green_out_s=g, green_in_s=g)
               for i, (x, g) in enumerate(zip(positions, greens, strict=True)))
    return Corridor(name="t", intersections=xs, cycle_s=cycle, speed_kmh=36.0)


def zone_value(c: Corridor, a: int, b: int) -> float | None:
    """Length × two-way efficiency of one zone, solved on its own (None: no two-way band)."""
    from greenwave.errors import InfeasibleError

    p: BandProblem = c.band_problem()
    sub = BandProblem(p.signals[a:b + 1], p.cycle_s, p.speed_out_kmh, p.speed_in_kmh)
    try:
        sol = solve_maxband(sub, two_way=True, center=False)
    except InfeasibleError:
        return None
    eff = (sol.result.bandwidth_out_s + sol.result.bandwidth_in_s) / (2 * p.cycle_s)
    return (p.signals[b].position_m - p.signals[a].position_m) * eff


def test_partition_search_equals_enumeration() -> None:
    # a short-link cluster, then a long link, then signals whose spacing fights the first
    c = corridor([300, 300, 300, 900, 170, 420, 250], [30, 28, 30, 30, 26, 30, 30, 24])
    n = len(c.intersections)
    total = c.intersections[-1].position_m
    result = optimize_zones(c, max_zones=3, min_signals=2, candidates=None,
                            boundary_penalty=0.0)
    # every partition into at most 3 zones of >= 2 signals, values from separate solves
    best: dict[int, float] = {}
    for k in (1, 2, 3):
        for cuts in itertools.combinations(range(n - 1), k - 1):
            bounds = [-1, *cuts, n - 1]
            zones = [(bounds[q] + 1, bounds[q + 1]) for q in range(k)]
            if any(b - a + 1 < 2 for a, b in zones):
                continue
            values = [zone_value(c, a, b) for a, b in zones]
            if any(v is None for v in values):
                continue
            best[k] = max(best.get(k, -1.0), sum(v for v in values if v is not None) / total)
    found = {k: s for k, s, _ in result.by_count}
    assert found.keys() == best.keys()
    for k, s in best.items():
        assert found[k] == pytest.approx(s, abs=1e-6)
    # without a penalty the best count wins, and the zones' own bands are what the plan gives
    assert result.score == pytest.approx(max(best.values()), abs=1e-6)
    problem = result.plan.band_problem()
    starts = [s.green_out_start_s for s in result.plan.signals]
    for z in result.zones:
        sub = BandProblem(problem.signals[z.first:z.last + 1], problem.cycle_s,
                          problem.speed_out_kmh, problem.speed_in_kmh)
        exact = evaluate_bands(sub, starts[z.first:z.last + 1])
        assert (z.bandwidth_out_s, z.bandwidth_in_s) == (exact.bandwidth_out_s,
                                                         exact.bandwidth_in_s)


def test_a_boundary_must_pay_for_itself() -> None:
    c = corridor([300, 300, 300, 900, 170, 420, 250], [30, 28, 30, 30, 26, 30, 30, 24])
    one = optimize_zones(c, max_zones=3, min_signals=2, candidates=None,
                         boundary_penalty=1.0)
    assert len(one.zones) == 1 and (one.zones[0].first, one.zones[0].last) == (0, 7)


def test_zones_never_lose_to_one_band() -> None:
    """Each zone's band is at least the one band's over the same signals (fewer constraints)."""
    c = corridor([300, 300, 300, 900, 170, 420, 250], [30, 28, 30, 30, 26, 30, 30, 24])
    single = optimize_zones(c, max_zones=1, min_signals=2)
    multi = optimize_zones(c, max_zones=3, min_signals=2, candidates=None,
                           boundary_penalty=0.0)
    assert multi.score >= single.score - 1e-9
    whole = single.zones[0]
    for z in multi.zones:
        assert z.bandwidth_out_s + z.bandwidth_in_s >= (whole.bandwidth_out_s
                                                        + whole.bandwidth_in_s) - 1e-6


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"max_zones": 0}, "max_zones"),
    ({"min_signals": 1}, "min_signals"),
    ({"min_signals": 99}, "min_signals"),
    ({"candidates": -1}, "candidates"),
    ({"boundary_penalty": float("nan")}, "boundary_penalty"),
])
def test_bad_options(kwargs: dict[str, float], field: str) -> None:
    c = corridor([300, 300, 300], [30, 30, 30, 30])
    with pytest.raises(InputError, match=field):
        optimize_zones(c, **kwargs)  # type: ignore[arg-type]
