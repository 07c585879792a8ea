"""The retiming loop: detectors, alert rules and feed, transitions, decisions, SUMO runs.

SUMO runs use the three-signal corridor of ``_retime_small`` (a 25-minute segment, a few
seconds each).
"""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _retime_small import small_corridor, small_segment
from greenwave.corridor import Corridor, Intersection
from greenwave.errors import GreenwaveError, InputError
from greenwave.plan import plan_from_offsets
from greenwave.retiming.alerts import (
    AlertDetector,
    AlertFeed,
    AlertKind,
    AlertRules,
    Debouncer,
    Rejection,
)
from greenwave.retiming.decide import (
    Neighbour,
    bounded_greens,
    harmonic_program,
    keep_offsets,
    place_greens,
    plan_programs,
)
from greenwave.retiming.loop import DecisionLog, RetimingLoop
from greenwave.retiming.measure import DetectorReading, DetectorSpec, Measurement
from greenwave.retiming.transition import (
    SignalProgram,
    TransitionLimits,
    check_cycle,
    check_program,
    plan_cycle,
)

pytest.importorskip("libsumo")


# --------------------------------------------------------------------------------------------
# transitions (pure)


def test_shortway_and_dwell() -> None:
    p = SignalProgram("X", 10.0, (40.0, 3.0, 2.0, 30.0, 3.0, 2.0), (True, False, False, True,
                      False, False), (10.0, 3.0, 2.0, 20.0, 3.0, 2.0))
    on = plan_cycle(p, 10.0 + 80 * 7)
    assert on.in_force and on.durations_s == p.durations_s
    short = plan_cycle(p, 15.0)  # 5 s late: shorten by 5 (one cycle)
    assert short.change_s == -5 and sum(short.durations_s) == 75
    late = plan_cycle(p, 10.0 + 70)  # 70 s late = 10 s early: lengthen by 10
    assert late.change_s == 10 and sum(late.durations_s) == 90
    assert check_cycle(p, short.durations_s) == [] and check_cycle(p, late.durations_s) == []


programs = st.builds(
    lambda g1, g2, m1, m2, off: SignalProgram(
        "X", off, (float(g1), 3.0, 2.0, float(g2), 3.0, 2.0),
        (True, False, False, True, False, False),
        (float(min(m1, g1)), 3.0, 2.0, float(min(m2, g2)), 3.0, 2.0)),
    st.integers(10, 80), st.integers(10, 60), st.integers(5, 40), st.integers(5, 40),
    st.integers(0, 200))


@settings(max_examples=200, deadline=None)
@given(programs, st.integers(0, 10_000))
def test_transitions_are_safe_and_settle_within_three_cycles(p: SignalProgram,
                                                             start: int) -> None:
    t, cycles = float(start), 0
    for _ in range(10):
        s = plan_cycle(p, t)
        assert check_cycle(p, s.durations_s) == []
        if s.in_force:
            break
        cycles += 1
        t += sum(s.durations_s)
    else:
        pytest.fail("never settled")
    # 20 % of the cycle per cycle reaches any offset the short way or the long way
    room = sum(d - m for d, m, g in zip(p.durations_s, p.min_s, p.green, strict=True) if g)
    if room >= 0.2 * p.cycle_s:
        assert cycles <= 3


def test_bounded_greens_keep_sum_minimums_and_step() -> None:
    out = bounded_greens([40, 10, 25], [20, 10, 45], [10, 10, 15], 10)
    assert sum(out) == 75 and out == [30, 10, 35]
    out = bounded_greens([40, 10, 25], [40, 2, 33], [10, 10, 15], 10)
    assert sum(out) == 75 and min(a - b for a, b in zip(out, [10, 10, 15], strict=True)) >= 0


def _two_signals(green_b: float) -> Corridor:
    a = Intersection(id="A", position_m=0.0, green_out_s=50.0, green_in_s=50.0)
    b = Intersection(id="B", position_m=500.0, green_out_s=green_b, green_in_s=green_b)
    return Corridor(name="x", speed_kmh=36.0, cycle_s=100.0, intersections=(a, b))


def test_a_shorter_green_is_placed_to_keep_both_bands() -> None:
    # 500 m at 10 m/s = 50 s each way. A green 0-50 s; B green 40-100 s (60 s): outbound
    # platoon 0-50 s leaves A and reaches B at 50-100 s; inbound leaves B 50-100 s, reaches
    # A at 100-150 = 0-50 s: both bands 50 s. B's green cut to 50 s: kept at its start
    # (40-90 s) both bands lose 10 s; moved to 50-100 s both stay 50 s (by hand).
    before = plan_from_offsets(_two_signals(60.0), [0.0, 40.0])
    assert (before.bandwidth_out_s, before.bandwidth_in_s) == pytest.approx((50.0, 50.0))
    shorter = _two_signals(50.0)
    kept = keep_offsets(shorter, before, "")
    assert (kept.bandwidth_out_s, kept.bandwidth_in_s) == pytest.approx((40.0, 40.0))
    placed = place_greens(shorter, before, {"B"}, 1.0, 10.0, "")
    assert placed.signals[1].green_out_start_s == pytest.approx(50.0)
    assert placed.signals[0].green_out_start_s == pytest.approx(0.0)
    assert (placed.bandwidth_out_s, placed.bandwidth_in_s) == pytest.approx((50.0, 50.0))
    # a span of 4 s can only recover 4 s of each band
    near = place_greens(shorter, before, {"B"}, 1.0, 4.0, "")
    assert (near.bandwidth_out_s, near.bandwidth_in_s) == pytest.approx((44.0, 44.0))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 99), min_size=3, max_size=3),
       st.lists(st.integers(30, 60), min_size=3, max_size=3),
       st.floats(0.5, 2.0), st.integers(0, 12))
