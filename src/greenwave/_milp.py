"""The one place greenwave imports OR-Tools: solver creation and result bookkeeping."""

from __future__ import annotations

import math

from ortools.linear_solver import pywraplp

from greenwave.errors import SolverError

__all__ = ["BACKENDS", "MIP_GAP", "check_solution", "create_solver", "pywraplp", "relative_gap",
           "set_limits"]

#: Backends tried in order; SCIP ships with OR-Tools' wheels.
BACKENDS = ("SCIP", "CBC", "HIGHS")
#: Relative MIP gap asked of the solver (effectively: prove optimality).
MIP_GAP = 1e-9
_SCIP_SETTINGS = "numerics/feastol = 1e-9\n"


def create_solver() -> tuple[pywraplp.Solver, str]:
    """A fresh MILP solver (SCIP unless unavailable) and its backend name."""
    for name in BACKENDS:
        solver = pywraplp.Solver.CreateSolver(name)
        if solver is not None:
            if name == "SCIP":
                solver.SetSolverSpecificParametersAsString(_SCIP_SETTINGS)
            return solver, name
    raise SolverError(f"no MILP backend available in OR-Tools; tried {', '.join(BACKENDS)}")


#: SCIP's primal heuristics that run during the search (the ones ``heuristics = False``
#: turns off); LP solutions found while branching still become incumbents.
_SCIP_HEURISTICS = (
    "adaptivediving", "alns", "clique", "coefdiving", "completesol", "conflictdiving",
    "crossover", "dins", "distributiondiving", "farkasdiving", "fracdiving", "gins",
    "guideddiving", "intshifting", "linesearchdiving", "locks", "mutation", "oneopt",
    "pscostdiving", "randrounding", "rens", "rins", "rounding", "shifting",
    "simplerounding", "trustregion", "veclendiving", "zirounding",
)


def set_limits(solver: pywraplp.Solver, *, nodes: int | None = None,
               fast_root: bool = False, heuristics: bool = True) -> None:
    """Work limits for SCIP (other backends: no effect): at most *nodes* branch-and-bound
    nodes per solve; with *fast_root* at most 3 separation rounds at the root, none in the
    tree; without *heuristics* no primal heuristic (for a search that starts from a good
    incumbent and mostly has to prove it). Work limits, unlike time limits, give the same
    result on every run."""
    if nodes is not None and nodes < 1:
        raise SolverError(f"node limit must be at least 1, found {nodes}")
    if not solver.SolverVersion().startswith("SCIP"):
        return
    text = _SCIP_SETTINGS
    if nodes is not None:
        text += f"limits/nodes = {nodes}\n"
    if fast_root:
        text += "separating/maxroundsroot = 3\nseparating/maxrounds = 0\n"
    if not heuristics:
        text += "".join(f"heuristics/{name}/freq = -1\n" for name in _SCIP_HEURISTICS)
    solver.SetSolverSpecificParametersAsString(text)


def relative_gap(value: float, bound: float) -> float:
    """``|bound - value| / max(|bound|, |value|)``, in [0, 1] (1: nothing proven)."""
    if not math.isfinite(bound):
        return 1.0
    return min(1.0, abs(bound - value) / max(abs(bound), abs(value), 1e-9))


#: Largest constraint violation accepted in a solver's solution (absolute, in model units).
FEASIBILITY_TOLERANCE = 1e-6


def check_solution(solver: pywraplp.Solver) -> None:
    """Raise SolverError when the solution the solver returned violates its own model.

    Backends have returned "optimal" solutions that break a constraint; every solution is
    checked against the model before anything is read from it.
    """
    if not solver.VerifySolution(FEASIBILITY_TOLERANCE, False):
        raise SolverError(
            f"the MILP backend returned a solution that violates the model by more than "
            f"{FEASIBILITY_TOLERANCE:g}; this is a solver fault, not a property of the corridor"
        )
