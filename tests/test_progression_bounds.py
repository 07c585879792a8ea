"""The MILP's derived integer ranges never cut off an optimum.

Every link's loop integer ``M_j`` and (whole-second offsets) relative offset ``K_j`` gets a
range derived from the cycle, speed, green and shift ranges (``progression._Model._link``).
On small random corridors (lead/lag options, queue clearance, cycle free or a whole-second
cycle, MAXBAND and MULTIBAND) the optimum with those ranges equals the optimum with every
range widened by several values, and the solution reads back the green starts the exact
evaluator confirms (done by ``solve_*`` itself).
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from greenwave.errors import InfeasibleError
from greenwave.optimize import _maxband_point
from greenwave.progression import (
    Affine,
    ProgressionProblem,
    ProgressionSignal,
    ProgressionSolution,
    SignalOption,
    _Model,
    solve_multiband,
)

#: How far each derived range is widened on both sides in the reference model.
_WIDEN = 6


def _corridor(n: int, seed: int, fixed_cycle: bool) -> ProgressionProblem:
    rng = random.Random(seed)
    x, signals = 0.0, []
    for i in range(n):
        frac = rng.uniform(0.3, 0.6)
        green_out = Affine(-4.0, frac)
        green_in = Affine(-4.0, frac + rng.uniform(-0.1, 0.1))
        shift = rng.uniform(-8.0, 8.0)
        queue = Affine.constant(rng.choice([0.0, 0.0, 3.0]))
        options = [SignalOption("own", green_out, green_in, Affine.constant(shift), queue)]
        if rng.random() < 0.5:
            options.append(SignalOption("lead/lag", green_out, green_in,
                                        Affine.constant(shift + 15.0), queue))
        signals.append(ProgressionSignal(f"S{i}", x, tuple(options)))
        x += rng.uniform(150.0, 900.0)
    cycle = (float(rng.randint(70, 130)),) * 2 if fixed_cycle else (70.0, 130.0)
    speeds = ((rng.uniform(35.0, 45.0), rng.uniform(50.0, 60.0)),) * (n - 1)
    return ProgressionProblem(tuple(signals), cycle, speeds, speeds)


def _optimum(problem: ProgressionProblem, multiband: bool, widen: int) -> float | None:
    """The MILP's optimum [cycles], None when no two-way band exists."""
    model = _Model(problem, integer_offsets=True, multiband=multiband)
    for v in model.solver.variables():
        if v.integer() and v.name()[:2] in ("M_", "K_"):
            v.SetBounds(v.lb() - widen, v.ub() + widen)
    try:
        if multiband:
            links = len(model.b_links)
            stage = model.solve_multiband([1.0] * links, [1.0] * links, None, 60.0)
        else:
            stage = model.solve_weighted(1.0, 60.0)
    except InfeasibleError:
        return None
    assert stage.status == "optimal"
    return stage.objective


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 6), st.integers(0, 10**6), st.booleans(), st.booleans())
def test_derived_integer_ranges_keep_the_optimum(n: int, seed: int, fixed_cycle: bool,
                                                 multiband: bool) -> None:
    problem = _corridor(n, seed, fixed_cycle)
    derived = _optimum(problem, multiband, 0)
    widened = _optimum(problem, multiband, _WIDEN)
    if derived is None or widened is None:
        assert derived is widened
    else:
        assert abs(derived - widened) <= 1e-7


# --------------------------------------------------------------------------------------------
# MULTIBAND's seeds and bounds (optimize_progression): never a different optimum


def _multiband(problem: ProgressionProblem, **kwargs: object) -> ProgressionSolution | None:
    try:
        return solve_multiband(problem, time_limit_s=60.0, **kwargs)  # type: ignore[arg-type]
    except InfeasibleError:
        return None


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 6), st.integers(0, 10**6))
def test_continuous_offsets_bound_whole_seconds_and_seed_them(n: int, seed: int) -> None:
    """The continuous-offset optimum at a whole-second cycle is an upper bound of the
    whole-second one (the same MILP without the integrality of K_j: what lets
    optimize_progression skip a cycle), and seeding the whole-second search with it (its
    options and loop integers first, then the full search from that incumbent) gives the
    plain search's optimum."""
    problem = _corridor(n, seed, fixed_cycle=True)
    plain = _multiband(problem)
    relaxed = _multiband(problem, integer_offsets=False)
    if plain is None or relaxed is None:
        assert plain is None  # whole seconds only remove plans
        return
    assert relaxed.status == plain.status == "optimal"
    assert relaxed.objective >= plain.objective - 1e-9
    seeded = _multiband(problem, hint=relaxed, bound=relaxed.objective)
    assert seeded is not None and seeded.status == "optimal"
    assert abs(seeded.objective - plain.objective) <= 1e-7


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 6), st.integers(0, 10**6))
def test_maxband_seed_keeps_the_multiband_optimum(n: int, seed: int) -> None:
    """MAXBAND's optimum is a feasible MULTIBAND point; seeding the cycle stage with its
    options and loop integers changes the time to the optimum, never the optimum."""
    problem = _corridor(n, seed, fixed_cycle=False)
    plain = _multiband(problem, integer_offsets=False)
    point = _maxband_point(problem)
    seeded = _multiband(problem, integer_offsets=False, hint=point, seed=True)
    if plain is None:
        assert seeded is None
        return
    assert seeded is not None and seeded.status == plain.status == "optimal"
    assert abs(seeded.objective - plain.objective) <= 1e-7