def test_placed_greens_never_lose_band_and_move_within_the_span(
        starts: list[float], greens: list[int], k: float, span: int) -> None:
    ids = ("A", "B", "C")
    c = Corridor(name="p", speed_kmh=40.0, cycle_s=100.0, intersections=tuple(
        Intersection(id=n, position_m=400.0 * j, green_out_s=60.0, green_in_s=60.0)
        for j, n in enumerate(ids)))
    before = plan_from_offsets(c, starts)
    timed = replace(c, intersections=tuple(
        replace(i, green_out_s=float(g), green_in_s=float(g))
        for i, g in zip(c.intersections, greens, strict=True)))
    kept = keep_offsets(timed, before, "")
    placed = place_greens(timed, before, {"A", "C"}, k, float(span), "")
    assert placed.bandwidth_out_s + k * placed.bandwidth_in_s >= \
        kept.bandwidth_out_s + k * kept.bandwidth_in_s - 1e-6
    for old, new, n in zip(before.signals, placed.signals, ids, strict=True):
        moved = (new.green_out_start_s - old.green_out_start_s + 50.0) % 100.0 - 50.0
        assert abs(moved) <= (span if n != "B" else 0) + 1e-6
        assert float(moved).is_integer() or abs(moved - round(moved)) < 1e-6


def _prog(durations: tuple[float, ...], mins: tuple[float, ...], offset: float = 0.0
          ) -> SignalProgram:
    green = tuple(k % 3 == 0 for k in range(len(durations)))  # green, yellow, all-red, ...
    return SignalProgram("N", offset, durations, green, mins)


def test_harmonic_neighbours_scale_their_greens_with_the_corridor_cycle() -> None:
    # by hand: greens in proportion to the green time left after 10 s of yellow + all-red,
    # whole seconds by largest remainder, offsets at the same fraction of the cycle
    same = Neighbour(_prog((45.0, 3.0, 2.0, 35.0, 3.0, 2.0), (10, 3, 2, 10, 3, 2), 27.0),
                     1.0, 90.0)
    q = harmonic_program(same, 110.0)  # 100 s of green: 56.25, 43.75 -> 56, 44
    assert q.durations_s == (56.0, 3.0, 2.0, 44.0, 3.0, 2.0)
    assert q.offset_s == pytest.approx(33.0)  # 27 / 90 * 110
    half = Neighbour(_prog((20.0, 3.0, 2.0, 15.0, 3.0, 2.0), (10, 3, 2, 10, 3, 2)), 0.5, 90.0)
    q = harmonic_program(half, 100.0)  # 50 s cycle, 40 s of green: 22.86, 17.14 -> 23, 17
    assert q.durations_s == (23.0, 3.0, 2.0, 17.0, 3.0, 2.0) and q.cycle_s == 50.0
    double = Neighbour(_prog((70.0, 3.0, 2.0, 100.0, 3.0, 2.0), (10, 3, 2, 10, 3, 2)), 2.0,
                       90.0)
    # 160 s cycle, 150 s of green for 170: 61.76, 88.24 -> 62, 88
    assert harmonic_program(double, 80.0).durations_s == (62.0, 3.0, 2.0, 88.0, 3.0, 2.0)
    strict = Neighbour(_prog((20.0, 3.0, 2.0, 15.0, 3.0, 2.0), (10, 3, 2, 15, 3, 2)), 0.5, 90.0)
    with pytest.raises(GreenwaveError, match="phase 3 gets 11 s, below its minimum 15 s"):
        harmonic_program(strict, 70.0)  # 35 s: 25 s of green -> 14, 11
    with pytest.raises(InputError, match="not harmonic"):
        Neighbour(same.program, 3.0, 30.0)
    with pytest.raises(InputError, match=r"runs 90 s, not 0\.5 x"):
        Neighbour(same.program, 0.5, 90.0)
    with pytest.raises(InputError, match="ratio '1' is not harmonic"):
        Neighbour(same.program, "1", 90.0)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="6 durations, 6 flags, 5 minimums"):
        Neighbour(replace(same.program, min_s=(10, 3, 2, 10, 3)), 1.0, 90.0)
    with pytest.raises(InputError, match="phase 0: 45 s below its minimum 50 s"):
        Neighbour(replace(same.program, min_s=(50, 3, 2, 10, 3, 2)), 1.0, 90.0)
    with pytest.raises(InputError, match="must be a SignalProgram"):
        Neighbour("N", 1.0, 90.0)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="corridor cycle nan"):
        harmonic_program(same, math.nan)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(5, 60), min_size=1, max_size=4), st.sampled_from([0.5, 1.0, 2.0]),
       st.integers(40, 200))
