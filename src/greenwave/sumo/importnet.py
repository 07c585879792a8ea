"""Import a corridor from an existing SUMO network: the signals along a route, their programs,
their through movements and green windows.

Rules
-----
* **Route.** Given as edge ids (consecutive edges must be connected) or found from ``from_edge``
  to ``to_edge`` with sumolib's shortest path for passenger cars.
* **Signals.** A signal of the route is a traffic light that controls the route's movement from
  one edge to the next (the connections between them carry its ``tl`` id). The route's last edge
  counts when it ends at a signal: its movement there is taken as the straight-on (``dir="s"``)
  connections. Consecutive route nodes controlled by the same traffic light (a joined signal,
  e.g. netconvert's ``tls.join`` or a ``tl`` shared by several nodes) are *one* signal; its
  position is the stop line of the first of them, where the platoon meets it.
* **Positions** [m] are cumulative edge lengths from the start of the route to the stop line
  (the end of the edge entering the signal). Internal junction lanes are not counted, so a
  spacing is the distance from one junction's exit to the next stop line.
* **Active program.** SUMO activates the last ``<tlLogic>`` it loads for a signal; netconvert
  writes a signal's programs sorted by programID. The active program is therefore the last
  ``<tlLogic>`` of that id in the net file (pinned by a test with libsumo). Programs from
  additional files are not seen here.
* **Green.** Only ``G`` and ``g`` are green. ``s`` (stop, then go when clear), ``y``/``Y``,
  ``u`` (red-yellow), ``r``, ``o``/``O`` (signal off) are not green, so no band is claimed
  through them. The through green window of a direction is the longest cyclically contiguous
  run of phases in which every through link that is ever green shows ``G``/``g``; its start is
  measured from the start of phase 0. Through links that are never green are reported.
* **Inbound.** The reverse route is given (``reverse_route``) or found: the shortest path that
  passes the same signals in reverse order, never uses an outbound edge, and at each signal
  makes the mirrored movement (it enters heading against the outbound exit and leaves heading
  against the outbound entry, within 60°). Signals are matched by traffic light id. When no such
  path exists the corridor is one-way (``one_way``); a signal the inbound does not pass has no
  inbound movement.
* **Cycles** are each program's own. When they differ there is no common cycle:
  ``corridor.cycle_s`` is None and the optimizer has to choose one.

Nothing here changes the net; :func:`write_corridor_spec` writes the minimal CSV corridor plus a
JSON sidecar with the facts needed to write plans back into the net's own programs.
"""

from __future__ import annotations

import gzip
import heapq
import itertools
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenwave._io import atomic_open
from greenwave.corridor import Corridor, Intersection, validate
from greenwave.errors import InputError

GREEN = frozenset("Gg")
OUTBOUND = "outbound"
INBOUND = "inbound"
ACTIVE_PROGRAM_RULE = (
    "the last <tlLogic> of each signal in the net file (SUMO activates the last program it "
    "loads; netconvert writes programs sorted by programID)"
)
SIDECAR_FORMAT = "greenwave.import/1"

_STATE_MEANING = {
    "s": "stop, then go when clear",
    "r": "red",
    "y": "yellow",
    "Y": "yellow",
    "u": "red-yellow",
    "o": "off, blinking",
    "O": "off, no signal",
}
_HEADING_TOLERANCE_DEG = 60.0
_SHORT_ID = 30
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# --------------------------------------------------------------------------------------------
# records


@dataclass(frozen=True)
class SignalPhase:
    """One phase of a SUMO program: duration [s], state string, min/max duration [s], name."""

    duration_s: float
    state: str
    min_dur_s: float | None = None
    max_dur_s: float | None = None
    name: str = ""


@dataclass(frozen=True)
class ThroughMovement:
    """The corridor's movement through one signal in one direction.

    ``from_edge``/``to_edge`` enter and leave the signal; ``link_indices`` are the signal's
    link indices of every connection of the movement (all lanes, all nodes of a joined signal).
    ``green_start_s`` [s from the start of phase 0] and ``green_s`` [s] describe the through
    green window; ``green_s`` is 0 and ``green_start_s`` None when the movement is never green.
    """

    direction: str
    from_edge: str
    to_edge: str
    link_indices: tuple[int, ...]
    turns: tuple[str, ...]  # SUMO connection directions (s, l, r, ...)
    green_start_s: float | None
    green_s: float
    green_phases: tuple[int, ...]
    never_green_links: tuple[int, ...] = ()

    @property
    def is_green(self) -> bool:
        return self.green_s > 0


