"""The full optimizer on the Ganjiang spec: cycle range, sequences, exact bands, seeding."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenwave import load_corridor, optimize_corridor
from greenwave.bands import evaluate_bands
from greenwave.optimize import _progression_signals, optimize_progression
from greenwave.progression import ProgressionProblem, solve_progression
from greenwave.sequences import sequence_variants

GANJIANG = Path(__file__).resolve().parents[1] / "networks" / "ganjiang" / "corridor.toml"


@pytest.fixture(scope="module")
def corridor():  # type: ignore[no-untyped-def]
    return load_corridor(GANJIANG)


@pytest.fixture(scope="module")
def full_plan(corridor):  # type: ignore[no-untyped-def]
    return optimize_progression(corridor, cycle_range_s=(100.0, 110.0),
                                speed_range_kmh=(55.0, 55.0), sequences=True,
                                period="offpeak")


def test_full_plan_is_exact_and_recorded(full_plan) -> None:  # type: ignore[no-untyped-def]
    p = full_plan
    assert 100.0 <= p.cycle_s <= 110.0 and float(p.cycle_s).is_integer()
    assert all(float(s.offset_s).is_integer() for s in p.signals)
    exact = p.evaluate_bands()
    assert (exact.bandwidth_out_s, exact.bandwidth_in_s) == (p.bandwidth_out_s,
                                                             p.bandwidth_in_s)
    assert p.solver["status"] == "optimal" and p.solver["gap"] == 0.0
    opts = p.solver["options"]
    assert opts["cycle_range_s"] == [100.0, 110.0] and opts["sequences"] is True
    assert opts["splits"] == "spec" and p.solver["solve_s"] > 0


def test_sequences_are_realised_by_the_phases(corridor, full_plan) -> None:  # type: ignore[no-untyped-def]
    timed = corridor.with_cycle(full_plan.cycle_s)
    for s, x in zip(full_plan.signals, timed.intersections, strict=True):
        variants = {v.name: v.intersection for v in sequence_variants(x)}
        assert s.sequence in variants
        assert s.phases == variants[s.sequence].phases
        # the plan's through windows are those of the chosen phases
        assert s.green_out_s == variants[s.sequence].green_out_s
    assert {s.sequence for s in full_plan.signals} - {""}, "no sequence chosen at all"


def test_full_model_never_loses_to_the_first_slice(corridor, full_plan) -> None:  # type: ignore[no-untyped-def]
    """Fixed cycle, fixed speed, no sequence choice is a restriction of the full model."""
    for cycle in (100.0, 105.0, 110.0):
        v1 = optimize_corridor(corridor, cycle_s=cycle, speed_kmh=55.0)
        assert full_plan.efficiency >= v1.efficiency - 1e-9


def test_seeded_search_gives_the_full_searchs_optimum(corridor) -> None:  # type: ignore[no-untyped-def]
    """The fixed-structure shortcut only ever stops at a proven optimum."""
    def problem(lo: float, hi: float) -> ProgressionProblem:
        signals = _progression_signals(
            lambda c, whole: corridor.with_cycle(c, whole_seconds=whole), lo, hi, True, None)
        n = len(signals) - 1
        return ProgressionProblem(signals, (lo, hi), ((55.0, 55.0),) * n, ((55.0, 55.0),) * n)

    free = solve_progression(problem(100.0, 104.0), mode="weighted", integer_offsets=False)
    cycle = float(round(free.cycle_s))
    fixed = problem(cycle, cycle)
    plain = solve_progression(fixed, mode="balanced")
    seeded = solve_progression(fixed, mode="balanced", hint=free, bound=free.objective)
    assert seeded.objective == pytest.approx(plain.objective, abs=1e-7)
    for sol in (plain, seeded):
        again = evaluate_bands(sol.problem, sol.green_out_start_s)
        assert again.bandwidth_out_s == sol.result.bandwidth_out_s
    # a bound nobody can reach never stops the search early
    wrong = solve_progression(fixed, mode="balanced", hint=free, bound=free.objective + 1.0)
    assert wrong.objective == pytest.approx(plain.objective, abs=1e-7)


def test_uncoordinated_reference_keeps_the_plans_own_splits(corridor) -> None:  # type: ignore[no-untyped-def]
    """Same cycle, same phases (here splits from demand), every offset 0."""
    from greenwave.workflow import uncoordinated_plan

    plan = optimize_progression(corridor, cycle_range_s=(140.0, 140.0),
                                speed_range_kmh=(55.0, 55.0), sequences=True,
                                period="am_peak", splits="demand")
    ref = uncoordinated_plan(plan, corridor)
    assert ref.cycle_s == plan.cycle_s
    assert [s.phases for s in ref.signals] == [s.phases for s in plan.signals]
    assert all(s.offset_s == 0.0 for s in ref.signals)
    # the spec's own retiming would have given other greens: the check is not vacuous
    spec = corridor.with_cycle(140.0)
    assert any(s.phases != i.phases for s, i in zip(plan.signals, spec.intersections,
                                                     strict=True))


def test_multiband_pipeline_keeps_every_cycles_optimum(corridor) -> None:  # type: ignore[no-untyped-def]
    """MULTIBAND's seeds (MAXBAND's point, the continuous offsets' structure) and the skip of
    a cycle whose continuous-offset bound is below the other's optimum never change the
    answer: the plan's objective is the best plain whole-second optimum of its cycles."""
    from greenwave.optimize import multiband_weights
    from greenwave.progression import solve_multiband

    plan = optimize_progression(corridor, method="multiband", cycle_range_s=(100.0, 120.0),
                                speed_range_kmh=(50.0, 60.0), sequences=True,
                                period="offpeak")
    assert plan.solver["status"] == "optimal" and plan.solver["gap"] == 0.0
    w_out, w_in, ks = multiband_weights(corridor, "offpeak", 1.0)
    links = len(corridor.intersections) - 1

    def problem(cycle: float) -> ProgressionProblem:
        signals = _progression_signals(
            lambda c, whole: corridor.with_cycle(c, whole_seconds=whole), cycle, cycle, True,
            None)
        return ProgressionProblem(signals, (cycle, cycle), ((50.0, 60.0),) * links,
                                  ((50.0, 60.0),) * links)

    cycles = [s["cycle_s"] for s in plan.solver["stages"][1:]]
    plain = {c: solve_multiband(problem(c), weights_out=w_out, weights_in=w_in, k_links=ks)
             for c in cycles}
    best = max(plain.values(), key=lambda s: s.objective)
    assert plan.cycle_s == best.cycle_s
    total = sum(a * b for a, b in zip(w_out, plan.link_bands_out_s, strict=True))
    total += sum(a * b for a, b in zip(w_in, plan.link_bands_in_s, strict=True))
    assert total / links / plan.cycle_s >= best.objective - 1e-7
    for stage in plan.solver["stages"][1:]:
        if stage["status"] == "dominated":
            assert stage["bound"] < best.objective
