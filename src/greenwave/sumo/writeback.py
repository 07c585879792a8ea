"""Write plans back into an imported network's own signal programs.

An imported corridor (:mod:`greenwave.sumo.importnet`) keeps each signal's phases exactly as
the net has them. Writing a plan back changes only what was optimized:

* **Cycle.** When the common cycle ``C`` differs from a signal's own cycle, its *green phases*
  (phases that show ``G``/``g`` and no ``y``/``Y``/``u``) are stretched or shrunk in
  proportion to their durations; *transition phases* (any ``y``/``Y``/``u``, or no green at
  all: yellow, red-yellow, all-red) keep their duration. No green phase goes below its
  minimum: the phase's ``minDur`` when the program gives one, otherwise
  ``min(duration, min_green_s)`` (a phase already shorter than the default is never
  shortened). Durations are whole seconds when the green time is. The phase states, their
  order and the program's type are kept; the through windows are recomputed from the new
  durations with the import's own rule.
* **Offset.** The plan fixes, per signal, when the outbound through green starts in the common
  frame (``green_out_start_s``). The program's offset is that start minus the window's start
  from phase 0, reduced modulo ``C``: the time in cycle at simulation time ``t`` is
  ``(t - offset) mod C`` (SUMO's frame, whatever the scenario's ``--begin``).
* **Program.** Each signal gets a new ``<tlLogic>`` with its own programID (default
  ``greenwave``). Loading the additional file activates it: SUMO switches each signal to the
  last program it loads (checked in the tests with libsumo's ``getProgram``).

Every program is checked before anything is written (:func:`check_retimed`): same states as the
original; every green phase at least its minimum; every transition phase (yellow, all-red)
exactly as long as in the original; no link goes from green to anything but yellow. Sequences
the original program already shows (netconvert often lets a through link go yellow and then
green again when a protected turn follows) are inherited, not introduced: they are reported as
notes and do not block the write.

Double cycling (a short-cycle cluster running two cycles in one common cycle) is not modelled:
every coordinated signal runs the one common cycle.

**Keeping a signal's own cycle** (``keep_own_cycle``). Stretching a busy signal to a longer
common cycle can jam it (on ingolstadt7 the 65 s cluster ``cluster_306484187_…`` at 90 s).
With ``keep_own_cycle`` every signal whose own cycle differs from the common cycle is left out
of coordination: it keeps its original program untouched (no ``<tlLogic>`` is written for it,
so the net's own program runs) and is listed in :attr:`RetimedCorridor.excluded` with the
reason. The optimizer sees *one* corridor of the coordinated signals only, the excluded ones
removed (positions kept): the band runs through the gap as if the excluded signal were not
there. That is simpler than splitting into zones at each excluded signal and no less correct
(an excluded signal runs another cycle, so no band is synchronous with it either way; one
corridor still gives the links across the gap a progression). At least two signals must stay
coordinated.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from greenwave.corridor import Corridor, Intersection, _round_preserving_sum
from greenwave.errors import InfeasibleError, InputError
from greenwave.plan import TimingPlan
from greenwave.sumo.importnet import (
    ImportedCorridor,
    ImportedSignal,
    SignalPhase,
    _through_window,
    coordinated_corridor,
)
from greenwave.sumo.netbuild import write_xml
from greenwave.sumo.programs import UnsafeProgramError, check_program, format_time

GREEN = frozenset("Gg")
TRANSITION = frozenset("yYu")
DEFAULT_MIN_GREEN_S = 5.0
"""Minimum of a green phase whose program gives no ``minDur`` [s] (never above its duration)."""

_EPS = 1e-6


@dataclass(frozen=True)
class RetimedSignal:
    """One imported signal's program at the common cycle, with its through windows [s]."""

    signal: ImportedSignal
    cycle_s: float
    phases: tuple[SignalPhase, ...]
    minimums_s: tuple[float, ...]  # per phase: minimum for green phases, fixed for transitions
    green_phase: tuple[bool, ...]  # which phases may change duration
    out_green_start_s: float  # from the start of phase 0
    green_out_s: float
    in_green_start_s: float | None
    green_in_s: float

    @property
    def inbound_shift_s(self) -> float:
        if self.in_green_start_s is None:
            return 0.0
        shift = (self.in_green_start_s - self.out_green_start_s) % self.cycle_s
        return shift - self.cycle_s if shift > self.cycle_s / 2 else shift