@dataclass(frozen=True)
class ImportedSignal:
    """Import facts of one corridor signal."""

    id: str  # the corridor's intersection id (the tls id, made file-safe when needed)
    tls_id: str
    program_id: str
    program_type: str
    offset_s: float
    programs: tuple[str, ...]  # every programID of this traffic light in the net
    node_ids: tuple[str, ...]  # route nodes it controls, in route order
    position_m: float
    cycle_s: float
    phases: tuple[SignalPhase, ...]
    outbound: ThroughMovement
    inbound: ThroughMovement | None
    inbound_shift_s: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportedCorridor:
    """A corridor read from a SUMO network, with the facts behind every number.

    ``corridor`` carries the measured windows as they are: a direction that is never green at
    a signal has a 0 s green there (no band can pass). Use :func:`coordinated_corridor` for a
    corridor the optimizer accepts; it refuses such signals.
    """

    name: str
    net_file: str
    route: tuple[str, ...]
    reverse_route: tuple[str, ...]  # () when the corridor is one-way
    reverse_route_given: bool
    signals: tuple[ImportedSignal, ...]
    corridor: Corridor
    warnings: tuple[str, ...] = ()
    link_speeds_kmh: tuple[float, ...] = ()  # between consecutive signals

    @property
    def one_way(self) -> bool:
        return all(s.inbound is None for s in self.signals)

    @property
    def cycles_s(self) -> tuple[float, ...]:
        return tuple(s.cycle_s for s in self.signals)

    @property
    def common_cycle_s(self) -> float | None:
        """The cycle every signal runs, or None when the cycles differ."""
        return self.corridor.cycle_s


# --------------------------------------------------------------------------------------------
# public API


def import_corridor(
    net_file: str | Path,
    *,
    route: Sequence[str] | None = None,
    from_edge: str | None = None,
    to_edge: str | None = None,
    reverse_route: Sequence[str] | None = None,
    name: str | None = None,
) -> ImportedCorridor:
    """Read the signals along a route of a SUMO network into a corridor (see module doc).

    Give either ``route`` (edge ids in driving order) or ``from_edge`` and ``to_edge``.
    ``reverse_route`` (edge ids of the inbound direction) overrides the search for it.
    Raises :class:`InputError` naming the file, field and value on any problem.
    """
    src = str(net_file)
    corridor_name = _corridor_name(name, Path(net_file))
    net = _read_net(Path(net_file))
    edges = _resolve_route(net, src, route, from_edge, to_edge)
    warnings: list[str] = []
    out_passages = _passages(edges, warnings, OUTBOUND)
    if not out_passages:
        raise InputError(
            f"the route passes no traffic light ({len(edges)} edges, {edges[0].getID()} → "
            f"{edges[-1].getID()})", file=src, field="route", value=edges[-1].getID())
    seen = Counter(p.tls for p in out_passages)
    twice = [t for t, n in seen.items() if n > 1]
    if twice:
        raise InputError(f"the route passes traffic light {twice[0]!r} {seen[twice[0]]} times; "
                         "a corridor passes each signal once", file=src, field="route",
                         value=twice[0])
    given = reverse_route is not None
    if reverse_route is not None:
        rev_edges = _edges_of(net, src, reverse_route, "reverse_route")
        _check_connected(rev_edges, src, "reverse_route")
    else:
        found = _find_inbound(net, out_passages, {e.getID() for e in edges})
        rev_edges = found or []
    # a found path ends with the edge leaving the last signal it passes; a given one may end
    # at a stop line, like the outbound route
    in_passages = _passages(rev_edges, warnings, INBOUND, stop_line_end=given)
    inbound = _match_inbound(out_passages, in_passages, warnings)
    if not rev_edges:
        warnings.append("no inbound path passes the signals in reverse order: the corridor is "
                        "treated as one-way (pass reverse_route to give one)")
    elif len(inbound) < len(out_passages):
        missing = [p.tls for p in out_passages if p.tls not in inbound]
        warnings.append(f"the inbound route passes {len(inbound)} of {len(out_passages)} "
                        f"signals; no inbound at {', '.join(missing)}")

    ids = _corridor_ids([p.tls for p in out_passages])
    signals = tuple(
        _signal(net, src, ids[k], p, inbound.get(p.tls))
        for k, p in enumerate(out_passages)
    )
    cycles = {s.cycle_s for s in signals}
    if len(cycles) > 1:
        counts = Counter(s.cycle_s for s in signals)
        text = ", ".join(f"{c:g} s ×{n}" for c, n in sorted(counts.items(), key=lambda x: -x[1]))
        warnings.append(f"the programs have different cycles ({text}): no common cycle; each "
                        "signal's own cycle is recorded and the optimizer has to choose one")
    speed_out, link_speeds = _speeds(edges, out_passages)
    speed_in = _speeds(rev_edges, in_passages)[0] if len(in_passages) >= 1 else None
    limit = max(e.getSpeed() for e in edges) * 3.6
    corridor = Corridor(
        name=corridor_name,
        intersections=tuple(
            Intersection(
                id=s.id,
                name=s.tls_id if s.id != s.tls_id else "",
                position_m=s.position_m,
                green_out_s=s.outbound.green_s,
                green_in_s=s.inbound.green_s if s.inbound else 0.0,
                inbound_shift_s=s.inbound_shift_s,
                out_green_start_s=s.outbound.green_start_s or 0.0,
            )
            for s in signals
        ),
        cycle_s=cycles.pop() if len(cycles) == 1 else None,
        speed_kmh=speed_out,
        speed_in_kmh=speed_in,
        speed_limit_kmh=limit,
        source=src,
        description=f"imported from {Path(src).name}: route {edges[0].getID()} → "
                    f"{edges[-1].getID()}",
        meta={"net_file": src, "tls_ids": {s.id: s.tls_id for s in signals}},
    )
    return ImportedCorridor(
        name=corridor_name,
        net_file=src,
        route=tuple(e.getID() for e in edges),
        reverse_route=tuple(e.getID() for e in rev_edges),
        reverse_route_given=given,
        signals=signals,
        corridor=corridor,
        warnings=tuple(warnings),
        link_speeds_kmh=link_speeds,
    )


