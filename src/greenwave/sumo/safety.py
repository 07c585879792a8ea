"""An independent safety monitor for simulated signals, and safe program changes at run time.

The monitor knows nothing of programs: it is fed what SUMO shows, ``(time, signal, state)``
once per simulation step, and checks every link's sequence of colours against thresholds.

Colours. ``G``/``g`` are green (a green run continues across ``G`` ↔ ``g``); ``y``/``Y`` yellow;
``r`` red; ``s`` stop-then-go; ``u`` red-yellow (shown before a green, not a clearance);
``o``/``O`` off (blinking / dark). Violations, one record each:

* ``green_to_red_without_yellow``: a link leaves green for anything but yellow — ``r``, ``s``,
  ``u``, ``o`` or ``O``: in each case the right of way ends without a clearance interval;
* ``yellow_too_short`` / ``yellow_too_long``: a yellow run differs from the link's ``yellow_s``
  by a step or more; a yellow still showing when the report is made counts as too long once it
  is;
* ``min_green``: a green run shorter than the link's ``min_green_s`` by a step or more;
* ``max_green`` (only when ``max_green_s`` is set): a green run longer than it by a step or more;
  it catches a phase held for another phase's duration (case c04);
* ``all_red_skipped``: per signal, when a link turns green, every link whose yellow ended less
  than that link's ``all_red_s`` before must have had its all-red; the record names the link
  turning green. Without a conflict matrix the check is conservative (links that do not
  conflict are treated as if they did); set ``all_red_s=0`` to switch it off.

Runs cut by the start of the observation are not checked for minimum green or short yellow; a
yellow that ends unobserved is not checked at all, nor does it start an all-red interval.

How time is counted (the project's convention, case c01): samples are read after each
``simulationStep``; the state read at time ``t`` is the one shown during the step that ended at
``t``, so a state first read at ``t`` started at ``t − Δ`` (Δ the step length; this equals
``getTime() − getSpentDuration()``). A run of n samples lasts ``n·Δ``. SUMO switches at the
first step boundary at or after the programmed switch time, so when Δ does not divide the
durations a correct 3 s yellow reads 2.8 or 3.2 s with Δ = 0.4 s; a threshold therefore counts
as met when the measured length is within one step of it (strictly). With 1 s steps and
whole-second programs the check is exact.

Run-time installation (:func:`install_program`) joins a new program so that its cycle is
anchored in SUMO's frame, time in cycle = ``(t − offset) mod C``, and every phase after the join
runs its planned duration; :func:`observe` runs SUMO for a time span under the monitor.
"""

from __future__ import annotations

import contextlib
import enum
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from greenwave.errors import GreenwaveError, InputError, SimulationError
from greenwave.sumo import simulate
from greenwave.sumo.binaries import binary
from greenwave.sumo.programs import GREEN, YELLOW, SumoPhase, _runs

PathLike = str | os.PathLike[str]

_TL_STATE = 0x20  # TL_RED_YELLOW_GREEN_STATE in traci.constants and libsumo
_EPS = 1e-6
_COLOUR = {"G": "green", "g": "green", "y": "yellow", "Y": "yellow", "r": "red", "s": "stop",
           "u": "red-yellow", "o": "off", "O": "off"}


class ViolationKind(enum.StrEnum):
    """What a :class:`Violation` is about (see the module doc for the definitions)."""

    GREEN_TO_RED_WITHOUT_YELLOW = "green_to_red_without_yellow"
    YELLOW_TOO_SHORT = "yellow_too_short"
    YELLOW_TOO_LONG = "yellow_too_long"
    MIN_GREEN = "min_green"
    MAX_GREEN = "max_green"
    ALL_RED_SKIPPED = "all_red_skipped"


class UnsafeTransitionError(GreenwaveError):
    """A program cannot be joined safely now (the signal shows a state it cannot hold)."""


# --------------------------------------------------------------------------------------------
# thresholds


@dataclass(frozen=True)
class LinkLimits:
    """Per-link overrides of :class:`Thresholds`; ``None`` keeps the signal's value [s]."""

    yellow_s: float | None = None
    all_red_s: float | None = None
    min_green_s: float | None = None
    max_green_s: float | None = None