@dataclass(frozen=True)
class ExcludedSignal:
    """A signal left out of coordination: it keeps its original program."""

    tls_id: str
    intersection_id: str
    cycle_s: float
    reason: str


@dataclass(frozen=True)
class RetimedCorridor:
    """An imported corridor at one common cycle: what the optimizer and write-back share.

    *signals* and *corridor* hold the coordinated signals only (all of them unless some are
    *excluded*, see the module doc).
    """

    imported: ImportedCorridor
    cycle_s: float
    signals: tuple[RetimedSignal, ...]
    corridor: Corridor  # the corridor the optimizer sees (windows of the retimed programs)
    excluded: tuple[ExcludedSignal, ...] = ()
    splits: str = "own"  # "own": the programs' proportions; "demand": Webster on counted flows


@dataclass(frozen=True)
class NetProgram:
    """A program to write: one ``<tlLogic>`` for one traffic light."""

    tls_id: str
    program_id: str
    program_type: str
    offset_s: float  # in [0, cycle)
    phases: tuple[SignalPhase, ...]

    @property
    def cycle_s(self) -> float:
        return math.fsum(p.duration_s for p in self.phases)


# --------------------------------------------------------------------------------------------
# cycle


def choose_cycle(imported: ImportedCorridor) -> float:
    """The common cycle when none is given: the cycle most signals run (the longest on a tie).

    Keeping the majority's cycle changes the fewest programs; the others are retimed.
    """
    counts = Counter(imported.cycles_s)
    return max(counts, key=lambda c: (counts[c], c))


def is_transition(state: str) -> bool:
    """A yellow, red-yellow or all-red phase (its duration is kept)."""
    return any(c in TRANSITION for c in state) or not any(c in GREEN for c in state)


def retime_signal(signal: ImportedSignal, cycle_s: float, *,
                  min_green_s: float = DEFAULT_MIN_GREEN_S,
                  flow_ratios: Sequence[float] | None = None) -> RetimedSignal:
    """*signal*'s program at *cycle_s* (see the module doc for the rules).

    With *flow_ratios* (one per phase, Webster's y, see :mod:`greenwave.sumo.netsplits`) the
    green phases share the cycle's green time in proportion to them (splits from demand, within
    the minimums) instead of keeping their proportions.

    Raises :class:`InfeasibleError` when the transition phases and minimum greens do not fit
    the cycle, :class:`InputError` when the program has no green phase to retime.
    """
    if not (math.isfinite(cycle_s) and cycle_s > 0):
        raise InputError(f"must be a positive number of seconds, found {cycle_s!r}",
                         field="cycle_s", value=cycle_s)
    phases = signal.phases
    green = tuple(not is_transition(p.state) for p in phases)
    mins = tuple(
        (p.min_dur_s if p.min_dur_s is not None and p.min_dur_s <= p.duration_s + _EPS
         else min(p.duration_s, min_green_s)) if g else p.duration_s
        for p, g in zip(phases, green, strict=True)
    )
    if not any(green):
        raise InputError(f"signal {signal.tls_id}: program {signal.program_id!r} has no green "
                         "phase to retime", field="tlLogic", value=signal.tls_id)
    durations = [p.duration_s for p in phases]
    if flow_ratios is not None:
        if len(flow_ratios) != len(phases):
            raise InputError(f"signal {signal.tls_id}: {len(flow_ratios)} flow ratios for "
                             f"{len(phases)} phases", field="flow_ratios",
                             value=len(flow_ratios))
        durations = _demand_split(signal, cycle_s, durations, green, mins, flow_ratios)
    elif not math.isclose(cycle_s, signal.cycle_s, abs_tol=_EPS):
        durations = _stretch(signal, cycle_s, durations, green, mins)
    new = tuple(replace(p, duration_s=d) for p, d in zip(phases, durations, strict=True))
    w_out = _through_window(new, signal.outbound.link_indices)
    w_in = _through_window(new, signal.inbound.link_indices) if signal.inbound else None
    return RetimedSignal(
        signal=signal, cycle_s=cycle_s, phases=new, minimums_s=mins, green_phase=green,
        out_green_start_s=w_out.start_s or 0.0, green_out_s=w_out.green_s,
        in_green_start_s=w_in.start_s if w_in else None,
        green_in_s=w_in.green_s if w_in else 0.0,
    )


