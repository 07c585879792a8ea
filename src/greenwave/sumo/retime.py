"""The SUMO controller of the retiming loop, and running the loop in SUMO.

:class:`SumoController` implements the loop's Controller protocol on a live simulation
(libsumo, or traci for sumo-gui). It subscribes to every signal's state and phase index and
to the detectors; per step it feeds an independent :class:`~greenwave.sumo.safety.SafetyMonitor`
and, at each phase start, sets the phase's duration from the cycle schedule of
:func:`greenwave.retiming.transition.plan_cycle` (planned at each start of phase 0). Only
durations change, through ``setPhaseDuration`` at the phase's start: states, yellows and
all-reds stay those of the program loaded, no program is switched or restarted (cases c04,
c05, c06). Each interval it returns the detector readings, with optional injected faults
(a stuck or silent loop) applied.
"""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from greenwave.errors import SimulationError
from greenwave.retiming.loop import TransitionState, measurement_to_dict
from greenwave.retiming.measure import DetectorReading, DetectorSpec, Measurement
from greenwave.retiming.transition import (
    CycleSchedule,
    SignalProgram,
    TransitionLimits,
    check_cycle,
    plan_cycle,
)
from greenwave.sumo import simulate
from greenwave.sumo.binaries import binary
from greenwave.sumo.detectors import DetectorReader
from greenwave.sumo.safety import SafetyMonitor, SafetyReport, Thresholds, _sumo_errors

_STATE, _PHASE = 0x20, 0x28
_EPS = 1e-6

#: A vehicle with green no longer waits for a vehicle that has stood inside the junction for
#: this long [s]. The teleports of the day segment (both methods) were junction deadlocks at
#: crossings with permitted main-road lefts: a left turner still waiting at its internal stop
#: point when its phase ends stands in the path of the next phase's cross-street traffic, which
#: stops for it, while the turner yields to them (SUMO's internal-junction foes) - a mutual
#: wait that only the teleport (300 s) ended. A driver would edge round the turner or let it
#: go within seconds; 10 s resolves every such deadlock of the segment (no teleport) and leaves
#: ordinary queues alone (a queued vehicle stands on a lane, not inside the junction).
JUNCTION_BLOCKER_S = 10.0


@dataclass(frozen=True)
class DetectorFault:
    """An injected fault: from ``from_s`` the loop reads ``stuck`` (its last reading again
    and again) or ``silent`` (nothing counted)."""

    detector: str
    from_s: float
    mode: str = "stuck"


@dataclass
class _Signal:
    target: SignalProgram
    tag: str
    phase: int = -1
    start_s: float = math.nan
    schedule: CycleSchedule | None = None
    cycles: int = 0  # changed cycles since the target was applied
    in_force: TransitionState = field(default_factory=lambda: TransitionState("", 0.0, 0))
    cycle_starts: list[float] = field(default_factory=list)