@dataclass(frozen=True)
class Thresholds:
    """Clearance and green limits of one signal [s], with optional per-link overrides.

    ``max_green_s`` None means unchecked. ``links`` maps a link index to its overrides.
    """

    yellow_s: float
    all_red_s: float = 0.0
    min_green_s: float = 0.0
    max_green_s: float | None = None
    links: Mapping[int, LinkLimits] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        for where, lim in (("", self), *((f"links[{k}].", v) for k, v in self.links.items())):
            for name in ("yellow_s", "all_red_s", "min_green_s", "max_green_s"):
                v = getattr(lim, name)
                if v is not None and not (isinstance(v, int | float) and math.isfinite(v)
                                          and v >= 0):
                    problems.append(f"{where}{name} must be a non-negative number, found {v!r}")
        if problems:
            raise InputError("; ".join(problems), field="thresholds")

    def limit(self, link: int, name: str) -> float | None:
        """The resolved threshold *name* (e.g. ``"yellow_s"``) of *link*."""
        own = self.links.get(link)
        value = getattr(own, name) if own is not None else None
        result: float | None = value if value is not None else getattr(self, name)
        return result

    @classmethod
    def from_program(
        cls,
        phases: Sequence[SumoPhase] | Sequence[tuple[float, str]],
        *,
        min_green_s: float = 0.0,
        all_red_s: float = 0.0,
        max_green: bool = True,
    ) -> Thresholds:
        """The limits a cyclic program promises: each link's planned yellow and, with
        *max_green*, its longest planned green run as maximum green.

        A link that never shows yellow gets the longest yellow of the program (it is never
        checked). Raises InputError when the program is empty or states differ in length.
        """
        items = _phase_items(phases)
        durations = [d for d, _ in items]
        links: dict[int, LinkLimits] = {}
        yellow_all: list[float] = []
        for k in range(len(items[0][1])):
            col = [s[k] for _, s in items]
            yellows = [length for _, length in _runs(col, YELLOW, durations)]
            greens = [length for _, length in _runs(col, GREEN, durations)]
            yellow_all += yellows
            links[k] = LinkLimits(yellow_s=max(yellows) if yellows else None,
                                  max_green_s=max(greens) if greens and max_green else None)
        return cls(yellow_s=max(yellow_all, default=0.0), all_red_s=all_red_s,
                   min_green_s=min_green_s, links=links)


def _phase_items(phases: Sequence[SumoPhase] | Sequence[tuple[float, str]]
                 ) -> list[tuple[float, str]]:
    items = [(p.duration_s, p.state) if isinstance(p, SumoPhase) else (float(p[0]), str(p[1]))
             for p in phases]
    if not items:
        raise InputError("a program needs at least one phase", field="phases")
    sizes = {len(s) for _, s in items}
    if len(sizes) != 1:
        raise InputError(f"phase states differ in length: {sorted(sizes)}", field="phases")
    bad = [f"phase {k}: {d!r}" for k, (d, _) in enumerate(items)
           if not (math.isfinite(d) and d > 0)]
    if bad:
        raise InputError("durations must be positive: " + ", ".join(bad), field="phases")
    return items


# --------------------------------------------------------------------------------------------
# records


@dataclass(frozen=True)
class Violation:
    """One safety violation: when [s], where (signal, link index), what, and the numbers."""

    time_s: float  # the state change, or the start of the offending interval
    tls_id: str
    link_index: int
    kind: ViolationKind
    detail: str


@dataclass(frozen=True)
class ColourRun:
    """One observed interval of a link's colour; ``truncated`` when the observation cut it."""

    tls_id: str
    link_index: int
    colour: str  # "green", "yellow", "red", "stop", "red-yellow", "off"
    start_s: float
    duration_s: float
    truncated: bool


@dataclass(frozen=True)
class SafetyReport:
    """What the monitor saw: violations in time order and their number per kind."""

    violations: tuple[Violation, ...]
    counts: Mapping[ViolationKind, int]  # every kind, zeros included
    begin_s: float  # start of the first observed step
    end_s: float  # time of the last sample
    step_s: float
    runs: tuple[ColourRun, ...] = ()  # only with SafetyMonitor(record_runs=True)
    backend: str = ""  # "libsumo" or "traci" when made by observe()

    @property
    def is_safe(self) -> bool:
        return not self.violations

    def of_kind(self, kind: ViolationKind | str) -> list[Violation]:
        return [v for v in self.violations if v.kind == ViolationKind(kind)]

    def green_starts(self, tls_id: str, link_index: int) -> list[float]:
        """Start times [s] of the complete-at-start green runs of one link (needs runs)."""
        return [r.start_s for r in self.runs if r.tls_id == tls_id
                and r.link_index == link_index and r.colour == "green"
                and not (r.truncated and r.start_s <= self.begin_s + _EPS)]

    def to_frame(self) -> pd.DataFrame:
        """The violations as a tidy table: time_s, tls_id, link_index, kind, detail."""
        cols = ["time_s", "tls_id", "link_index", "kind", "detail"]
        return pd.DataFrame([(v.time_s, v.tls_id, v.link_index, str(v.kind), v.detail)
                             for v in self.violations], columns=cols)


