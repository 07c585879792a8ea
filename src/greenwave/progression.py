"""Full MAXBAND: cycle, progression speeds, left-turn sequence and queue clearance as decisions.

Little, Kelson and Gartner's MAXBAND (1981) in the notation of :mod:`greenwave.bands`, with
every time in *cycles* so that a variable cycle ``C`` enters linearly through ``z = 1/C``:

- Every window quantity of signal ``i`` (through greens, inbound shift ``Δ``, queue clearance
  ``τ``) depends on the signal's *option* ``o`` (its left-turn sequence: lag/lag, lead/lag,
  ...) and is affine in the cycle, ``x(C) = a + b·C`` [s]; in cycles that is ``a·z + b``.
  With one binary ``y_io`` per option (``Σ_o y_io = 1``) and ``w_io = y_io·z`` (exact
  McCormick linearization of a binary times a bounded continuous), the quantity is
  ``Σ_o (a_o·w_io + b_o·y_io)``: linear. Through greens may differ between options; with
  the sequence variants of :mod:`greenwave.sequences` they do not, only ``Δ`` does, exactly
  as MAXBAND's ``δ_i l_i − δ̄_i l̄_i`` terms.
- Link travel times ``t_j``, ``t̄_j`` [cycles] are variables with
  ``d_j z / f_j <= t_j <= d_j z / e_j`` for the speed range ``[e_j, f_j]``; consecutive links
  may be held to ``|t_{j+1}/d_{j+1} − t_j/d_j| <= ε z`` (a bound on the change of 1/speed).
  ``T_i = Σ_{j<i} t_j``, ``T̄_i = Σ_{j>=i} t̄_j``.
- Outbound band ``[u + T_i, u + T_i + b]`` inside ``[φ_i + τ_i, φ_i + g_i]``; inbound band
  ``[ū + T̄_i, ū + T̄_i + b̄]`` inside ``[φ_i + Δ_i + m_i + τ̄_i, φ_i + Δ_i + m_i + ḡ_i]`` with
  loop integers ``m_i``. ``u = 0`` (translation invariance) unless offsets are whole seconds
  at a fixed cycle, when ``φ_i = n_i z`` with integer ``n_i`` and ``u ∈ [0, z]``.
- Objectives as :class:`greenwave.maxband.BandMode`: weighted ``b + k b̄`` with
  ``(1 − k) b̄ >= (1 − k) k b``; equal (``b = b̄``); balanced (largest ``b + b̄``, then the
  largest ``min(b, b̄)`` keeping it). Bands are fractions of the cycle, as in MAXBAND (the
  efficiency ``(b + b̄)/2`` is what is maximized, not seconds of band).

Both bands must exist (classic MAXBAND); no offsets allowing that raise
:class:`~greenwave.errors.InfeasibleError`. The solution is re-evaluated exactly with
:func:`greenwave.bands.evaluate_bands` at the chosen cycle, speeds and options; the exact bands
are never smaller than the MILP's (checked) and are the ones returned.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from greenwave._milp import (
    MIP_GAP,
    check_solution,
    create_solver,
    pywraplp,
    relative_gap,
    set_limits,
)
from greenwave.bands import (
    TOLERANCE_S,
    BandProblem,
    BandResult,
    SignalWindow,
    evaluate_bands,
    link_bands,
)
from greenwave.errors import InfeasibleError, InputError, SolverError
from greenwave.maxband import BandMode

__all__ = [
    "Affine",
    "ProgressionProblem",
    "ProgressionSignal",
    "ProgressionSolution",
    "SignalOption",
    "solve_multiband",
    "solve_progression",
]

_KMH_PER_MS = 3.6
_EPS = 1e-9
#: Slack on the total band kept by the second stage of BALANCED [cycles].
_BALANCE_SLACK = 1e-7
#: Largest shortfall of the exact band below the MILP's band tolerated [s].
CHECK_TOLERANCE_S = 1e-6


@dataclass(frozen=True)
class Affine:
    """A time that depends on the cycle: ``a + b·C`` [s]."""

    a: float = 0.0
    b: float = 0.0

    @classmethod
    def constant(cls, value: float) -> Affine:
        return cls(value, 0.0)

    @classmethod
    def through(cls, c1: float, v1: float, c2: float, v2: float) -> Affine:
        """The affine function taking value *v1* at cycle *c1* and *v2* at *c2*."""
        if math.isclose(c1, c2):
            return cls.constant(v1)
        slope = (v2 - v1) / (c2 - c1)
        return cls(v1 - slope * c1, slope)

    def at(self, cycle_s: float) -> float:
        """Value at cycle *cycle_s* [s]."""
        return self.a + self.b * cycle_s

    def fraction_bounds(self, z_lo: float, z_hi: float) -> tuple[float, float]:
        """Range of ``value / C = a·z + b`` over ``z ∈ [z_lo, z_hi]`` [cycles]."""
        ends = (self.a * z_lo + self.b, self.a * z_hi + self.b)
        return min(ends), max(ends)


ZERO = Affine()


@dataclass(frozen=True)
class SignalOption:
    """One way of timing a signal (e.g. a left-turn sequence), as windows affine in C."""

    name: str
    green_out: Affine
    green_in: Affine
    shift: Affine = ZERO  # inbound through green start − outbound through green start
    queue_out: Affine = ZERO  # queue clearance at the start of the outbound green
    queue_in: Affine = ZERO


@dataclass(frozen=True)
class ProgressionSignal:
    """A signal of the corridor and the timing options the optimizer may choose from."""

    id: str
    position_m: float
    options: tuple[SignalOption, ...]


@dataclass(frozen=True)
class ProgressionProblem:
    """A full MAXBAND problem.

    Attributes:
        signals: in outbound order.
        cycle_range_s: ``(C_min, C_max)``; equal values fix the cycle.
        speed_out_kmh: outbound progression speed range ``(lo, hi)`` of every link (one
            pair for all links is accepted too).
        speed_in_kmh: the same, inbound.
        max_change_s_per_m: largest change of 1/speed between consecutive links [s/m]
            (``None``: unlimited). A change of at most ``Δv`` km/h between speeds of at most
            ``v_max`` km/h is guaranteed by ``Δv·3.6 / v_max²``.
    """

    signals: tuple[ProgressionSignal, ...]
    cycle_range_s: tuple[float, float]
    speed_out_kmh: tuple[tuple[float, float], ...]
    speed_in_kmh: tuple[tuple[float, float], ...]
    max_change_s_per_m: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "signals", tuple(self.signals))
        n_links = len(self.signals) - 1
        for name in ("speed_out_kmh", "speed_in_kmh"):
            value = getattr(self, name)
            if len(value) == 2 and all(isinstance(v, int | float) for v in value):
                value = (tuple(value),) * n_links
            object.__setattr__(self, name, tuple(tuple(r) for r in value))
        _validate(self)

    @property
    def distances_m(self) -> tuple[float, ...]:
        return tuple(b.position_m - a.position_m for a, b in itertools.pairwise(self.signals))

    def band_problem(
        self,
        cycle_s: float,
        choice: Sequence[int],
        speeds_out_kmh: Sequence[float],
        speeds_in_kmh: Sequence[float],
    ) -> BandProblem:
        """The fixed problem of one cycle, one option per signal and per-link speeds."""
        windows = []
        for sig, k in zip(self.signals, choice, strict=True):
            o = sig.options[k]
            windows.append(SignalWindow(
                id=sig.id,
                position_m=sig.position_m,
                green_out_s=o.green_out.at(cycle_s),
                green_in_s=o.green_in.at(cycle_s),
                inbound_shift_s=o.shift.at(cycle_s),
                queue_out_s=o.queue_out.at(cycle_s),
                queue_in_s=o.queue_in.at(cycle_s),
            ))
        mean = _mean_speed(self.distances_m, speeds_out_kmh)
        mean_in = _mean_speed(self.distances_m, speeds_in_kmh)
        return BandProblem(
            tuple(windows), cycle_s, mean, mean_in,
            link_speeds_out_kmh=tuple(speeds_out_kmh), link_speeds_in_kmh=tuple(speeds_in_kmh),
        )


@dataclass(frozen=True)
class ProgressionSolution:
    """What the full MAXBAND decided, and the exact bands it gives.

    Attributes:
        cycle_s: the cycle [s].
        choice: index of the chosen option of every signal.
        option_names: name of the chosen option of every signal.
        link_speeds_out_kmh: outbound progression speed of every link [km/h].
        link_speeds_in_kmh: inbound progression speed of every link [km/h].
        green_out_start_s: outbound through green start of every signal [s], signal 0 at 0.
        problem: the fixed band problem of this solution (cycle, windows, speeds).
        result: the exact bands (:func:`~greenwave.bands.evaluate_bands`).
        milp_bandwidth_out_s: the MILP's outbound band [s] (≤ the exact one).
        milp_bandwidth_in_s: the MILP's inbound band [s].
        status: ``optimal`` (proven) or ``feasible`` (time limit first).
        gap: relative MIP gap, 0 when proven optimal.
        solve_s: wall time [s].
        mode: the band mode.
        k: the weight used by WEIGHTED and EQUAL.
    """

    cycle_s: float
    choice: tuple[int, ...]
    option_names: tuple[str, ...]
    link_speeds_out_kmh: tuple[float, ...]
    link_speeds_in_kmh: tuple[float, ...]
    green_out_start_s: tuple[float, ...]
    problem: BandProblem
    result: BandResult
    milp_bandwidth_out_s: float
    milp_bandwidth_in_s: float
    status: str
    gap: float
    solve_s: float
    mode: BandMode
    k: float
    link_bands_out_s: tuple[float, ...] = ()
    link_bands_in_s: tuple[float, ...] = ()
    milp_link_bands_out_s: tuple[float, ...] = ()
    milp_link_bands_in_s: tuple[float, ...] = ()
    method: str = "maxband"
    objective: float = 0.0  # the MILP's objective (first stage for BALANCED) [cycles]
    #: options and link integers of the solution (``y_*``, ``M_*``), to seed a neighbour
    structure: tuple[tuple[str, int], ...] = ()


def solve_multiband(
    problem: ProgressionProblem,
    *,
    weights_out: Sequence[float] | None = None,
    weights_in: Sequence[float] | None = None,
    k_links: Sequence[float] | None = None,
    integer_offsets: bool = True,
    time_limit_s: float = 30.0,
    hint: ProgressionSolution | None = None,
    bound: float | None = None,
    seed: bool = False,
) -> ProgressionSolution:
    """MULTIBAND (Gartner, Assmann, Lasaga, Hou 1991): a band per link and direction.

    Each link ``j`` gets its own bands ``b_j``, ``b̄_j``, symmetric about one progression line
    per direction (the same loop integers, cycle, speeds and lead/lag options as MAXBAND), and
    fitting the greens at both of its signals; the objective is
    ``Σ_j (a_j b_j + ā_j b̄_j) / (n − 1)`` with weights ``a_j = (V_j / S_j)^p`` (default 1).
    A band centred on the progression line of width ``min_j b_j`` passes every signal, so the
    through band is never below the narrowest link band.

    The solution's ``link_bands_*_s`` are the exact band of every link for the returned
    offsets (:func:`greenwave.bands.link_bands`, never below the MILP's), ``result`` the exact
    through bands.

    *hint* and *bound* as :func:`solve_progression`. With *seed* (or *bound*) the hint's
    options and loop integers are fixed first (a small MILP, an LP with continuous offsets);
    that solution, feasible for the full model, is the full search's first incumbent, and the
    full search runs without SCIP's primal heuristics (it mostly proves). A MAXBAND solution
    of the same problem is such a hint (every link band its through band). The optimum is the
    same with or without (tests/test_progression_bounds.py).

    Raises:
        InputError: weights or ratios of the wrong length, negative or not finite.
        InfeasibleError, SolverError: as :func:`solve_progression`.
    """
    links = len(problem.signals) - 1
    w_out = _weights(weights_out, links, "weights_out")
    w_in = _weights(weights_in, links, "weights_in")
    ks = None if k_links is None else _weights(k_links, links, "k_links")
    if not (math.isfinite(time_limit_s) and time_limit_s > 0):
        raise InputError(f"time_limit_s = {time_limit_s!r}: expected a number > 0",
                         field="time_limit_s", value=time_limit_s)
    started = time.perf_counter()
    model = _Model(problem, integer_offsets, multiband=True)
    if hint is not None:
        model.hint(hint)
    structure = (dict(hint.structure) if hint is not None and (bound is not None or seed)
                 else None)
    stage = model.solve_multiband(w_out, w_in, ks, time_limit_s, structure, bound)
    return _solution(problem, model, stage, BandMode.WEIGHTED, 1.0,
                     time.perf_counter() - started)


def _weights(values: Sequence[float] | None, n: int, name: str) -> list[float]:
    if values is None:
        return [1.0] * n
    out = [float(v) for v in values]
    if len(out) != n:
        raise InputError(f"{name}: expected one value per link ({n}), found {len(out)}",
                         field=name, value=len(out))
    for j, v in enumerate(out):
        if not (math.isfinite(v) and v >= 0):
            raise InputError(f"{name}[{j}] = {v!r}: expected a finite number >= 0",
                             field=name, value=v)
    return out


def solve_progression(
    problem: ProgressionProblem,
    *,
    mode: BandMode | str = BandMode.BALANCED,
    k: float = 1.0,
    integer_offsets: bool = True,
    time_limit_s: float = 30.0,
    hint: ProgressionSolution | None = None,
    bound: float | None = None,
) -> ProgressionSolution:
    """Cycle, speeds, options and offsets maximizing the two-way band (in cycles).

    *hint*: a solution of a neighbouring problem (e.g. the same corridor with the cycle
    free) whose options and link speeds seed the search; it changes the time to the
    optimum, never the optimum. With *bound* as well (a proven upper bound of this problem's
    objective, in cycles, e.g. the optimum of the same windows over a cycle range that holds
    this cycle), the hint's options and link integers are tried first with everything else
    free; a solution reaching *bound* is optimal and the full search is skipped.

    ``integer_offsets`` (whole-second green starts) applies when the cycle is fixed and a
    whole number of seconds; with a cycle range the cycle found is continuous (round it and
    solve again at that cycle to get whole seconds, as :func:`greenwave.optimize` does).

    Raises:
        InputError: bad ``mode``, ``k`` or ``time_limit_s``.
        InfeasibleError: no cycle, speeds, options and offsets give a band in both
            directions.
        SolverError: no solution within the time limit, or a band the exact evaluation does
            not confirm.
    """
    band_mode = _parse_mode(mode)
    if not (math.isfinite(k) and k >= 0):
        raise InputError(f"k = {k!r}: expected a finite number >= 0", field="k", value=k)
    if not (math.isfinite(time_limit_s) and time_limit_s > 0):
        raise InputError(f"time_limit_s = {time_limit_s!r}: expected a number > 0",
                         field="time_limit_s", value=time_limit_s)
    started = time.perf_counter()
    model = _Model(problem, integer_offsets)
    if hint is not None:
        model.hint(hint)
    structure = dict(hint.structure) if hint is not None and bound is not None else None
    if band_mode is BandMode.BALANCED:
        stage = model.solve_balanced(time_limit_s, structure, bound)
    else:
        if band_mode is BandMode.EQUAL:
            model.solver.Add(model.b == model.b_in)
        stage = model.solve_weighted(k, time_limit_s, structure, bound)
    return _solution(problem, model, stage, band_mode, k, time.perf_counter() - started)


# --------------------------------------------------------------------------------------------
# model


@dataclass(frozen=True)
class _Stage:
    status: str
    gap: float
    objective: float
    values: dict[str, float]


class _Model:
    """The MILP of one :class:`ProgressionProblem` (see the module docstring)."""

    def __init__(self, problem: ProgressionProblem, integer_offsets: bool,
                 multiband: bool = False) -> None:
        self.problem = problem
        self.multiband = multiband
        self.solver, _ = create_solver()
        # few cutting-plane rounds: 2-3x faster to the same proven optimum on Ganjiang
        # (benchmarks/solve_speed.py); a work setting, so runs stay reproducible
        set_limits(self.solver, fast_root=True)
        c_lo, c_hi = problem.cycle_range_s
        self.z_lo, self.z_hi = 1.0 / c_hi, 1.0 / c_lo
        self.fixed = math.isclose(c_lo, c_hi)
        self.integer = integer_offsets and self.fixed and float(c_lo).is_integer()
        s = self.solver
        self.z = s.NumVar(self.z_lo, self.z_hi, "z")
        n = len(problem.signals)
        d = problem.distances_m
        self.t_out = [self._travel(d[j], problem.speed_out_kmh[j], f"t_{j}") for j in range(n - 1)]
        self.t_in = [self._travel(d[j], problem.speed_in_kmh[j], f"tb_{j}") for j in range(n - 1)]
        self._speed_change(self.t_out, d)
        self._speed_change(self.t_in, d)
        self.b = s.NumVar(0.0, 1.0, "b")
        self.b_in = s.NumVar(0.0, 1.0, "b_in")
        # MULTIBAND: one band per link and direction, symmetric about the progression line
        links = n - 1 if multiband else 0
        self.b_links = [s.NumVar(0.0, 1.0, f"bl_{j}") for j in range(links)]
        self.b_in_links = [s.NumVar(0.0, 1.0, f"blb_{j}") for j in range(links)]
        self.y: list[list[pywraplp.Variable]] = []
        self.w: list[list[pywraplp.Variable]] = []
        # where each band's line crosses each signal, from the green's start [cycles]
        self.x_out: list[pywraplp.Variable] = []
        self.x_in: list[pywraplp.Variable] = []
        #: per link: the integer relative offset K_j [s] (whole-second offsets only)
        self.link_offsets: list[pywraplp.Variable] = []
        self.shifts: list[pywraplp.LinearExpr] = []
        self.shift_ranges: list[tuple[float, float]] = []
        for i, sig in enumerate(problem.signals):
            self._signal(i, sig)
        for j in range(n - 1):
            self._link(j)

    # -- building blocks
    #
    # The model is written per signal and per link, as MAXBAND's loop constraints are: with
    # x_i, x̄_i the positions of the band lines in signal i's outbound and inbound greens
    # (from the green's start) and D_j = φ_{j+1} − φ_j the link's relative offset,
    #     x_{j+1} − x_j = t_j − D_j,    x̄_{j+1} − x̄_j = −t̄_j − D_j − Δ_{j+1} + Δ_j + M_j,
    # where φ_i is signal i's outbound green start, Δ_i its inbound shift and M_j the link's
    # loop integer. This is the same set of plans as green starts φ_i, cumulative arrival
    # times and one loop integer per signal (translation moves every φ_i together; each
    # signal's loop integer is the sum of the M_j downstream), but every row holds a few
    # variables instead of a sum over the corridor, and every integer belongs to one link:
    # branching on it moves one signal against its neighbour. Continuous offsets eliminate
    # D_j (the loop constraint proper); whole-second offsets keep D_j = K_j / C with an
    # integer K_j (φ_0 = 0 by translation). Ganjiang's whole-second MULTIBAND went from a
    # 0.06 % gap after 30 s (one integer green start per signal) to proven optima in
    # seconds; benchmarks/solve_speed.py has the figures.

    def _travel(self, d_m: float, speeds_kmh: tuple[float, float], name: str) -> pywraplp.Variable:
        lo_ms, hi_ms = speeds_kmh[0] / _KMH_PER_MS, speeds_kmh[1] / _KMH_PER_MS
        t = self.solver.NumVar(d_m / hi_ms * self.z_lo, d_m / lo_ms * self.z_hi, name)
        self.solver.Add(t >= d_m / hi_ms * self.z)
        self.solver.Add(t <= d_m / lo_ms * self.z)
        return t

    def _speed_change(self, t: Sequence[pywraplp.Variable], d: Sequence[float]) -> None:
        eps = self.problem.max_change_s_per_m
        if eps is None:
            return
        for j in range(len(t) - 1):
            diff = t[j + 1] * (1.0 / d[j + 1]) - t[j] * (1.0 / d[j])
            self.solver.Add(diff <= eps * self.z)
            self.solver.Add(diff >= -eps * self.z)

    def _affine(self, i: int, pick: str) -> tuple[pywraplp.LinearExpr, float, float]:
        """``Σ_o (a_o w_io + b_o y_io)`` of one window quantity, with its bounds [cycles]."""
        expr: pywraplp.LinearExpr = 0.0 * self.z
        lo, hi = math.inf, -math.inf
        for o, (option, y) in enumerate(zip(self.problem.signals[i].options, self.y[i],
                                            strict=True)):
            f: Affine = getattr(option, pick)
            expr += f.a * self.w[i][o] + f.b * y
            f_lo, f_hi = f.fraction_bounds(self.z_lo, self.z_hi)
            lo, hi = min(lo, f_lo), max(hi, f_hi)
        return expr, lo, hi

    def _signal(self, i: int, sig: ProgressionSignal) -> None:
        s = self.solver
        ys = [s.IntVar(0, 1, f"y_{i}_{o}") for o in range(len(sig.options))]
        if len(ys) == 1:
            ys[0].SetBounds(1, 1)
        s.Add(sum(ys) == 1)
        self.y.append(ys)
        ws = []
        for o, y in enumerate(ys):
            w = s.NumVar(0.0, self.z_hi, f"w_{i}_{o}")
            s.Add(w <= self.z_hi * y)
            s.Add(w >= self.z_lo * y)
            s.Add(w <= self.z - self.z_lo * (1 - y))
            s.Add(w >= self.z - self.z_hi * (1 - y))
            ws.append(w)
        self.w.append(ws)
        green, _, g_hi = self._affine(i, "green_out")
        green_in, _, gi_hi = self._affine(i, "green_in")
        shift, sh_lo, sh_hi = self._affine(i, "shift")
        queue, q_lo, _ = self._affine(i, "queue_out")
        queue_in, qi_lo, _ = self._affine(i, "queue_in")
        self.shifts.append(shift)
        x = s.NumVar(q_lo, g_hi, f"x_{i}")
        x_in = s.NumVar(qi_lo, gi_hi, f"xb_{i}")
        self.x_out.append(x)
        self.x_in.append(x_in)
        if not self.multiband:
            # each band inside its green (after the queue clears); x: the band's leading edge
            s.Add(queue <= x)
            s.Add(x + self.b <= green)
            s.Add(queue_in <= x_in)
            s.Add(x_in + self.b_in <= green_in)
        else:
            # the band of each link touching signal i, centred on the progression line,
            # inside the green (Gartner et al. 1991)
            for j in (i - 1, i):
                if 0 <= j < len(self.b_links):
                    half, half_in = 0.5 * self.b_links[j], 0.5 * self.b_in_links[j]
                    s.Add(queue + half <= x)
                    s.Add(x + half <= green)
                    s.Add(queue_in + half_in <= x_in)
                    s.Add(x_in + half_in <= green_in)
        self.shift_ranges.append((sh_lo, sh_hi))

    def _link(self, j: int) -> None:
        """Link j's loop integer M_j and, with whole-second offsets, its K_j (see above).

        Both are bounded by the ranges of the other terms of their rows (line positions
        inside the greens, travel times, shifts): valid for every plan, and a few values
        each.
        """
        s = self.solver
        x0, x1, xb0, xb1 = self.x_out[j], self.x_out[j + 1], self.x_in[j], self.x_in[j + 1]
        t, t_in = self.t_out[j], self.t_in[j]
        (sh0_lo, sh0_hi), (sh1_lo, sh1_hi) = self.shift_ranges[j], self.shift_ranges[j + 1]
        # M_j = t_j + t̄_j − (x_{j+1} − x_j) + (x̄_{j+1} − x̄_j) + Δ_{j+1} − Δ_j
        lo = (t.lb() + t_in.lb() - x1.ub() + x0.lb() + xb1.lb() - xb0.ub()
              + sh1_lo - sh0_hi)
        hi = (t.ub() + t_in.ub() - x1.lb() + x0.ub() + xb1.ub() - xb0.lb()
              + sh1_hi - sh0_lo)
        loop = s.IntVar(math.ceil(lo - _EPS), math.floor(hi + _EPS), f"M_{j}")
        moved_out = x1 - x0
        moved_in = xb1 - xb0 + self.shifts[j + 1] - self.shifts[j]
        if not self.integer:
            s.Add(moved_out - moved_in == t + t_in - loop)
            return
        cycle = self.problem.cycle_range_s[0]
        # D_j = t_j − (x_{j+1} − x_j), in seconds
        k_lo = (t.lb() - x1.ub() + x0.lb()) * cycle
        k_hi = (t.ub() - x1.lb() + x0.ub()) * cycle
        offset = s.IntVar(math.ceil(k_lo - _EPS), math.floor(k_hi + _EPS), f"K_{j}")
        self.link_offsets.append(offset)
        s.Add(moved_out == t - offset * (1.0 / cycle))
        s.Add(moved_in == -t_in - offset * (1.0 / cycle) + loop)

    def green_starts(self, values: dict[str, float], cycle: float) -> list[float]:
        """Every signal's outbound green start [s] in a solution, signal 0 at 0."""
        starts = [0.0]
        for j in range(len(self.x_out) - 1):
            if self.integer:
                step = float(round(values[self.link_offsets[j].name()]))
            else:
                step = (values[self.t_out[j].name()] - values[self.x_out[j + 1].name()]
                        + values[self.x_out[j].name()]) * cycle
            starts.append(starts[-1] + step)
        return starts

    def hint(self, sol: ProgressionSolution) -> None:
        """Seed the search with *sol*'s options and link speeds (a partial solution)."""
        if len(sol.choice) != len(self.y):
            return
        variables: list[pywraplp.Variable] = []
        values: list[float] = []
        for ys, o in zip(self.y, sol.choice, strict=True):
            if o < len(ys):
                variables += ys
                values += [1.0 if q == o else 0.0 for q in range(len(ys))]
        cycle = self.problem.cycle_range_s[0] if self.fixed else None
        if cycle is not None:
            d = self.problem.distances_m
            for ts, speeds in ((self.t_out, sol.link_speeds_out_kmh),
                               (self.t_in, sol.link_speeds_in_kmh)):
                for j, (t, v) in enumerate(zip(ts, speeds, strict=True)):
                    value = d[j] / (v / _KMH_PER_MS) / cycle
                    variables.append(t)
                    values.append(min(max(value, t.lb()), t.ub()))
        self.solver.SetHint(variables, values)

    # -- solving

    def _run(self, limit_s: float) -> _Stage:
        s = self.solver
        s.SetTimeLimit(max(1, int(limit_s * 1000)))
        params = pywraplp.MPSolverParameters()
        params.SetDoubleParam(params.RELATIVE_MIP_GAP, MIP_GAP)
        code = s.Solve(params)
        if code == pywraplp.Solver.INFEASIBLE:
            raise InfeasibleError(
                "no cycle in the range, speeds in the ranges, left-turn sequences and offsets "
                "give a band in both directions; widen the ranges or use sub-zones"
            )
        if code not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            raise SolverError(f"the MILP solver returned no solution (status code {code})")
        check_solution(s)
        optimal = code == pywraplp.Solver.OPTIMAL
        value, bound = s.Objective().Value(), s.Objective().BestBound()
        return _Stage(
            status="optimal" if optimal else "feasible",
            gap=0.0 if optimal else relative_gap(value, bound),
            objective=value,
            values={v.name(): v.solution_value() for v in s.variables()},
        )

    def _maximize(self, terms: Sequence[tuple[float, pywraplp.Variable]]) -> None:
        objective = self.solver.Objective()
        objective.Clear()
        for coefficient, variable in terms:
            objective.SetCoefficient(variable, coefficient)
        objective.SetMaximization()

    def solve_weighted(self, k: float, limit_s: float,
                       structure: dict[str, int] | None = None,
                       bound: float | None = None) -> _Stage:
        if k != 1.0:
            self.solver.Add((1.0 - k) * self.b_in >= (1.0 - k) * k * self.b)
        self._maximize([(1.0, self.b), (k, self.b_in)])
        return self._run_seeded(limit_s, structure, bound)

    def _run_seeded(self, limit_s: float, structure: dict[str, int] | None,
                    bound: float | None) -> _Stage:
        """The stage as set up, first with *structure* fixed (optimal when it reaches
        *bound*, else the full search's first incumbent); *limit_s* covers both."""
        if structure is not None:
            started = time.perf_counter()
            stage = self._with_fixed(structure, limit_s)
            limit_s = max(limit_s - (time.perf_counter() - started), limit_s * 0.1)
            if stage is None:
                return self._run(limit_s)
            if (bound is not None and stage.status == "optimal"
                    and stage.objective >= bound - _BALANCE_SLACK):
                return stage
            # a feasible point of the full model: the search starts from it as incumbent
            variables = self.solver.variables()
            self.solver.SetHint(variables, [stage.values[v.name()] for v in variables])
            if self.multiband:
                # MULTIBAND's seeds are near its optimum (MAXBAND's point; the structure of
                # the continuous offsets' optimum): the search is mostly a proof, and SCIP's
                # primal heuristics only cost time (Ganjiang: cycle stage 2.8 -> 1.6 s,
                # whole-second stage 1.6 -> 1.3 s, and no 5x outliers over random seeds).
                # MULTIBAND's last solve of this model: the setting stays.
                set_limits(self.solver, fast_root=True, heuristics=False)
        return self._run(limit_s)

    def _with_fixed(self, structure: dict[str, int], limit_s: float) -> _Stage | None:
        """The current objective with options and link integers fixed to *structure*.

        Fixed by equality rows that are freed afterwards, not by variable bounds: SCIP builds
        a 0..1 integer fixed at its first solve as a binary and cannot widen it again.
        """
        fixed = [v for v in self.solver.variables()
                 if v.integer() and v.name()[:2] in ("y_", "M_")]
        if any(v.name() not in structure for v in fixed):
            return None
        if any(not v.lb() - _EPS <= structure[v.name()] <= v.ub() + _EPS for v in fixed):
            return None
        rows = []
        for v in fixed:
            row = self.solver.Constraint(structure[v.name()], structure[v.name()])
            row.SetCoefficient(v, 1.0)
            rows.append(row)
        try:
            return self._run(limit_s)
        except (InfeasibleError, SolverError):
            return None
        finally:
            for row in rows:
                row.SetBounds(-self.solver.infinity(), self.solver.infinity())

    def solve_multiband(self, weights_out: Sequence[float], weights_in: Sequence[float],
                        k_links: Sequence[float] | None, limit_s: float,
                        structure: dict[str, int] | None = None,
                        bound: float | None = None) -> _Stage:
        """MULTIBAND: maximize ``Σ_j (a_j b_j + ā_j b̄_j) / (n − 1)``.

        With *k_links* (``k_j = V̄_j / V_j``) each link also keeps MAXBAND's directional
        constraint ``(1 − k_j) b̄_j >= (1 − k_j) k_j b_j``.
        """
        links = len(self.b_links)
        if k_links is not None:
            for j, kj in enumerate(k_links):
                if kj != 1.0:
                    self.solver.Add((1.0 - kj) * self.b_in_links[j]
                                    >= (1.0 - kj) * kj * self.b_links[j])
        terms = [(a / links, b) for a, b in zip(weights_out, self.b_links, strict=True)]
        terms += [(a / links, b) for a, b in zip(weights_in, self.b_in_links, strict=True)]
        self._maximize(terms)
        return self._run_seeded(limit_s, structure, bound)

    def solve_balanced(self, limit_s: float, structure: dict[str, int] | None = None,
                       bound: float | None = None) -> _Stage:
        started = time.perf_counter()
        self._maximize([(1.0, self.b), (1.0, self.b_in)])
        first = self._run_seeded(limit_s * 0.9, structure, bound)
        s = self.solver
        s.Add(self.b + self.b_in >= first.objective - _BALANCE_SLACK)
        smaller = s.NumVar(0.0, 1.0, "min_band")
        s.Add(smaller <= self.b)
        s.Add(smaller <= self.b_in)
        variables = s.variables()
        s.SetHint(variables[:-1], [first.values[v.name()] for v in variables[:-1]])
        self._maximize([(1.0, smaller)])
        remaining = max(limit_s - (time.perf_counter() - started), limit_s * 0.1)
        second = self._balance_with_fixed_structure(first, remaining)
        if second is None:
            second = self._run(remaining)
        return _Stage(
            status="optimal" if first.status == second.status == "optimal" else "feasible",
            gap=max(first.gap, second.gap),
            objective=first.objective,
            values=second.values,
        )


    def _balance_with_fixed_structure(self, first: _Stage, limit_s: float) -> _Stage | None:
        """The balancing stage with the first stage's sequences and loop integers fixed.

        Much smaller than the full MILP (:meth:`_with_fixed`). ``min(b, b̄)`` can
        never exceed half the total, so reaching half the first stage's total proves the
        split optimal without the full search; otherwise None (solve the full stage).
        """
        structure = {name: round(value) for name, value in first.values.items()
                     if name[:2] in ("y_", "M_")}
        stage = self._with_fixed(structure, limit_s)
        half = first.objective / 2.0
        if stage is None or stage.status != "optimal" or stage.objective < half - _BALANCE_SLACK:
            return None
        return stage


# --------------------------------------------------------------------------------------------
# results


def _solution(problem: ProgressionProblem, model: _Model, stage: _Stage, mode: BandMode,
              k: float, solve_s: float) -> ProgressionSolution:
    v = stage.values
    z = v["z"]
    cycle = problem.cycle_range_s[0] if model.fixed else 1.0 / z
    choice = tuple(_picked([v[y.name()] for y in ys]) for ys in model.y)
    d = problem.distances_m
    speeds_out = tuple(_speed(d[j], v[t.name()], cycle) for j, t in enumerate(model.t_out))
    speeds_in = tuple(_speed(d[j], v[t.name()], cycle) for j, t in enumerate(model.t_in))
    starts = _normalised(model.green_starts(v, cycle), cycle, model.integer)
    fixed = problem.band_problem(cycle, choice, speeds_out, speeds_in)
    result = evaluate_bands(fixed, starts)
    tolerance = CHECK_TOLERANCE_S * max(1.0, cycle / 100)
    milp_links_out = tuple(v[b.name()] * cycle for b in model.b_links)
    milp_links_in = tuple(v[b.name()] * cycle for b in model.b_in_links)
    links_out: tuple[float, ...] = ()
    links_in: tuple[float, ...] = ()
    if model.multiband:
        milp_out, milp_in = min(milp_links_out), min(milp_links_in)
        links_out, links_in = link_bands(fixed, starts)
        for j, (mo, mi, eo, ei) in enumerate(zip(milp_links_out, milp_links_in, links_out,
                                                 links_in, strict=True)):
            if eo < mo - tolerance or ei < mi - tolerance:
                raise SolverError(
                    f"link {j}: the MILP's link bands ({mo:.9f} s, {mi:.9f} s) exceed the "
                    f"exact evaluation of its offsets ({eo:.9f} s, {ei:.9f} s); this is a bug")
    else:
        milp_out, milp_in = v["b"] * cycle, v["b_in"] * cycle
    for direction, milp, exact in (("outbound", milp_out, result.bandwidth_out_s),
                                   ("inbound", milp_in, result.bandwidth_in_s)):
        if exact < milp - tolerance:
            raise SolverError(
                f"the {direction} band of the MILP solution ({milp:.9f} s) is larger than the "
                f"exact evaluation of its offsets ({exact:.9f} s); this is a bug"
            )
    return ProgressionSolution(
        cycle_s=cycle,
        choice=choice,
        option_names=tuple(s.options[o].name for s, o in zip(problem.signals, choice,
                                                              strict=True)),
        link_speeds_out_kmh=speeds_out,
        link_speeds_in_kmh=speeds_in,
        green_out_start_s=starts,
        problem=fixed,
        result=result,
        milp_bandwidth_out_s=milp_out,
        milp_bandwidth_in_s=milp_in,
        status=stage.status,
        gap=stage.gap,
        solve_s=solve_s,
        mode=mode,
        k=k,
        link_bands_out_s=links_out,
        link_bands_in_s=links_in,
        milp_link_bands_out_s=milp_links_out,
        milp_link_bands_in_s=milp_links_in,
        method="multiband" if model.multiband else "maxband",
        objective=stage.objective,
        structure=tuple((name, round(value)) for name, value in sorted(v.items())
                        if name[:2] in ("y_", "M_")),
    )


def _picked(values: Sequence[float]) -> int:
    """Index of the option whose binary is 1."""
    return max(range(len(values)), key=values.__getitem__)


def _speed(d_m: float, t_cycles: float, cycle_s: float) -> float:
    return d_m / (t_cycles * cycle_s) * _KMH_PER_MS


def _mean_speed(distances_m: Sequence[float], speeds_kmh: Sequence[float]) -> float:
    """Space-mean speed over the links [km/h] (total distance / total time)."""
    total_t = sum(d / v for d, v in zip(distances_m, speeds_kmh, strict=True))
    return sum(distances_m) / total_t if total_t > 0 else (speeds_kmh[0] if speeds_kmh else 1.0)


def _normalised(raw: Sequence[float], cycle: float, integer: bool) -> tuple[float, ...]:
    out = []
    for p in raw:
        r = (p - raw[0]) % cycle
        out.append(0.0 if r >= cycle - _EPS else (float(round(r)) if integer else r))
    return tuple(out)


def _parse_mode(mode: BandMode | str) -> BandMode:
    try:
        return BandMode(mode)
    except ValueError:
        choices = ", ".join(m.value for m in BandMode)
        raise InputError(f"unknown band mode {mode!r}; expected one of {choices}",
                         field="mode", value=mode) from None


def _validate(problem: ProgressionProblem) -> None:
    """Raise InputError naming the signal and the constraint on the first problem found."""
    c_lo, c_hi = problem.cycle_range_s
    if not (math.isfinite(c_lo) and math.isfinite(c_hi) and 0 < c_lo <= c_hi):
        raise InputError(f"cycle range {c_lo:g}-{c_hi:g} s is empty or not positive",
                         field="cycle_range_s", value=problem.cycle_range_s)
    if len(problem.signals) < 2:
        raise InputError("a corridor needs at least two signals", field="signals",
                         value=len(problem.signals))
    for name in ("speed_out_kmh", "speed_in_kmh"):
        ranges = getattr(problem, name)
        if len(ranges) != len(problem.signals) - 1:
            raise InputError(f"{name}: expected one speed range per link "
                             f"({len(problem.signals) - 1}), found {len(ranges)}",
                             field=name, value=len(ranges))
        for j, (lo, hi) in enumerate(ranges):
            if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
                raise InputError(f"{name}[{j}]: speed range {lo:g}-{hi:g} km/h is empty or "
                                 "not positive", field=name, value=(lo, hi))
    if problem.max_change_s_per_m is not None and not (
            math.isfinite(problem.max_change_s_per_m) and problem.max_change_s_per_m >= 0):
        raise InputError("max_change_s_per_m must be a finite number >= 0",
                         field="max_change_s_per_m", value=problem.max_change_s_per_m)
    for a, b in itertools.pairwise(problem.signals):
        if not b.position_m > a.position_m:
            raise InputError(f"signal {b.id}: position {b.position_m:g} m must exceed "
                             f"{a.position_m:g} m (signal {a.id})", field="position_m",
                             value=b.position_m)
    for sig in problem.signals:
        if not sig.options:
            raise InputError(f"signal {sig.id}: no timing option", field="options")
        for o in sig.options:
            _check_option(sig.id, o, c_lo, c_hi)


def _check_option(ident: str, o: SignalOption, c_lo: float, c_hi: float) -> None:
    for cycle in (c_lo, c_hi):
        g_out, g_in = o.green_out.at(cycle), o.green_in.at(cycle)
        for what, green, queue in (("outbound", g_out, o.queue_out.at(cycle)),
                                   ("inbound", g_in, o.queue_in.at(cycle))):
            if not (0 < green <= cycle + TOLERANCE_S):
                raise InputError(
                    f"signal {ident} ({o.name}): {what} through green {green:g} s at cycle "
                    f"{cycle:g} s; expected 0 < green <= cycle", field="green", value=green)
            if not (0 <= queue < green):
                raise InputError(
                    f"signal {ident} ({o.name}): {what} queue clearance {queue:g} s at cycle "
                    f"{cycle:g} s; expected 0 <= clearance < green ({green:g} s)",
                    field="queue_clearance_s", value=queue)