def coordinated_corridor(imported: ImportedCorridor) -> Corridor:
    """The imported corridor as the optimizer needs it: a through green in both directions.

    Refuses (one :class:`InputError` listing every problem) a signal whose through movement is
    never ``G``/``g`` (naming the signal and its link indices), a signal without an inbound
    movement, and a one-way corridor (the corridor spec has no one-way form yet).
    """
    src = imported.net_file
    if imported.one_way:
        raise InputError(
            f"corridor {imported.name!r} is one-way (no inbound through movement at any "
            f"signal); the corridor spec needs a through green in both directions",
            file=src, field="reverse_route")
    problems: list[str] = []
    first: object = None
    for s in imported.signals:
        for move, label in ((s.outbound, OUTBOUND), (s.inbound, INBOUND)):
            if move is None:
                problems.append(f"signal {s.tls_id}: no {label} through movement (the {label} "
                                "route does not pass it)")
                first = first if first is not None else s.tls_id
            elif not move.is_green:
                problems.append(f"signal {s.tls_id}: the {label} through movement "
                                f"({_links_text(move.link_indices)}, {move.from_edge} → "
                                f"{move.to_edge}) is never green (G/g): "
                                f"{_never_green_text(s, move)}; no band can cross it")
                first = first if first is not None else move.link_indices[0]
    if problems:
        raise InputError("cannot coordinate: " + "; ".join(problems), file=src, field="route",
                         value=first)
    validate(imported.corridor)
    return imported.corridor


def sidecar_path(csv_path: str | Path) -> Path:
    """The ``<stem>.import.json`` that goes with the corridor CSV *csv_path*."""
    p = Path(csv_path)
    return p.with_name(f"{p.stem}.import.json")


def write_corridor_spec(imported: ImportedCorridor, path: str | Path) -> tuple[Path, Path]:
    """Write the minimal CSV corridor and its ``<stem>.import.json`` sidecar; return both paths.

    The CSV (``id,position_m,green_out_s,green_in_s,inbound_shift_s,speed_kmh``) is what
    :func:`greenwave.corridor.load_corridor` reads (with ``cycle_s``). The sidecar keeps the
    import facts: net file, routes, traffic light and program ids, link indices, phases with
    their states, windows and notes. Both are written atomically; nothing is written when the
    corridor cannot be coordinated (see :func:`coordinated_corridor`).
    """
    target = Path(path)
    if target.suffix.lower() != ".csv":
        raise InputError(f"expected a .csv file name, found {target.name!r}", field="path",
                         value=str(target))
    corridor = coordinated_corridor(imported)
    lines = ["id,position_m,green_out_s,green_in_s,inbound_shift_s,speed_kmh"]
    speed = _num(round(corridor.speed_kmh, 1))
    for i in corridor.intersections:
        lines.append(",".join((i.id, _num(round(i.position_m, 2)), _num(i.green_out_s),
                               _num(i.green_in_s), _num(i.inbound_shift_s), speed)))
    sidecar = sidecar_path(target)
    facts = _facts(imported, sidecar.parent, target.name)
    # both written before either is renamed into place: a failure leaves neither behind
    with atomic_open(sidecar) as side, atomic_open(target) as csv:
        side.write(json.dumps(facts, indent=2, ensure_ascii=False) + "\n")
        csv.write("\n".join(lines) + "\n")
    return target, sidecar


