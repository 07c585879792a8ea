"""The refined plan checked in SUMO before it replaces the band plan.

The delay model of :mod:`greenwave.refine` sees platoons on the main street and Webster/HCM
delay on the side groups; SUMO also sees spillback, lane changes, turning conflicts and speed
spread. :func:`check_refinement` therefore simulates the band plan and the refined plan on
*tuning* seeds (other than the evaluation seeds: a plan chosen on the seeds it is judged on
would be favoured by their noise) and keeps the refined plan only when its network delay
(timeLoss + insertion delay of every finished trip, mean over the seeds) is not above the
band plan's. Otherwise it backs off along the line from the band plan to the refined one
(:func:`greenwave.refine.partial_refinement`: half the change, then a quarter) and keeps the
first that does not lose; when none does, the band plan. Every simulated plan's programs pass
the safety check of :func:`greenwave.sumo.programs.write_programs` (they are written by
:func:`greenwave.workflow.write_plan_files`). What happened is recorded in the returned plan's
``solver["sumo_check"]`` (so in plan.json).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from greenwave.corridor import Corridor
from greenwave.errors import InputError
from greenwave.plan import TimingPlan
from greenwave.refine import partial_refinement
from greenwave.tuning import TUNING_SEEDS

__all__ = ["BACK_OFF", "TUNING_SEEDS", "CheckTrial", "SumoCheck", "check_refinement"]

#: Shares of the refinement tried, in order, after the full one loses.
BACK_OFF = (0.5, 0.25)


@dataclass(frozen=True)
class CheckTrial:
    """One simulated candidate: share of the refinement and mean network delay [veh·h]."""

    fraction: float
    delay_vehh: float
    kept: bool


@dataclass(frozen=True)
class SumoCheck:
    """Outcome of :func:`check_refinement`."""

    seeds: tuple[int, ...]
    band_delay_vehh: float  # mean over the seeds [veh·h]
    trials: tuple[CheckTrial, ...]

    @property
    def kept_fraction(self) -> float:
        """Share of the refinement kept: 1 (all), a back-off share, or 0 (the band plan)."""
        return next((t.fraction for t in self.trials if t.kept), 0.0)

    @property
    def outcome(self) -> str:
        f = self.kept_fraction
        if f == 1.0:
            return "refined plan kept"
        if f > 0.0:
            return f"backed off to {f:g} of the refinement"
        return "band plan kept (every refined candidate lost in SUMO)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "seeds": list(self.seeds),
            "band_delay_veh_h": round(self.band_delay_vehh, 3),
            "trials": [{"fraction": t.fraction, "delay_veh_h": round(t.delay_vehh, 3),
                        "kept": t.kept} for t in self.trials],
            "kept_fraction": self.kept_fraction,
            "outcome": self.outcome,
        }


def check_refinement(
    band: TimingPlan,
    refined: TimingPlan,
    corridor: Corridor,
    scenario: Any,
    *,
    out_dir: str | Path,
    seeds: Sequence[int] = TUNING_SEEDS,
    back_off: Sequence[float] = BACK_OFF,
    end_s: float | None = None,
    drain_s: float | None = None,
    progress: Any = None,
) -> tuple[TimingPlan, SumoCheck]:
    """Keep *refined* only if SUMO finds it no worse than *band* on network delay.

    *scenario* is a :class:`greenwave.workflow.Scenario` of the plans' period; *seeds* the
    tuning seeds (see the module docstring); *end_s* / *drain_s* as in
    :func:`greenwave.workflow.evaluate` (defaults: the period, and the time for its trips to
    finish). Returns the plan kept — *refined*, a back-off, or *band* — with
    ``solver["sumo_check"]`` recording every simulated delay, and the record.
    """
    from greenwave import workflow

    say = progress or workflow.quiet
    seeds = tuple(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise InputError(f"expected distinct tuning seeds, found {list(seeds)}",
                         field="tune_seeds", value=list(seeds))
    for f in back_off:
        if not (math.isfinite(f) and 0.0 < f < 1.0):
            raise InputError(f"back-off shares must lie in (0, 1), found {f!r}",
                             field="back_off", value=f)
    out = Path(out_dir)

    def simulate(plans: dict[str, TimingPlan]) -> dict[str, float]:
        methods = {}
        for name, plan in plans.items():
            folder = out / name
            folder.mkdir(parents=True, exist_ok=True)
            methods[name] = [workflow.write_plan_files(plan, corridor, folder,
                                                       scenario).programs]
        metrics = workflow.evaluate(scenario, methods, out_dir=out / "runs", seeds=seeds,
                                    end_s=end_s, drain_s=drain_s, baseline=False,
                                    progress=say)
        per_run = metrics.drop_duplicates(["method", "seed"])
        delay = per_run.groupby("method")["total_delay_s"].mean() / 3600.0
        return {name: float(delay[name]) for name in plans}

    first = simulate({"band": band, "refined": refined})
    trials = [CheckTrial(1.0, first["refined"], first["refined"] <= first["band"])]
    say(f"SUMO check on seeds {', '.join(map(str, seeds))}: band {first['band']:.1f} veh·h, "
        f"refined {first['refined']:.1f} veh·h")
    kept = refined if trials[0].kept else band
    for f in back_off:
        if trials[-1].kept:
            break
        candidate = partial_refinement(band, refined, corridor, f)
        delay = simulate({f"refined_x{f:g}": candidate})[f"refined_x{f:g}"]
        trials.append(CheckTrial(f, delay, delay <= first["band"]))
        say(f"  back-off {f:g}: {delay:.1f} veh·h")
        if trials[-1].kept:
            kept = candidate
    check = SumoCheck(seeds, first["band"], tuple(trials))
    say(f"  {check.outcome}")
    return replace(kept, solver={**kept.solver, "sumo_check": check.to_dict()}), check
