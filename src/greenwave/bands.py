"""Exact two-way progression bands of a fixed-cycle corridor.

Conventions (used by every band module of greenwave):

- *Outbound* is the direction of increasing ``position_m``; *inbound* the other one.
- Times are seconds in one common time frame, taken modulo the cycle ``C``; positions are
  metres; speeds km/h.
- Signal ``i``'s outbound through green is ``[s_i, s_i + g_i]``
  (``s_i`` = ``green_out_start_s[i]``), its inbound through green
  ``[s_i + Δ_i, s_i + Δ_i + ḡ_i]`` with ``Δ_i`` = ``inbound_shift_s``.
- A vehicle leaving signal 0 outbound at time ``t`` passes signal ``i`` at ``t + T_i``
  (``T_i`` = :meth:`BandProblem.arrival_out_s`); one leaving the last signal inbound at time
  ``t`` passes signal ``i`` at ``t + T̄_i`` (:meth:`BandProblem.arrival_in_s`).
- The outbound band is the longest contiguous set of departure times at signal 0 that meet
  green at every signal; the inbound band likewise at the last signal. Both are computed
  exactly by interval arithmetic on the cycle circle: each green window is projected back to
  the reference signal by subtracting its travel time, the arcs are intersected and the
  longest contiguous arc of the intersection is the band. Green windows are closed, so
  windows that merely touch give a band of 0 s.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

from greenwave.errors import InputError

__all__ = ["BandProblem", "BandResult", "SignalWindow", "evaluate_bands", "link_bands",
           "segment_bands"]

#: Float tolerance for comparisons of times [s]; never used as a time step.
TOLERANCE_S = 1e-9

_KMH_PER_MS = 3.6

Interval = tuple[float, float]


@dataclass(frozen=True)
class SignalWindow:
    """The through green windows one signal offers the band.

    Attributes:
        id: signal identifier, used in messages.
        position_m: position along the corridor [m], increasing in the outbound direction.
        green_out_s: outbound through green duration [s], ``0 < g <= cycle``.
        green_in_s: inbound through green duration [s], ``0 < ḡ <= cycle``.
        inbound_shift_s: start of the inbound through green minus start of the outbound
            through green at this signal [s] (any real; taken modulo the cycle).
        queue_out_s: queue clearance at the start of the outbound green [s]: the band may
            only pass from ``start + queue_out_s`` on (vehicles queued from turning-in flows
            are released first; MAXBAND's τ). ``0 <= queue_out_s < green_out_s``.
        queue_in_s: the same for the inbound green [s].
    """

    id: str
    position_m: float
    green_out_s: float
    green_in_s: float
    inbound_shift_s: float = 0.0
    queue_out_s: float = 0.0
    queue_in_s: float = 0.0


@dataclass(frozen=True)
class BandProblem:
    """A fixed-cycle, fixed-speed two-way band problem.

    Construction validates the data and raises :class:`~greenwave.errors.InputError` naming
    the signal, the field and the value of every problem found.

    Attributes:
        signals: the signals in outbound order (a list is accepted and stored as a tuple).
        cycle_s: common cycle length ``C`` [s].
        speed_out_kmh: outbound progression speed [km/h].
        speed_in_kmh: inbound progression speed [km/h].
        link_speeds_out_kmh: optional outbound progression speed of every link [km/h]
            (link ``j`` joins signal ``j`` to ``j + 1``; ``n - 1`` values); when given it
            replaces ``speed_out_kmh`` for travel times.
        link_speeds_in_kmh: the same for the inbound direction (link ``j`` is still the one
            between signals ``j`` and ``j + 1``, travelled from ``j + 1`` to ``j``).
    """

    signals: tuple[SignalWindow, ...]
    cycle_s: float
    speed_out_kmh: float
    speed_in_kmh: float
    link_speeds_out_kmh: tuple[float, ...] = ()
    link_speeds_in_kmh: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "signals", tuple(self.signals))
        object.__setattr__(self, "link_speeds_out_kmh", tuple(self.link_speeds_out_kmh))
        object.__setattr__(self, "link_speeds_in_kmh", tuple(self.link_speeds_in_kmh))
        problems = _problem_errors(self)
        if problems:
            field_name, value, _ = problems[0]
            text = "; ".join(message for _, _, message in problems)
            raise InputError(text, field=field_name, value=value)

    @property
    def n_signals(self) -> int:
        """Number of signals."""
        return len(self.signals)

    @property
    def min_green_out_s(self) -> float:
        """Smallest outbound through green [s]: an upper bound of the outbound band."""
        return min(s.green_out_s for s in self.signals)

    @property
    def min_green_in_s(self) -> float:
        """Smallest inbound through green [s]: an upper bound of the inbound band."""
        return min(s.green_in_s for s in self.signals)

    def link_travel_out_s(self) -> tuple[float, ...]:
        """Outbound travel time of every link [s] (``n - 1`` values)."""
        return _link_times(self.signals, self.link_speeds_out_kmh, self.speed_out_kmh)

    def link_travel_in_s(self) -> tuple[float, ...]:
        """Inbound travel time of every link [s] (link ``j``: from signal ``j + 1`` to ``j``)."""
        return _link_times(self.signals, self.link_speeds_in_kmh, self.speed_in_kmh)

    def arrival_out_s(self) -> tuple[float, ...]:
        """Outbound travel time from signal 0 to each signal [s] (0 for signal 0)."""
        return tuple(itertools.accumulate(self.link_travel_out_s(), initial=0.0))

    def arrival_in_s(self) -> tuple[float, ...]:
        """Inbound travel time from the last signal to each signal [s] (0 for the last)."""
        backwards = itertools.accumulate(reversed(self.link_travel_in_s()), initial=0.0)
        return tuple(reversed(tuple(backwards)))

    def segment(self, first: int, last: int) -> BandProblem:
        """The sub-corridor of signals ``first..last`` (inclusive), with their links' speeds."""
        if not (0 <= first < last < self.n_signals):
            raise InputError(f"segment {first}..{last}: expected 0 <= first < last < "
                             f"{self.n_signals}", field="segment", value=(first, last))
        return BandProblem(
            self.signals[first:last + 1], self.cycle_s, self.speed_out_kmh, self.speed_in_kmh,
            link_speeds_out_kmh=self.link_speeds_out_kmh[first:last],
            link_speeds_in_kmh=self.link_speeds_in_kmh[first:last],
        )

    def reversed(self) -> BandProblem:
        """The corridor seen from its other end.

        Signal order is reversed, positions are mirrored onto the same span
        (``x' = x_0 + x_last - x``), outbound and inbound greens and speeds swap, and each
        shift becomes ``-Δ_i``. Green starts map as ``s'_j = s_i + Δ_i`` with ``i = n-1-j``;
        with that mapping the reversed problem's outbound band is this problem's inbound band.
        """
        x0, x_last = self.signals[0].position_m, self.signals[-1].position_m
        mirrored = tuple(
            SignalWindow(
                id=s.id,
                position_m=x0 + x_last - s.position_m,
                green_out_s=s.green_in_s,
                green_in_s=s.green_out_s,
                inbound_shift_s=-s.inbound_shift_s,
                queue_out_s=s.queue_in_s,
                queue_in_s=s.queue_out_s,
            )
            for s in reversed(self.signals)
        )
        return BandProblem(
            signals=mirrored,
            cycle_s=self.cycle_s,
            speed_out_kmh=self.speed_in_kmh,
            speed_in_kmh=self.speed_out_kmh,
            link_speeds_out_kmh=tuple(reversed(self.link_speeds_in_kmh)),
            link_speeds_in_kmh=tuple(reversed(self.link_speeds_out_kmh)),
        )


@dataclass(frozen=True)
class BandResult:
    """The two bands a set of offsets gives.

    Attributes:
        bandwidth_out_s: outbound band [s] (0 when no departure time meets all greens).
        bandwidth_in_s: inbound band [s].
        band_out_start_s: time the outbound band's leading (earliest) edge passes signal 0,
            in ``[0, C)`` [s]; 0 when there is no band at all.
        band_in_start_s: time the inbound band's leading edge passes the last signal, in
            ``[0, C)`` [s]; 0 when there is no band at all.
        cycle_s: the cycle [s].
    """

    bandwidth_out_s: float
    bandwidth_in_s: float
    band_out_start_s: float
    band_in_start_s: float
    cycle_s: float

    @property
    def efficiency(self) -> float:
        """Band efficiency ``(b + b̄) / (2 C)`` [-]."""
        return (self.bandwidth_out_s + self.bandwidth_in_s) / (2.0 * self.cycle_s)


def evaluate_bands(problem: BandProblem, green_out_start_s: Sequence[float]) -> BandResult:
    """Exact outbound and inbound bands of *problem* for the given green starts.

    Args:
        problem: the corridor windows, cycle and speeds.
        green_out_start_s: start of each signal's outbound through green [s], in one common
            time frame (any real; taken modulo the cycle).

    Returns:
        The bands [s] and the times their leading edges pass the reference signals.

    Example (ORACLES case 2: 3,000 ft at 50 ft/s is exactly one 60 s cycle):

    >>> a = SignalWindow("A", 0.0, 30.0, 30.0)
    >>> b = SignalWindow("B", 914.4, 30.0, 30.0)
    >>> p = BandProblem((a, b), cycle_s=60.0, speed_out_kmh=54.864, speed_in_kmh=54.864)
    >>> r = evaluate_bands(p, [0.0, 0.0])
    >>> round(r.bandwidth_out_s, 6), round(r.bandwidth_in_s, 6), round(r.efficiency, 6)
    (30.0, 30.0, 0.5)
    """
    starts = _checked_starts(problem, green_out_start_s)
    cycle = problem.cycle_s
    out_arcs = [
        (start + s.queue_out_s - travel, s.green_out_s - s.queue_out_s)
        for s, start, travel in zip(problem.signals, starts, problem.arrival_out_s(), strict=True)
    ]
    in_arcs = [
        (start + s.inbound_shift_s + s.queue_in_s - travel, s.green_in_s - s.queue_in_s)
        for s, start, travel in zip(problem.signals, starts, problem.arrival_in_s(), strict=True)
    ]
    out_start, out_width = _band_of_arcs(out_arcs, cycle)
    in_start, in_width = _band_of_arcs(in_arcs, cycle)
    return BandResult(
        bandwidth_out_s=out_width,
        bandwidth_in_s=in_width,
        band_out_start_s=out_start,
        band_in_start_s=in_start,
        cycle_s=cycle,
    )


def segment_bands(problem: BandProblem, green_out_start_s: Sequence[float], first: int,
                  last: int) -> BandResult:
    """Exact bands through signals ``first..last`` only (a zone of the corridor).

    ``band_out_start_s`` is then the leading edge at signal *first*, ``band_in_start_s`` at
    signal *last*.
    """
    starts = list(green_out_start_s)
    if len(starts) != problem.n_signals:
        raise InputError(f"expected {problem.n_signals} green starts, found {len(starts)}",
                         field="green_out_start_s", value=len(starts))
    return evaluate_bands(problem.segment(first, last), starts[first:last + 1])


def link_bands(problem: BandProblem, green_out_start_s: Sequence[float]
               ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Exact band of every link on its own (MULTIBAND's link bands) [s].

    Link ``j`` joins signals ``j`` and ``j + 1``; its outbound band is the longest window of
    departures from ``j`` at the link's progression speed meeting green at both, its inbound
    band the same from ``j + 1``. Returns ``(outbound, inbound)``, ``n - 1`` values each.
    """
    results = [segment_bands(problem, green_out_start_s, j, j + 1)
               for j in range(problem.n_signals - 1)]
    return (tuple(r.bandwidth_out_s for r in results),
            tuple(r.bandwidth_in_s for r in results))


def _link_times(
    signals: Sequence[SignalWindow], link_speeds_kmh: Sequence[float], speed_kmh: float
) -> tuple[float, ...]:
    speeds = link_speeds_kmh or [speed_kmh] * (len(signals) - 1)
    return tuple(
        (b.position_m - a.position_m) / (v / _KMH_PER_MS)
        for (a, b), v in zip(itertools.pairwise(signals), speeds, strict=True)
    )


# --------------------------------------------------------------------------------------------
# arcs on the cycle circle


def _band_of_arcs(arcs: Sequence[tuple[float, float]], cycle: float) -> tuple[float, float]:
    """(start in [0, C), length) of the longest contiguous arc common to all *arcs*.

    Each arc is ``(start, length)`` with ``0 < length <= C``.
    """
    common: list[Interval] = [(0.0, cycle)]
    for start, length in arcs:
        common = _intersect(common, _arc_pieces(start, length, cycle))
        if not common:
            return 0.0, 0.0
    return _longest_run(common, cycle)


def _wrap(t: float, cycle: float) -> float:
    """*t* modulo *cycle*, in [0, C) (values within the tolerance of C map to 0)."""
    r = t % cycle
    return 0.0 if r >= cycle - TOLERANCE_S else r


def _arc_pieces(start: float, length: float, cycle: float) -> list[Interval]:
    """The arc ``[start, start + length]`` as at most two intervals of [0, C]."""
    if length >= cycle - TOLERANCE_S:
        return [(0.0, cycle)]
    lo = _wrap(start, cycle)
    hi = lo + length
    if hi <= cycle:
        return [(lo, hi)]
    return [(lo, cycle), (0.0, hi - cycle)]


def _intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Intersection of two sets of closed intervals (touching intervals give a point)."""
    out = []
    for lo_a, hi_a in a:
        for lo_b, hi_b in b:
            lo, hi = max(lo_a, lo_b), min(hi_a, hi_b)
            if hi >= lo - TOLERANCE_S:
                out.append((lo, max(lo, hi)))
    return sorted(out)


def _longest_run(pieces: Sequence[Interval], cycle: float) -> tuple[float, float]:
    """Longest contiguous run of sorted intervals of [0, C], joined across the 0/C seam."""
    runs: list[list[float]] = []
    for lo, hi in pieces:
        if runs and lo <= runs[-1][1] + TOLERANCE_S:
            runs[-1][1] = max(runs[-1][1], hi)
        else:
            runs.append([lo, hi])
    first, last = runs[0], runs[-1]
    if first[0] <= TOLERANCE_S and last[1] >= cycle - TOLERANCE_S:
        if len(runs) == 1:
            return 0.0, cycle
        last[1] = first[1] + cycle
        runs.pop(0)
    best = max(runs, key=lambda run: run[1] - run[0])
    return _wrap(best[0], cycle), min(cycle, best[1] - best[0])


# --------------------------------------------------------------------------------------------
# validation


def _checked_starts(problem: BandProblem, green_out_start_s: Sequence[float]) -> list[float]:
    starts = [float(t) for t in green_out_start_s]
    if len(starts) != problem.n_signals:
        raise InputError(
            f"expected {problem.n_signals} green starts (one per signal), found {len(starts)}",
            field="green_out_start_s",
            value=len(starts),
        )
    for sig, t in zip(problem.signals, starts, strict=True):
        if not math.isfinite(t):
            raise InputError(
                f"signal {sig.id!r}: green start must be finite, found {t}",
                field="green_out_start_s",
                value=t,
            )
    return starts


Problem = tuple[str, object, str]


def _problem_errors(problem: BandProblem) -> list[Problem]:
    """Every problem in *problem* as ``(field, value, message)``; empty when valid."""
    found: list[Problem] = []
    for name in ("cycle_s", "speed_out_kmh", "speed_in_kmh"):
        value = getattr(problem, name)
        if not _positive(value):
            found.append((name, value, f"{name} = {value!r}: expected a finite number > 0"))
    if not problem.signals:
        found.append(("signals", 0, "signals: expected at least one signal, found none"))
        return found
    cycle = problem.cycle_s if _positive(problem.cycle_s) else math.inf
    for sig in problem.signals:
        found.extend(_signal_errors(sig, cycle))
    found.extend(_order_errors(problem.signals))
    for name in ("link_speeds_out_kmh", "link_speeds_in_kmh"):
        speeds = getattr(problem, name)
        if speeds and len(speeds) != len(problem.signals) - 1:
            found.append((name, len(speeds), f"{name}: expected {len(problem.signals) - 1} "
                          f"link speeds (one per link), found {len(speeds)}"))
        for j, v in enumerate(speeds):
            if not _positive(v):
                found.append((name, v, f"{name}[{j}] = {v!r}: expected a finite number > 0"))
    return found


def _signal_errors(sig: SignalWindow, cycle: float) -> list[Problem]:
    found: list[Problem] = []
    for name in ("green_out_s", "green_in_s"):
        value = getattr(sig, name)
        if not _positive(value) or value > cycle + TOLERANCE_S:
            found.append((
                name,
                value,
                f"signal {sig.id!r}: {name} = {value!r}: expected 0 < green <= cycle_s ({cycle:g})",
            ))
    for name in ("position_m", "inbound_shift_s"):
        value = getattr(sig, name)
        if not _finite(value):
            found.append((name, value, f"signal {sig.id!r}: {name} = {value!r}: expected finite"))
    for name, green in (("queue_out_s", sig.green_out_s), ("queue_in_s", sig.green_in_s)):
        value = getattr(sig, name)
        if not (_finite(value) and 0.0 <= value < green):
            found.append((name, value, f"signal {sig.id!r}: {name} = {value!r}: expected "
                          f"0 <= queue clearance < the green ({green!r} s)"))
    return found


def _order_errors(signals: Sequence[SignalWindow]) -> list[Problem]:
    found: list[Problem] = []
    seen: set[str] = set()
    for prev, sig in itertools.pairwise(signals):
        if _finite(prev.position_m) and _finite(sig.position_m) and (
            sig.position_m <= prev.position_m
        ):
            found.append((
                "position_m",
                sig.position_m,
                f"signal {sig.id!r}: position_m = {sig.position_m!r}: expected more than "
                f"{prev.position_m!r} (signal {prev.id!r}); positions must strictly increase",
            ))
    for sig in signals:
        if sig.id in seen:
            found.append(("id", sig.id, f"signal {sig.id!r}: id appears more than once"))
        seen.add(sig.id)
    return found


def _finite(value: object) -> bool:
    return isinstance(value, numbers.Real) and math.isfinite(value)


def _positive(value: object) -> bool:
    return isinstance(value, numbers.Real) and math.isfinite(value) and float(value) > 0