# --------------------------------------------------------------------------------------------
# the monitor


@dataclass
class _Run:
    char: str
    start_s: float
    samples: int
    truncated: bool


@dataclass
class _Signal:
    thresholds: Thresholds
    last_time_s: float
    runs: list[_Run]
    yellow_end_s: dict[int, float] = field(default_factory=dict)


class SafetyMonitor:
    """Checks the colour sequence of every link of the signals it is fed (module doc).

    *thresholds* is one :class:`Thresholds` for every signal or a mapping signal id → its own;
    *step_s* is the simulation step length Δ [s]. Feed one sample per signal per step with
    :meth:`feed`, in time order; samples of a signal must be exactly one step apart.
    """

    def __init__(self, thresholds: Thresholds | Mapping[str, Thresholds], *, step_s: float,
                 record_runs: bool = False) -> None:
        if not (isinstance(step_s, int | float) and math.isfinite(step_s) and step_s > 0):
            raise InputError(f"must be a positive number, found {step_s!r}", field="step_s",
                             value=step_s)
        self._thresholds = thresholds
        self._step = float(step_s)
        self._tol = self._step - _EPS  # "within one step, strictly"
        self._signals: dict[str, _Signal] = {}
        self._violations: list[Violation] = []
        self._record = record_runs
        self._runs: list[ColourRun] = []
        self._begin: float | None = None
        self._end = -math.inf

    @property
    def step_s(self) -> float:
        return self._step

    def _thresholds_of(self, tls_id: str) -> Thresholds:
        if isinstance(self._thresholds, Thresholds):
            return self._thresholds
        try:
            return self._thresholds[tls_id]
        except KeyError:
            raise InputError(f"no thresholds for signal {tls_id!r}; known: "
                             f"{', '.join(sorted(self._thresholds)) or 'none'}",
                             field="thresholds", value=tls_id) from None

    def feed_all(self, time_s: float, states: Mapping[str, str]) -> None:
        """One step's states of several signals (as :class:`SignalStates` reads them)."""
        for tls_id, state in states.items():
            self.feed(time_s, tls_id, state)

    def feed(self, time_s: float, tls_id: str, state: str) -> None:
        """One sample: the *state* of signal *tls_id* read after the step ending at *time_s*."""
        bad = sorted(set(state) - set(_COLOUR))
        if not state or bad:
            raise InputError(f"signal {tls_id} at t={time_s:g}: state {state!r} is empty or has "
                             f"unknown characters {bad}; expected {''.join(_COLOUR)}",
                             field="state", value=state)
        sig = self._signals.get(tls_id)
        t0 = time_s - self._step  # when this sample's state started showing
        if self._begin is None or t0 < self._begin:
            self._begin = t0
        self._end = max(self._end, time_s)
        if sig is None:
            self._signals[tls_id] = _Signal(self._thresholds_of(tls_id), time_s,
                                            [_Run(c, t0, 1, True) for c in state])
            return
        gap = time_s - sig.last_time_s
        if abs(gap - self._step) > _EPS:
            raise InputError(f"signal {tls_id}: sample at t={time_s:g} follows t="
                             f"{sig.last_time_s:g}; samples must be one step ({self._step:g} s) "
                             "apart", field="time_s", value=time_s)
        if len(state) != len(sig.runs):
            raise InputError(f"signal {tls_id} at t={time_s:g}: state has {len(state)} links, "
                             f"earlier ones had {len(sig.runs)}", field="state", value=state)
        sig.last_time_s = time_s
        onsets: list[int] = []
        for k, (run, c) in enumerate(zip(sig.runs, state, strict=True)):
            if _COLOUR[c] == _COLOUR[run.char]:
                run.samples += 1
                continue
            self._close(tls_id, sig, k, run, c, t0)
            if c in GREEN:
                onsets.append(k)
            sig.runs[k] = _Run(c, t0, 1, False)
        for k in onsets:  # after every run of this step ended: yellows ending now count
            self._check_all_red(tls_id, sig, k, t0)

    def _close(self, tls_id: str, sig: _Signal, k: int, run: _Run, new: str, t0: float) -> None:
        """Checks when the run of link *k* ends at *t0* with the link turning *new*."""
        lim = sig.thresholds
        length = run.samples * self._step
        if run.char in GREEN and new not in YELLOW:
            self._add(t0, tls_id, k, ViolationKind.GREEN_TO_RED_WITHOUT_YELLOW,
                      f"{run.char!r} → {new!r} ({_COLOUR[new]}) after {length:g} s of green")
        if run.char in YELLOW:
            sig.yellow_end_s[k] = t0
        self._check_run(tls_id, k, run, length, lim, ended=True)
        if self._record:
            self._runs.append(ColourRun(tls_id, k, _COLOUR[run.char], round(run.start_s, 6),
                                        round(length, 6), run.truncated))

    def _check_run(self, tls_id: str, k: int, run: _Run, length: float, lim: Thresholds, *,
                   ended: bool) -> None:
        def add(kind: ViolationKind, what: str, need: float) -> None:
            still = "" if ended else " (still showing)"
            self._add(run.start_s, tls_id, k, kind,
                      f"{_COLOUR[run.char]} of {length:g} s from t={run.start_s:g}{still} "
                      f"{what} {need:g} s")

        if run.char in YELLOW:
            need = lim.limit(k, "yellow_s") or 0.0
            if ended and not run.truncated and length <= need - self._tol:
                add(ViolationKind.YELLOW_TOO_SHORT, "is shorter than the set", need)
            if length >= need + self._tol:
                add(ViolationKind.YELLOW_TOO_LONG, "is longer than the set", need)
        elif run.char in GREEN:
            need = lim.limit(k, "min_green_s") or 0.0
            if ended and not run.truncated and length <= need - self._tol:
                add(ViolationKind.MIN_GREEN, "is below the minimum", need)
            most = lim.limit(k, "max_green_s")
            if most is not None and length >= most + self._tol:
                add(ViolationKind.MAX_GREEN, "exceeds the maximum", most)

    def _check_all_red(self, tls_id: str, sig: _Signal, k: int, t0: float) -> None:
        short = [(j, t0 - end) for j, end in sorted(sig.yellow_end_s.items())
                 if t0 - end <= (sig.thresholds.limit(j, "all_red_s") or 0.0) - self._tol]
        if short:
            listing = ", ".join(f"link {j} {gap:g} s before (needs "
                                f"{sig.thresholds.limit(j, 'all_red_s'):g} s)" for j, gap in short)
            self._add(t0, tls_id, k, ViolationKind.ALL_RED_SKIPPED,
                      f"turns green while the all-red after a yellow is not over: {listing}")

    def _add(self, t: float, tls_id: str, k: int, kind: ViolationKind, detail: str) -> None:
        self._violations.append(Violation(round(t, 6), tls_id, k, kind, detail))

    def report(self, *, backend: str = "") -> SafetyReport:
        """A snapshot: the violations so far, plus long yellows/greens still showing."""
        found = list(self._violations)
        runs = list(self._runs)
        pending = SafetyMonitor(self._thresholds, step_s=self._step)
        for tls_id, sig in self._signals.items():
            for k, run in enumerate(sig.runs):
                length = run.samples * self._step
                pending._check_run(tls_id, k, run, length, sig.thresholds, ended=False)
                if self._record:
                    runs.append(ColourRun(tls_id, k, _COLOUR[run.char], round(run.start_s, 6),
                                          round(length, 6), True))
        found += pending._violations
        found.sort(key=lambda v: (v.time_s, v.tls_id, v.link_index, v.kind))
        counts = {kind: 0 for kind in ViolationKind}
        for v in found:
            counts[v.kind] += 1
        return SafetyReport(
            violations=tuple(found), counts=counts,
            begin_s=self._begin if self._begin is not None else math.nan,
            end_s=self._end if self._begin is not None else math.nan, step_s=self._step,
            runs=tuple(sorted(runs, key=lambda r: (r.tls_id, r.link_index, r.start_s))),
            backend=backend,
        )