def _stretch(signal: ImportedSignal, cycle_s: float, durations: list[float],
             green: Sequence[bool], mins: Sequence[float]) -> list[float]:
    idx, fixed, lo = _green_budget(signal, cycle_s, durations, green, mins)
    old = [durations[k] for k in idx]
    delta = cycle_s - signal.cycle_s
    total = sum(old)
    new = [g + delta * g / total for g in old]
    for _ in range(len(new)):  # clamp at the minimums; the others give what clamping took
        short = [j for j, g in enumerate(new) if g < lo[j] - 1e-9]
        if not short:
            break
        debt = sum(lo[j] - new[j] for j in short)
        for j in short:
            new[j] = lo[j]
        free = [j for j in range(len(new)) if new[j] > lo[j] + 1e-9]
        pool = sum(new[j] - lo[j] for j in free)
        for j in free:
            new[j] -= debt * (new[j] - lo[j]) / pool
    return _with_greens(durations, idx, new, lo, cycle_s - fixed)


def _demand_split(signal: ImportedSignal, cycle_s: float, durations: list[float],
                  green: Sequence[bool], mins: Sequence[float],
                  ratios: Sequence[float]) -> list[float]:
    """Splits from demand at Webster's equal degree of saturation (greenwave.splits' webster
    policy; :mod:`greenwave.sumo.netsplits` says why not the coordinated one)."""
    from greenwave.splits import phase_greens

    idx, fixed, lo = _green_budget(signal, cycle_s, durations, green, mins)
    new = phase_greens([ratios[k] for k in idx], lo, fixed, cycle_s, policy="webster")
    return _with_greens(durations, idx, new, lo, cycle_s - fixed)


def _green_budget(signal: ImportedSignal, cycle_s: float, durations: Sequence[float],
                  green: Sequence[bool], mins: Sequence[float],
                  ) -> tuple[list[int], float, list[float]]:
    """Green phase indices, the fixed (transition) time and the green minimums; refuses a cycle
    the transitions and minimums do not fit."""
    idx = [k for k, g in enumerate(green) if g]
    fixed = sum(d for d, g in zip(durations, green, strict=True) if not g)
    need = fixed + sum(mins[k] for k in idx)
    if need > cycle_s + _EPS:
        raise InfeasibleError(
            f"signal {signal.tls_id}: cannot run a {cycle_s:g} s cycle: its yellow/all-red "
            f"phases ({fixed:g} s) and minimum greens need {need:g} s")
    return idx, fixed, [mins[k] for k in idx]


def _with_greens(durations: Sequence[float], idx: Sequence[int], greens: list[float],
                 minimums: Sequence[float], green_total: float) -> list[float]:
    """*durations* with the green phases *idx* set to *greens*, rounded to whole seconds when
    the green total is whole and no minimum is broken by rounding."""
    if math.isclose(green_total, round(green_total), abs_tol=1e-9):
        rounded = [float(g) for g in _round_preserving_sum(greens, round(green_total))]
        if all(g >= m - 1e-9 for g, m in zip(rounded, minimums, strict=True)):
            greens = rounded
    out = list(durations)
    for k, g in zip(idx, greens, strict=True):
        out[k] = g
    return out


