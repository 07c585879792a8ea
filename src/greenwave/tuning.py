"""Offset tuning against a measured objective: a compass (coordinate pattern) search.

Bandwidth and platoon models describe the corridor; a microsimulation measures it, queues,
spillback, turning traffic and the signals outside the corridor included. Where the model and
the measurement disagree (oversaturated short links, a signal running its own cycle in the
middle of the corridor) engineers tune offsets in the simulator. :func:`compass_search` is that
tuning as a derivative-free search (Torczon's generalised pattern search, the coordinate
directions ±e_i, as in Kolda, Lewis & Torczon 2003, "Optimization by direct search"): from the
start, every offset in turn is moved by ±step (modulo the cycle); the better move is taken when
it lowers the objective by more than ``min_gain`` (relative) — simulated objectives are noisy,
and chasing noise overfits the tuning seeds; when a whole sweep finds no move the step is
refined (the next of ``steps_s``). The search stops after the last step or at
``max_evaluations``.

The objective takes a batch of candidate offset vectors and returns one value per candidate, so
a simulator can run the candidates of one coordinate in parallel. The search itself is pure and
deterministic: the same objective values give the same path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from greenwave.errors import InputError

Objective = Callable[[Sequence[tuple[float, ...]]], Sequence[float]]

# Default seeds of the SUMO runs that prepare a plan; evaluations use 1, 2, 3, and preparing
# on them would favour the plan.
TUNING_SEEDS = (101, 102)
"""Seeds of tuning and checking runs (``evaluate-net --tune``, ``optimize --sumo-check``)."""
COUNT_SEED = 100
"""Seed of the counting run of splits from demand on an imported net."""


@dataclass(frozen=True)
class Trial:
    """One evaluated candidate: the offsets [s], the objective value and what became of it."""

    evaluation: int  # 1-based order of evaluation
    offsets_s: tuple[float, ...]
    value: float
    step_s: float  # 0 for the start
    signal: int  # index of the moved offset, -1 for the start
    accepted: bool


@dataclass(frozen=True)
class SearchResult:
    """Best offsets found, their value, the start's value and every trial in order."""

    offsets_s: tuple[float, ...]
    value: float
    start_value: float
    evaluations: int
    trials: tuple[Trial, ...]

    @property
    def improvement(self) -> float:
        """Relative reduction of the objective from the start [-]."""
        if self.start_value == 0:
            return 0.0
        return (self.start_value - self.value) / abs(self.start_value)


def compass_search(
    objective: Objective,
    start_s: Sequence[float],
    *,
    period_s: float,
    steps_s: Sequence[float],
    max_evaluations: int,
    min_gain: float = 0.002,
    free: Sequence[int] | None = None,
    start_value: float | None = None,
) -> SearchResult:
    """Minimise *objective* over offsets modulo *period_s* by coordinate moves of ±step.

    *steps_s* are tried from first to last (coarse to fine); *free* lists the offsets that may
    move (default all). A move is accepted when it lowers the current value by more than
    ``min_gain`` × |current|. At most *max_evaluations* candidates are evaluated, the start
    included; a known *start_value* saves the start's evaluation (it is then not counted).
    """
    if not (math.isfinite(period_s) and period_s > 0):
        raise InputError(f"must be > 0, found {period_s!r}", field="period_s", value=period_s)
    if not steps_s or any(not (math.isfinite(s) and 0 < s < period_s) for s in steps_s):
        raise InputError(f"steps must lie in (0, {period_s:g}) s, found {list(steps_s)}",
                         field="steps_s", value=list(steps_s))
    least = 0 if start_value is not None else 1
    if max_evaluations < least:
        raise InputError(f"must be at least {least}, found {max_evaluations}",
                         field="max_evaluations", value=max_evaluations)
    if not (math.isfinite(min_gain) and 0 <= min_gain < 1):
        raise InputError(f"must be a share in [0, 1), found {min_gain!r}", field="min_gain",
                         value=min_gain)
    n = len(start_s)
    movable = list(range(n)) if free is None else sorted(set(free))
    if any(not 0 <= i < n for i in movable):
        raise InputError(f"offset indices must lie in 0..{n - 1}, found {movable}",
                         field="free", value=movable)

    def wrap(x: float) -> float:
        v = round(x % period_s, 6)
        return 0.0 if v >= period_s else v

    current = tuple(wrap(x) for x in start_s)
    trials: list[Trial] = []
    value = _evaluate(objective, [current])[0] if start_value is None else float(start_value)
    trials.append(Trial(1, current, value, 0.0, -1, True))
    first = value
    budget = max_evaluations + (start_value is not None)
    for step in steps_s:
        moved = True
        while moved and len(trials) < budget:
            moved = False
            for i in movable:
                room = budget - len(trials)
                if room <= 0:
                    break
                candidates = [_moved(current, i, wrap(current[i] + sign * step))
                              for sign in (1.0, -1.0)[:room]]
                values = _evaluate(objective, candidates)
                best = min(range(len(values)), key=lambda k: (values[k], k))
                accept = values[best] < value - min_gain * abs(value)
                for k, (cand, v) in enumerate(zip(candidates, values, strict=True)):
                    trials.append(Trial(len(trials) + 1, cand, v, step, i, accept and k == best))
                if accept:
                    current, value, moved = candidates[best], values[best], True
    return SearchResult(current, value, first, len(trials) - (start_value is not None),
                        tuple(trials))


def _moved(offsets: tuple[float, ...], i: int, value: float) -> tuple[float, ...]:
    return (*offsets[:i], value, *offsets[i + 1:])


def _evaluate(objective: Objective, candidates: list[tuple[float, ...]]) -> list[float]:
    values = [float(v) for v in objective(candidates)]
    if len(values) != len(candidates):
        raise ValueError(f"the objective returned {len(values)} values for "
                         f"{len(candidates)} candidates")
    if any(math.isnan(v) for v in values):
        raise ValueError("the objective returned NaN")
    return values
