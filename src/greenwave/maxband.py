"""MAXBAND-style MILP for two-way bands at a fixed cycle and fixed progression speeds.

This is the only greenwave module that imports OR-Tools.

Formulation (all times in seconds, cycle ``C`` fixed; notation of :mod:`greenwave.bands`):

- ``φ_i`` is the start of signal ``i``'s outbound through green that carries the band;
  ``T_i``, ``T̄_i`` are the travel times from signal 0 outbound and from the last signal
  inbound, ``Δ_i`` the inbound shift (all three reduced modulo ``C``, which changes no band
  and keeps the coefficients small).
- Outbound band ``[u + T_i, u + T_i + b]`` inside the green at every signal:
  ``φ_i ≤ u + T_i`` and ``u + T_i + b ≤ φ_i + g_i``. With continuous offsets the band's
  leading edge is fixed at ``u = 0`` (translation invariance). With integer offsets only
  whole-second translations keep the offsets integer, so ``u ∈ [0, 1]`` is a variable;
  fixing ``u = 0`` there would lose up to 1 s of band when travel times are fractional.
- Inbound band ``[ū + T̄_i, ū + T̄_i + b̄]`` inside the inbound green of the cycle chosen by the
  loop integer ``m_i``: ``φ_i + Δ_i + m_i C ≤ ū + T̄_i`` and
  ``ū + T̄_i + b̄ ≤ φ_i + Δ_i + m_i C + ḡ_i``, ``ū ∈ [0, C]``.
- Each direction has a binary "this band exists" (``e``, ``ē``) that relaxes its
  constraints by the smallest big-M the bounds allow and forces ``b ≤ e · min g``. Classic
  MAXBAND has ``e = ē = 1``: both bands must exist, at least with zero width. On long
  corridors or with short greens no offsets may allow that, or a one-way band may carry more
  band than any two-way one; the MILP then still maximizes the same ``b + b̄`` that
  :func:`greenwave.bands.evaluate_bands` measures, which may mean a one-way solution.
  ``two_way=True`` fixes ``e = ē = 1`` (classic MAXBAND; infeasible when no two-way band
  exists). Without an outbound band ``φ_i`` must reach every residue, so its range is then a
  whole cycle.
- Every variable is bounded from the data (``φ_i`` to one cycle, or with ``two_way`` to a
  window of ``g_i`` (+1) seconds; ``m_i`` to its few possible values, ``b ≤ min g``,
  ``b̄ ≤ min ḡ``).

Objectives (:class:`BandMode`):

- ``WEIGHTED``: maximize ``b + k b̄`` subject to ``(1 − k) b̄ ≥ (1 − k) k b`` (classic MAXBAND,
  ``k`` = inbound/outbound volume ratio).
- ``EQUAL``: ``WEIGHTED`` plus ``b = b̄``.
- ``BALANCED``: lexicographic, ``k`` ignored: maximize ``b + b̄``; then, keeping
  ``b + b̄ ≥ best − 1e-6``, maximize ``min(b, b̄)``.

The returned offsets are always re-evaluated with :func:`greenwave.bands.evaluate_bands` and
the solution carries the evaluator's bands.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from greenwave._milp import (
    MIP_GAP,
    check_solution,
    create_solver,
    pywraplp,
    relative_gap,
    set_limits,
)
from greenwave.bands import TOLERANCE_S, BandProblem, BandResult, evaluate_bands
from greenwave.errors import InfeasibleError, InputError, SolverError

__all__ = ["BandMode", "BandSolution", "solve_maxband", "solver_backend"]

#: Largest shortfall of the evaluator's band below the MILP's band tolerated [s].
CHECK_TOLERANCE_S = 1e-6
#: Slack on the total band kept by the second stage of ``BALANCED`` [s].
BALANCE_SLACK_S = 1e-6
#: Share of the time limit always left to the second stage of ``BALANCED``.
SECOND_STAGE_SHARE = 0.1

_INFEASIBLE = (
    "no offsets give a band in both directions (not even a zero-width one) at this cycle and "
    "these speeds; try two_way=False, another cycle or speed, or sub-zones"
)
_EPS = 1e-9


class BandMode(StrEnum):
    """How the two directions' bands are traded off."""

    WEIGHTED = "weighted"
    EQUAL = "equal"
    BALANCED = "balanced"