def explain(imported: ImportedCorridor) -> str:
    """A table an engineer reads: each signal, its program, greens per direction and notes."""
    ic = imported
    c = ic.corridor
    length = c.intersections[-1].position_m - c.intersections[0].position_m
    lines = [
        f"corridor {ic.name} imported from {Path(ic.net_file).name}",
        f"outbound: {len(ic.route)} edges {ic.route[0]} → {ic.route[-1]}; {len(ic.signals)} "
        f"signals over {length:.0f} m; {c.speed_kmh:.1f} km/h",
    ]
    if ic.one_way:
        lines.append("inbound: none, one-way corridor")
    else:
        how = "given" if ic.reverse_route_given else "found"
        speed_in = f"; {c.speed_in_kmh:.1f} km/h" if c.speed_in_kmh else ""
        lines.append(f"inbound ({how}): {len(ic.reverse_route)} edges {ic.reverse_route[0]} → "
                     f"{ic.reverse_route[-1]}{speed_in}")
    if c.cycle_s is not None:
        lines.append(f"cycle: {c.cycle_s:g} s at every signal")
    else:
        counts = Counter(ic.cycles_s)
        lines.append("cycles: " + ", ".join(f"{k:g} s ×{n}" for k, n in counts.most_common())
                     + " (no common cycle: the optimizer chooses one)")
    lines.append("active program: " + ACTIVE_PROGRAM_RULE)
    lines.append("green = G/g only; windows are 'green s @ start s from phase 0'")
    lines.append("")
    header = ("#", "tls id", "pos_m", "gap_m", "cycle", "prog", "phases_s", "out links",
              "out green", "in links", "in green", "shift_s")
    rows: list[tuple[str, ...]] = []
    prev: float | None = None
    for k, s in enumerate(ic.signals, start=1):
        gap = "-" if prev is None else f"{s.position_m - prev:.1f}"
        prev = s.position_m
        rows.append((
            str(k),
            _short(s.tls_id),
            f"{s.position_m:.1f}",
            gap,
            f"{s.cycle_s:g}",
            s.program_id,
            " ".join(_num(p.duration_s) for p in s.phases),
            _csv_ints(s.outbound.link_indices),
            _window_text(s.outbound),
            _csv_ints(s.inbound.link_indices) if s.inbound else "-",
            _window_text(s.inbound) if s.inbound else "none",
            _num(s.inbound_shift_s) if s.inbound and s.inbound.is_green
            and s.outbound.is_green else "-",
        ))
    widths = [max(len(r[j]) for r in (header, *rows)) for j in range(len(header))]
    right = {2, 3, 4, 11}
    for r in (header, *rows):
        lines.append("  ".join(v.rjust(w) if j in right else v.ljust(w)
                               for j, (v, w) in enumerate(zip(r, widths, strict=True))).rstrip())
    notes = [(k, n) for k, s in enumerate(ic.signals, start=1) for n in s.notes]
    if notes or ic.warnings:
        lines.append("")
        lines.append("notes:")
        lines += [f"  {k}: {n}" for k, n in notes]
        lines += [f"  corridor: {w}" for w in ic.warnings]
    if any(len(s.tls_id) > _SHORT_ID for s in ic.signals):
        lines.append(f"  (tls ids longer than {_SHORT_ID} characters are shortened here; the "
                     ".import.json has them in full)")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# reading the net


def _read_net(path: Path) -> Any:
    src = str(path)
    if path.is_dir():
        raise InputError("is a folder, not a SUMO network file", file=src)
    if not path.is_file():
        raise InputError("no such file", file=src)
    _check_root(path)
    import sumolib  # SUMO at the edge: imported only where nets are read

    try:
        return sumolib.net.readNet(src, withPrograms=True)
    except Exception as exc:  # sumolib raises whatever its SAX handler hits
        raise InputError(f"cannot read the SUMO network ({exc})", file=src) from exc


def _check_root(path: Path) -> None:
    """The file must be XML whose root element is SUMO's ``<net>``."""
    src = str(path)
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            _, elem = next(ET.iterparse(fh, events=("start",)))
    except (ET.ParseError, StopIteration, OSError, EOFError) as exc:
        raise InputError(f"not an XML file ({exc}); expected a SUMO network (.net.xml)",
                         file=src) from None
    if elem.tag != "net":
        raise InputError(f"not a SUMO network: the root element is <{elem.tag}>, expected <net>",
                         file=src, field="net", value=elem.tag)


def _edge(net: Any, ident: str, src: str, fieldname: str) -> Any:
    if not isinstance(ident, str) or not net.hasEdge(ident):
        raise InputError(f"no edge {ident!r} in the network", file=src, field=fieldname,
                         value=ident)
    return net.getEdge(ident)


def _edges_of(net: Any, src: str, ids: Sequence[str] | str, fieldname: str) -> list[Any]:
    items = ids.split() if isinstance(ids, str) else list(ids)
    if not items:
        raise InputError("empty route: expected edge ids", file=src, field=fieldname)
    return [_edge(net, i, src, fieldname) for i in items]


def _check_connected(edges: Sequence[Any], src: str, fieldname: str) -> None:
    for a, b in itertools.pairwise(edges):
        if b not in a.getOutgoing():
            leads = ", ".join(sorted(e.getID() for e in a.getOutgoing())) or "nothing"
            raise InputError(f"edges {a.getID()!r} and {b.getID()!r} are not connected "
                             f"({a.getID()} leads to: {leads})", file=src, field=fieldname,
                             value=b.getID())


def _resolve_route(net: Any, src: str, route: Sequence[str] | None, from_edge: str | None,
                   to_edge: str | None) -> list[Any]:
    if route is not None:
        if from_edge is not None or to_edge is not None:
            raise InputError("give either route or from_edge and to_edge, not both", file=src,
                             field="route")
        edges = _edges_of(net, src, route, "route")
        _check_connected(edges, src, "route")
        return edges
    if from_edge is None or to_edge is None:
        raise InputError("give route (edge ids) or both from_edge and to_edge", file=src,
                         field="route")
    a = _edge(net, from_edge, src, "from_edge")
    b = _edge(net, to_edge, src, "to_edge")
    path, _ = net.getShortestPath(a, b, vClass="passenger")
    if not path:
        raise InputError(f"no path for passenger cars from edge {from_edge!r} to edge "
                         f"{to_edge!r}", file=src, field="to_edge", value=to_edge)
    return list(path)