def test_harmonic_programs_keep_clearances_and_the_ratio(greens: list[int], ratio: float,
                                                         cycle: int) -> None:
    durations = tuple(float(x) for g in greens for x in (g, 3, 2))
    base = sum(durations) / ratio
    nb = Neighbour(_prog(durations, tuple(float(x) for _ in greens for x in (5, 3, 2))),
                   ratio, base)
    try:
        q = harmonic_program(nb, float(cycle))
    except GreenwaveError:
        # refused only when no green is left or the smallest proportional green is within
        # the rounding (1 s) of its 5 s minimum or below it
        room = ratio * cycle - 5 * len(greens)
        assert room <= 0 or min(greens) * room / sum(greens) < 5.0 + 1.0
        return
    assert q.cycle_s == pytest.approx(ratio * cycle)
    assert [d for d, g in zip(q.durations_s, q.green, strict=True) if not g] == \
        [3.0, 2.0] * len(greens)
    assert all(d >= m for d, m in zip(q.durations_s, q.min_s, strict=True))
    room = ratio * cycle - 5 * len(greens)
    for new, old in zip([d for d, g in zip(q.durations_s, q.green, strict=True) if g], greens,
                        strict=True):
        assert abs(new - old * room / sum(greens)) < 1.0 + 1e-9


def test_a_neighbour_that_cannot_follow_the_cycle_range_is_refused(schedule: tuple) -> None:
    tight = Neighbour(_prog((20.0, 3.0, 2.0, 15.0, 3.0, 2.0), (10, 3, 2, 15, 3, 2)), 0.5, 90.0)
    with pytest.raises(InputError, match="neighbour N: at 40 s"):
        RetimingLoop(small_corridor(), schedule, small_specs(), cycle_range_s=(80.0, 110.0),
                     neighbours={"N": tight})
    with pytest.raises(InputError, match="expected a Neighbour"):
        RetimingLoop(small_corridor(), schedule, small_specs(),
                     neighbours={"N": tight.program})  # type: ignore[dict-item]
    with pytest.raises(InputError, match="expected 0 < minimum <= maximum"):
        RetimingLoop(small_corridor(), schedule, small_specs(), cycle_range_s=(110.0, 80.0))
    with pytest.raises(InputError, match="cannot be its own neighbour"):
        RetimingLoop(small_corridor(), schedule, small_specs(),
                     neighbours={"A": replace(tight, program=replace(tight.program,
                                                                     tls_id="A"))})


# --------------------------------------------------------------------------------------------
# alert rules and feed (pure)


SPECS = (DetectorSpec("d0", "A", "in", "l0", 10.0), DetectorSpec("d1", "A", "in", "l1", 10.0),
         DetectorSpec("d2", "A", "out", "l2", 10.0), DetectorSpec("d3", "A", "west", "l3", 10.0))


def meas(t: float, counts: dict[str, float]) -> Measurement:
    """Occupancy varies with time except at d2, which repeats itself (stuck)."""
    occ = 5.0 + (t / 60.0) % 3
    return Measurement(t, 60.0, {k: DetectorReading(v, 5.0 if k == "d2" else occ)
                                 for k, v in counts.items()})


def test_surge_has_hysteresis_and_failures_are_detected() -> None:
    design = {"A/in": 600.0, "A/out": 600.0, "A/west": 300.0}
    det = AlertDetector(SPECS, design, 0.5)
    seen = []
    base = {"d0": 5.0, "d1": 5.0, "d2": 10.0, "d3": 5.0}
    for k in range(8):
        seen += det.evaluate(meas(60.0 * k, {**base, "d0": 5.0 + k % 2}))
    assert not [a for a in seen if a.kind is AlertKind.FLOW_SURGE]
    surge = {**base, "d3": 12.0}  # 720 veh/h against 300
    for k in range(8, 16):
        seen += det.evaluate(meas(60.0 * k, {**surge, "d0": 5.0 + k % 2, "d1": 4.0 + k % 3}))
    raised = [a for a in seen if a.kind is AlertKind.FLOW_SURGE and a.target == "A/west"]
    assert len(raised) == 1 and raised[0].raised
    # the raise needs > 1.25 x 300 = 375 and > 300 + 100 = 400 veh/h: 400 is what it crossed
    assert raised[0].threshold == pytest.approx(400.0)
    for k in range(16, 30):
        seen += det.evaluate(meas(60.0 * k, {**base, "d0": 5.0 + k % 2, "d1": 4.0 + k % 3}))
    west = [a for a in seen if a.kind is AlertKind.FLOW_SURGE and a.target == "A/west"]
    assert [a.raised for a in west] == [True, False]
    assert west[1].threshold == pytest.approx(330.0)  # cleared below 1.10 x 300
    # d2 repeats (10, 5.0) for 4 intervals: stuck
    stuck = [a for a in seen if a.kind is AlertKind.DETECTOR_FAILURE and a.target == "d2"]
    assert stuck and "stuck" in stuck[0].detail
    det2 = AlertDetector(SPECS, design, 0.5)
    alerts = det2.evaluate(meas(0.0, {**base, "d1": 400.0}))  # 24,000 veh/h on one lane
    assert [a.target for a in alerts] == ["d1"] and "implausible" in alerts[0].detail