def own_cycle_exclusions(imported: ImportedCorridor, cycle_s: float) -> tuple[ExcludedSignal, ...]:
    """The signals whose own cycle differs from *cycle_s* (left out with ``keep_own_cycle``)."""
    return tuple(
        ExcludedSignal(tls_id=s.tls_id, intersection_id=i.id, cycle_s=s.cycle_s,
                       reason=f"own cycle {_num(s.cycle_s)} s differs from the common cycle "
                              f"{_num(cycle_s)} s; keeps its original program "
                              f"{s.program_id!r}")
        for s, i in zip(imported.signals, imported.corridor.intersections, strict=True)
        if not math.isclose(s.cycle_s, cycle_s, abs_tol=_EPS)
    )


def retime_corridor(imported: ImportedCorridor, cycle_s: float | None = None, *,
                    min_green_s: float = DEFAULT_MIN_GREEN_S,
                    keep_own_cycle: bool = False,
                    flow_ratios: Mapping[str, Sequence[float]] | None = None) -> RetimedCorridor:
    """Every signal of *imported* at one common cycle (default :func:`choose_cycle`), and the
    corridor of the retimed windows for the optimizer.

    *flow_ratios* (tls id → one Webster y per phase) give the signals splits from demand
    (:func:`retime_signal`); signals without an entry keep their proportions.

    With *keep_own_cycle* the signals of another cycle are left out (module doc,
    :func:`own_cycle_exclusions`); at least two must stay. Refuses what
    :func:`~greenwave.sumo.importnet.coordinated_corridor` refuses (a through movement that is
    never green, a missing inbound) and a retimed signal whose through movement loses its green.
    """
    base = coordinated_corridor(imported)
    cycle = choose_cycle(imported) if cycle_s is None else float(cycle_s)
    excluded = own_cycle_exclusions(imported, cycle) if keep_own_cycle else ()
    gone = {e.tls_id for e in excluded}
    kept = [k for k, s in enumerate(imported.signals) if s.tls_id not in gone]
    if len(kept) < 2:
        raise InputError(f"only {len(kept)} signal(s) run the common cycle {cycle:g} s; "
                         "coordination needs at least two (choose another --cycle-s or "
                         "do not keep own cycles)", field="keep_own_cycle", value=cycle)
    ratios = flow_ratios or {}
    signals = tuple(retime_signal(imported.signals[k], cycle, min_green_s=min_green_s,
                                  flow_ratios=ratios.get(imported.signals[k].tls_id))
                    for k in kept)
    for r in signals:
        if r.green_out_s <= 0 or r.green_in_s <= 0:
            raise InfeasibleError(f"signal {r.signal.tls_id}: at {cycle:g} s a through "
                                  "movement has no green")
    intersections = tuple(
        Intersection(id=i.id, name=i.name, position_m=i.position_m, green_out_s=r.green_out_s,
                     green_in_s=r.green_in_s, inbound_shift_s=r.inbound_shift_s,
                     out_green_start_s=r.out_green_start_s)
        for i, r in zip([base.intersections[k] for k in kept], signals, strict=True)
    )
    corridor = replace(base, intersections=intersections, cycle_s=cycle)
    return RetimedCorridor(imported=imported, cycle_s=cycle, signals=signals,
                           corridor=corridor, excluded=excluded,
                           splits="own" if flow_ratios is None else "demand")


# --------------------------------------------------------------------------------------------
# programs


