"""greenwave: coordinate an arterial's signals into a green wave and prove it in SUMO.

Public API::

    from greenwave import load_corridor, optimize_corridor, evaluate_bands
    corridor = load_corridor("networks/ganjiang/corridor.toml")
    plan = optimize_corridor(corridor)          # MAXBAND offsets, exact bands
    plan.write_json("plan.json")
"""

from greenwave.corridor import Corridor, Intersection, PeriodDemand, Phase, load_corridor
from greenwave.errors import (
    GreenwaveError,
    InfeasibleError,
    InputError,
    SimulationError,
    SolverError,
)
from greenwave.optimize import optimize_corridor
from greenwave.plan import SignalTiming, TimingPlan, read_plan

__version__ = "0.1.0"

__all__ = [
    "Corridor",
    "GreenwaveError",
    "InfeasibleError",
    "InputError",
    "Intersection",
    "PeriodDemand",
    "Phase",
    "SignalTiming",
    "SimulationError",
    "SolverError",
    "TimingPlan",
    "__version__",
    "load_corridor",
    "optimize_corridor",
    "read_plan",
]
