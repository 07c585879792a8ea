"""What the retiming loop measures: detectors, their readings, rolling windows (pure).

A *detector* is one induction loop on one lane, near the upstream end of a signal approach
(so a queue that reaches it is a spillback); an *approach* is ``<signal>/<leg>`` with leg
``out`` and ``in`` (the main road, outbound and inbound) or ``west`` and ``east`` (the cross
street). Every ``interval_s`` the controller reports each detector's vehicle count and mean
occupancy over the interval that just ended, and, per approach, the mean number of halting
vehicles near the stop line (the queue estimate). Flows are hourly rates over rolling windows
of several intervals.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

LEGS: tuple[str, ...] = ("out", "in", "west", "east")


@dataclass(frozen=True)
class DetectorSpec:
    """One induction loop: id, the approach it measures and where it lies."""

    id: str
    signal: str
    leg: str  # "out", "in" (main road) or "west", "east" (cross street)
    lane: str  # SUMO lane id
    position_m: float  # from the start of the lane

    @property
    def approach(self) -> str:
        return f"{self.signal}/{self.leg}"


@dataclass(frozen=True)
class DetectorReading:
    """One detector over one interval: vehicles counted and occupancy [%]."""

    count: float
    occupancy_pct: float


@dataclass(frozen=True)
class Measurement:
    """What the controller measured over the interval ending at ``time_s`` [s].

    ``readings`` per detector id (a missing detector sent nothing); ``queues_veh`` per
    approach the mean number of halting vehicles near its stop line; ``wall_time_s`` when it
    was taken (for the log only: decisions never depend on it).
    """

    time_s: float
    interval_s: float
    readings: Mapping[str, DetectorReading]
    queues_veh: Mapping[str, float] = field(default_factory=dict)
    wall_time_s: float = 0.0


@dataclass(frozen=True)
class ApproachFlow:
    """Rolling-window state of one approach from its healthy detectors."""

    approach: str
    flow_vph: float  # all lanes
    occupancy_pct: float  # mean over the lanes
    queue_veh: float
    lanes: int  # detectors that contributed


class RollingWindow:
    """The last *size* intervals of every detector; flows as hourly rates over them."""

    def __init__(self, specs: Iterable[DetectorSpec], *, size: int = 5) -> None:
        if size < 1:
            raise ValueError(f"window size must be at least 1, found {size}")
        self.specs = {s.id: s for s in specs}
        self.size = size
        self._counts: dict[str, deque[float]] = {k: deque(maxlen=size) for k in self.specs}
        self._occ: dict[str, deque[float]] = {k: deque(maxlen=size) for k in self.specs}
        self._queues: dict[str, deque[float]] = {}
        self._interval_s = math.nan

    def add(self, m: Measurement) -> None:
        self._interval_s = m.interval_s
        for det, r in m.readings.items():
            if det in self._counts:
                self._counts[det].append(r.count)
                self._occ[det].append(r.occupancy_pct)
        for approach, q in m.queues_veh.items():
            self._queues.setdefault(approach, deque(maxlen=self.size)).append(q)

    def full(self, det: str) -> bool:
        return len(self._counts[det]) == self.size

    def flow_vph(self, det: str) -> float:
        counts = self._counts[det]
        if not counts:
            return math.nan
        return 3600.0 * sum(counts) / (len(counts) * self._interval_s)

    def occupancy_pct(self, det: str) -> float:
        occ = self._occ[det]
        return sum(occ) / len(occ) if occ else math.nan

    def last_occupancy_pct(self, det: str, n: int) -> list[float]:
        return list(self._occ[det])[-n:]

    def history(self, det: str) -> list[tuple[float, float]]:
        return list(zip(self._counts[det], self._occ[det], strict=True))

    def approaches(self, *, exclude: Iterable[str] = ()) -> dict[str, ApproachFlow]:
        """Per approach: flow (summed over lanes, a failed lane counted as the mean of the
        healthy ones), mean occupancy and queue, from the detectors not in *exclude*."""
        skip = set(exclude)
        groups: dict[str, list[DetectorSpec]] = {}
        for s in self.specs.values():
            groups.setdefault(s.approach, []).append(s)
        out: dict[str, ApproachFlow] = {}
        for approach, dets in sorted(groups.items()):
            healthy = [d.id for d in dets if d.id not in skip and self._counts[d.id]]
            queue = self._queues.get(approach)
            q = sum(queue) / len(queue) if queue else 0.0
            if not healthy:
                out[approach] = ApproachFlow(approach, math.nan, math.nan, q, 0)
                continue
            per_lane = sum(self.flow_vph(d) for d in healthy) / len(healthy)
            occ = sum(self.occupancy_pct(d) for d in healthy) / len(healthy)
            out[approach] = ApproachFlow(approach, per_lane * len(dets), occ, q, len(healthy))
        return out