class SumoController:
    """A live corridor in SUMO under the retiming loop (module doc)."""

    def __init__(self, conn: Any, programs: Mapping[str, SignalProgram],
                 specs: Sequence[DetectorSpec],
                 queues: Mapping[str, tuple[tuple[str, str, float, float], ...]], *,
                 thresholds: Thresholds | Mapping[str, Thresholds], end_s: float,
                 interval_s: float = 60.0, faults: Sequence[DetectorFault] = (),
                 limits: TransitionLimits | None = None,
                 record: IO[str] | None = None) -> None:
        self.conn = conn
        self.tl = conn.trafficlight
        self.end_s = end_s
        self.interval_s = interval_s
        self.limits = limits or TransitionLimits()
        self.faults = {f.detector: f for f in faults}
        self._frozen: dict[str, DetectorReading] = {}
        self.signals = {k: _Signal(p, "") for k, p in programs.items()}
        for tls in self.signals:
            self.tl.subscribe(tls, [_STATE, _PHASE])
        self.reader = DetectorReader(conn, specs, dict(queues))
        self.step_s = float(conn.simulation.getDeltaT())
        self.monitor = SafetyMonitor(thresholds, step_s=self.step_s, record_runs=False)
        self.record = record
        self.problems: list[str] = []

    @property
    def in_force(self) -> dict[str, TransitionState]:
        return {k: s.in_force for k, s in self.signals.items()}

    def apply(self, programs: Mapping[str, SignalProgram], tag: str) -> None:
        for tls, prog in programs.items():
            sig = self.signals[tls]
            if len(prog.durations_s) != len(sig.target.durations_s):
                raise SimulationError(f"signal {tls}: the new program has "
                                      f"{len(prog.durations_s)} phases, the loaded one "
                                      f"{len(sig.target.durations_s)}")
            sig.target, sig.tag, sig.cycles = prog, tag, 0

    def measure(self) -> Measurement | None:
        sim = self.conn.simulation
        t = sim.getTime()
        if t >= self.end_s - _EPS:
            return None
        boundary = (math.floor(t / self.interval_s + _EPS) + 1) * self.interval_s
        try:
            while t < boundary - _EPS:
                self.conn.simulationStep()
                t = sim.getTime()
                self._control(t)
                self.reader.step()
            readings, queues = self.reader.read()
        except _sumo_errors() as exc:
            raise SimulationError(f"SUMO stopped at t={t:g}: {exc}") from exc
        readings = self._faulty(t, readings)
        m = Measurement(t, self.interval_s, readings, queues, time.time())
        if self.record is not None:
            self.record.write(json.dumps(measurement_to_dict(m, self.in_force)) + "\n")
        return m

    def _faulty(self, t: float, readings: dict[str, DetectorReading]
                ) -> dict[str, DetectorReading]:
        for det, f in self.faults.items():
            if t <= f.from_s or det not in readings:
                if det in readings:
                    self._frozen[det] = readings[det]
                continue
            if f.mode == "silent":
                readings[det] = DetectorReading(0.0, 0.0)
            else:
                readings[det] = self._frozen.get(det, readings[det])
        return readings

    def _control(self, t: float) -> None:
        results = self.tl.getAllSubscriptionResults()
        for tls, sig in self.signals.items():
            res = results[tls]
            self.monitor.feed(t, tls, str(res[_STATE]))
            phase = int(res[_PHASE])
            if phase == sig.phase:
                continue
            sig.phase = phase
            start = t - self.step_s  # the state read at t started with the step ending at t
            if phase == 0:
                self._new_cycle(tls, sig, start)
            sched = sig.schedule
            duration = sched.durations_s[phase] if sched is not None \
                else sig.target.durations_s[phase]
            self.tl.setPhaseDuration(tls, max(duration - self.step_s, self.step_s))

    def _new_cycle(self, tls: str, sig: _Signal, start: float) -> None:
        sched = plan_cycle(sig.target, start, self.limits)
        problems = check_cycle(sig.target, sched.durations_s, self.limits)
        if problems:  # never expected: the planner keeps the limits; run the target instead
            self.problems += [f"t={start:g}: {p}" for p in problems]
            sched = CycleSchedule(sig.target.durations_s, 0.0, sched.error_s)
        sig.schedule = sched
        sig.cycle_starts.append(start)
        if sched.in_force:
            if sig.in_force.tag != sig.tag:
                sig.in_force = TransitionState(sig.tag, start, sig.cycles)
        elif sched.change_s != 0.0:
            sig.cycles += 1

    def report(self, backend: str = "") -> SafetyReport:
        return self.monitor.report(backend=backend)


# --------------------------------------------------------------------------------------------
# starting SUMO


@contextlib.contextmanager
def connect(args: list[str], log: Path, *, gui: bool = False) -> Iterator[tuple[Any, str]]:
    """A started simulation for the loop (:func:`greenwave.sumo.simulate.connect`)."""
    with simulate.connect(args, log, gui=gui, label="retime") as pair:
        yield pair


def sumo_args(net: Path, routes: Sequence[Path], additionals: Sequence[Path], *, begin_s: float,
              end_s: float, seed: int, tripinfo: Path | None = None,
              statistics: Path | None = None) -> list[str]:
    args = [str(binary("sumo")), "--net-file", str(net), "--route-files",
            ",".join(map(str, routes)), "--additional-files", ",".join(map(str, additionals)),
            "--begin", repr(float(begin_s)), "--end", repr(float(end_s)), "--seed", str(seed),
            "--step-length", "1", "--no-step-log", "true", "--duration-log.statistics", "true",
            "--ignore-junction-blocker", f"{JUNCTION_BLOCKER_S:g}"]
    if tripinfo is not None:
        args += ["--tripinfo-output", str(tripinfo), "--tripinfo-output.write-unfinished",
                 "true"]
    if statistics is not None:
        args += ["--statistic-output", str(statistics)]
    return args


def scratch_log(path: Path | None) -> contextlib.AbstractContextManager[Path]:
    if path is not None:
        return contextlib.nullcontext(path)

    @contextlib.contextmanager
    def tmp() -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="greenwave-retime-") as d:
            yield Path(d) / "sumo.log"

    return tmp()