@dataclass(frozen=True)
class BandSolution:
    """Offsets from the MAXBAND MILP and the bands they give.

    Attributes:
        green_out_start_s: outbound through green start of each signal [s], in ``[0, C)``,
            signal 0 at 0 (integers when solved with integer offsets and an integer cycle).
        result: the exact bands of these offsets (``evaluate_bands``), never the MILP's.
        objective: MILP objective value (``b + k b̄`` for WEIGHTED and EQUAL; for BALANCED
            the primary objective ``b + b̄`` of the returned solution) [s].
        milp_bandwidth_out_s: outbound band in the MILP solution [s] (≤ the evaluator's).
        milp_bandwidth_in_s: inbound band in the MILP solution [s] (≤ the evaluator's).
        status: ``"optimal"`` (proven) or ``"feasible"`` (time limit reached first).
        gap: relative MIP gap ``|bound − value| / max(|bound|, |value|)`` in [0, 1], 0 when
            proven optimal (BALANCED: the larger of its two stages).
        solve_s: wall time of the whole solve, model building included [s].
        mode: the band mode used.
        k: the weight passed (ignored by BALANCED).
    """

    green_out_start_s: tuple[float, ...]
    result: BandResult
    objective: float
    milp_bandwidth_out_s: float
    milp_bandwidth_in_s: float
    status: str
    gap: float
    solve_s: float
    mode: BandMode
    k: float


def solver_backend() -> str:
    """Name of the MILP backend :func:`solve_maxband` uses (SCIP unless unavailable)."""
    return create_solver()[1]


def solve_maxband(
    problem: BandProblem,
    *,
    k: float = 1.0,
    mode: BandMode | str = BandMode.BALANCED,
    integer_offsets: bool = True,
    time_limit_s: float = 30.0,
    two_way: bool = False,
    center: bool = True,
    hint_green_out_start_s: Sequence[float] | None = None,
    node_limit: int | None = None,
    mip_gap: float = MIP_GAP,
    fast_root: bool = True,
) -> BandSolution:
    """Offsets maximizing the two-way band of *problem* (fixed cycle and speeds).

    Args:
        problem: corridor windows, cycle and speeds.
        k: inbound/outbound weight for WEIGHTED and EQUAL (``k >= 0``); ignored by BALANCED.
        mode: a :class:`BandMode` or its value.
        integer_offsets: whole-second offsets (honoured when the cycle is an integer number
            of seconds; with a fractional cycle an integer offset is not integer modulo C,
            so the offsets are continuous then).
        time_limit_s: wall-time budget for the whole solve [s]; BALANCED's second stage
            gets what the first left, but at least 10 % of the budget.
        two_way: demand that both bands exist, as in classic MAXBAND (a zero-width band
            counts). By default a one-way solution (no departure time in one direction
            meets all greens, so that band is 0) is allowed when it carries more band.
        center: after the band stage, a last stage that keeps both bands and
            places them as centrally as possible in every green window: it maximizes the sum
            over signals and directions of the smaller of the two margins between the band
            and the ends of its green (MULTIBAND's centring, as a tie-break among optimal
            offsets). Vehicles a little off the band's ideal trajectory (platoon spread,
            queue discharge, speed variation) then still find green. The centred offsets are
            kept only if their exact bands are no smaller (to 1e-9 s) than before.
        hint_green_out_start_s: a warm start, e.g. the outbound green starts of the plan in
            force; each is translated into its variable's range and handed to the solver as
            a (partial) hint, so a re-solve under a short time limit starts from it.
        node_limit: stop each stage after this many branch-and-bound nodes (SCIP only): a
            work limit, unlike the time limit, gives the same solution on every run.
        fast_root: at most 3 rounds of cutting planes at the root and none in the tree
            (SCIP; the default): on Ganjiang a re-solve takes 50-150 ms instead of 0.5-2 s,
            still to proven optimality (on the 165 corridors of benchmarks/city_scale.py the
            same b + b̄ as SCIP's defaults, 20× faster); a work limit, so the result is the
            same on every run. False: SCIP's own defaults.
        mip_gap: relative gap at which a stage stops (default: prove optimality); like
            *node_limit* a deterministic limit, for re-solves that must be fast.

    Raises:
        InputError: bad ``k``, ``mode`` or ``time_limit_s`` (bad corridors are rejected when
            the :class:`BandProblem` is built).
        InfeasibleError: with ``two_way``, no offsets let both directions have a band.
        SolverError: no backend, no solution within the time limit, or a MILP band the exact
            evaluation does not confirm.
    """
    band_mode = _parse_mode(mode)
    _check_options(k, time_limit_s)
    started = time.perf_counter()
    data = _ModelData.of(problem, integer_offsets, two_way)
    model = _build_model(data)
    if hint_green_out_start_s is not None:
        _hint(model, data, hint_green_out_start_s)
    if node_limit is not None or fast_root:
        set_limits(model.solver, nodes=node_limit, fast_root=fast_root)
    if not (math.isfinite(mip_gap) and 0 <= mip_gap < 1):
        raise InputError(f"mip_gap = {mip_gap!r}: expected a number in [0, 1)", field="mip_gap",
                         value=mip_gap)
    model.mip_gap = max(mip_gap, MIP_GAP)
    stage = _STRATEGIES[band_mode](model, k, time_limit_s)
    offsets = _offsets(stage.phi, data)
    result = evaluate_bands(problem, offsets)
    if center:
        centred = _center(model, stage, time_limit_s)
        centred_offsets = _offsets(centred.phi, data)
        centred_result = evaluate_bands(problem, centred_offsets)
        if (centred_result.bandwidth_out_s >= result.bandwidth_out_s - TOLERANCE_S
                and centred_result.bandwidth_in_s >= result.bandwidth_in_s - TOLERANCE_S):
            stage, offsets, result = centred, centred_offsets, centred_result
    _confirm(stage, result)
    return BandSolution(
        green_out_start_s=offsets,
        result=result,
        objective=stage.objective,
        milp_bandwidth_out_s=stage.band_out,
        milp_bandwidth_in_s=stage.band_in,
        status=stage.status,
        gap=stage.gap,
        solve_s=time.perf_counter() - started,
        mode=band_mode,
        k=k,
    )