# --------------------------------------------------------------------------------------------
# reading states from SUMO


class SignalStates:
    """Subscribes to the state of *tls_ids* on *conn* (``libsumo``, ``traci`` or a TraCI
    connection); :meth:`read` returns the states SUMO sent with the last step.

    One subscription answer per step instead of one ``getRedYellowGreenState`` call per signal.
    """

    def __init__(self, conn: Any, tls_ids: Sequence[str]) -> None:
        self._tl = conn.trafficlight
        known = set(self._tl.getIDList())
        missing = [t for t in tls_ids if t not in known]
        if missing:
            raise InputError(f"no traffic light {', '.join(missing)}; the simulation has "
                             f"{', '.join(sorted(known)) or 'none'}", field="tls_ids")
        self.tls_ids = tuple(tls_ids)
        for t in self.tls_ids:
            self._tl.subscribe(t, [_TL_STATE])

    def read(self) -> dict[str, str]:
        results = self._tl.getAllSubscriptionResults()
        return {t: str(results[t][_TL_STATE]) for t in self.tls_ids}


# --------------------------------------------------------------------------------------------
# observing a run


def observe(
    net_file: PathLike,
    *,
    thresholds: Thresholds | Mapping[str, Thresholds],
    end_s: float,
    begin_s: float = 0.0,
    additional_files: Sequence[PathLike] = (),
    route_files: Sequence[PathLike] = (),
    tls_ids: Sequence[str] | None = None,
    step_length_s: float = 1.0,
    control: Callable[[Any, float], None] | None = None,
    record_runs: bool = False,
    extra_args: Sequence[str] = (),
    log_file: PathLike | None = None,
) -> SafetyReport:
    """Run SUMO from *begin_s* to *end_s* [s] under a :class:`SafetyMonitor` and report.

    Watches *tls_ids* (default: every signal). ``control(conn, t)``, when given, is called at
    each step's start time ``t`` (before the first step too) with the live connection, e.g. to
    install a program; the monitor sees its effect from the next sample. libsumo is used when
    it is free in this process; when another libsumo simulation is loaded (libsumo holds one at a
    time) or libsumo is missing, the ``sumo`` binary is driven over TraCI instead. SUMO's
    messages go to *log_file* (a temporary file when None). Raises SimulationError when SUMO
    fails, InputError on bad arguments.
    """
    net = Path(net_file)
    simulate._check_net_file(net)
    for f in additional_files:
        simulate._check_xml_file(Path(f), "additional file")
    for f in route_files:
        simulate._check_xml_file(Path(f), "route file")
    for name, v in (("begin_s", begin_s), ("end_s", end_s), ("step_length_s", step_length_s)):
        if not (isinstance(v, int | float) and math.isfinite(v)):
            raise InputError(f"must be a finite number, found {v!r}", field=name, value=v)
    if end_s <= begin_s or step_length_s <= 0:
        raise InputError(f"need begin < end and a positive step, found begin {begin_s:g}, end "
                         f"{end_s:g}, step {step_length_s:g}", field="end_s", value=end_s)
    args = [str(binary("sumo")), "--net-file", str(net), "--begin", repr(float(begin_s)),
            "--end", repr(float(end_s)), "--step-length", repr(float(step_length_s)),
            "--no-step-log", "true", *extra_args]
    if additional_files:
        args += ["--additional-files", ",".join(map(str, additional_files))]
    if route_files:
        args += ["--route-files", ",".join(map(str, route_files))]
    with contextlib.ExitStack() as stack:
        if log_file is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="greenwave-safety-"))
            log = Path(tmp) / "sumo.log"
        else:
            log = Path(log_file)
        try:
            with simulate.connect(args, log, label="safety") as (conn, backend):
                monitor = SafetyMonitor(thresholds, step_s=conn.simulation.getDeltaT(),
                                        record_runs=record_runs)
                reader = SignalStates(conn, tls_ids if tls_ids is not None
                                      else conn.trafficlight.getIDList())
                t = conn.simulation.getTime()
                while t < end_s - _EPS:
                    if control is not None:
                        control(conn, t)
                    conn.simulationStep()
                    t = conn.simulation.getTime()
                    monitor.feed_all(t, reader.read())
                return monitor.report(backend=backend)
        except _sumo_errors() as exc:
            raise SimulationError(simulate._failure_message("safety", str(exc), log)) from exc