# --------------------------------------------------------------------------------------------
# signals along a path


@dataclass
class _Passage:
    """One traffic light passed by a path: its nodes, links and where it is."""

    tls: str
    position_m: float
    first_edge: int  # index of the edge entering it
    exit_edge: int  # index of the edge leaving it (len(edges) when the path ends at it)
    from_edge: Any
    to_edge: Any
    nodes: list[str]
    links: set[int]
    turns: list[str]
    ends_route: bool = False


def _passages(edges: Sequence[Any], warnings: list[str], direction: str, *,
              stop_line_end: bool = True) -> list[_Passage]:
    """The traffic lights a path passes, in order (see the module doc for the rules).

    With *stop_line_end*, a path whose last edge ends at a signal passes it straight on.
    """
    out: list[_Passage] = []
    pos = 0.0
    for k, e in enumerate(edges):
        pos += e.getLength()
        node = e.getToNode()
        last = k == len(edges) - 1
        if last and not stop_line_end:
            break
        if last:
            conns = [c for cs in e.getOutgoing().values() for c in cs
                     if c.getDirection() == "s" and c.getTLSID()]
            if not conns:
                if node.getType().startswith("traffic_light"):
                    warnings.append(f"the {direction} route ends at traffic light node "
                                    f"{node.getID()} without a straight-on connection; that "
                                    "signal is left out")
                continue
        else:
            conns = list(e.getOutgoing().get(edges[k + 1], []))
        controlled = [c for c in conns if c.getTLSID()]
        if not controlled:
            if node.getType().startswith("traffic_light"):
                warnings.append(f"{direction}: the movement {e.getID()} → "
                                f"{edges[k + 1].getID()} at traffic light node {node.getID()} "
                                "is not signalled")
            continue
        tls_ids = sorted({c.getTLSID() for c in controlled})
        if len(tls_ids) > 1:
            warnings.append(f"{direction}: the movement out of {e.getID()} is controlled by "
                            f"several traffic lights ({', '.join(tls_ids)}); using {tls_ids[0]}")
        tls = tls_ids[0]
        mine = [c for c in controlled if c.getTLSID() == tls]
        links = {int(c.getTLLinkIndex()) for c in mine}
        turns = sorted({c.getDirection() for c in mine})
        to_edge = mine[0].getTo()
        prev = out[-1] if out else None
        if prev is not None and prev.tls == tls and prev.to_edge is e:
            prev.nodes.append(node.getID())
            prev.links |= links
            prev.turns = sorted(set(prev.turns) | set(turns))
            prev.to_edge = to_edge
            prev.exit_edge = k + 1
            prev.ends_route = last
            continue
        out.append(_Passage(tls=tls, position_m=pos, first_edge=k, exit_edge=k + 1,
                            from_edge=e, to_edge=to_edge,
                            nodes=[node.getID()], links=links, turns=turns, ends_route=last))
    return out


def _tls_nodes(net: Any, tls: str) -> set[str]:
    return {inlane.getEdge().getToNode().getID()
            for inlane, _, _ in net.getTLS(tls).getConnections()}


def _heading(edge: Any, at_end: bool) -> float:
    """Direction of travel [rad] where *edge* ends (at_end) or begins."""
    shape = edge.getLane(0).getShape()
    pts = list(reversed(shape)) if at_end else list(shape)
    x0, y0 = pts[0]
    for x1, y1 in pts[1:]:
        if math.hypot(x1 - x0, y1 - y0) > 1e-6:
            dx, dy = (x0 - x1, y0 - y1) if at_end else (x1 - x0, y1 - y0)
            return math.atan2(dy, dx)
    return 0.0


def _opposed(a: float, b: float) -> bool:
    """Headings *a* and *b* point against each other (within the tolerance)."""
    diff = abs((a - b) % (2 * math.pi) - math.pi)  # 0 when a = b + π
    return math.degrees(diff) <= _HEADING_TOLERANCE_DEG


