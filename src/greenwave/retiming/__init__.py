"""Dynamic retiming: measure → detect alerts → decide → check safety → apply.

The pure core of the loop (no SUMO here): :mod:`~greenwave.retiming.measure` (detector
records, rolling windows), :mod:`~greenwave.retiming.alerts` (rules with hysteresis, the JSON
Lines feed, debouncing), :mod:`~greenwave.retiming.decide` (the three levels and the
fallback), :mod:`~greenwave.retiming.transition` (bounded per-cycle transitions and their
safety check) and :mod:`~greenwave.retiming.loop` (the loop over any Controller, the log, a
replay controller). The SUMO controller is :class:`greenwave.sumo.retime.SumoController`.
"""

from greenwave.retiming.loop import (
    Controller,
    DecisionLog,
    ReplayController,
    RetimingLoop,
    TodPlan,
)

__all__ = ["Controller", "DecisionLog", "ReplayController", "RetimingLoop", "TodPlan"]
