"""Detectors on the corridor networks, built or imported, and reading them through subscriptions.

Every approach of every signal gets one induction loop per lane (``E1``) ``LOOP_OFFSET_M``
after the upstream end of its edge (mid-lane when the lane is shorter than twice that), the
place where a queue that spills back shows up, and one lane-area detector (``E2``) per lane
over the last ``QUEUE_LENGTH_M`` before the stop line (at most the lane), whose mean halting
number is the queue estimate. Only lanes that allow passenger cars get detectors (no sidewalks,
no bike lanes). The queue estimate is the mean, over the steps of the interval, of the halting
vehicles the lane-area detectors report each step (their last-interval values cannot be
subscribed to).

Approaches are ``<signal>/<leg>``, leg ``out``, ``in`` (the main road, outbound and inbound),
``west`` or ``east`` (the cross street: ``west`` comes from the right of the outbound
direction, ``east`` from its left), each a tuple of (upstream edge, stop-line edge) pairs:

* **Built networks** (:class:`~greenwave.sumo.netbuild.NetworkLayout`): one pair per approach.
  Main-road approaches are the whole link from the upstream signal (or the entry) to the stop
  line, which the builder may split into a link edge and a ``_bay``/``_taper`` edge: the loops
  go on the link edge, the lane-area detectors on the stop-line edge. Cross-street approaches
  are the ``*_in`` legs.
* **Imported networks** (:class:`~greenwave.sumo.importnet.ImportedCorridor`): every edge that
  feeds a connection the signal's traffic light controls is one pair (the edge twice), counted
  once however many of its nodes it feeds; edges that leave a node of the same traffic light
  (inside a joined cluster) are not approaches. ``out`` is the outbound through movement's
  entering edge, ``in`` the inbound one's (none at a signal without an inbound movement); every
  other edge is a cross leg, on the side of the outbound direction where its centre line lies
  ``SIDE_PROBE_M`` before its stop line: the side of the line through the outbound stop line
  along the outbound heading (over the last ``SIDE_PROBE_M`` of the entering edge), right →
  ``west``, left → ``east`` (as on the built networks, where outbound turns right into the west
  leg). Several edges on one side are one leg, in the order of the first link index each feeds.

Ids: loops ``e1_<signal>_<leg>_<k>`` and lane-area detectors ``e2_<signal>_<leg>_<k>``, k
numbering the approach's car lanes from 0, edge by edge in the approach's order and lane by lane
from the right (on built networks k is the lane index). ``<signal>`` is the corridor's
intersection id. All detectors aggregate over ``interval_s`` (their ``period``), write no file
(``NUL``), and are read once per interval through TraCI subscriptions of their last-interval
values. The file is a function of the net and the layout or import only (byte-identical for
the same inputs).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from greenwave.errors import InputError
from greenwave.retiming.measure import DetectorReading, DetectorSpec
from greenwave.sumo.importnet import ImportedCorridor, ImportedSignal
from greenwave.sumo.netbuild import NetworkLayout, write_xml
from greenwave.sumo.programs import format_time, read_net

DETECTOR_FILE = "detectors.add.xml"
LOOP_OFFSET_M = 10.0
QUEUE_LENGTH_M = 60.0
INTERVAL_S = 60.0
SIDE_PROBE_M = 30.0

_LAST_INTERVAL_NUMBER = 0x29  # VAR_LAST_INTERVAL_NUMBER (inductionloop)
_LAST_INTERVAL_OCCUPANCY = 0x27  # VAR_LAST_INTERVAL_OCCUPANCY (inductionloop)
_HALTING = 0x14  # LAST_STEP_VEHICLE_HALTING_NUMBER (lanearea)
_SPLIT = re.compile(r"_(bay|taper)$")
_CAR = "passenger"

Network = NetworkLayout | ImportedCorridor
Approaches = dict[str, tuple[tuple[str, str], ...]]
QueueDetectors = dict[str, tuple[tuple[str, str, float, float], ...]]


def approach_edges(network: Network) -> Approaches:
    """``<signal>/<leg>`` → its (edge at the upstream end, edge at the stop line) pairs."""
    if isinstance(network, ImportedCorridor):
        net = read_net(network.net_file)
        out: Approaches = {}
        for s in network.signals:
            for leg, edges in _imported_legs(net, network.net_file, s).items():
                out[f"{s.id}/{leg}"] = tuple((e, e) for e in edges)
        return out
    layout = network
    out = {}
    for tls in layout.tls_ids:
        for leg, approach in (("out", layout.out_approach[tls]),
                              ("in", layout.in_approach[tls])):
            out[f"{tls}/{leg}"] = ((_SPLIT.sub("", approach), approach),)
        legs = layout.cross_edges[tls]
        out[f"{tls}/west"] = ((legs.west_in, legs.west_in),)
        out[f"{tls}/east"] = ((legs.east_in, legs.east_in),)
    return out


def detector_specs(network: Network) -> tuple[DetectorSpec, ...]:
    """The induction loops of the corridor, in signal, leg and lane order."""
    net = read_net(network.net_file)
    specs = []
    for approach, pairs in approach_edges(network).items():
        signal, leg = approach.rsplit("/", 1)
        for k, lane in enumerate(_car_lanes(net, (up for up, _ in pairs))):
            pos = min(LOOP_OFFSET_M, lane.getLength() / 2)
            specs.append(DetectorSpec(f"e1_{signal}_{leg}_{k}", signal, leg, lane.getID(),
                                      round(pos, 2)))
    return tuple(specs)


def queue_detectors(network: Network) -> QueueDetectors:
    """Per approach, its lane-area detectors: (id, lane, start [m], length [m])."""
    net = read_net(network.net_file)
    out: QueueDetectors = {}
    for approach, pairs in approach_edges(network).items():
        signal, leg = approach.rsplit("/", 1)
        items = []
        for k, lane in enumerate(_car_lanes(net, (stop for _, stop in pairs))):
            length = round(min(QUEUE_LENGTH_M, lane.getLength() - 0.1), 2)
            start = round(lane.getLength() - length, 2)
            items.append((f"e2_{signal}_{leg}_{k}", lane.getID(), start, length))
        out[approach] = tuple(items)
    return out


def write_detectors(network: Network, out_file: str | Path, *,
                    interval_s: float = INTERVAL_S) -> Path:
    """Write the detectors of the corridor as a SUMO additional file; return its path."""
    if not (math.isfinite(interval_s) and interval_s >= 1):
        raise InputError(f"detector interval must be at least 1 s, found {interval_s!r}",
                         field="interval_s", value=interval_s)
    name = network.name if isinstance(network, ImportedCorridor) else network.corridor
    root = ET.Element("additional")
    root.append(ET.Comment(f" greenwave detectors for {name or 'the corridor'}: "
                           f"loops near the upstream end of every approach lane, queue "
                           f"detectors before every stop line; period {interval_s:g} s "))
    period = format_time(interval_s)
    for s in detector_specs(network):
        ET.SubElement(root, "inductionLoop", id=s.id, lane=s.lane, pos=format_time(s.position_m),
                      period=period, file="NUL")
    for items in queue_detectors(network).values():
        for det, lane, start, length in items:
            ET.SubElement(root, "laneAreaDetector", id=det, lane=lane, pos=format_time(start),
                          length=format_time(length), period=period, file="NUL")
    return write_xml(root, out_file)


def _car_lanes(net: Any, edges: Iterable[str]) -> list[Any]:
    return [lane for e in edges for lane in net.getEdge(e).getLanes() if lane.allows(_CAR)]


# --------------------------------------------------------------------------------------------
# the legs of an imported signal


def _imported_legs(net: Any, src: str, s: ImportedSignal) -> dict[str, list[str]]:
    """Leg → approach edges of one imported signal (see the module doc for the rules)."""
    if s.tls_id not in {t.getID() for t in net.getTrafficLights()}:
        raise InputError(f"the network has no traffic light {s.tls_id!r} (signal {s.id})",
                         file=src, field="tls_id", value=s.tls_id)
    conns = net.getTLS(s.tls_id).getConnections()
    controlled = {in_lane.getEdge().getToNode().getID() for in_lane, _, _ in conns}
    first_link: dict[str, int] = {}
    for in_lane, _, link in conns:
        e = in_lane.getEdge()
        if e.getFromNode().getID() not in controlled and e.allows(_CAR):
            first_link[e.getID()] = min(link, first_link.get(e.getID(), link))
    main = {"out": s.outbound.from_edge, "in": s.inbound.from_edge if s.inbound else None}
    legs: dict[str, list[str]] = {leg: [e] for leg, e in main.items()
                                  if e is not None and net.getEdge(e).allows(_CAR)}
    out_edge = net.getEdge(s.outbound.from_edge)
    for e in sorted(first_link, key=lambda x: (first_link[x], x)):
        if e not in main.values():
            legs.setdefault(_side(out_edge, net.getEdge(e)), []).append(e)
    return {leg: legs[leg] for leg in ("out", "in", "west", "east") if leg in legs}


def _side(out_edge: Any, approach: Any) -> str:
    """``west`` when *approach* lies right of the outbound direction at the signal, else
    ``east`` (the sign of the cross product of the outbound heading and the vector from the
    outbound stop line to a point of the approach ``SIDE_PROBE_M`` before its stop line)."""
    shape = out_edge.getShape()
    px, py = shape[-1]
    bx, by = _point_back(shape, SIDE_PROBE_M)
    qx, qy = _point_back(approach.getShape(), SIDE_PROBE_M)
    cross = (px - bx) * (qy - py) - (py - by) * (qx - px)
    return "west" if cross <= 0 else "east"


def _point_back(shape: Sequence[tuple[float, float]], dist: float) -> tuple[float, float]:
    """The point *dist* [m] before the end of a polyline (its start when it is shorter)."""
    x, y = shape[-1]
    for x0, y0 in reversed(shape[:-1]):
        seg = math.hypot(x - x0, y - y0)
        if seg >= dist:
            t = dist / seg
            return x + (x0 - x) * t, y + (y0 - y) * t
        dist -= seg
        x, y = x0, y0
    return x, y


class DetectorReader:
    """Subscribes to the last-interval values of the loops and queue detectors on *conn*.

    Call :meth:`step` after every simulation step (it adds up the halting vehicles of the
    queue detectors) and :meth:`read` after the step that ends an interval: per loop a
    :class:`DetectorReading` of the interval that ended, per approach the mean number of
    halting vehicles since the last read. One subscription answer per domain and step, no
    per-detector calls.
    """

    def __init__(self, conn: Any, specs: Sequence[DetectorSpec],
                 queues: dict[str, tuple[tuple[str, str, float, float], ...]]) -> None:
        self._loops = conn.inductionloop
        self._areas = conn.lanearea
        known = set(self._loops.getIDList())
        missing = [s.id for s in specs if s.id not in known]
        if missing:
            raise InputError(f"the simulation has no induction loop {', '.join(missing[:5])}"
                             f"{' ...' if len(missing) > 5 else ''}; load "
                             f"{DETECTOR_FILE} with the scenario", field="detectors")
        self.specs = tuple(specs)
        self.queues = dict(queues)
        for s in self.specs:
            self._loops.subscribe(s.id, [_LAST_INTERVAL_NUMBER, _LAST_INTERVAL_OCCUPANCY])
        for items in self.queues.values():
            for det, *_ in items:
                self._areas.subscribe(det, [_HALTING])
        self._halting = dict.fromkeys(self.queues, 0.0)
        self._steps = 0

    def step(self) -> None:
        areas = self._areas.getAllSubscriptionResults()
        for a, items in self.queues.items():
            self._halting[a] += sum(areas[d][_HALTING] for d, *_ in items)
        self._steps += 1

    def read(self) -> tuple[dict[str, DetectorReading], dict[str, float]]:
        loops = self._loops.getAllSubscriptionResults()
        # SUMO reports a slightly negative occupancy for an interval that a vehicle straddles
        # at its start (seen down to -1.03 %): above -5 % it is read as 0
        readings = {}
        for s in self.specs:
            occ = float(loops[s.id][_LAST_INTERVAL_OCCUPANCY])
            readings[s.id] = DetectorReading(float(loops[s.id][_LAST_INTERVAL_NUMBER]),
                                             0.0 if -5.0 < occ < 0.0 else occ)
        queues = {a: round(h / max(self._steps, 1), 6) for a, h in self._halting.items()}
        self._halting = dict.fromkeys(self.queues, 0.0)
        self._steps = 0
        return readings, queues