def _find_inbound(net: Any, outbound: Sequence[_Passage], route_ids: set[str]) -> list[Any]:
    """The shortest inbound path through the outbound signals in reverse order, or [].

    Dijkstra over (edge, signals entered). At each signal the path must make the mirrored
    movement (heading check, see module doc); it never uses an outbound edge nor passes another
    corridor signal; between two signals it may be at most twice their spacing plus 200 m.
    When no path passes every signal, the one that passes the most (from the far end) is
    returned; the signals it misses have no inbound movement.
    """
    order = list(reversed(outbound))
    n = len(order)
    nodes = [_tls_nodes(net, p.tls) | set(p.nodes) for p in order]
    corridor_nodes = set().union(*nodes)
    enter_heading = [_heading(p.to_edge, at_end=False) for p in order]  # inbound opposes these
    leave_heading = [_heading(p.from_edge, at_end=True) for p in order]
    bound = [math.inf] + [2 * abs(order[j - 1].position_m - order[j].position_m) + 200.0
                          for j in range(1, n)]

    def usable(e: Any) -> bool:
        return bool(e.getID() not in route_ids and e.allows("passenger")
                    and not e.getID().startswith(":"))

    counter = itertools.count()
    # (cost, tie, metres since the last signal, signals entered, path, passed them all)
    heap: list[tuple[float, int, float, int, tuple[Any, ...], bool]] = []

    def push(cost: float, seg: float, k: int, path: tuple[Any, ...], final: bool = False
             ) -> None:
        heapq.heappush(heap, (cost, next(counter), seg, k, path, final))

    for e in net.getEdges():
        if (e.getToNode().getID() in nodes[0] and e.getFromNode().getID() not in nodes[0]
                and usable(e) and _opposed(_heading(e, at_end=True), enter_heading[0])):
            push(0.0, 0.0, 1, (e,))
    partial: tuple[int, float, tuple[Any, ...]] = (0, 0.0, ())
    done: set[tuple[str, int]] = set()
    while heap:
        cost, _, seg, k, path, final = heapq.heappop(heap)
        if final:
            return list(path)
        e = path[-1]
        if (e.getID(), k) in done:
            continue
        done.add((e.getID(), k))
        here = e.getToNode().getID()
        for f, conns in e.getOutgoing().items():
            if not usable(f):
                continue
            f_to = f.getToNode().getID()
            step = f.getLength()
            new_seg = seg + step
            if here in nodes[k - 1]:  # e ends at the signal entered last (k - 1)
                if order[k - 1].tls not in {c.getTLSID() for c in conns}:
                    continue
                if f_to in nodes[k - 1]:  # still within a joined signal
                    push(cost + step, 0.0, k, (*path, f))
                    continue
                if not _opposed(_heading(f, at_end=False), leave_heading[k - 1]):
                    continue
                if k == n:
                    push(cost + step, 0.0, k, (*path, f), final=True)
                    continue
                if (k, -cost - step) > partial[:2]:
                    partial = (k, -cost - step, (*path, f))
                new_seg = step
            elif here in corridor_nodes:
                continue  # another corridor signal, out of order
            if k == n or new_seg > bound[k]:
                continue
            if f_to in nodes[k]:  # f enters the next signal
                if _opposed(_heading(f, at_end=True), enter_heading[k]):
                    push(cost + step, 0.0, k + 1, (*path, f))
            elif f_to not in corridor_nodes:
                push(cost + step, new_seg, k, (*path, f))
    return list(partial[2])


def _match_inbound(outbound: Sequence[_Passage], inbound: Sequence[_Passage],
                   warnings: list[str]) -> dict[str, _Passage]:
    out_ids = [p.tls for p in outbound]
    matched: dict[str, _Passage] = {}
    for p in inbound:
        if p.tls not in out_ids:
            warnings.append(f"the inbound route passes traffic light {p.tls}, which is not on "
                            "the outbound route; ignored")
        elif p.tls in matched:
            warnings.append(f"the inbound route passes traffic light {p.tls} twice; the first "
                            "passage is used")
        else:
            matched[p.tls] = p
    order = [t for t in reversed(out_ids) if t in matched]
    if [p.tls for p in inbound if p.tls in matched and matched[p.tls] is p] != order:
        warnings.append("the inbound route passes the signals in another order than the "
                        "reverse of the outbound route")
    return matched


# --------------------------------------------------------------------------------------------
# programs and windows


def _active_program(net: Any, src: str, tls: str) -> tuple[str, Any, tuple[str, ...]]:
    programs = net.getTLS(tls).getPrograms()
    if not programs:
        raise InputError(f"traffic light {tls!r} has no program in the net", file=src,
                         field="tlLogic", value=tls)
    ids = tuple(programs)  # in file order
    return ids[-1], programs[ids[-1]], ids


def _phases(program: Any) -> tuple[SignalPhase, ...]:
    def opt(x: Any) -> float | None:
        return float(x) if x is not None and float(x) >= 0 else None

    return tuple(
        SignalPhase(duration_s=float(p.duration), state=p.state, min_dur_s=opt(p.minDur),
                    max_dur_s=opt(p.maxDur), name=p.name or "")
        for p in program.getPhases()
    )


@dataclass(frozen=True)
class _Window:
    start_s: float | None
    green_s: float
    phases: tuple[int, ...]
    never_green: tuple[int, ...]
    runs: tuple[tuple[float, float], ...]  # (start, duration) of every green run