# --------------------------------------------------------------------------------------------
# data and model


@dataclass(frozen=True)
class _ModelData:
    """The problem reduced modulo the cycle (times in [0, C))."""

    cycle: float
    tau_out: tuple[float, ...]
    tau_in: tuple[float, ...]
    shift: tuple[float, ...]
    green_out: tuple[float, ...]
    green_in: tuple[float, ...]
    integer: bool
    two_way: bool

    @classmethod
    def of(cls, problem: BandProblem, integer_offsets: bool, two_way: bool) -> _ModelData:
        cycle = problem.cycle_s
        # queue clearance: the usable window starts q after the green, i.e. the band edge
        # must follow it by q; equivalently the travel time is q shorter and the green too
        sig = problem.signals
        return cls(
            cycle=cycle,
            tau_out=tuple((t - s.queue_out_s) % cycle
                          for t, s in zip(problem.arrival_out_s(), sig, strict=True)),
            tau_in=tuple((t - s.queue_in_s) % cycle
                         for t, s in zip(problem.arrival_in_s(), sig, strict=True)),
            shift=tuple(s.inbound_shift_s % cycle for s in sig),
            green_out=tuple(s.green_out_s - s.queue_out_s for s in sig),
            green_in=tuple(s.green_in_s - s.queue_in_s for s in sig),
            integer=integer_offsets and float(cycle).is_integer(),
            two_way=two_way,
        )

    @property
    def ref_out_max(self) -> float:
        """Upper bound of u, the outbound band's leading edge at signal 0."""
        return 1.0 if self.integer else 0.0

    def phi_bounds(self, i: int) -> tuple[float, float]:
        """Range of φ_i.

        With an outbound band the green carrying it starts within g_i (+ u) before the band
        arrives; without one (one-way inbound solutions) φ_i must reach every residue mod C.
        """
        lo, hi = self.tau_out[i] - self.green_out[i], self.tau_out[i] + self.ref_out_max
        if not self.two_way:
            hi = max(hi, lo + self.cycle)
        if self.integer:
            return math.ceil(lo - _EPS), math.floor(hi + _EPS)
        return lo, hi

    def loop_bounds(self, i: int) -> tuple[int, int]:
        """Range of the loop integer m_i allowed by the bounds of φ_i, ū and b̄."""
        phi_lo, phi_hi = self.phi_bounds(i)
        base = self.tau_in[i] - self.shift[i]
        lo = (base - self.green_in[i] - phi_hi) / self.cycle
        hi = (base + self.cycle - phi_lo) / self.cycle
        return math.ceil(lo - _EPS), math.floor(hi + _EPS)


