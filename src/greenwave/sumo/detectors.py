"""Detectors for the built corridor networks, and reading them through subscriptions.

Every approach of every signal gets one induction loop per lane (``E1``) ``LOOP_OFFSET_M``
after the upstream end of its link, the place where a queue that spills back shows up, and one
lane-area detector (``E2``) per lane over the last ``QUEUE_LENGTH_M`` before the stop line
(at most the lane), whose mean halting number is the queue estimate. Main-road approaches are
the whole link from the upstream signal (or the entry) to the stop line, which the builder may
split into a link edge and a ``_bay``/``_taper`` edge: the loops go on the link edge, the
lane-area detectors on the stop-line edge. Cross-street approaches are the ``*_in`` legs.
The queue estimate is the mean, over the steps of the interval, of the halting vehicles the
lane-area detectors report each step (their last-interval values cannot be subscribed to).

Ids: loops ``e1_<signal>_<leg>_<lane index>`` and lane-area detectors
``e2_<signal>_<leg>_<lane index>``, leg ``out``, ``in``, ``west`` or ``east``. All detectors
aggregate over ``interval_s`` (their ``period``), write no file (``NUL``), and are read once
per interval through TraCI subscriptions of their last-interval values. The file is a function
of the net and the layout only (byte-identical for the same inputs).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from greenwave.errors import InputError
from greenwave.retiming.measure import DetectorReading, DetectorSpec
from greenwave.sumo.netbuild import NetworkLayout, write_xml
from greenwave.sumo.programs import _read_net, format_time

DETECTOR_FILE = "detectors.add.xml"
LOOP_OFFSET_M = 10.0
QUEUE_LENGTH_M = 60.0
INTERVAL_S = 60.0

_LAST_INTERVAL_NUMBER = 0x29  # VAR_LAST_INTERVAL_NUMBER (inductionloop)
_LAST_INTERVAL_OCCUPANCY = 0x27  # VAR_LAST_INTERVAL_OCCUPANCY (inductionloop)
_HALTING = 0x14  # LAST_STEP_VEHICLE_HALTING_NUMBER (lanearea)
_SPLIT = re.compile(r"_(bay|taper)$")


def _net(layout: NetworkLayout) -> Any:
    p = Path(layout.net_file)
    return _read_net(str(p.resolve()), p.stat().st_mtime_ns)


def approach_edges(layout: NetworkLayout) -> dict[str, tuple[str, str]]:
    """``<signal>/<leg>`` → (edge at the upstream end, edge at the stop line)."""
    out: dict[str, tuple[str, str]] = {}
    for tls in layout.tls_ids:
        for leg, approach in (("out", layout.out_approach[tls]),
                              ("in", layout.in_approach[tls])):
            out[f"{tls}/{leg}"] = (_SPLIT.sub("", approach), approach)
        legs = layout.cross_edges[tls]
        out[f"{tls}/west"] = (legs.west_in, legs.west_in)
        out[f"{tls}/east"] = (legs.east_in, legs.east_in)
    return out


def detector_specs(layout: NetworkLayout) -> tuple[DetectorSpec, ...]:
    """The induction loops of the corridor, in signal, leg and lane order."""
    net = _net(layout)
    specs = []
    for approach, (upstream, _) in approach_edges(layout).items():
        tls, leg = approach.split("/")
        edge = net.getEdge(upstream)
        for lane in edge.getLanes():
            pos = min(LOOP_OFFSET_M, lane.getLength() / 2)
            specs.append(DetectorSpec(f"e1_{tls}_{leg}_{lane.getIndex()}", tls, leg,
                                      lane.getID(), round(pos, 2)))
    return tuple(specs)


def queue_detectors(layout: NetworkLayout) -> dict[str, tuple[tuple[str, str, float, float],
                                                                ...]]:
    """Per approach, its lane-area detectors: (id, lane, start [m], length [m])."""
    net = _net(layout)
    out: dict[str, tuple[tuple[str, str, float, float], ...]] = {}
    for approach, (_, stop_edge) in approach_edges(layout).items():
        tls, leg = approach.split("/")
        items = []
        for lane in net.getEdge(stop_edge).getLanes():
            length = round(min(QUEUE_LENGTH_M, lane.getLength() - 0.1), 2)
            start = round(lane.getLength() - length, 2)
            items.append((f"e2_{tls}_{leg}_{lane.getIndex()}", lane.getID(), start, length))
        out[approach] = tuple(items)
    return out


def write_detectors(layout: NetworkLayout, out_file: str | Path, *,
                    interval_s: float = INTERVAL_S) -> Path:
    """Write the detectors of the corridor as a SUMO additional file; return its path."""
    if not (math.isfinite(interval_s) and interval_s >= 1):
        raise InputError(f"detector interval must be at least 1 s, found {interval_s!r}",
                         field="interval_s", value=interval_s)
    root = ET.Element("additional")
    root.append(ET.Comment(f" greenwave detectors for {layout.corridor or 'the corridor'}: "
                           f"loops near the upstream end of every approach lane, queue "
                           f"detectors before every stop line; period {interval_s:g} s "))
    period = format_time(interval_s)
    for s in detector_specs(layout):
        ET.SubElement(root, "inductionLoop", id=s.id, lane=s.lane, pos=format_time(s.position_m),
                      period=period, file="NUL")
    for items in queue_detectors(layout).values():
        for det, lane, start, length in items:
            ET.SubElement(root, "laneAreaDetector", id=det, lane=lane, pos=format_time(start),
                          length=format_time(length), period=period, file="NUL")
    return write_xml(root, out_file)


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