def _through_window(phases: Sequence[SignalPhase], links: Iterable[int]) -> _Window:
    """The through green window of the movement made of *links* (see module doc)."""
    idx = sorted(set(links))
    ever = [i for i in idx if any(p.state[i] in GREEN for p in phases)]
    never = tuple(i for i in idx if i not in ever)
    green = [bool(ever) and all(p.state[i] in GREEN for i in ever) for p in phases]
    n = len(phases)
    if not any(green):
        return _Window(None, 0.0, (), never, ())
    starts = list(itertools.accumulate((p.duration_s for p in phases), initial=0.0))
    if all(green):
        return _Window(0.0, starts[-1], tuple(range(n)), never, ((0.0, starts[-1]),))
    runs: list[tuple[float, float, tuple[int, ...]]] = []
    for k in range(n):
        if green[k] and not green[k - 1]:
            members = []
            j = k
            while green[j % n]:
                members.append(j % n)
                j += 1
            runs.append((starts[k], sum(phases[m].duration_s for m in members), tuple(members)))
    best = max(runs, key=lambda r: r[1])  # the first of the longest, counted from phase 0
    return _Window(best[0], best[1], best[2], never, tuple((r[0], r[1]) for r in runs))


def _signal(net: Any, src: str, ident: str, out: _Passage, inb: _Passage | None
            ) -> ImportedSignal:
    program_id, program, program_ids = _active_program(net, src, out.tls)
    phases = _phases(program)
    cycle = sum(p.duration_s for p in phases)
    width = min(len(p.state) for p in phases)
    for p in (out, inb):
        if p is not None and max(p.links) >= width:
            raise InputError(f"traffic light {out.tls!r} program {program_id!r}: link "
                             f"index {max(p.links)} has no state character (states have "
                             f"{width})", file=src, field="tlLogic", value=max(p.links))
    notes: list[str] = []

    def movement(p: _Passage, label: str) -> ThroughMovement:
        w = _through_window(phases, p.links)
        notes.extend(_window_notes(label, phases, w, p))
        return ThroughMovement(
            direction=label, from_edge=p.from_edge.getID(), to_edge=p.to_edge.getID(),
            link_indices=tuple(sorted(p.links)), turns=tuple(p.turns), green_start_s=w.start_s,
            green_s=w.green_s, green_phases=w.phases, never_green_links=w.never_green)

    move_out = movement(out, OUTBOUND)
    move_in = movement(inb, INBOUND) if inb is not None else None
    shift = 0.0
    if (move_in is not None and move_in.green_start_s is not None
            and move_out.green_start_s is not None):
        shift = (move_in.green_start_s - move_out.green_start_s) % cycle
        if shift > cycle / 2:
            shift -= cycle
    if len(out.nodes) > 1:
        notes.append(f"joined signal: {len(out.nodes)} route nodes ({', '.join(out.nodes)}); "
                     "position at the first")
    controlled = _tls_nodes(net, out.tls)
    if len(controlled) > len(out.nodes):
        notes.append(f"the traffic light controls {len(controlled)} nodes, the route passes "
                     f"{len(out.nodes)}")
    if inb is None:
        notes.append("no inbound")
    if out.ends_route:
        notes.append(f"the route ends here; outbound taken straight on to "
                     f"{out.to_edge.getID()}")
    kind = program.getType()
    if kind != "static":
        notes.append(f"{kind} program: the programmed durations are used (min/max recorded)")
    if len(program_ids) > 1:
        notes.append(f"programs in the net: {', '.join(program_ids)}; active: "
                     f"{program_id} (the last)")
    offset = float(program.getOffset())
    if offset:
        notes.append(f"program offset {offset:g} s")
    if ident != out.tls:
        notes.append(f"corridor id {ident} stands for traffic light {out.tls}")
    return ImportedSignal(
        id=ident, tls_id=out.tls, program_id=program_id, program_type=kind,
        offset_s=offset, programs=program_ids, node_ids=tuple(out.nodes),
        position_m=out.position_m, cycle_s=cycle, phases=phases, outbound=move_out,
        inbound=move_in, inbound_shift_s=shift, notes=tuple(notes))


def _window_notes(label: str, phases: Sequence[SignalPhase], w: _Window, p: _Passage
                  ) -> list[str]:
    notes = []
    for i in w.never_green:
        chars = sorted({ph.state[i] for ph in phases})
        if "s" in chars:
            notes.append(f"s-state: {label} link {i} shows "
                         f"{_chars_text(chars)}, never G/g: vehicles must stop, not a green "
                         "through movement" + ("; no band across this signal"
                                               if w.green_s == 0 else ""))
        else:
            notes.append(f"{label} link {i} is never green ({_chars_text(chars)})"
                         + ("; no band across this signal" if w.green_s == 0 else ""))
    if w.green_s == 0 and not w.never_green:
        notes.append(f"{label} links {_csv_ints(sorted(p.links))} are never green together; "
                     "no band across this signal")
    if len(w.runs) > 1:
        runs = ", ".join(f"{d:g} s @ {s:g} s" for s, d in w.runs)
        notes.append(f"{label} green in {len(w.runs)} separate runs per cycle ({runs}); the "
                     "longest is used")
    odd = [t for t in p.turns if t != "s"]
    if odd:
        notes.append(f"{label} movement turns here (dir {', '.join(odd)})")
    return notes