@dataclass(frozen=True)
class _Window:
    """One band-in-green constraint pair: the band edge ``ref + travel`` in a green."""

    direction: _Direction
    green_start: pywraplp.LinearExpr
    travel: float
    green: float


@dataclass
class _Model:
    solver: pywraplp.Solver
    phi: list[pywraplp.Variable]
    band_out: pywraplp.Variable
    band_in: pywraplp.Variable
    variables: list[pywraplp.Variable]
    windows: list[_Window]
    mip_gap: float = MIP_GAP


@dataclass(frozen=True)
class _Direction:
    """One direction's band: width, reference time (with bounds) and existence binary."""

    band: pywraplp.Variable
    ref: pywraplp.Variable
    ref_bounds: tuple[float, float]
    exists: pywraplp.Variable


def _direction(
    solver: pywraplp.Solver, name: str, max_band: float, ref_bounds: tuple[float, float],
    two_way: bool,
) -> _Direction:
    band = solver.NumVar(0.0, max_band, f"b_{name}")
    exists = solver.IntVar(1 if two_way else 0, 1, f"exists_{name}")
    solver.Add(band <= max_band * exists)
    return _Direction(band, solver.NumVar(*ref_bounds, f"ref_{name}"), ref_bounds, exists)


def _build_model(data: _ModelData) -> _Model:
    solver, _ = create_solver()
    out = _direction(solver, "out", min(data.green_out), (0.0, data.ref_out_max), data.two_way)
    inb = _direction(solver, "in", min(data.green_in), (0.0, data.cycle), data.two_way)
    phi, loops, windows = [], [], []
    make = solver.IntVar if data.integer else solver.NumVar
    for i in range(len(data.tau_out)):
        phi_lo, phi_hi = data.phi_bounds(i)
        phi.append(make(phi_lo, phi_hi, f"phi_{i}"))
        # a full-cycle green has no red: it holds any band (and one window could not)
        if data.green_out[i] < data.cycle - TOLERANCE_S:
            _band_inside_green(
                solver, out, phi[i], (phi_lo, phi_hi), data.tau_out[i], data.green_out[i]
            )
            windows.append(_Window(out, phi[i], data.tau_out[i], data.green_out[i]))
        if data.green_in[i] < data.cycle - TOLERANCE_S:
            m = _add_inbound_window(solver, data, inb, i, phi[i])
            loops.append(m)
            start = phi[i] + data.shift[i] + data.cycle * m
            windows.append(_Window(inb, start, data.tau_in[i], data.green_in[i]))
    variables = [out.band, inb.band, out.ref, inb.ref, out.exists, inb.exists, *phi, *loops]
    return _Model(solver, phi, out.band, inb.band, variables, windows)


def _add_inbound_window(
    solver: pywraplp.Solver, data: _ModelData, inb: _Direction, i: int, phi: pywraplp.Variable
) -> pywraplp.Variable:
    """Inbound band inside the inbound green of cycle m_i at signal i; returns m_i."""
    phi_lo, phi_hi = data.phi_bounds(i)
    m_lo, m_hi = data.loop_bounds(i)
    m = solver.IntVar(m_lo, m_hi, f"m_{i}")
    c, shift = data.cycle, data.shift[i]
    _band_inside_green(
        solver, inb, phi + shift + c * m,
        (phi_lo + shift + c * m_lo, phi_hi + shift + c * m_hi),
        data.tau_in[i], data.green_in[i],
    )
    return m


