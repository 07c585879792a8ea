"""Signal programs for SUMO: link → movement maps, phase states, safety checks, tlLogic files.

A plan phase (:class:`greenwave.corridor.Phase`) becomes up to three SUMO phases: its green
(``G`` protected, ``g`` permitted, ``r`` otherwise), its yellow (``y`` for links that are green
now and not green in the next plan phase; links green in both keep their green) and its all-red
(links that stopped show ``r``, continuing links stay green). Zero-length yellows and all-reds
are left out, so the SUMO phase durations add up to the plan's cycle.

Offsets follow SUMO (and :mod:`greenwave.plan`): the time in cycle at absolute simulation time
``t`` is ``(t - offset) mod C``; phase 0 starts at ``t = offset + k·C`` whatever ``--begin`` is.
With 1 s steps, a phase that starts at ``t0`` is first read back (``getPhase``) after the step
that ends at ``t0 + 1``, when ``getSpentDuration`` reports 1 s: greenwave counts the start as
``getTime() - getSpentDuration()`` = ``t0``.

A ``<tlLogic>`` loaded from an additional file becomes the signal's active program: SUMO
switches each signal to the last program it loaded for it (tested in
``tests/test_offset_convention.py``).
"""

from __future__ import annotations

import functools
import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenwave.corridor import Corridor, Phase
from greenwave.errors import InputError
from greenwave.plan import TimingPlan
from greenwave.sumo.netbuild import NetworkLayout, write_xml

GREEN = frozenset("Gg")
YELLOW = frozenset("yY")
_TURN = {"s": "T", "l": "L", "L": "L", "r": "R", "R": "R"}
_EPS = 1e-6


class UnsafeProgramError(InputError):
    """A signal program that would show an unsafe sequence (e.g. green → red without yellow)."""


@dataclass(frozen=True)
class SumoPhase:
    """One SUMO phase: duration [s], state string (one character per link index) and name."""

    duration_s: float
    state: str
    name: str = ""


# --------------------------------------------------------------------------------------------
# link → movement