def test_feed_rejects_bad_lines_one_by_one() -> None:
    feed = AlertFeed(frozenset({"A/in", "A/west"}), frozenset({"d0"}), {"A/in": 2, "A/west": 1})
    lines = [
        '{"id": "a1", "time_s": 100, "kind": "flow_surge", "target": "A/west", "flow_vph": 900}',
        '{"id": "a2", "time_s": 110, "kind": "flow_surge"',  # bad JSON
        '{"id": "a3", "time_s": 120, "kind": "spillback", "target": "Q/west"}',  # signal
        '{"id": "a4", "time_s": 120, "kind": "detector_failure", "target": "zz"}',  # detector
        '{"id": "a5", "time_s": 90, "kind": "spillback", "target": "A/in"}',  # out of order
        '{"id": "a6", "time_s": 130, "kind": "flow_surge", "target": "A/in", "flow_vph": 1e7}',
        '{"id": "a7", "time_s": 130, "kind": "flow_surge", "target": "A/in", "flow_vph": -5}',
        '{"id": "a8", "time_s": 130, "kind": "meteor", "target": "A/in"}',
        '{"id": "a10", "time_s": 130, "kind": "spillback", "target": "A/north"}',  # leg
        '{"id": "a11", "time_s": 130, "kind": "tidal_shift", "target": "corridor", '
        '"share_in": 1.7}',  # absurd share
        '{"id": "a12", "time_s": "soon", "kind": "spillback", "target": "A/in"}',
        "[1, 2]",  # not an object
        "",
        '{"id": "a9", "time_s": 140, "kind": "spillback", "target": "A/in"}',
        '{"id": "a9", "time_s": 150, "kind": "spillback", "target": "A/in"}',  # id reused
        '{"id": "R00002", "time_s": 150, "kind": "spillback", "target": "A/in"}',  # reserved
        '{"id": "a13", "time_s": 150, "kind": "flow_surge", "target": "A/in"}',  # no flow
        '{"id": "a14", "time_s": 150, "kind": "spillback", "target": "A/in", '
        '"flow_vph": 500}',  # a field of another kind
        '{"id": "a15", "time_s": 150, "kind": "flow_surge", "target": "A/in", '
        '"state": "cleared"}',  # clearing needs no flow
    ]
    parsed = [feed.parse(x) for x in lines]
    rejected = [p for p in parsed if isinstance(p, Rejection)]
    accepted = [p.id for p in parsed if p is not None and not isinstance(p, Rejection)]
    assert accepted == ["a1", "a9", "a15"]
    reasons = [r.reason for r in rejected]
    assert len(reasons) == 15
    wants = ("bad JSON", "unknown signal", "unknown detector", "out of order", "absurd",
             "absurd", "unknown kind", "unknown leg", "share_in", "time_s must be",
             "expected a JSON object", "used before", "reserved", "needs flow_vph",
             "flow_vph does not apply to spillback")
    for want, reason in zip(wants, reasons, strict=True):  # one reason per line, in order
        assert want in reason, (want, reasons)
    assert [r.line for r in rejected] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16, 17, 18]


def test_a_crash_ends_the_loop_with_the_log_kept(schedule: tuple) -> None:
    from greenwave.errors import SimulationError

    class Crashing(FakeController):
        def measure(self) -> Measurement | None:
            if self.k == 3:
                raise SimulationError("SUMO stopped at t=21840: connection closed")
            return super().measure()

    stream = io.StringIO()
    loop = RetimingLoop(small_corridor(), schedule, small_specs(), log=DecisionLog(stream))
    result = loop.run(Crashing([{}] * 10, 21600.0))
    events = [json.loads(x)["event"] for x in stream.getvalue().splitlines()]
    assert events[-2:] == ["crash", "end"] and "connection closed" in result.crashed


def test_debouncer_drops_a_flood() -> None:
    from greenwave.retiming.alerts import Alert

    d = Debouncer(300.0)
    flood = [Alert(f"x{k}", 100.0 + k, AlertKind.SPILLBACK, "A/in") for k in range(50)]
    assert sum(d.admit(a) for a in flood) == 1
    assert d.admit(Alert("late", 450.0, AlertKind.SPILLBACK, "A/in"))


# --------------------------------------------------------------------------------------------
# the loop on synthetic measurements (pure, no SUMO)


@pytest.fixture(scope="module")
def schedule() -> tuple:
    from greenwave.sumo.dayseg import tod_plans

    seg = small_segment()
    return tod_plans(seg.corridor, seg.tod, time_limit_s=2.0)


def small_specs() -> tuple[DetectorSpec, ...]:
    out = []
    for s in ("A", "B", "C"):
        for leg, lanes in (("out", 2), ("in", 2), ("west", 2), ("east", 2)):
            out += [DetectorSpec(f"e1_{s}_{leg}_{k}", s, leg, f"{s}{leg}_{k}", 10.0)
                    for k in range(lanes)]
    return tuple(out)