def _sumo_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = []
    with contextlib.suppress(ImportError):
        errors.append(simulate.import_libsumo().TraCIException)
    import traci

    return (*errors, traci.TraCIException, traci.FatalTraCIError)





# --------------------------------------------------------------------------------------------
# installing a program at run time


@dataclass(frozen=True)
class Installation:
    """How :func:`install_program` joined a program.

    At ``time_s`` the signal went on in phase ``phase_index`` of the new program (showing the
    state it already showed) for ``hold_s``; from ``anchored_s`` on, every phase runs its own
    duration and phase 0 starts at ``offset_s + k·cycle_s``.
    """

    tls_id: str
    program_id: str
    time_s: float
    phase_index: int
    hold_s: float
    anchored_s: float
    offset_s: float
    cycle_s: float


def install_program(
    conn: Any,
    tls_id: str,
    program_id: str,
    phases: Sequence[SumoPhase] | Sequence[tuple[float, str]],
    *,
    offset_s: float,
    min_green_s: float | Mapping[int, float] = 0.0,
) -> Installation:
    """Install a static program at run time, joined safely and anchored at its offset.

    The join never changes what the signal shows: it takes a phase of the new program whose
    state equals the current one (a green or all-red state; never a yellow) and holds or
    shortens it so that it ends when that phase ends in the new program's frame, time in cycle
    = ``(t − offset_s) mod C``. A green is never shortened below *min_green_s* (per link,
    counted from when the state began) and an all-red never below its planned length; when the
    nearest end is too soon, the phase is held to the end one cycle later. The hold is thus at
    most one cycle plus the phase's length, and every later phase runs its planned duration.

    Mechanics (case c04): ``setProgramLogic`` with ``currentPhaseIndex`` 0, then ``setPhase``
    (the phase restarts with its own duration) and ``setPhaseDuration`` (the remaining hold).
    When the current state ends exactly at a phase boundary of the new program, the signal
    goes on with the next phase at its full length. Raises UnsafeTransitionError when the
    current state shows yellow or is no phase of the new program (retry at the signal's next
    switch), InputError on a bad program.
    """
    items = _phase_items(phases)
    tl = conn.trafficlight
    state = tl.getRedYellowGreenState(tls_id)
    if len(state) != len(items[0][1]):
        raise InputError(f"signal {tls_id} has {len(state)} links, the program's states have "
                         f"{len(items[0][1])}", field="phases")
    now = conn.simulation.getTime()
    step = conn.simulation.getDeltaT()
    spent = tl.getSpentDuration(tls_id)
    cycle = sum(d for d, _ in items)
    join = _join(items, state, now, spent, step, offset_s % cycle, min_green_s)
    if join is None:
        raise UnsafeTransitionError(
            f"signal {tls_id} at t={now:g}: cannot join program {program_id!r} safely from "
            f"state {state!r} (a yellow, or no phase of the program shows it); retry at the "
            f"signal's next switch, t={tl.getNextSwitch(tls_id):g}")
    phase_index, hold = join
    logic = tl.Logic(program_id, 0, 0, [tl.Phase(d, s, d, d) for d, s in items])
    tl.setProgramLogic(tls_id, logic)
    tl.setPhase(tls_id, phase_index)
    if not math.isclose(hold, items[phase_index][0], abs_tol=_EPS):
        tl.setPhaseDuration(tls_id, hold)
    return Installation(tls_id, program_id, now, phase_index, hold, now + hold,
                        offset_s % cycle, cycle)