def _band_inside_green(
    solver: pywraplp.Solver,
    direction: _Direction,
    green_start: pywraplp.LinearExpr,
    green_start_bounds: tuple[float, float],
    travel: float,
    green: float,
) -> None:
    """Band ``[ref + travel, ref + travel + band]`` inside ``[green_start, green_start + green]``.

    Enforced when the direction's band exists; otherwise relaxed by the smallest big-M the
    variable bounds allow (the band is then 0).
    """
    start_lo, start_hi = green_start_bounds
    ref_lo, ref_hi = direction.ref_bounds
    early = max(0.0, start_hi - ref_lo - travel)
    late = max(0.0, ref_hi + travel - start_lo - green)
    off = 1 - direction.exists
    solver.Add(green_start - direction.ref - travel <= early * off)
    solver.Add(direction.ref + travel + direction.band - green_start - green <= late * off)


# --------------------------------------------------------------------------------------------
# solving


@dataclass(frozen=True)
class _Stage:
    status: str
    gap: float
    objective: float
    band_out: float
    band_in: float
    phi: tuple[float, ...]
    values: tuple[float, ...]


def _hint(model: _Model, data: _ModelData, starts: Sequence[float]) -> None:
    """Hint φ from green starts: one translation puts signal 0 mid-range, each other φ_i
    takes the cycle shift that lands it in its bounds (left out when none does)."""
    if len(starts) != len(model.phi) or not all(math.isfinite(s) for s in starts):
        raise InputError(f"a hint needs {len(model.phi)} finite green starts, found "
                         f"{len(starts)}", field="hint_green_out_start_s")
    lo0, hi0 = data.phi_bounds(0)
    shift = (lo0 + hi0) / 2 - starts[0]
    if data.integer:
        shift = float(math.floor(shift))
    variables, values = [], []
    for i, (var, start) in enumerate(zip(model.phi, starts, strict=True)):
        lo, hi = data.phi_bounds(i)
        value = start + shift
        value += math.ceil((lo - value) / data.cycle - _EPS) * data.cycle
        if data.integer:
            value = float(round(value))
        if lo - _EPS <= value <= hi + _EPS:
            variables.append(var)
            values.append(value)
    if variables:
        model.solver.SetHint(variables, values)


def _run(model: _Model, limit_s: float) -> _Stage:
    """Solve the model as it stands (objective already set) within *limit_s* seconds."""
    solver = model.solver
    solver.SetTimeLimit(max(1, int(limit_s * 1000)))
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, model.mip_gap)
    code = solver.Solve(params)
    if code == pywraplp.Solver.INFEASIBLE:
        raise InfeasibleError(_INFEASIBLE)
    if code not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        raise SolverError(f"the MILP solver returned no solution (status code {code})")
    check_solution(solver)
    value = solver.Objective().Value()
    bound = solver.Objective().BestBound()
    optimal = code == pywraplp.Solver.OPTIMAL
    return _Stage(
        status="optimal" if optimal else "feasible",
        gap=0.0 if optimal else relative_gap(value, bound),
        objective=value,
        band_out=model.band_out.solution_value(),
        band_in=model.band_in.solution_value(),
        phi=tuple(v.solution_value() for v in model.phi),
        values=tuple(v.solution_value() for v in model.variables),
    )


def _maximize(model: _Model, terms: Sequence[tuple[float, pywraplp.Variable]]) -> None:
    objective = model.solver.Objective()
    objective.Clear()
    for coefficient, variable in terms:
        objective.SetCoefficient(variable, coefficient)
    objective.SetMaximization()


def _solve_weighted(model: _Model, k: float, limit_s: float) -> _Stage:
    """Classic MAXBAND: maximize b + k b̄ with (1 − k) b̄ ≥ (1 − k) k b."""
    b, b_in = model.band_out, model.band_in
    if k != 1.0:
        model.solver.Add((1.0 - k) * b_in >= (1.0 - k) * k * b)
    _maximize(model, [(1.0, b), (k, b_in)])
    return _run(model, limit_s)


def _solve_equal(model: _Model, k: float, limit_s: float) -> _Stage:
    """WEIGHTED with b = b̄."""
    model.solver.Add(model.band_out == model.band_in)
    return _solve_weighted(model, k, limit_s)