class FakeController:
    """Measurements from given flows; checks every cycle it would run toward its targets."""

    def __init__(self, flows: list[dict[str, float]], start_s: float) -> None:
        self.flows, self.t, self.k = flows, start_s, 0
        self.applied: list[tuple[str, dict[str, SignalProgram]]] = []
        self.in_force: dict = {}

    def measure(self) -> Measurement | None:
        if self.k >= len(self.flows):
            return None
        f = self.flows[self.k]
        self.k += 1
        self.t += 60.0
        return Measurement(self.t, 60.0, {d.id: DetectorReading(f.get(d.approach, 600.0) / 120,
                                                                 8.0 + self.k % 3)
                                          for d in small_specs()})

    def apply(self, programs: dict[str, SignalProgram], tag: str) -> None:
        from greenwave.retiming.loop import TransitionState

        self.applied.append((tag, dict(programs)))
        self.in_force = {k: TransitionState(tag, self.t + 90.0, 1) for k in programs}


def feed_lines() -> st.SearchStrategy[list[str]]:
    kinds = st.sampled_from(["flow_surge", "spillback", "detector_failure", "tidal_shift",
                             "bogus"])
    targets = st.sampled_from(["A/west", "B/in", "C/east", "Z/out", "e1_B_in_0", "corridor"])
    line = st.tuples(kinds, targets, st.integers(0, 1800), st.floats(-100, 5000),
                     st.floats(0, 1), st.booleans())

    def text(x: tuple) -> str:
        kind, target, dt, flow, share, cleared = x
        d = {"id": f"f{dt}-{kind}-{target}", "time_s": 21600 + dt, "kind": kind,
             "target": target}
        if kind in ("flow_surge", "bogus"):
            d["flow_vph"] = flow
        if kind in ("tidal_shift", "bogus") or dt % 7 == 0:  # now and then where it is wrong
            d["share_in"] = share
        if cleared:
            d["state"] = "cleared"
        return json.dumps(d)

    return st.lists(line.map(text), max_size=12).map(
        lambda xs: [*sorted(xs, key=lambda s: json.loads(s)["time_s"]), "{bad json"])


def run_fake(schedule: tuple, lines: list[str], surge: float) -> tuple[list, FakeController]:
    from greenwave.retiming.decide import DecisionRules

    flows = [{"A/out": 700.0, "A/in": 650.0 + surge * (k > 8), "B/west": 200 + 2 * surge}
             for k in range(30)]
    ctl = FakeController(flows, 21600.0)
    log = DecisionLog()
    loop = RetimingLoop(small_corridor(), schedule, small_specs(), feed=list(lines), log=log,
                        decision_rules=DecisionRules(cooldown_s=120.0, solve_budget_s=5.0),
                        cycle_range_s=(90.0, 110.0))
    loop.run(ctl)
    return log.decisions(), ctl


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feed_lines(), st.sampled_from([0.0, 300.0, 900.0]))
def test_random_alert_sequences_never_yield_an_unsafe_program(schedule: tuple,
                                                              lines: list[str],
                                                              surge: float) -> None:
    records, ctl = run_fake(schedule, lines, surge)
    assert any(r["event"] == "rejected" for r in records)  # the bad line, at least
    assert records[-1]["event"] == "end"
    for _, programs in ctl.applied:
        for p in programs.values():
            assert check_program(p) == []
            for start in (0.0, 17.0, 33.0, 61.0, p.offset_s + 1.0):
                assert check_cycle(p, plan_cycle(p, start).durations_s,
                                   TransitionLimits()) == []
    # the same feed and measurements reproduce the same decisions
    again, _ = run_fake(schedule, lines, surge)
    assert again == records


# --------------------------------------------------------------------------------------------
# SUMO


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> object:
    from greenwave.sumo.dayseg import build_day_segment

    return build_day_segment(small_segment(), tmp_path_factory.mktemp("seg"))


@pytest.mark.sumo
def test_detectors_file_is_deterministic_and_covers_every_approach_lane(built: object,
                                                                       tmp_path: Path) -> None:
    from greenwave.sumo.detectors import write_detectors

    b = built
    again = write_detectors(b.layout, tmp_path / "d.add.xml")  # type: ignore[attr-defined]
    assert again.read_bytes() == b.detectors_file.read_bytes()  # type: ignore[attr-defined]
    approaches = {s.approach for s in b.specs}  # type: ignore[attr-defined]
    assert approaches == {f"{s}/{leg}" for s in "ABC" for leg in ("out", "in", "west", "east")}


def sumo_run(b: object, tmp: Path, method: str, feed: list[str] | None = None,
             record: io.StringIO | None = None) -> tuple[object, list[dict]]:
    from greenwave.sumo.dayseg import run_day_segment

    stream = io.StringIO()
    run = run_day_segment(b, method, seed=3, out_dir=tmp / method, feed=feed,  # type: ignore
                          log_stream=stream, record=record)
    return run, [json.loads(x) for x in stream.getvalue().splitlines()]


def strip(rs: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("wall_time", "solve_ms")} for r in rs]