def _chars_text(chars: Sequence[str]) -> str:
    return ", ".join(f"'{c}' ({_STATE_MEANING.get(c, 'green' if c in GREEN else '?')})"
                     for c in chars)


def _never_green_text(s: ImportedSignal, move: ThroughMovement) -> str:
    chars = sorted({p.state[i] for p in s.phases for i in move.link_indices})
    return "it shows " + _chars_text(chars)


# --------------------------------------------------------------------------------------------
# corridor fields


def _corridor_ids(tls_ids: Sequence[str]) -> list[str]:
    """Intersection ids: the traffic light ids, made file-safe and unique when needed."""
    out: list[str] = []
    for t in tls_ids:
        ident = t if _ID.match(t) else re.sub(r"[^A-Za-z0-9_.-]", "_", t)
        if not ident[:1].isalnum():
            ident = "s" + ident
        base, k = ident, 2
        while ident in out:
            ident, k = f"{base}-{k}", k + 1
        out.append(ident)
    return out


def _corridor_name(name: str | None, net: Path) -> str:
    if name is not None:
        if not _ID.match(name):
            raise InputError(f"corridor name {name!r} must be letters, digits, '_', '.' or '-'",
                             field="name", value=name)
        return name
    stem = net.name
    for suffix in (".gz", ".xml", ".net"):
        stem = stem.removesuffix(suffix)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", stem) or "imported"
    return stem if stem[:1].isalnum() else "c" + stem


def _speeds(edges: Sequence[Any], passages: Sequence[_Passage]
            ) -> tuple[float, tuple[float, ...]]:
    """Corridor speed [km/h] (length over free-flow time from leaving the first signal to the
    stop line of the last) and the same speed of each link between consecutive signals."""
    def speed(part: Sequence[Any]) -> float:
        length = sum(float(e.getLength()) for e in part)
        time = sum(float(e.getLength()) / float(e.getSpeed()) for e in part)
        return 3.6 * length / time if time > 0 else 3.6 * float(part[0].getSpeed())

    links = tuple(
        round(speed(edges[a.exit_edge: b.first_edge + 1]), 1)
        for a, b in itertools.pairwise(passages)
    )
    if len(passages) >= 2:
        whole = edges[passages[0].exit_edge: passages[-1].first_edge + 1]
    else:
        whole = list(edges)
    return speed(whole), links


# --------------------------------------------------------------------------------------------
# formatting


def _num(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def _csv_ints(xs: Iterable[int]) -> str:
    return ",".join(str(x) for x in xs)


def _links_text(xs: Sequence[int]) -> str:
    return f"link {xs[0]}" if len(xs) == 1 else f"links {', '.join(map(str, xs))}"


def _short(ident: str) -> str:
    return ident if len(ident) <= _SHORT_ID else ident[: _SHORT_ID - 1] + "…"


def _window_text(m: ThroughMovement) -> str:
    if not m.is_green or m.green_start_s is None:
        return "never"
    return f"{_num(m.green_s)} @ {_num(m.green_start_s)}"


def _facts(ic: ImportedCorridor, base: Path, csv_name: str) -> dict[str, Any]:
    net = Path(ic.net_file).resolve()
    try:
        relative: str | None = os.path.relpath(net, base.resolve())
    except ValueError:  # another drive (Windows)
        relative = None

    def move(m: ThroughMovement | None) -> dict[str, Any] | None:
        if m is None:
            return None
        return {"from_edge": m.from_edge, "to_edge": m.to_edge,
                "link_indices": list(m.link_indices), "turns": list(m.turns),
                "green_start_s": m.green_start_s, "green_s": m.green_s,
                "green_phases": list(m.green_phases),
                "never_green_links": list(m.never_green_links)}

    return {
        "format": SIDECAR_FORMAT,
        "corridor": ic.name,
        "csv": csv_name,
        "net_file": str(net),
        "net_file_relative": relative,
        "active_program_rule": ACTIVE_PROGRAM_RULE,
        "route": list(ic.route),
        "reverse_route": list(ic.reverse_route),
        "reverse_route_given": ic.reverse_route_given,
        "one_way": ic.one_way,
        "common_cycle_s": ic.common_cycle_s,
        "speed_kmh": ic.corridor.speed_kmh,
        "speed_in_kmh": ic.corridor.speed_in_kmh,
        "link_speeds_kmh": list(ic.link_speeds_kmh),
        "signals": [
            {
                "id": s.id, "tls_id": s.tls_id, "program_id": s.program_id,
                "program_type": s.program_type, "offset_s": s.offset_s,
                "programs": list(s.programs), "node_ids": list(s.node_ids),
                "position_m": s.position_m, "cycle_s": s.cycle_s,
                "phases": [{"duration_s": p.duration_s, "state": p.state,
                            "min_dur_s": p.min_dur_s, "max_dur_s": p.max_dur_s,
                            "name": p.name} for p in s.phases],
                "outbound": move(s.outbound), "inbound": move(s.inbound),
                "inbound_shift_s": s.inbound_shift_s, "notes": list(s.notes),
            }
            for s in ic.signals
        ],
        "warnings": list(ic.warnings),
    }
