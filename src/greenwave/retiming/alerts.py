"""Alert rules with hysteresis, external alerts from a JSON Lines feed, debouncing (pure).

Rules (evaluated after every measurement interval, on rolling windows of
``AlertRules.window`` intervals; an alert is *raised* when its condition has held for
``persist`` consecutive evaluations and *cleared* when its clearing condition has held as long):

=================  ==========================================  ===============================
kind               raised when                                 cleared when
=================  ==========================================  ===============================
flow_surge         approach flow > (1 + surge_on) × design      flow < (1 + surge_off) × design
                   and > design + surge_min_vph
tidal_shift        corridor inbound share of the main-road      |share − design| < tidal_off
                   flow differs from the design share by
                   more than tidal_on
spillback          loop occupancy over the last ``persist``     occupancy < spill_off
                   intervals > spill_on (a queue reaching the
                   upstream end of the link)
detector_failure   silent: no vehicle for ``silent_intervals``  ``recover_intervals`` plausible
                   while the design flow would bring            readings in a row
                   ≥ silent_expected_veh; stuck: the same
                   non-zero (count, occupancy) for
                   ``stuck_intervals``; implausible: a flow
                   above max_lane_vph, occupancy outside
                   [0, 100] or not a number
=================  ==========================================  ===============================

Flow surges and tidal shifts are judged only after ``warmup_s`` (900 s: a corridor of 10 km
takes minutes to fill; the silent-detector rule waits as long) and once every healthy
detector has a full window. A failed detector is left out of every flow (its approach counts
its healthy lanes, or falls back to the design flow when none is left).

External feed (JSON Lines, one alert per line; blank lines and lines starting with ``#`` are
skipped)::

    {"id": "ops-1", "time_s": 25200, "kind": "flow_surge", "target": "S09/west",
     "flow_vph": 1100}

``id`` (string, unique), ``time_s`` (simulation time, non-decreasing along the feed),
``kind`` (one of the kinds above), ``target`` (an approach ``<signal>/<leg>`` for
flow_surge and spillback, a detector id for detector_failure, ``corridor`` for tidal_shift),
``flow_vph`` (flow_surge: 0 ≤ flow ≤ max_lane_vph × lanes), ``share_in`` (tidal_shift: in
[0, 1]), optional ``state`` (``raised``, default, or ``cleared``) and ``note``. A line that
fails any check is rejected on its own, with the reason; the feed goes on.

Debouncing: a raise of the same (kind, target) within ``debounce_s`` of the last accepted one
is dropped (logged as debounced), so an alert flood becomes one alert.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from greenwave.retiming.measure import DetectorSpec, RollingWindow


class AlertKind(enum.StrEnum):
    FLOW_SURGE = "flow_surge"
    TIDAL_SHIFT = "tidal_shift"
    SPILLBACK = "spillback"
    DETECTOR_FAILURE = "detector_failure"


@dataclass(frozen=True)
class Alert:
    """A raised or cleared alert; ``source`` is ``rule`` or ``feed``."""

    id: str
    time_s: float
    kind: AlertKind
    target: str
    raised: bool = True
    value: float = math.nan
    threshold: float = math.nan
    source: str = "rule"
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"alert": self.id, "kind": str(self.kind), "target": self.target,
                "state": "raised" if self.raised else "cleared",
                "value": _num(self.value), "threshold": _num(self.threshold),
                "source": self.source, "detail": self.detail}


@dataclass(frozen=True)
class Rejection:
    """A feed line that was not accepted, and why."""

    line: int
    reason: str
    text: str


def _num(x: float) -> float | None:
    return None if not math.isfinite(x) else round(x, 6)


@dataclass(frozen=True)
class AlertRules:
    """Thresholds of the alert rules (module doc); defaults are the documented ones."""

    window: int = 5  # intervals in the rolling window
    persist: int = 2  # evaluations a condition must hold to raise or clear
    surge_on: float = 0.25
    surge_off: float = 0.10
    surge_min_vph: float = 100.0
    tidal_on: float = 0.08
    tidal_off: float = 0.04
    spill_on_pct: float = 35.0
    spill_off_pct: float = 20.0
    silent_intervals: int = 5
    silent_expected_veh: float = 8.0
    stuck_intervals: int = 4
    recover_intervals: int = 3
    max_lane_vph: float = 3000.0
    warmup_s: float = 900.0  # no surge or tidal rule in the first minutes of a run


# --------------------------------------------------------------------------------------------
# rules


@dataclass
class _Latch:
    active: bool = False
    streak: int = 0  # consecutive evaluations arguing for the other state


class AlertDetector:
    """Runs the rules over successive measurements; keeps the hysteresis state.

    *design_vph* is the design flow per approach (of the plan in force, :meth:`set_design`
    updates it); *design_share_in* the design inbound share of the main-road flow.
    """

    def __init__(self, specs: Iterable[DetectorSpec], design_vph: Mapping[str, float],
                 design_share_in: float, *, rules: AlertRules | None = None) -> None:
        self.rules = rules or AlertRules()
        self.window = RollingWindow(specs, size=self.rules.window)
        self.specs = self.window.specs
        self.lanes = {s.approach: 0 for s in self.specs.values()}
        for s in self.specs.values():
            self.lanes[s.approach] += 1
        self.design_vph = dict(design_vph)
        self.design_share_in = design_share_in
        self._latches: dict[tuple[AlertKind, str], _Latch] = {}
        self.failed: dict[str, str] = {}  # detector → failure mode
        self.reported: set[str] = set()  # failures reported by the feed: only it clears them
        self._recover: dict[str, int] = {}
        self._count = 0
        self._first_s: float | None = None

    def set_design(self, design_vph: Mapping[str, float], design_share_in: float) -> None:
        """New design flows (a new plan is in force): surge and tidal latches restart."""
        self.design_vph = dict(design_vph)
        self.design_share_in = design_share_in
        for key in list(self._latches):
            if key[0] in (AlertKind.FLOW_SURGE, AlertKind.TIDAL_SHIFT):
                del self._latches[key]

    def _next_id(self) -> str:
        self._count += 1
        return f"R{self._count:05d}"

    def _latch(self, t: float, kind: AlertKind, target: str, on: bool, off: bool,
               value: float, thresholds: tuple[float, float], detail: str) -> Alert | None:
        """*thresholds*: (raise, clear); the alert carries the one its change crossed."""
        latch = self._latches.setdefault((kind, target), _Latch())
        arguing = off if latch.active else on
        latch.streak = latch.streak + 1 if arguing else 0
        if latch.streak < self.rules.persist:
            return None
        latch.active, latch.streak = not latch.active, 0
        return Alert(self._next_id(), t, kind, target, latch.active, value,
                     thresholds[0] if latch.active else thresholds[1], "rule", detail)

    def active(self, kind: AlertKind) -> list[str]:
        return sorted(t for (k, t), latch in self._latches.items() if k == kind and latch.active)

    def evaluate(self, m: Any) -> list[Alert]:
        """Alerts raised or cleared by measurement *m* (a :class:`Measurement`)."""
        r = self.rules
        t = float(m.time_s)
        self.window.add(m)
        if self._first_s is None:
            self._first_s = t - m.interval_s
        out: list[Alert] = []
        out += self._failures(t, m)
        flows = self.window.approaches(exclude=self.failed)
        warm = t - self._first_s >= r.warmup_s and all(
            self.window.full(d) for d in self.specs if d not in self.failed)
        for approach, f in flows.items():
            design = self.design_vph.get(approach, math.nan)
            if not warm or f.lanes == 0 or not math.isfinite(design):
                continue
            on = f.flow_vph > (1 + r.surge_on) * design and f.flow_vph > design + r.surge_min_vph
            off = f.flow_vph < (1 + r.surge_off) * design
            a = self._latch(t, AlertKind.FLOW_SURGE, approach, on, off, f.flow_vph,
                            (max((1 + r.surge_on) * design, design + r.surge_min_vph),
                             (1 + r.surge_off) * design),
                            f"{f.flow_vph:.0f} veh/h against a design flow of {design:.0f}, "
                            f"occupancy {f.occupancy_pct:.0f} %, queue {f.queue_veh:.1f} veh")
            if a:
                out.append(a)
        lanes: dict[str, list[tuple[str, list[float]]]] = {}
        for det in sorted(self.specs):
            if det in self.failed or not self.window.full(det):
                continue
            lanes.setdefault(self.specs[det].approach, []).append(
                (det, self.window.last_occupancy_pct(det, r.persist)))
        for approach, occs in sorted(lanes.items()):
            # a queue at the upstream end of any lane; cleared when every lane is free again
            worst_det, worst = max(occs, key=lambda x: (min(x[1]), x[0]))
            top = max(max(o) for _, o in occs)
            queue = flows[approach].queue_veh if approach in flows else math.nan
            a = self._latch(t, AlertKind.SPILLBACK, approach, min(worst) > r.spill_on_pct,
                            top < r.spill_off_pct, top, (r.spill_on_pct, r.spill_off_pct),
                            f"occupancy {top:.0f} % at the upstream end ({worst_det}), queue "
                            f"{queue:.1f} veh at the stop line")
            if a:
                out.append(a)
        share = self.share_in(flows)
        if warm and math.isfinite(share):
            dev = abs(share - self.design_share_in)
            a = self._latch(t, AlertKind.TIDAL_SHIFT, "corridor", dev > r.tidal_on,
                            dev < r.tidal_off, share,
                            (self.design_share_in, self.design_share_in),
                            f"inbound share {share:.2f} against a design share "
                            f"{self.design_share_in:.2f}")
            if a:
                out.append(a)
        return out

    @staticmethod
    def share_in(flows: Mapping[str, Any]) -> float:
        """Inbound share of the main-road flow, summed over the signals measuring both."""
        total_in = total_out = 0.0
        signals = {a.split("/")[0] for a in flows}
        for s in sorted(signals):
            fo, fi = flows.get(f"{s}/out"), flows.get(f"{s}/in")
            if fo is None or fi is None or fo.lanes == 0 or fi.lanes == 0:
                continue
            total_out += fo.flow_vph
            total_in += fi.flow_vph
        total = total_in + total_out
        return total_in / total if total > 0 else math.nan

    def _failures(self, t: float, m: Any) -> list[Alert]:
        r = self.rules
        out: list[Alert] = []
        filled = self._first_s is not None and t - self._first_s >= r.warmup_s
        for det in sorted(self.specs):
            reading = m.readings.get(det)
            mode = self._failure_mode(det, reading, m.interval_s, filled)
            if det not in self.failed:
                if mode:
                    self.failed[det] = mode
                    self._recover[det] = 0
                    out.append(Alert(self._next_id(), t, AlertKind.DETECTOR_FAILURE, det, True,
                                     detail=f"{det} {mode}"))
                continue
            self._recover[det] = 0 if mode else self._recover.get(det, 0) + 1
            if self._recover[det] >= r.recover_intervals and det not in self.reported:
                del self.failed[det]
                out.append(Alert(self._next_id(), t, AlertKind.DETECTOR_FAILURE, det, False,
                                 detail=f"{det} plausible again"))
        return out

    def _failure_mode(self, det: str, reading: Any, interval_s: float, filled: bool) -> str:
        r = self.rules
        if reading is None:
            return "silent: no reading"
        count, occ = reading.count, reading.occupancy_pct
        if not (math.isfinite(count) and math.isfinite(occ)) or count < 0 or not 0 <= occ <= 100:
            return f"implausible: count {count!r}, occupancy {occ!r} %"
        if count * 3600.0 / interval_s > r.max_lane_vph:
            return f"implausible: {count * 3600.0 / interval_s:.0f} veh/h on one lane"
        hist = self.window.history(det)
        spec = self.specs[det]
        lane_design = self.design_vph.get(spec.approach, 0.0) / max(self.lanes[spec.approach], 1)
        if filled and len(hist) >= r.silent_intervals:
            recent = hist[-r.silent_intervals:]
            expected = lane_design * interval_s * r.silent_intervals / 3600.0
            if all(c == 0 for c, _ in recent) and expected >= r.silent_expected_veh:
                return f"silent: no vehicle in {r.silent_intervals} intervals, " \
                       f"{expected:.0f} expected"
        if len(hist) >= r.stuck_intervals:
            recent = hist[-r.stuck_intervals:]
            if len(set(recent)) == 1 and recent[0] != (0.0, 0.0):
                return f"stuck: the same reading {recent[0]} for {r.stuck_intervals} intervals"
        return ""


# --------------------------------------------------------------------------------------------
# external feed


@dataclass
class AlertFeed:
    """Parses JSON Lines alerts one line at a time (module doc); keeps the order check.

    *approaches* and *detectors* are the valid targets; *lanes* the lanes per approach (for
    the flow plausibility check).
    """

    approaches: frozenset[str]
    detectors: frozenset[str]
    lanes: Mapping[str, int] = field(default_factory=dict)
    max_lane_vph: float = 3000.0
    _last_time: float = -math.inf
    _ids: set[str] = field(default_factory=set)
    _line: int = 0

    def parse(self, text: str) -> Alert | Rejection | None:
        """One line: an Alert, a Rejection, or None for a blank or comment line."""
        self._line += 1
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            return None
        try:
            alert = self._parse(stripped)
        except _Bad as exc:
            return Rejection(self._line, str(exc), stripped[:200])
        self._last_time = alert.time_s
        self._ids.add(alert.id)
        return alert

    def _parse(self, text: str) -> Alert:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _Bad(f"bad JSON: {exc.msg} at column {exc.colno}") from None
        if not isinstance(data, dict):
            raise _Bad(f"expected a JSON object, found {type(data).__name__}")
        allowed = {"id", "time_s", "kind", "target", "flow_vph", "share_in", "state", "note"}
        extra = sorted(set(data) - allowed)
        if extra:
            raise _Bad(f"unknown field(s) {', '.join(extra)}; expected "
                       f"{', '.join(sorted(allowed))}")
        ident = data.get("id")
        if not isinstance(ident, str) or not ident:
            raise _Bad(f"id must be a non-empty string, found {ident!r}")
        if ident in self._ids:
            raise _Bad(f"id {ident!r} was used before")
        if _RULE_ID.fullmatch(ident):
            raise _Bad(f"id {ident!r} is reserved: R + digits name the loop's own alerts")
        t = data.get("time_s")
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            raise _Bad(f"time_s must be a finite number, found {t!r}")
        if t < self._last_time:
            raise _Bad(f"time_s {t:g} is before the previous alert's {self._last_time:g} "
                       "(timestamps out of order)")
        try:
            kind = AlertKind(str(data.get("kind")))
        except ValueError:
            raise _Bad(f"unknown kind {data.get('kind')!r}; expected "
                       f"{', '.join(k.value for k in AlertKind)}") from None
        state = data.get("state", "raised")
        if state not in ("raised", "cleared"):
            raise _Bad(f"state must be 'raised' or 'cleared', found {state!r}")
        target = data.get("target")
        value = math.nan
        if kind is AlertKind.DETECTOR_FAILURE:
            if target not in self.detectors:
                raise _Bad(f"unknown detector {target!r}")
        elif kind is AlertKind.TIDAL_SHIFT:
            if target != "corridor":
                raise _Bad(f"tidal_shift target must be 'corridor', found {target!r}")
            share = data.get("share_in")
            if state == "raised":
                if isinstance(share, bool) or not isinstance(share, int | float) \
                        or not 0 <= share <= 1:
                    raise _Bad(f"share_in must be a number in [0, 1], found {share!r}")
                value = float(share)
        else:
            if target not in self.approaches:
                signal = str(target).split("/")[0]
                known = {a.split("/")[0] for a in self.approaches}
                what = "leg" if signal in known else "signal"
                raise _Bad(f"unknown {what} in target {target!r}; expected <signal>/<leg> with "
                           "leg out, in, west or east")
            if kind is AlertKind.FLOW_SURGE and state == "raised":
                flow = data.get("flow_vph")
                most = self.max_lane_vph * self.lanes.get(str(target), 1)
                if flow is None:
                    raise _Bad(f"a raised flow_surge needs flow_vph (0 to {most:g} veh/h for "
                               f"{target})")
                if isinstance(flow, bool) or not isinstance(flow, int | float) \
                        or not math.isfinite(flow) or not 0 <= flow <= most:
                    raise _Bad(f"flow_vph {flow!r} is absurd for {target} (expected 0 to "
                               f"{most:g} veh/h: {self.max_lane_vph:g} per lane)")
                value = float(flow)
        misplaced = [f for f, kinds in _FIELD_KINDS.items() if f in data and kind not in kinds]
        if misplaced:
            raise _Bad(f"{', '.join(misplaced)} does not apply to {kind.value}")
        note = data.get("note", "")
        return Alert(ident, float(t), kind, str(target), state == "raised", value,
                     source="feed", detail=str(note)[:200])


class _Bad(Exception):
    pass


_RULE_ID = re.compile(r"R\d+")
_FIELD_KINDS = {"flow_vph": (AlertKind.FLOW_SURGE,), "share_in": (AlertKind.TIDAL_SHIFT,)}


# --------------------------------------------------------------------------------------------
# debouncing


@dataclass
class Debouncer:
    """Drops a raise of the same (kind, target) within *hold_s* of the last one let through."""

    hold_s: float = 300.0
    _last: dict[tuple[AlertKind, str], float] = field(default_factory=dict)

    def admit(self, alert: Alert) -> bool:
        if not alert.raised:
            return True
        key = (alert.kind, alert.target)
        last = self._last.get(key)
        if last is not None and alert.time_s - last < self.hold_s:
            return False
        self._last[key] = alert.time_s
        return True