@pytest.mark.sumo
def test_loop_in_sumo_is_safe_settles_on_the_offsets_and_reproduces(built: object,
                                                                    tmp_path: Path) -> None:
    feed = [
        '{"id": "ops-1", "time_s": 22000, "kind": "spillback", "target": "B/west"}',
        "not json at all",
        '{"id": "ops-2", "time_s": 21900, "kind": "spillback", "target": "B/west"}',
        '{"id": "ops-3", "time_s": 22100, "kind": "flow_surge", "target": "X/in", '
        '"flow_vph": 500}',
    ]
    recorded = io.StringIO()
    run, records = sumo_run(built, tmp_path, "retiming", feed, recorded)
    assert len(run.safety.violations) == 0 and run.problems == []  # type: ignore
    assert run.loop.crashed == ""  # type: ignore
    events = [r["event"] for r in records]
    assert events[0] == "start" and events[-1] == "end"
    assert events.count("rejected") == 3
    decisions = [r for r in records if r["event"] == "decision"]
    assert decisions, "the demand shift, the surge and the spillback should cause a decision"
    assert any(r["event"] == "fallback" for r in records)  # the stuck loop at C
    for row in run.loop.latency:  # type: ignore
        assert row["transition_cycles"] <= 3
    # observed phase-0 starts settle on the plan in force, (t - offset) mod C = 0, within 3
    # cycles after the one running at the decision, and stay there until the next decision
    settled = [r for r in records if r["event"] == "in_force"]
    assert settled
    checked = 0
    for done in settled:
        final = next(d for d in decisions if d["plan"] == done["plan"])
        later = [d["time_s"] for d in decisions if d["time_s"] > final["time_s"]]
        until = min(later, default=math.inf)
        for sid, offset in zip("ABC", final["offsets_s"], strict=True):
            starts = [s for s in run.cycle_starts[sid]  # type: ignore
                      if final["time_s"] <= s < until]
            grid = [min(x, final["cycle_s"] - x) < 1e-6
                    for x in ((s - offset) % final["cycle_s"] for s in starts)]
            assert True in grid, (sid, starts)
            first = grid.index(True)
            assert first <= 4 and all(grid[first:]), (sid, starts, grid)
            checked += 1
    assert checked >= 3
    # same seed, same feed: the same decisions
    _, again = sumo_run(built, tmp_path / "again", "retiming", feed)
    assert strip(again) == strip(records)
    # the same loop on the recorded measurements: the same decisions again
    from greenwave.retiming.loop import ReplayController

    b = built
    log = DecisionLog()
    replay = ReplayController(recorded.getvalue().splitlines())
    loop = RetimingLoop(b.segment.corridor, b.schedule, b.specs, feed=feed,  # type: ignore
                        log=log, cycle_range_s=(90.0, 110.0))
    loop.run(replay, until_s=b.segment.end_s)  # type: ignore[attr-defined]
    upto_end = [r["event"] for r in records].index("end") + 1
    assert strip(log.records) == strip(records[:upto_end])
    assert [tag for _, tag, _ in replay.applied] == [r["plan"] for r in records
                                                      if r["event"] in ("start", "decision")]


@pytest.mark.sumo
def test_static_method_switches_time_of_day_safely(built: object, tmp_path: Path) -> None:
    run, records = sumo_run(built, tmp_path, "static")
    assert len(run.safety.violations) == 0  # type: ignore
    tod = [r for r in records if r["event"] == "in_force"]
    assert tod and all(r["transition_cycles"] <= 3 for r in tod)
    assert {"metrics"} <= set(vars(run))


@pytest.mark.sumo
def test_a_harmonic_neighbour_follows_the_corridor_cycle_in_sumo(built: object,
                                                                 tmp_path: Path) -> None:
    # The loop coordinates A and B; C, a signal of the same net, is their neighbour at the
    # same cycle (ratio 1). The time-of-day switch at 06:15 moves the corridor from 90 to
    # 110 s: C must follow to 1 x 110 s by the same safe transitions.
    from greenwave.sumo.dayseg import tod_plans
    from greenwave.sumo.retime import SumoController, connect, sumo_args

    b = built
    seg = b.segment  # type: ignore[attr-defined]
    pair = replace(seg.corridor, intersections=seg.corridor.intersections[:2])
    schedule = tod_plans(pair, seg.tod)
    start = b.schedule[0]  # type: ignore[attr-defined]
    c_prog = plan_programs(start.plan, start.timed)["C"]
    loop = RetimingLoop(pair, schedule, [s for s in b.specs if s.signal in {"A", "B"}],  # type: ignore
                        adaptive=False, log=DecisionLog(stream := io.StringIO()),
                        cycle_range_s=(90.0, 110.0),
                        neighbours={"C": Neighbour(c_prog, 1.0, 90.0)})
    end = seg.end_s + seg.drain_s
    args = sumo_args(b.layout.net_file, [b.routes_file],  # type: ignore[attr-defined]
                     [b.detectors_file, b.programs_file], begin_s=seg.begin_s,  # type: ignore
                     end_s=end, seed=3)
    with connect(args, tmp_path / "sumo.log") as (conn, _):
        ctl = SumoController(
            conn, {**plan_programs(schedule[0].plan, schedule[0].timed), "C": c_prog},
            [s for s in b.specs if s.signal in {"A", "B"}],  # type: ignore[attr-defined]
            {a: q for a, q in b.queues.items() if a.split("/")[0] in {"A", "B"}},  # type: ignore[attr-defined]
            thresholds=b.thresholds, end_s=end)  # type: ignore[attr-defined]
        loop.run(ctl)
        report = ctl.report()
        starts = list(ctl.signals["C"].cycle_starts)
    assert len(report.violations) == 0 and ctl.problems == []
    records = [json.loads(x) for x in stream.getvalue().splitlines()]
    switch = next(r for r in records if r["event"] == "decision" and r["cycle_s"] == 110.0)
    assert switch["neighbours_cycle_s"] == {"C": 110.0}
    done = next(r for r in records if r["event"] == "in_force" and r["plan"] == switch["plan"])
    assert done["transition_cycles"] <= 3
    cycles = [(x, round(y - x, 6)) for x, y in itertools.pairwise(starts)]
    # (the first cycles align C with its program from wherever SUMO started it)
    assert {c for x, c in cycles if switch["time_s"] - 300 <= x <= switch["time_s"] - c} \
        == {90.0}, cycles
    after = [c for x, c in cycles if x >= switch["time_s"] + done["after_s"] - 1e-6]
    assert after and set(after) == {110.0}, cycles