def net_programs(retimed: RetimedCorridor, plan: TimingPlan, *,
                 program_id: str | None = None) -> tuple[NetProgram, ...]:
    """The programs that run *plan* on the imported net: retimed phases, plan offsets.

    The plan must be for the retimed corridor (same signal ids in order, same cycle).
    """
    pid = program_id or plan.program_id
    if not pid or any(c.isspace() for c in pid):
        raise InputError(f"must be a non-empty id without spaces, found {pid!r}",
                         field="program_id", value=pid)
    ids = [s.id for s in plan.signals]
    want = list(retimed.corridor.ids)
    if ids != want:
        raise InputError(f"plan signals {ids} are not the corridor's {want}",
                         field="intersections")
    if not math.isclose(plan.cycle_s, retimed.cycle_s, abs_tol=_EPS):
        raise InputError(f"plan cycle {plan.cycle_s:g} s differs from the retimed programs' "
                         f"{retimed.cycle_s:g} s", field="cycle_s", value=plan.cycle_s)
    out = []
    for s, r in zip(plan.signals, retimed.signals, strict=True):
        original = r.signal
        if pid in original.programs:
            raise InputError(f"signal {original.tls_id} already has a program {pid!r} in the "
                             "net; choose another program id", field="program_id", value=pid)
        offset = _offset(s.green_out_start_s - r.out_green_start_s, retimed.cycle_s)
        out.append(NetProgram(tls_id=original.tls_id, program_id=pid,
                              program_type=original.program_type, offset_s=offset,
                              phases=r.phases))
    return tuple(out)


def original_programs(imported: ImportedCorridor) -> tuple[NetProgram, ...]:
    """The programs the net runs now (for reports and diagrams)."""
    return tuple(NetProgram(s.tls_id, s.program_id, s.program_type, s.offset_s, s.phases)
                 for s in imported.signals)


def _offset(value: float, cycle: float) -> float:
    off = round(value % cycle, 3)
    return 0.0 if off >= cycle else off


def check_retimed(original: ImportedSignal, program: NetProgram,
                  minimums_s: Sequence[float] | None = None) -> tuple[list[str], list[str]]:
    """``(problems, inherited)`` of *program* as a retiming of *original*'s program.

    Problems: other states, number or order of phases; a transition phase (yellow, all-red)
    of another duration; a green phase below its minimum (*minimums_s*, default
    :func:`retime_signal`'s); an offset outside ``[0, C)``; any sequence violation of
    :func:`~greenwave.sumo.programs.check_program` (green → not yellow, yellow → green) that the
    original does not show. Inherited: those the original already shows.
    """
    who = f"signal {original.tls_id}"
    problems: list[str] = []
    old, new = original.phases, program.phases
    if [p.state for p in old] != [p.state for p in new]:
        return [f"{who}: the phase states differ from the original program's "
                f"({len(new)} phases, expected the {len(old)} of {original.program_id!r})"], []
    mins = list(minimums_s) if minimums_s is not None else list(
        retime_signal(original, original.cycle_s).minimums_s)
    for k, (a, b) in enumerate(zip(old, new, strict=True)):
        if not (math.isfinite(b.duration_s) and b.duration_s > 0):
            problems.append(f"{who}: phase {k} duration {b.duration_s!r} is not positive")
        elif is_transition(a.state):
            if not math.isclose(a.duration_s, b.duration_s, abs_tol=1e-3):
                problems.append(f"{who}: phase {k} ({a.state}) is a yellow/all-red of "
                                f"{a.duration_s:g} s, written as {b.duration_s:g} s")
        elif b.duration_s < mins[k] - 1e-3:
            problems.append(f"{who}: phase {k} green of {b.duration_s:g} s is below its "
                            f"minimum {mins[k]:g} s")
    cycle = program.cycle_s
    if not 0 <= program.offset_s < cycle:
        problems.append(f"{who}: offset {program.offset_s:g} s is outside [0, {cycle:g})")
    before = set(_sequence_problems(old, original.tls_id))
    after = _sequence_problems(new, original.tls_id)
    problems += [p for p in after if p not in before]
    inherited = [p for p in after if p in before]
    return problems, inherited