def _join(items: Sequence[tuple[float, str]], state: str, now: float, spent: float,
          step: float, offset: float, min_green_s: float | Mapping[int, float]
          ) -> tuple[int, float] | None:
    """(phase index, hold [s]) of the earliest safe anchored join, None when there is none."""
    if any(c in YELLOW for c in state):
        return None
    cycle = sum(d for d, _ in items)
    greens = [k for k, c in enumerate(state) if c in GREEN]
    need = 0.0
    if greens:
        need = max(float(min_green_s) if isinstance(min_green_s, int | float)
                   else float(min_green_s.get(k, 0.0)) for k in greens)
    best: tuple[float, int, float] | None = None
    begin = 0.0
    for j, (d, s) in enumerate(items):
        begin += d
        if s != state:
            continue
        floor = need if greens else d  # an all-red is never cut short
        end = offset + begin  # phase j ends at end + m·C
        end += math.ceil((now - end) / cycle - _EPS) * cycle
        if abs(end - now) <= step / 2:  # the state ends right now: go on with phase j + 1
            nxt = (j + 1) % len(items)
            if spent >= floor - _EPS and (best is None or now < best[0]):
                best = (now, nxt, items[nxt][0])
            end += cycle
        while spent + (end - now) < floor - _EPS:
            end += cycle
        if best is None or end < best[0]:
            best = (end, j, end - now)
    return None if best is None else (best[1], best[2])