def test_plan_programs_match_the_sumo_program_layout(schedule: tuple) -> None:
    from greenwave.sumo.programs import program_phases

    tod = schedule[0]
    links = {0: "out_T", 1: "in_T", 2: "cross_T", 3: "out_L", 4: "in_L", 5: "cross_L"}
    for s, prog in plan_programs(tod.plan, tod.timed).items():
        phases = next(x.phases for x in tod.plan.signals if x.id == s)
        sumo = program_phases(phases, links)
        assert tuple(p.duration_s for p in sumo) == prog.durations_s


def test_rules_are_documented_defaults() -> None:
    r = AlertRules()
    assert (r.surge_on, r.surge_off, r.persist, r.window) == (0.25, 0.10, 2, 5)


# --------------------------------------------------------------------------------------------
# command line

SMALL_TOML = """
[corridor]
name = "tiny"
speed_kmh = 50.0
speed_limit_kmh = 60.0
approach_m = 200.0
cross_link_m = 150.0

[signals]
cycle_s = 90.0
cycle_range_s = [90.0, 110.0]
yellow_s = 3.0
all_red_s = 2.0
min_green_s = 10.0

[phase_templates.major]
phases = [
  { name = "main through", green_s = 40.0, protected = ["out_T", "out_R", "in_T", "in_R"] },
  { name = "main left", green_s = 10.0, protected = ["out_L", "in_L"] },
  { name = "cross", green_s = 25.0, min_green_s = 15.0, protected = ["cross_T", "cross_R"], permitted = ["cross_L"] },
]

[[intersection]]
id = "A"
position_m = 0.0
through_lanes = 2
cross_lanes = 2
left_turn_bay = true
major = true
crossing_length_m = 14.0
template = "major"

[[intersection]]
id = "B"
position_m = 400.0
through_lanes = 2
cross_lanes = 2
left_turn_bay = true
major = true
crossing_length_m = 14.0
template = "major"

[[period]]
name = "offpeak"
main_out_vph = 700.0
main_in_vph = 650.0
cross_major_vph = 200.0

[[period]]
name = "am_peak"
main_out_vph = 750.0
main_in_vph = 1250.0
cross_major_vph = 300.0
"""


@pytest.mark.sumo
def test_cli_retime_runs_logs_and_rejects_bad_alerts(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    from greenwave.cli import main

    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "tiny.toml"
    spec.write_text(SMALL_TOML)
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_bytes(
        b'{"id": "a", "time_s": 21700, "kind": "spillback", "target": "B/west"}\n'
        b'{"id": "b", "time_s": 21650, "kind": "spillback", "target": "B/west"}\n'
        b"[1, 2]\n"
        b'{"id": "c", "time_s": 21710, "kind": "spillback", "target": "B/w\xffst"}\n')
    (tmp_path / "out" / "sumo").mkdir(parents=True)
    (tmp_path / "out" / "sumo" / "static.tripinfo.xml").write_text("an earlier run's")
    assert main(["retime", str(spec), "--until", "06:12", "--alerts", str(alerts),
                 "--out", "out"]) == 0
    records = [json.loads(x) for x in (tmp_path / "out" / "retime_log.jsonl").read_text()
               .splitlines()]
    assert records[0]["event"] == "start" and records[-1]["event"] == "end"
    assert records[-1]["time_s"] == 6 * 3600 + 720
    # the line with a byte that is not UTF-8 is rejected on its own, the run goes on
    assert [r["line"] for r in records if r["event"] == "rejected"] == [2, 3, 4]
    assert (tmp_path / "out" / "metrics.csv").is_file()
    assert (tmp_path / "out" / "latency.csv").read_text().startswith("plan,level,alerts,")
    # this run's SUMO files replace the folder: nothing of the earlier run mixes in
    assert sorted(p.name for p in (tmp_path / "out" / "sumo").iterdir()) == [
        "retiming.stats.xml", "retiming.sumo.log", "retiming.tripinfo.xml"]
    assert "safety violations 0" in capsys.readouterr().out
    before = sorted(p.name for p in tmp_path.iterdir())
    (tmp_path / "a_file").write_text("")
    for bad in (["--until", "05:00"], ["--until", "09:00"], ["--alerts", "missing.jsonl"],
                ["--alerts", str(tmp_path)], ["--out", "a_file"], ["--seed", "-1"]):
        assert main(["retime", str(spec), *bad, "--out", "fresh"] if "--out" not in bad
                    else ["retime", str(spec), *bad]) == 2, bad
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("greenwave: error:"), (bad, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "a_file"])
    monkeypatch.setenv("DISPLAY", "")
    assert main(["retime", str(spec), "--gui", "--out", "fresh"]) == 2
    assert "DISPLAY is not set" in capsys.readouterr().err