def _solve_balanced(model: _Model, k: float, limit_s: float) -> _Stage:
    """Largest b + b̄, then the most even split of it (k ignored)."""
    del k
    started = time.perf_counter()
    b, b_in = model.band_out, model.band_in
    _maximize(model, [(1.0, b), (1.0, b_in)])
    first = _run(model, limit_s * (1.0 - SECOND_STAGE_SHARE))
    solver = model.solver
    solver.Add(b + b_in >= first.objective - BALANCE_SLACK_S)
    smaller = solver.NumVar(0.0, min(b.ub(), b_in.ub()), "min_band")
    solver.Add(smaller <= b)
    solver.Add(smaller <= b_in)
    solver.SetHint(model.variables, list(first.values))
    _maximize(model, [(1.0, smaller)])
    remaining = max(limit_s - (time.perf_counter() - started), limit_s * SECOND_STAGE_SHARE)
    second = _run(model, remaining)
    return _Stage(
        status="optimal" if first.status == second.status == "optimal" else "feasible",
        gap=max(first.gap, second.gap),
        objective=second.band_out + second.band_in,
        band_out=second.band_out,
        band_in=second.band_in,
        phi=second.phi,
        values=second.values,
    )


def _center(model: _Model, stage: _Stage, limit_s: float) -> _Stage:
    """Keep the bands found, then maximize the sum of the bands' smaller green margins."""
    solver = model.solver
    solver.Add(model.band_out >= stage.band_out - TOLERANCE_S)
    solver.Add(model.band_in >= stage.band_in - TOLERANCE_S)
    margins = []
    for k, w in enumerate(model.windows):
        if (stage.band_out if w.direction.band is model.band_out else stage.band_in) <= 0:
            continue  # no band in this direction: nothing to centre
        edge = w.direction.ref + w.travel
        margin = solver.NumVar(0.0, w.green / 2, f"margin_{k}")
        solver.Add(margin <= edge - w.green_start)
        solver.Add(margin <= w.green_start + w.green - edge - w.direction.band)
        margins.append(margin)
    if not margins:
        return stage
    solver.SetHint(model.variables, list(stage.values))
    _maximize(model, [(1.0, m) for m in margins])
    try:
        centred = _run(model, max(limit_s * SECOND_STAGE_SHARE, 1.0))
    except (InfeasibleError, SolverError):
        return stage  # centring is a refinement; the band solution stands
    return _Stage(
        status=stage.status,
        gap=stage.gap,
        objective=stage.objective,
        band_out=centred.band_out,
        band_in=centred.band_in,
        phi=centred.phi,
        values=centred.values,
    )


_STRATEGIES: dict[BandMode, Callable[[_Model, float, float], _Stage]] = {
    BandMode.WEIGHTED: _solve_weighted,
    BandMode.EQUAL: _solve_equal,
    BandMode.BALANCED: _solve_balanced,
}


# --------------------------------------------------------------------------------------------
# results and checks


def _offsets(phi: Sequence[float], data: _ModelData) -> tuple[float, ...]:
    """Green starts modulo C with signal 0 at 0 (exact integers in integer mode)."""
    values = [float(round(p)) for p in phi] if data.integer else list(phi)
    out = []
    for p in values:
        r = (p - values[0]) % data.cycle
        out.append(0.0 if r >= data.cycle - _EPS else r)
    return tuple(out)


def _confirm(stage: _Stage, result: BandResult) -> None:
    """Raise SolverError when the exact evaluation gives less band than the MILP claims."""
    for direction, milp, exact in (
        ("outbound", stage.band_out, result.bandwidth_out_s),
        ("inbound", stage.band_in, result.bandwidth_in_s),
    ):
        if exact < milp - CHECK_TOLERANCE_S:
            raise SolverError(
                f"the {direction} band of the MILP solution ({milp:.9f} s) is larger than the "
                f"exact evaluation of its offsets ({exact:.9f} s); this is a bug"
            )


def _parse_mode(mode: BandMode | str) -> BandMode:
    try:
        return BandMode(mode)
    except ValueError:
        choices = ", ".join(m.value for m in BandMode)
        raise InputError(
            f"unknown band mode {mode!r}; expected one of {choices}", field="mode", value=mode
        ) from None


def _check_options(k: float, time_limit_s: float) -> None:
    if not (math.isfinite(k) and k >= 0.0):
        raise InputError(f"k = {k!r}: expected a finite number >= 0", field="k", value=k)
    if not (math.isfinite(time_limit_s) and time_limit_s > 0.0):
        raise InputError(
            f"time_limit_s = {time_limit_s!r}: expected a finite number > 0",
            field="time_limit_s",
            value=time_limit_s,
        )
