"""The compass search of greenwave.tuning: known minima found by hand, budget, acceptance rule,
and invariants on arbitrary objectives (hypothesis)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwave.errors import InputError
from greenwave.tuning import compass_search

PERIOD = 90.0


def bowl(target: Sequence[float]):
    """Separable periodic bowl: sum of 1 - cos(2π (x - a) / P); 0 exactly at the target."""

    def f(cands: Sequence[tuple[float, ...]]) -> list[float]:
        return [sum(1 - math.cos(2 * math.pi * (x - a) / PERIOD)
                    for x, a in zip(c, target, strict=True)) for c in cands]

    return f


def test_finds_the_minimum_of_a_separable_bowl() -> None:
    # From 0 with steps 30, 15: 30 → 30, 45 = 30 + 15, 60 = 30 + 30 (two moves), 75 = -15
    target = (30.0, 45.0, 60.0, 75.0)
    r = compass_search(bowl(target), (0.0, 0.0, 0.0, 0.0), period_s=PERIOD,
                       steps_s=(30.0, 15.0), max_evaluations=500, min_gain=0.0)
    assert r.offsets_s == target
    assert r.value == pytest.approx(0.0, abs=1e-12)
    assert r.start_value == pytest.approx(0.0 + 4 - math.cos(2 * math.pi * 30 / 90)
                                          - math.cos(2 * math.pi * 45 / 90)
                                          - math.cos(2 * math.pi * 60 / 90)
                                          - math.cos(2 * math.pi * 75 / 90))
    assert r.improvement == pytest.approx(1.0)


def test_budget_counts_every_candidate_and_the_start() -> None:
    calls: list[int] = []

    def f(cands: Sequence[tuple[float, ...]]) -> list[float]:
        calls.append(len(cands))
        return bowl((44.0, 44.0))(cands)

    r = compass_search(f, (0.0, 0.0), period_s=PERIOD, steps_s=(10.0, 5.0, 1.0),
                       max_evaluations=7)
    assert sum(calls) == 7 == r.evaluations == len(r.trials)
    assert calls[0] == 1  # the start alone


def test_known_start_value_is_not_evaluated_again() -> None:
    calls: list[tuple[float, ...]] = []

    def f(cands: Sequence[tuple[float, ...]]) -> list[float]:
        calls.extend(cands)
        return [1.0] * len(cands)

    r = compass_search(f, (5.0,), period_s=PERIOD, steps_s=(10.0,), max_evaluations=2,
                       start_value=1.0)
    assert calls == [(15.0,), (85.0,)]  # ±10 s, the minus move wrapped modulo 90 s
    assert r.evaluations == 2 and r.offsets_s == (5.0,) and r.value == 1.0


def test_flat_objective_keeps_the_start() -> None:
    r = compass_search(lambda c: [3.0] * len(c), (10.0, 100.0), period_s=PERIOD,
                       steps_s=(20.0,), max_evaluations=50)
    assert r.offsets_s == (10.0, 10.0)  # 100 s is 10 s modulo the cycle
    assert r.value == 3.0 and r.improvement == 0.0
    assert [t.accepted for t in r.trials] == [True] + [False] * 4


def test_gains_below_min_gain_are_refused() -> None:
    # moving offset 0 by +10 s lowers 100 to 99.5: 0.5 % < 1 % is refused, 2 % is taken
    def f(cands: Sequence[tuple[float, ...]]) -> list[float]:
        return [99.5 if c[0] == 10.0 else 98.0 if c[0] == 20.0 else 100.0 for c in cands]

    r = compass_search(f, (0.0,), period_s=PERIOD, steps_s=(10.0,), max_evaluations=20,
                       min_gain=0.01)
    assert r.offsets_s == (0.0,)
    r = compass_search(f, (0.0,), period_s=PERIOD, steps_s=(20.0,), max_evaluations=20,
                       min_gain=0.01)
    assert r.offsets_s == (20.0,) and r.value == 98.0


def test_only_free_offsets_move() -> None:
    r = compass_search(bowl((30.0, 30.0)), (0.0, 0.0), period_s=PERIOD, steps_s=(30.0,),
                       max_evaluations=100, free=[1], min_gain=0.0)
    assert r.offsets_s == (0.0, 30.0)


@pytest.mark.parametrize("kwargs, field", [
    ({"period_s": 0.0}, "period_s"),
    ({"steps_s": ()}, "steps_s"),
    ({"steps_s": (90.0,)}, "steps_s"),
    ({"max_evaluations": 0}, "max_evaluations"),
    ({"min_gain": 1.0}, "min_gain"),
    ({"free": [2]}, "free"),
])
def test_bad_arguments_are_refused(kwargs: dict, field: str) -> None:
    args = {"period_s": PERIOD, "steps_s": (10.0,), "max_evaluations": 5, **kwargs}
    with pytest.raises(InputError) as e:
        compass_search(lambda c: [0.0] * len(c), (0.0, 0.0), **args)
    assert e.value.field == field


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 200, allow_nan=False), min_size=1, max_size=4),
       st.integers(1, 40), st.integers(0, 2**16))
def test_any_objective_result_is_the_best_accepted_and_reproducible(
        start: list[float], budget: int, salt: int) -> None:
    def f(cands: Sequence[tuple[float, ...]]) -> list[float]:  # arbitrary but deterministic
        return [float(hash((salt, *c)) % 1000) for c in cands]

    r = compass_search(f, start, period_s=PERIOD, steps_s=(30.0, 7.0), max_evaluations=budget)
    assert r.evaluations <= budget
    assert all(0 <= x < PERIOD for t in r.trials for x in t.offsets_s)
    assert r.value == f([r.offsets_s])[0]
    assert r.value <= r.start_value
    accepted = [t for t in r.trials if t.accepted]
    assert accepted[-1].offsets_s == r.offsets_s
    assert [t.value for t in accepted] == sorted((t.value for t in accepted), reverse=True)
    again = compass_search(f, start, period_s=PERIOD, steps_s=(30.0, 7.0),
                           max_evaluations=budget)
    assert again == r