def read_net(net_file: str | Path) -> Any:
    """The sumolib net of *net_file*, parsed once per file version in this process (the
    builder, the detectors, the link counts and the programs all read the same net)."""
    p = Path(net_file)
    return _read_net(str(p.resolve()), p.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _read_net(path: str, mtime_ns: int) -> Any:
    """A parsed net, cached per file version (a plan and its reference share one parse)."""
    del mtime_ns  # part of the cache key only
    import sumolib  # SUMO stays at the edge: imported only where nets are read

    return sumolib.net.readNet(path)


def movement_map(
    net_file: str | Path, corridor: Corridor, layout: NetworkLayout
) -> dict[str, dict[int, str]]:
    """Movement name of every controlled link of every corridor signal, read from the net.

    A link is classified by its incoming edge (outbound main road → ``out``, inbound → ``in``,
    the signal's cross-street legs → ``cross``) and its direction (``s`` → T, ``l``/``L`` → L,
    ``r``/``R`` → R). Raises InputError naming the signal and link index when a link does not
    fit (e.g. a turnaround, or an edge the layout does not know).
    """
    src = str(net_file)
    net = read_net(net_file)
    out_main, in_main = set(layout.out_edges), set(layout.in_edges)
    tls_ids = list(layout.tls_ids)
    missing = [t for t in tls_ids if t not in {tls.getID() for tls in net.getTrafficLights()}]
    if missing:
        raise InputError(f"the net has no traffic light {', '.join(missing)}", file=src)
    unknown = [t for t in tls_ids if t not in corridor.ids]
    if unknown:
        raise InputError(f"layout signals {', '.join(unknown)} are not in corridor "
                         f"{corridor.name!r}", file=src)
    result: dict[str, dict[int, str]] = {t: {} for t in tls_ids}
    problems: list[str] = []
    for edge in sorted(net.getEdges(), key=lambda e: e.getID()):
        for conns in edge.getOutgoing().values():
            for c in conns:
                tls = c.getTLSID()
                if tls not in result:
                    continue
                idx = int(c.getTLLinkIndex())
                from_id = c.getFrom().getID()
                legs = layout.cross_edges.get(tls)
                if from_id in out_main:
                    approach = "out"
                elif from_id in in_main:
                    approach = "in"
                elif legs is not None and from_id in (legs.west_in, legs.east_in):
                    approach = "cross"
                else:
                    problems.append(f"signal {tls} link {idx}: incoming edge {from_id!r} is "
                                    "neither main road nor one of its cross-street legs")
                    continue
                turn = _TURN.get(c.getDirection())
                if turn is None:
                    problems.append(f"signal {tls} link {idx}: {from_id} → "
                                    f"{c.getTo().getID()} has direction "
                                    f"{c.getDirection()!r}; expected s, l or r")
                    continue
                movement = f"{approach}_{turn}"
                seen = result[tls].get(idx)
                if seen is not None and seen != movement:
                    problems.append(f"signal {tls} link {idx}: serves both {seen} and "
                                    f"{movement}")
                result[tls][idx] = movement
    if problems:
        raise InputError("cannot classify links:\n  " + "\n  ".join(problems), file=src)
    for tls, links in result.items():
        _check_indices(tls, links)
    return {t: dict(sorted(links.items())) for t, links in result.items()}


def _check_indices(tls: str, links: Mapping[int, str]) -> int:
    """Number of links; the indices must be exactly 0..n-1."""
    n = len(links)
    if n == 0:
        raise InputError(f"signal {tls} controls no links")
    holes = sorted(set(range(n)) - set(links))
    if holes or max(links) != n - 1:
        raise InputError(f"signal {tls}: link indices must be 0..{n - 1}, missing {holes}")
    return n


# --------------------------------------------------------------------------------------------
# states


def program_phases(phases: Sequence[Phase], links: Mapping[int, str]) -> list[SumoPhase]:
    """The SUMO phases (green, yellow, all-red of each plan phase) with names."""
    n = _check_indices("(plan)", links)
    if not phases:
        raise InputError("a program needs at least one phase", field="phases")

    def green_state(p: Phase) -> str:
        return "".join(
            "G" if links[k] in p.protected else "g" if links[k] in p.permitted else "r"
            for k in range(n)
        )

    greens = [green_state(p) for p in phases]
    out: list[SumoPhase] = []
    for k, p in enumerate(phases):
        now, nxt = greens[k], greens[(k + 1) % len(phases)]
        yellow = "".join(
            c if c not in GREEN else (c if d in GREEN else "y") for c, d in zip(now, nxt,
                                                                                strict=True)
        )
        all_red = "".join(c if (c in GREEN and d in GREEN) else "r" for c, d in zip(now, nxt,
                                                                                  strict=True))
        for duration, state, label in ((p.green_s, now, p.name),
                                       (p.yellow_s, yellow, f"{p.name}: yellow"),
                                       (p.all_red_s, all_red, f"{p.name}: all-red")):
            if duration > _EPS:
                out.append(SumoPhase(float(duration), state, label))
    return out


def program_states(phases: Sequence[Phase], links: Mapping[int, str]) -> list[tuple[float, str]]:
    """``(duration_s, state)`` of every SUMO phase of the plan *phases* (see module doc)."""
    return [(p.duration_s, p.state) for p in program_phases(phases, links)]


# --------------------------------------------------------------------------------------------
# safety


def _per_link(value: float | Mapping[int, float], k: int) -> float:
    return float(value) if isinstance(value, int | float) else float(value.get(k, 0.0))


def check_program(
    states: Sequence[tuple[float, str]],
    min_green_s: float | Mapping[int, float],
    yellow_s: float | Mapping[int, float],
    *,
    tls_id: str = "",
) -> list[str]:
    """Safety violations of a cyclic program given as ``(duration_s, state)`` phases.

    Reports, per link: a change from green (G/g) to anything but yellow between consecutive
    phases (including across the cycle boundary); a yellow interval shorter than *yellow_s*;
    a yellow followed directly by green; a green interval shorter than *min_green_s* (a link
    green in consecutive phases counts as one interval). Thresholds are one number or a
    mapping link index → seconds. An empty list means the program is safe.
    """
    who = f"signal {tls_id}: " if tls_id else ""
    if not states:
        return [f"{who}the program has no phases"]
    sizes = {len(s) for _, s in states}
    if len(sizes) != 1:
        return [f"{who}phase states differ in length: {sorted(sizes)}"]
    bad = [k for k, (d, _) in enumerate(states) if not (math.isfinite(d) and d > 0)]
    if bad:
        return [f"{who}phase {k}: duration must be positive, found {states[k][0]!r}"
                for k in bad]
    n_links = sizes.pop()
    m = len(states)
    problems: list[str] = []
    for link in range(n_links):
        col = [s[link] for _, s in states]
        for k in range(m):
            a, b = col[k], col[(k + 1) % m]
            if a in GREEN and b not in GREEN and b not in YELLOW:
                problems.append(f"{who}link {link}: green → {b!r} without yellow between "
                                f"phase {k} and phase {(k + 1) % m}")
            if a in YELLOW and b in GREEN:
                problems.append(f"{who}link {link}: yellow → green between phase {k} and "
                                f"phase {(k + 1) % m}")
        for kind, chars, need in (("green", GREEN, _per_link(min_green_s, link)),
                                  ("yellow", YELLOW, _per_link(yellow_s, link))):
            for start, length in _runs(col, chars, [d for d, _ in states]):
                if length < need - _EPS:
                    what = "below its minimum" if kind == "green" else "shorter than set"
                    problems.append(f"{who}link {link}: {kind} of {length:g} s from phase "
                                    f"{start} is {what} ({need:g} s)")
    return problems


def _runs(col: Sequence[str], chars: frozenset[str],
          durations: Sequence[float]) -> list[tuple[int, float]]:
    """Cyclic runs of consecutive phases whose character is in *chars*: (first phase, s)."""
    m = len(col)
    inside = [c in chars for c in col]
    if all(inside) or not any(inside):
        return []
    runs = []
    for k in range(m):
        if inside[k] and not inside[k - 1]:
            total, j = 0.0, k
            while inside[j % m]:
                total += durations[j % m]
                j += 1
            runs.append((k, total))
    return runs


def plan_thresholds(
    phases: Sequence[Phase], links: Mapping[int, str]
) -> tuple[dict[int, float], dict[int, float]]:
    """Per-link minimum green and required yellow [s] implied by a phase plan.

    Minimum green: the largest ``min_green_s`` of the phases serving the link. Yellow: the
    largest ``yellow_s`` of the phases at whose end the link stops.
    """
    min_green: dict[int, float] = {}
    yellow: dict[int, float] = {}
    for k, p in enumerate(phases):
        nxt = phases[(k + 1) % len(phases)]
        for idx, mv in links.items():
            if p.serves(mv):
                min_green[idx] = max(min_green.get(idx, 0.0), p.min_green_s)
                if not nxt.serves(mv):
                    yellow[idx] = max(yellow.get(idx, 0.0), p.yellow_s)
    return min_green, yellow


# --------------------------------------------------------------------------------------------
# writing


def format_time(x: float) -> str:
    """A time [s] for SUMO XML: millisecond precision, no exponent, no trailing zeros."""
    return f"{x:.3f}".rstrip("0").rstrip(".")


def _offset(offset_s: float, cycle_s: float) -> float:
    """Offset in [0, C), rounded to the millisecond."""
    off = round(offset_s % cycle_s, 3)
    return 0.0 if off >= cycle_s else off


def write_programs(
    plan: TimingPlan,
    net_file: str | Path,
    corridor: Corridor,
    layout: NetworkLayout,
    out_file: str | Path,
) -> Path:
    """Write one static ``<tlLogic>`` per signal of *plan* into an additional file.

    Each program has programID ``plan.program_id``, offset ``offset_s mod C`` and every phase
    (green, yellow, all-red, named). Loading the file in SUMO makes these programs active.
    Every program is checked with :func:`check_program` first; if any signal fails, nothing is
    written and :class:`UnsafeProgramError` lists all violations.
    """
    links = movement_map(net_file, corridor, layout)
    by_id = {i.id: i for i in corridor.intersections}
    cycle = plan.cycle_s
    if not (math.isfinite(cycle) and cycle > 0):
        raise InputError(f"cycle must be positive, found {cycle!r}", field="cycle_s")
    logics: list[tuple[str, float, list[SumoPhase]]] = []
    problems: list[str] = []
    for s in plan.signals:
        if s.id not in links:
            raise InputError(f"plan signal {s.id!r} is not a signal of the network "
                             f"({', '.join(layout.tls_ids)})", field="id", value=s.id)
        phases = s.phases or by_id[s.id].phases
        if not phases:
            raise InputError(f"signal {s.id}: no phase plan (neither in the plan nor the "
                             "corridor)", field="phases")
        total = sum(p.duration_s for p in phases)
        if not math.isclose(total, cycle, abs_tol=1e-6):
            raise InputError(f"signal {s.id}: phases add up to {total:g} s, the plan's cycle "
                             f"is {cycle:g} s", field="phases", value=total)
        sumo_phases = program_phases(phases, links[s.id])
        min_green, yellow = plan_thresholds(phases, links[s.id])
        problems += check_program([(p.duration_s, p.state) for p in sumo_phases], min_green,
                                  yellow, tls_id=s.id)
        logics.append((s.id, _offset(s.offset_s, cycle), sumo_phases))
    if problems:
        raise UnsafeProgramError("unsafe signal program, nothing written: "
                                 + "; ".join(problems), file=Path(out_file).name)
    root = ET.Element("additional")
    root.append(ET.Comment(
        f" greenwave plan for {plan.corridor or corridor.name}"
        f"{' (' + plan.period + ')' if plan.period else ''}: cycle {cycle:g} s. Offsets are "
        "SUMO's: phase 0 starts at t = offset + k*cycle (absolute simulation time). "
    ))
    for tls, offset, sumo_phases in logics:
        el = ET.SubElement(root, "tlLogic", id=tls, type="static", programID=plan.program_id,
                           offset=format_time(offset))
        for p in sumo_phases:
            ET.SubElement(el, "phase", duration=format_time(p.duration_s), state=p.state,
                          name=p.name)
    return write_xml(root, out_file)


# --------------------------------------------------------------------------------------------
# run time


def set_program_logic(
    conn: Any,
    tls_id: str,
    program_id: str,
    phases: Sequence[SumoPhase] | Sequence[tuple[float, str]],
    *,
    phase_index: int = 0,
) -> None:
    """Install a static program through TraCI/libsumo and start it at *phase_index*.

    ``setProgramLogic`` alone runs the starting phase for phase 0's duration when
    *phase_index* is not 0 (sumo 1.28, case c04); calling ``setPhase`` afterwards restarts the
    phase with its own duration. The cycle then starts at the call time, not at the offset.
    *conn* is ``libsumo``, ``traci`` or a TraCI connection.
    """
    items = [p if isinstance(p, SumoPhase) else SumoPhase(float(p[0]), p[1]) for p in phases]
    if not 0 <= phase_index < len(items):
        raise InputError(f"phase index {phase_index} outside 0..{len(items) - 1}",
                         field="phase_index", value=phase_index)
    tl = conn.trafficlight
    logic = tl.Logic(program_id, 0, phase_index,
                     [tl.Phase(p.duration_s, p.state, p.duration_s, p.duration_s, (), p.name)
                      for p in items])
    tl.setProgramLogic(tls_id, logic)
    tl.setPhase(tls_id, phase_index)
