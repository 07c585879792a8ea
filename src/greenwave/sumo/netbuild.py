"""Build a SUMO network for a corridor: plain XML nodes, edges and connections → netconvert.

Geometry
--------
The main road is laid out along one straight north→south axis: outbound (increasing
``position_m``) is southbound, inbound northbound. Signal ``i`` sits at ``(0, -position_m)``;
its cross street runs west–east with legs of ``corridor.cross_link_m`` on each side. Entry and
exit links of ``corridor.approach_m`` extend the main road beyond the end signals.

Edge ids (all readable, all deterministic)
------------------------------------------
* main road: ``out_<from>_<to>`` (outbound) and ``in_<from>_<to>`` (inbound), where the node ids
  are the signal ids plus ``start`` (before the first signal) and ``end`` (after the last):
  ``out_start_S01, out_S01_S02, ..., out_S23_end`` and ``in_end_S23, ..., in_S01_start``;
* a left-turn bay splits the link ahead of a signal: ``out_S01_S02`` runs to the bay node
  ``S02_out_bay`` and ``out_S01_S02_bay`` (one extra lane on the left, the bay) from there to
  the stop line of ``S02``; likewise ``in_S03_S02`` + ``in_S03_S02_bay``. The bay is
  ``BAY_LENGTH_M`` long (at most 40 % of the link);
* a link leaves a signal with that signal's ``through_lanes``; when the next signal has another
  number of through lanes (and no bay), the link is split the same way, into ``..._taper``;
* cross street at signal ``S05``: ``S05_west_in``, ``S05_west_out``, ``S05_east_in``,
  ``S05_east_out`` (``_in`` drives towards the signal).

Lanes and connections
---------------------
Every signal approach gets explicit lane-to-lane connections (``corridor.con.xml``), so the
movements are unambiguous: the rightmost lane carries the right turn (and through), the other
through lanes carry through, and the left turn leaves from the bay when there is one, else
from the leftmost through lane. Cross-street approaches: through on every lane, right from the
rightmost, left from the leftmost. Every intersection is a traffic light whose id is the
intersection id; the program netconvert generates for it (programID ``"0"``) stays in the net as
the baseline.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from greenwave._io import atomic_open, atomic_write_text, read_json
from greenwave.corridor import Corridor, Intersection
from greenwave.errors import InputError, SimulationError
from greenwave.sumo.binaries import binary, sumo_env

NET_FILE = "corridor.net.xml"
NODE_FILE = "corridor.nod.xml"
EDGE_FILE = "corridor.edg.xml"
CONNECTION_FILE = "corridor.con.xml"
LAYOUT_FILE = "layout.json"

CROSS_SPEED_KMH = 50.0
BAY_LENGTH_M = 60.0  # left-turn bay: the last metres before the stop line
_MAIN_PRIORITY = 3
_CROSS_PRIORITY = 2


@dataclass(frozen=True)
class CrossLegs:
    """The four cross-street edges at one signal (``*_in`` drive towards it)."""

    west_in: str
    west_out: str
    east_in: str
    east_out: str


@dataclass(frozen=True)
class NetworkLayout:
    """What was built: files and the edge ids the rest of greenwave needs.

    ``out_edges``/``in_edges`` are the main-road edges in driving order from entry to exit;
    ``out_approach``/``in_approach`` name, per signal, the main-road edge that ends at its stop
    line; ``through_routes`` maps ``"outbound"``/``"inbound"`` to the (first, last) edge of an
    end-to-end main-street trip.
    """

    net_file: Path
    out_edges: tuple[str, ...]
    in_edges: tuple[str, ...]
    tls_ids: tuple[str, ...]
    cross_edges: Mapping[str, CrossLegs]
    through_routes: Mapping[str, tuple[str, str]]
    out_approach: Mapping[str, str]
    in_approach: Mapping[str, str]
    corridor: str = ""
    outbound_name: str = "outbound"
    inbound_name: str = "inbound"
    bay_length_m: float = BAY_LENGTH_M
    period: str | None = None
    routes_file: Path | None = None
    config_file: Path | None = None
    source_files: tuple[Path, ...] = field(default_factory=tuple)

    def to_dict(self, base: Path) -> dict[str, Any]:
        """JSON-ready form; file paths relative to *base* (the folder of layout.json)."""

        def rel(p: Path | None) -> str | None:
            if p is None:
                return None
            try:
                return Path(p).resolve().relative_to(base.resolve()).as_posix()
            except ValueError:
                return str(p)

        return {
            "corridor": self.corridor,
            "outbound_name": self.outbound_name,
            "inbound_name": self.inbound_name,
            "net_file": rel(self.net_file),
            "period": self.period,
            "routes_file": rel(self.routes_file),
            "config_file": rel(self.config_file),
            "source_files": [rel(p) for p in self.source_files],
            "bay_length_m": self.bay_length_m,
            "tls_ids": list(self.tls_ids),
            "out_edges": list(self.out_edges),
            "in_edges": list(self.in_edges),
            "out_approach": dict(self.out_approach),
            "in_approach": dict(self.in_approach),
            "cross_edges": {
                k: {"west_in": v.west_in, "west_out": v.west_out, "east_in": v.east_in,
                    "east_out": v.east_out}
                for k, v in self.cross_edges.items()
            },
            "through_routes": {k: list(v) for k, v in self.through_routes.items()},
        }

    def write(self, path: str | Path) -> Path:
        p = Path(path)
        return atomic_write_text(p, json.dumps(self.to_dict(p.parent), indent=2) + "\n")


def load_layout(path: str | Path) -> NetworkLayout:
    """Read a ``layout.json`` written by :func:`build_network` (paths relative to it)."""
    p = Path(path)
    data: Any = read_json(p, "layout JSON file")

    def path_of(value: str | None) -> Path | None:
        return None if value is None else (p.parent / value)

    try:
        net = path_of(data["net_file"])
        if net is None:
            raise KeyError("net_file")
        return NetworkLayout(
            net_file=net,
            out_edges=tuple(data["out_edges"]),
            in_edges=tuple(data["in_edges"]),
            tls_ids=tuple(data["tls_ids"]),
            cross_edges={k: CrossLegs(**v) for k, v in data["cross_edges"].items()},
            through_routes={k: (v[0], v[1]) for k, v in data["through_routes"].items()},
            out_approach=dict(data["out_approach"]),
            in_approach=dict(data["in_approach"]),
            corridor=str(data.get("corridor", "")),
            outbound_name=str(data.get("outbound_name", "outbound")),
            inbound_name=str(data.get("inbound_name", "inbound")),
            bay_length_m=float(data.get("bay_length_m", BAY_LENGTH_M)),
            period=data.get("period"),
            routes_file=path_of(data.get("routes_file")),
            config_file=path_of(data.get("config_file")),
            source_files=tuple(
                q for q in (path_of(s) for s in data.get("source_files", [])) if q is not None
            ),
        )
    except (KeyError, TypeError, IndexError) as exc:
        raise InputError(f"malformed layout: missing or bad field {exc}", file=str(p)) from exc


# --------------------------------------------------------------------------------------------
# plain-XML model


@dataclass(frozen=True)
class _Node:
    id: str
    x: float
    y: float
    type: str


@dataclass(frozen=True)
class _Edge:
    id: str
    src: str
    dst: str
    lanes: int
    speed_ms: float
    priority: int
    name: str


@dataclass(frozen=True)
class _Conn:
    src: str
    dst: str
    from_lane: int
    to_lane: int


@dataclass(frozen=True)
class _EdgeIds:
    out_edges: tuple[str, ...]
    in_edges: tuple[str, ...]
    out_approach: dict[str, str]
    in_approach: dict[str, str]
    cross: dict[str, CrossLegs]


@dataclass
class _Plan:
    nodes: list[_Node] = field(default_factory=list)
    edges: list[_Edge] = field(default_factory=list)
    conns: list[_Conn] = field(default_factory=list)


def _bay_length(link_m: float) -> float:
    """Bay length for a link: BAY_LENGTH_M, shortened on short links (≤ 40 % of the link)."""
    return round(min(BAY_LENGTH_M, 0.4 * link_m), 2)


def _check_corridor(corridor: Corridor) -> None:
    ids = corridor.ids
    if len(ids) < 1:
        raise InputError("the corridor has no intersections", file=corridor.source or None)
    previous = -math.inf
    for i in corridor.intersections:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", i.id) or i.id in ("start", "end"):
            raise InputError(
                f"intersection id {i.id!r} cannot name a SUMO junction; use letters, digits, "
                "'_', '-', '.' (and not 'start' or 'end')",
                file=corridor.source or None, field="id", value=i.id,
            )
        if i.position_m <= previous:
            raise InputError(f"intersection {i.id}: position {i.position_m:g} m is not after "
                             f"{previous:g} m (positions must increase)",
                             file=corridor.source or None, field="position_m",
                             value=i.position_m)
        previous = i.position_m
        if i.through_lanes < 1 or i.cross_lanes < 1:
            raise InputError(f"intersection {i.id}: lane counts must be at least 1",
                             file=corridor.source or None, field="through_lanes")
    for name, value in (("approach_m", corridor.approach_m),
                        ("cross_link_m", corridor.cross_link_m),
                        ("speed_limit_kmh", corridor.speed_limit_kmh)):
        if not value > 0:
            raise InputError(f"must be positive, found {value!r}", file=corridor.source or None,
                             field=name, value=value)


def _plan_network(corridor: Corridor) -> tuple[_Plan, _EdgeIds]:
    """Nodes, edges and connections of the corridor, plus the edge-id bookkeeping."""
    xs = corridor.intersections
    main_speed = corridor.speed_limit_kmh / 3.6
    cross_speed = CROSS_SPEED_KMH / 3.6
    road = corridor.name
    plan = _Plan()
    first, last = xs[0].position_m, xs[-1].position_m

    def y_of(pos: float) -> float:
        return round(-(pos - first), 2)

    plan.nodes.append(_Node("start", 0.0, y_of(first - corridor.approach_m), "priority"))
    for i in xs:
        plan.nodes.append(_Node(i.id, 0.0, y_of(i.position_m), "traffic_light"))
    plan.nodes.append(_Node("end", 0.0, y_of(last + corridor.approach_m), "priority"))

    # Stations along the axis in outbound order: ("start", pos), (S01, pos), ..., ("end", pos).
    stations: list[tuple[str, float, Intersection | None]] = [
        ("start", first - corridor.approach_m, None),
        *((i.id, i.position_m, i) for i in xs),
        ("end", last + corridor.approach_m, None),
    ]

    def link(direction: str, a: tuple[str, float, Intersection | None],
             b: tuple[str, float, Intersection | None]) -> list[str]:
        """Edges from station a to station b (b downstream in *direction*).

        The link leaves a with a's through lanes, so lanes pass a signal one to one. When b
        has a bay or a different number of through lanes, the link is split ahead of b: the
        last stretch (``_bay``, or ``_taper`` without a bay) has b's lanes plus the bay.
        """
        base = f"{direction}_{a[0]}_{b[0]}"
        here, target = a[2], b[2]
        lanes = (here or target or xs[0]).through_lanes
        if target is None or (not target.left_turn_bay and target.through_lanes == lanes):
            plan.edges.append(_Edge(base, a[0], b[0], lanes, main_speed, _MAIN_PRIORITY, road))
            return [base]
        suffix = "bay" if target.left_turn_bay else "taper"
        split = _bay_length(abs(b[1] - a[1]))
        sign = -1.0 if direction == "out" else 1.0  # the split node lies upstream of b
        node = f"{b[0]}_{direction}_{suffix}"
        last = f"{base}_{suffix}"
        n_b = target.through_lanes
        plan.nodes.append(_Node(node, 0.0, y_of(b[1] + sign * split), "priority"))
        plan.edges.append(_Edge(base, a[0], node, lanes, main_speed, _MAIN_PRIORITY, road))
        plan.edges.append(_Edge(last, node, b[0], n_b + (1 if target.left_turn_bay else 0),
                                main_speed, _MAIN_PRIORITY, road))
        for j in range(lanes):  # lanes that end merge to the left
            plan.conns.append(_Conn(base, last, j, min(j, n_b - 1)))
        for extra in range(lanes, n_b):  # added lanes open from the leftmost lane
            plan.conns.append(_Conn(base, last, lanes - 1, extra))
        if target.left_turn_bay:
            plan.conns.append(_Conn(base, last, lanes - 1, n_b))  # opens the bay
        return [base, last]

    out_links = [link("out", stations[k], stations[k + 1]) for k in range(len(stations) - 1)]
    rev = stations[::-1]
    in_links = [link("in", rev[k], rev[k + 1]) for k in range(len(rev) - 1)]
    out_edges = [e for edges in out_links for e in edges]
    in_edges = [e for edges in in_links for e in edges]

    n = len(xs)
    out_approach = {xs[k].id: out_links[k][-1] for k in range(n)}
    out_depart = {xs[k].id: out_links[k + 1][0] for k in range(n)}
    in_approach = {xs[k].id: in_links[n - 1 - k][-1] for k in range(n)}
    in_depart = {xs[k].id: in_links[n - k][0] for k in range(n)}

    cross: dict[str, CrossLegs] = {}
    for i in xs:
        y = y_of(i.position_m)
        w, e = f"{i.id}_west", f"{i.id}_east"
        plan.nodes.append(_Node(w, round(-corridor.cross_link_m, 2), y, "priority"))
        plan.nodes.append(_Node(e, round(corridor.cross_link_m, 2), y, "priority"))
        legs = CrossLegs(f"{w}_in", f"{w}_out", f"{e}_in", f"{e}_out")
        name = i.cross_street or f"{i.id} cross street"
        for eid, a, b in ((legs.west_in, w, i.id), (legs.west_out, i.id, w),
                          (legs.east_in, e, i.id), (legs.east_out, i.id, e)):
            plan.edges.append(_Edge(eid, a, b, i.cross_lanes, cross_speed, _CROSS_PRIORITY,
                                    name))
        cross[i.id] = legs
    lanes_of = {e.id: e.lanes for e in plan.edges}

    for i in xs:
        legs = cross[i.id]
        k = i.cross_lanes
        # Southbound (outbound) turns right into the west leg, northbound into the east leg.
        main = (
            (out_approach[i.id], out_depart[i.id], legs.west_out, legs.east_out),
            (in_approach[i.id], in_depart[i.id], legs.east_out, legs.west_out),
        )
        for approach, ahead, right, left in main:
            n_in = i.through_lanes
            for j in range(n_in):  # a link leaves a signal with the signal's lanes
                plan.conns.append(_Conn(approach, ahead, j, j))
            plan.conns.append(_Conn(approach, right, 0, 0))
            left_lane = n_in if i.left_turn_bay else n_in - 1
            plan.conns.append(_Conn(approach, left, left_lane, k - 1))
        # Eastbound (from the west leg) turns right onto the outbound road, left onto inbound.
        crossing = (
            (legs.west_in, legs.east_out, out_depart[i.id], in_depart[i.id]),
            (legs.east_in, legs.west_out, in_depart[i.id], out_depart[i.id]),
        )
        for approach, ahead, right, left in crossing:
            for j in range(k):
                plan.conns.append(_Conn(approach, ahead, j, j))
            plan.conns.append(_Conn(approach, right, 0, 0))
            plan.conns.append(_Conn(approach, left, k - 1, lanes_of[left] - 1))

    return plan, _EdgeIds(tuple(out_edges), tuple(in_edges), out_approach, in_approach, cross)


# --------------------------------------------------------------------------------------------
# writing


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def write_xml(root: ET.Element, path: str | Path) -> Path:
    """Write an ElementTree as indented UTF-8 XML, atomically; return the path."""
    ET.indent(root, space="    ")
    text = ET.tostring(root, encoding="UTF-8", xml_declaration=True).decode("utf-8")
    with atomic_open(path) as fh:
        fh.write(text + "\n")
    return Path(path)


def _write_plain(plan: _Plan, out_dir: Path) -> tuple[Path, Path, Path]:
    nodes = ET.Element("nodes")
    for n in plan.nodes:
        ET.SubElement(nodes, "node", id=n.id, x=_fmt(n.x), y=_fmt(n.y), type=n.type)
    edges = ET.Element("edges")
    for e in plan.edges:
        ET.SubElement(edges, "edge", {"id": e.id, "from": e.src, "to": e.dst,
                                      "numLanes": str(e.lanes), "speed": _fmt(e.speed_ms),
                                      "priority": str(e.priority), "name": e.name})
    conns = ET.Element("connections")
    for c in plan.conns:
        ET.SubElement(conns, "connection", {"from": c.src, "to": c.dst,
                                            "fromLane": str(c.from_lane),
                                            "toLane": str(c.to_lane)})
    return (
        write_xml(nodes, out_dir / NODE_FILE),
        write_xml(edges, out_dir / EDGE_FILE),
        write_xml(conns, out_dir / CONNECTION_FILE),
    )


_GENERATED = re.compile(rb"<!-- generated on \S+ by ")


def _run_netconvert(out_dir: Path, seed: int) -> Path:
    """netconvert the plain files in *out_dir* into corridor.net.xml (atomically).

    netconvert stamps the net with the wall-clock time; that stamp is removed so the same input
    gives a byte-identical net. Files are named relative to *out_dir* for the same reason.
    """
    tmp_name = f".{NET_FILE}.netconvert.tmp"
    cmd = [
        str(binary("netconvert")),
        "--node-files", NODE_FILE,
        "--edge-files", EDGE_FILE,
        "--connection-files", CONNECTION_FILE,
        "--output-file", tmp_name,
        "--no-turnarounds", "true",
        "--tls.default-type", "static",
        "--output.street-names", "true",
        "--seed", str(seed),
    ]
    result = subprocess.run(cmd, cwd=out_dir, capture_output=True, text=True, env=sumo_env(),
                            check=False)
    tmp = out_dir / tmp_name
    try:
        if result.returncode != 0 or not tmp.is_file():
            raise SimulationError(
                f"netconvert failed (exit {result.returncode}) in {out_dir}:\n"
                f"{result.stderr.strip() or result.stdout.strip()}"
            )
        warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("Warning")]
        if warnings:  # a warning means the plain XML is not what greenwave meant to build
            raise SimulationError("netconvert warned while building the corridor:\n"
                                  + "\n".join(warnings))
        data = _GENERATED.sub(b"<!-- generated by ", tmp.read_bytes(), count=1)
        data = data.replace(tmp_name.encode(), NET_FILE.encode())
        net = out_dir / NET_FILE
        with atomic_open(net) as fh:
            fh.write(data.decode("utf-8"))
    finally:
        tmp.unlink(missing_ok=True)
    return net


def build_network(
    corridor: Corridor,
    out_dir: str | Path,
    *,
    period: str | None = None,
    seed: int = 42,
) -> NetworkLayout:
    """Build the corridor's SUMO network in *out_dir*; return (and write) its layout.

    Writes ``corridor.nod.xml``, ``corridor.edg.xml``, ``corridor.con.xml``, runs netconvert
    into ``corridor.net.xml``, writes the detectors of every approach
    (``detectors.add.xml``, :mod:`greenwave.sumo.detectors`; loaded by the retiming loop, not
    by the scenario's ``.sumocfg``) and ``layout.json``. With *period*, also writes the
    period's demand ``<period>.rou.xml`` and ``corridor.sumocfg``, which runs it from 0 to the
    period's duration with *seed* (one scenario per folder). The same input gives
    byte-identical files.
    """
    _check_corridor(corridor)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan, ids = _plan_network(corridor)
    sources = _write_plain(plan, out)
    net = _run_netconvert(out, seed)
    layout = NetworkLayout(
        net_file=net,
        out_edges=ids.out_edges,
        in_edges=ids.in_edges,
        tls_ids=corridor.ids,
        cross_edges=ids.cross,
        through_routes={"outbound": (ids.out_edges[0], ids.out_edges[-1]),
                        "inbound": (ids.in_edges[0], ids.in_edges[-1])},
        out_approach=ids.out_approach,
        in_approach=ids.in_approach,
        corridor=corridor.name,
        outbound_name=corridor.outbound_name,
        inbound_name=corridor.inbound_name,
        source_files=sources,
    )
    from greenwave.sumo.detectors import DETECTOR_FILE, write_detectors

    write_detectors(layout, out / DETECTOR_FILE)
    if period is not None:
        from greenwave.sumo.demand import write_demand, write_sumocfg

        demand = corridor.period(period)
        routes = write_demand(corridor, layout, period, out / f"{period}.rou.xml", seed=seed)
        cfg = write_sumocfg(out, net, [routes], [], 0.0, demand.duration_s, seed)
        layout = replace(layout, period=period, routes_file=routes, config_file=cfg)
    layout.write(out / LAYOUT_FILE)
    return layout