def _sequence_problems(phases: Sequence[SignalPhase], tls_id: str) -> list[str]:
    # sequences only: durations are checked phase by phase against the original
    return [p for p in check_program([(ph.duration_s, ph.state) for ph in phases], 0.0, 0.0,
                                     tls_id=tls_id)]


def write_net_programs(retimed: RetimedCorridor, programs: Sequence[NetProgram],
                       out_file: str | Path, *, comment: str = "") -> tuple[Path, list[str]]:
    """Check every program (:func:`check_retimed`), then write them as one additional file.

    Returns the path and the inherited notes. Nothing is written when any program fails:
    :class:`~greenwave.sumo.programs.UnsafeProgramError` lists every problem.
    """
    by_tls = {r.signal.tls_id: r for r in retimed.signals}
    problems: list[str] = []
    notes: list[str] = []
    for prog in programs:
        r = by_tls.get(prog.tls_id)
        if r is None:
            raise InputError(f"traffic light {prog.tls_id!r} is not a corridor signal",
                             field="tls_id", value=prog.tls_id)
        bad, inherited = check_retimed(r.signal, prog, r.minimums_s)
        problems += bad
        notes += [f"{n} (as in the original program {r.signal.program_id!r})"
                  for n in inherited]
    if problems:
        raise UnsafeProgramError("unsafe signal program, nothing written: "
                                 + "; ".join(problems), file=Path(out_file).name)
    root = ET.Element("additional")
    root.append(ET.Comment(
        f" {comment or 'greenwave programs'}. Offsets are SUMO's: phase 0 starts at t = offset "
        "+ k*cycle (absolute simulation time). Loading this file activates these programs. "))
    for prog in programs:
        el = ET.SubElement(root, "tlLogic", id=prog.tls_id, type=prog.program_type,
                           programID=prog.program_id, offset=format_time(prog.offset_s))
        for p in prog.phases:
            attrs = {"duration": format_time(p.duration_s), "state": p.state}
            if p.name:
                attrs["name"] = p.name
            ET.SubElement(el, "phase", attrs)
    return write_xml(root, out_file), notes


def timing_sheet(retimed: RetimedCorridor, programs: Sequence[NetProgram] = ()) -> str:
    """A text table: each signal's phases before → after, windows, and the offset written."""
    offsets = {p.tls_id: p.offset_s for p in programs}
    how = ("split from counted demand (Webster), within their minimums"
           if retimed.splits == "demand" else "scaled within their minimums")
    lines = [f"timing at a common cycle of {retimed.cycle_s:g} s (yellow/all-red kept; green "
             f"phases {how})"]
    rows = [("#", "signal", "cycle", "phases_s (original → new)", "out green", "in green",
             "offset_s")]
    for k, r in enumerate(retimed.signals, start=1):
        s = r.signal
        old = " ".join(_num(p.duration_s) for p in s.phases)
        new = " ".join(_num(p.duration_s) for p in r.phases)
        phases = old if old == new else f"{old} → {new}"
        cycle = _num(s.cycle_s) if math.isclose(s.cycle_s, r.cycle_s) else \
            f"{_num(s.cycle_s)}→{_num(r.cycle_s)}"
        rows.append((str(k), s.tls_id if len(s.tls_id) <= 30 else s.tls_id[:29] + "…", cycle,
                     phases, f"{_num(r.green_out_s)} @ {_num(r.out_green_start_s)}",
                     f"{_num(r.green_in_s)} @ {_num(r.in_green_start_s or 0.0)}",
                     _num(offsets[s.tls_id]) if s.tls_id in offsets else "-"))
    widths = [max(len(row[j]) for row in rows) for j in range(len(rows[0]))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
              for row in rows]
    lines += [f"not coordinated: {e.tls_id}: {e.reason}" for e in retimed.excluded]
    return "\n".join(lines)


def _num(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))