@pytest.mark.sumo
def test_cli_retime_reads_a_live_alert_feed_from_stdin(tmp_path: Path) -> None:
    import subprocess

    spec = tmp_path / "tiny.toml"
    spec.write_text(SMALL_TOML)
    src = Path(__file__).resolve().parents[1] / "src"
    feed = ('{"id": "s1", "time_s": 21660, "kind": "spillback", "target": "B/west"}\n'
            "{oops\n"
            '{"id": "s2", "time_s": 21700, "kind": "flow_surge", "target": "B/west", '
            '"flow_vph": 99999}\n'
            '{"id": "s3", "time_s": 21720, "kind": "detector_failure", "target": "e1_A_in_0"}\n')
    res = subprocess.run([sys.executable, "-m", "greenwave", "retime", str(spec), "--until",
                          "06:06", "--alerts", "-", "--out", "out"], cwd=tmp_path,
                         input=feed, capture_output=True, text=True, timeout=300, check=False,
                         env={**os.environ, "PYTHONPATH": str(src)})
    assert res.returncode == 0, res.stderr
    records = [json.loads(x) for x in (tmp_path / "out" / "retime_log.jsonl").read_text()
               .splitlines()]
    rejected = [(r["line"], r["reason"]) for r in records if r["event"] == "rejected"]
    assert [x[0] for x in rejected] == [2, 3]
    assert "bad JSON" in rejected[0][1] and "absurd" in rejected[1][1]
    accepted = [r["alert"] for r in records if r["event"] == "alert" and r["source"] == "feed"]
    assert accepted == ["s1", "s3"]
    assert records[-1]["event"] == "end" and records[-1]["time_s"] == 6 * 3600 + 360


@pytest.mark.sumo
def test_cli_retime_gui_runs_the_loop_in_sumo_gui(tmp_path: Path) -> None:
    import shutil
    import subprocess

    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        pytest.skip("xvfb-run is not installed (sumo-gui needs a display)")
    spec = tmp_path / "tiny.toml"
    spec.write_text(SMALL_TOML)
    src = Path(__file__).resolve().parents[1] / "src"
    res = subprocess.run([xvfb, "-a", sys.executable, "-m", "greenwave", "retime", str(spec),
                          "--until", "06:04", "--gui", "--out", "out"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, check=False,
                         env={**os.environ, "PYTHONPATH": str(src)})
    assert res.returncode == 0, res.stderr
    assert "safety violations 0" in res.stdout
    records = (tmp_path / "out" / "retime_log.jsonl").read_text().splitlines()
    assert json.loads(records[-1])["time_s"] == 6 * 3600 + 240


def test_spillback_needs_two_intervals_on_one_approach_and_clears_on_all_lanes() -> None:
    design = {"A/in": 600.0, "A/out": 600.0, "A/west": 300.0}
    det = AlertDetector(SPECS, design, 0.5)

    def step(k: int, occ_d0: float, occ_d1: float) -> list:
        m = Measurement(60.0 * k, 60.0, {"d0": DetectorReading(5 + k % 2, occ_d0),
                                         "d1": DetectorReading(4 + k % 3, occ_d1),
                                         "d2": DetectorReading(9 + k % 2, 5.0 + k % 3),
                                         "d3": DetectorReading(5 + k % 2, 4.0 + k % 3)})
        return [a for a in det.evaluate(m) if a.kind is AlertKind.SPILLBACK]

    for k in range(5):
        assert step(k, 10.0 + k, 12.0 + k) == []
    assert step(5, 60.0, 61.0) == []  # one interval is not enough
    assert step(6, 62.0, 10.0) == []  # min over the last two intervals of d0: 60
    raised = step(7, 63.0, 11.0)
    assert [(a.target, a.raised) for a in raised] == [("A/in", True)]
    assert step(8, 10.0, 11.0) == [] and step(9, 12.0, 11.0) == []  # d0 was 63 at k=7
    cleared = step(10, 11.0, 12.0)
    assert [(a.target, a.raised) for a in cleared] == [("A/in", False)]


def test_the_core_imports_no_sumo() -> None:
    import subprocess

    code = ("import sys, greenwave.retiming.loop, greenwave.retiming.decide; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('traci', 'libsumo', 'sumolib') or m.startswith('greenwave.sumo')))")
    src = Path(__file__).resolve().parents[1] / "src"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(src)})
    assert out.stdout.strip() == "[]"


def test_live_feed_never_blocks_the_loop() -> None:
    import os as _os
    import time as _time

    from greenwave.retiming.loop import LiveFeed

    r, w = _os.pipe()
    reader, writer = _os.fdopen(r), _os.fdopen(w, "w")
    feed = LiveFeed(reader)
    assert next(feed) is None  # nothing yet: the loop goes on
    writer.write('{"id": "x"}\n')
    writer.flush()
    for _ in range(100):
        line = next(feed)
        if line is not None:
            break
        _time.sleep(0.01)
    assert line == '{"id": "x"}\n'
    writer.close()
    with pytest.raises(StopIteration):
        for _ in range(100):
            next(feed)
            _time.sleep(0.01)
