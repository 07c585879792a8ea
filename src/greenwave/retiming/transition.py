"""Safe transitions: reach a new offset, split or cycle by bounded changes per cycle (pure).

A signal's target is a :class:`SignalProgram`: the durations of its SUMO phases (green, yellow
and all-red of every plan phase, in program order; the states never change, only durations)
and the offset at which phase 0 starts, ``offset_s + k·C``. At every start of phase 0 the
controller asks :func:`plan_cycle` for the durations of the cycle that begins:

* the cycle starts on the target grid: the target durations, the plan is in force;
* otherwise the error ``e = (start − offset) mod C`` is removed the short way (shorten this
  cycle by ``e``) or the long way (lengthen it by ``C − e``), whichever needs fewer cycles
  within the limits (ties: the smaller change), like a controller's shortway/dwell
  transition. One cycle changes by at most ``max_change_share·C``, shortening only takes green
  above each phase's minimum and lengthening never takes a green beyond
  ``max_green_factor`` times its target; yellow and all-red never change.

The change is shared among the greens in proportion to what each may give (or take), in whole
seconds when the durations are whole seconds. :func:`check_cycle` is the safety check the loop
runs on every cycle it hands to a controller.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

_EPS = 1e-6


@dataclass(frozen=True)
class SignalProgram:
    """Target timing of one signal: SUMO phase durations [s], which are greens, minimums."""

    tls_id: str
    offset_s: float
    durations_s: tuple[float, ...]
    green: tuple[bool, ...]  # adjustable phases (greens); others keep their duration
    min_s: tuple[float, ...]  # minimum duration of each phase (greens: min green)

    @property
    def cycle_s(self) -> float:
        return sum(self.durations_s)

    def phase0_error_s(self, start_s: float) -> float:
        """``(start − offset) mod C`` in [0, C), 0 when within 1e-6 s of the grid."""
        c = self.cycle_s
        e = (start_s - self.offset_s) % c
        return 0.0 if e < _EPS or c - e < _EPS else e


@dataclass(frozen=True)
class TransitionLimits:
    max_change_share: float = 0.2  # of the target cycle, per cycle
    max_green_factor: float = 2.0  # longest green in a transition cycle, × its target


@dataclass(frozen=True)
class CycleSchedule:
    """The durations of one cycle and how far it moves the signal toward its target."""

    durations_s: tuple[float, ...]
    change_s: float  # this cycle's length minus the target cycle
    error_s: float  # phase-0 error at the start of this cycle (0: on the grid)

    @property
    def in_force(self) -> bool:
        return self.error_s == 0.0 and self.change_s == 0.0


def check_program(p: SignalProgram) -> list[str]:
    """Problems of a target program: phases below their minimum, bad lengths."""
    problems = []
    n = len(p.durations_s)
    if not (len(p.green) == len(p.min_s) == n) or n == 0:
        problems.append(f"signal {p.tls_id}: {n} durations, {len(p.green)} flags, "
                        f"{len(p.min_s)} minimums")
        return problems
    for k, (d, m) in enumerate(zip(p.durations_s, p.min_s, strict=True)):
        if not (math.isfinite(d) and d > 0):
            problems.append(f"signal {p.tls_id} phase {k}: duration {d!r}")
        elif d < m - _EPS:
            problems.append(f"signal {p.tls_id} phase {k}: {d:g} s below its minimum {m:g} s")
    return problems


def check_cycle(target: SignalProgram, durations: Sequence[float],
                limits: TransitionLimits | None = None) -> list[str]:
    """Problems of one cycle run toward *target*: a green below its minimum or beyond the
    longest allowed, a yellow or all-red that differs from the target's."""
    limits = limits or TransitionLimits()
    problems = []
    if len(durations) != len(target.durations_s):
        return [f"signal {target.tls_id}: {len(durations)} phases, the program has "
                f"{len(target.durations_s)}"]
    for k, (d, t, m, g) in enumerate(zip(durations, target.durations_s, target.min_s,
                                         target.green, strict=True)):
        if not g and abs(d - t) > _EPS:
            problems.append(f"signal {target.tls_id} phase {k}: clearance {d:g} s, set {t:g} s")
        elif g and d < m - _EPS:
            problems.append(f"signal {target.tls_id} phase {k}: green {d:g} s below its "
                            f"minimum {m:g} s")
        elif g and d > max(t, m) * limits.max_green_factor + _EPS:
            problems.append(f"signal {target.tls_id} phase {k}: green {d:g} s beyond "
                            f"{limits.max_green_factor:g} × {t:g} s")
    return problems


def plan_cycle(target: SignalProgram, start_s: float,
               limits: TransitionLimits | None = None) -> CycleSchedule:
    """Durations of the cycle starting at *start_s* toward *target* (module doc)."""
    limits = limits or TransitionLimits()
    base = target.durations_s
    error = target.phase0_error_s(start_s)
    if error == 0.0:
        return CycleSchedule(base, 0.0, 0.0)
    c = target.cycle_s
    whole = all(float(d).is_integer() for d in base) and float(error).is_integer()
    greens = [k for k, g in enumerate(target.green) if g]
    give = {k: max(0.0, base[k] - target.min_s[k]) for k in greens}
    take = {k: max(0.0, max(base[k], target.min_s[k]) * limits.max_green_factor - base[k])
            for k in greens}
    cap = limits.max_change_share * c
    max_short = min(cap, sum(give.values()))
    max_long = min(cap, sum(take.values()))
    if whole:
        max_short, max_long = math.floor(max_short + _EPS), math.floor(max_long + _EPS)
    short, long = error, c - error

    def cycles(amount: float, most: float) -> float:
        return math.inf if most <= _EPS else math.ceil(amount / most - _EPS)

    n_short, n_long = cycles(short, max_short), cycles(long, max_long)
    if n_short == math.inf and n_long == math.inf:
        return CycleSchedule(base, 0.0, error)  # nothing can move: hold the plan
    if (n_short, short) <= (n_long, long):
        change, room = -min(short, max_short), give
    else:
        change, room = min(long, max_long), take
    shares = _share(abs(change), [room[k] for k in greens], whole)
    durations = list(base)
    for k, s in zip(greens, shares, strict=True):
        durations[k] += math.copysign(s, change)
    return CycleSchedule(tuple(durations), change, error)


def _share(total: float, room: Sequence[float], whole: bool) -> list[float]:
    """*total* shared in proportion to *room* (never beyond it), whole seconds if asked."""
    cap = sum(room)
    if cap <= _EPS:
        return [0.0] * len(room)
    raw = [total * r / cap for r in room]
    if not whole:
        return raw
    out = [math.floor(x + _EPS) for x in raw]
    left = round(total) - sum(out)
    order = sorted(range(len(raw)), key=lambda k: (-(raw[k] - out[k]), k))
    for k in order:
        if left <= 0:
            break
        if out[k] + 1 <= room[k] + _EPS:
            out[k] += 1
            left -= 1
    return [float(x) for x in out]
