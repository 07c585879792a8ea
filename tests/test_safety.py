"""The safety monitor and run-time program installation, on real SUMO runs of the shared cases.

Times follow greenwave's count (case c01): a state first read after the step ending at t started
at t − Δ; green starts below are those times.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from greenwave.errors import InputError
from greenwave.sumo.safety import (
    Installation,
    SafetyMonitor,
    SafetyReport,
    Thresholds,
    UnsafeTransitionError,
    ViolationKind,
    install_program,
    observe,
)

pytest.importorskip("libsumo")

G2R = ViolationKind.GREEN_TO_RED_WITHOUT_YELLOW
VEHICLE = Thresholds(yellow_s=3.0, min_green_s=10.0)  # the cases' programs have no all-red
C04_PLAN = [(50.0, "rrrGGgrrrGGg"), (3.0, "rrryyyrrryyy"), (10.0, "GGgrrrGGgrrr"),
            (3.0, "yyyrrryyyrrr")]


def case(shared: Path, name: str) -> Path:
    return shared / "cases" / name


def programs(add_file: Path) -> dict[str, tuple[float, list[tuple[float, str]]]]:
    """programID → (offset, [(duration, state)]) of the tlLogics in an additional file."""
    out = {}
    for tl in ET.parse(add_file).getroot().iter("tlLogic"):
        phases = [(float(p.get("duration", "0")), p.get("state", ""))
                  for p in tl.iter("phase")]
        out[tl.get("programID", "")] = (float(tl.get("offset", "0")), phases)
    return out


def state_at(t: float, offset: float, phases: list[tuple[float, str]]) -> str:
    """The state a static program shows at time t, in SUMO's frame (t − offset) mod C."""
    x = (t - offset) % sum(d for d, _ in phases)
    for d, s in phases:
        if x < d:
            return s
        x -= d
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------
# c05: SUMO's default time-of-day switch


@pytest.mark.sumo
def test_c05_tod_switch_reports_six_green_to_red(shared_dir: Path) -> None:
    d = case(shared_dir, "c05-switch-without-yellow")
    progs = programs(d / "tod_switch.add.xml")
    before = state_at(299.0, *progs["day"])  # day, offset 0: 299 s is in phase 0 (0..42)
    after = state_at(300.0, *progs["eve"])  # eve, offset 45: (300-45) mod 90 = 75, phase 2
    assert (before, after) == ("rrrGGgrrrGGg", "GGgrrrGGgrrr")
    by_hand = [k for k, (a, b) in enumerate(zip(before, after, strict=True))
               if a in "Gg" and b == "r"]
    assert by_hand == [3, 4, 5, 9, 10, 11]

    report = observe(d / "corr.net.xml", additional_files=[d / "tod_switch.add.xml"],
                     thresholds=VEHICLE, end_s=420)
    assert report.backend == "libsumo"
    assert report.counts[G2R] == 6
    assert len(report.violations) == 6  # nothing else: yellows 3 s, greens >= 12 s
    assert {(v.time_s, v.tls_id, v.link_index) for v in report.violations} == {
        (300.0, "J1", k) for k in (3, 4, 5, 9, 10, 11)}


@pytest.mark.sumo
@pytest.mark.parametrize("step", [1.0, 0.4])
def test_safe_program_reports_zero(shared_dir: Path, step: float) -> None:
    """c01's anchored program, also with a step that does not divide its durations (SUMO then
    shows the 3 s yellows as 2.8 and 3.2 s: within a step, not a violation)."""
    d = case(shared_dir, "c01-offset-anchor")
    plan = programs(d / "off.add.xml")["off10"][1]
    report = observe(d / "corr.net.xml", additional_files=[d / "off.add.xml"],
                     thresholds={"J1": Thresholds.from_program(plan, min_green_s=10.0),
                                 "J2": VEHICLE},
                     begin_s=57600, end_s=57600 + 300, step_length_s=step, record_runs=True)
    assert report.is_safe, report.violations
    assert report.step_s == step
    yellows = {round(r.duration_s, 3) for r in report.runs
               if r.colour == "yellow" and r.tls_id == "J1" and not r.truncated}
    assert yellows == ({3.0} if step == 1.0 else {2.8, 3.2})
    # phase 0 (link 3 green) in the absolute frame: 57610 + k·90
    assert report.green_starts("J1", 3) == [57610.0, 57700.0, 57790.0, 57880.0]


# --------------------------------------------------------------------------------------------
# c04: start phase


def _set_logic_at_zero(start_index: int) -> Any:
    def control(conn: Any, t: float) -> None:
        if t == 0:
            tl = conn.trafficlight
            tl.setProgramLogic("J1", tl.Logic("c04", 0, start_index,
                                              [tl.Phase(d, s, d, d) for d, s in C04_PLAN]))
    return control


def _c04(shared: Path, control: Any) -> SafetyReport:
    return observe(case(shared, "c04-start-phase") / "corr.net.xml", tls_ids=["J1"],
                   thresholds=Thresholds.from_program(C04_PLAN, min_green_s=10.0), end_s=140,
                   control=control, record_runs=True)


@pytest.mark.sumo
def test_c04_naive_start_phase_is_flagged(shared_dir: Path) -> None:
    # index 2 (the 10 s green) held for phase 0's 50 s: every link green in it exceeds 10 s
    at2 = _c04(shared_dir, _set_logic_at_zero(2))
    assert at2.counts[ViolationKind.MAX_GREEN] == 6
    assert {v.link_index for v in at2.violations} == {0, 1, 2, 6, 7, 8}
    assert all("green of 50 s from t=0" in v.detail for v in at2.violations)
    # index 3 (a 3 s yellow) held for 50 s: the case's "yellow held too long"
    at3 = _c04(shared_dir, _set_logic_at_zero(3))
    long = at3.of_kind(ViolationKind.YELLOW_TOO_LONG)
    assert {v.link_index for v in long} == {0, 1, 2, 6, 7, 8}
    assert all(v.time_s == 0 and "yellow of 50 s" in v.detail for v in long)


@pytest.mark.sumo
def test_c04_install_program_keeps_planned_durations(shared_dir: Path) -> None:
    done: list[Installation] = []

    def control(conn: Any, t: float) -> None:
        if t == 0:
            done.append(install_program(conn, "J1", "c04", C04_PLAN, offset_s=0.0,
                                        min_green_s=10.0))

    report = _c04(shared_dir, control)
    assert report.is_safe, report.violations
    # J1 showed the net's phase 0 (same state as the plan's phase 0): held to its anchored end
    assert (done[0].phase_index, done[0].hold_s, done[0].anchored_s) == (0, 50.0, 50.0)
    greens = [(r.start_s, r.duration_s) for r in report.runs
              if r.link_index == 0 and r.colour == "green"]
    assert greens == [(53.0, 10.0), (119.0, 10.0)]  # phase 2: its planned 10 s, every cycle
    yellows = [(r.start_s, r.duration_s) for r in report.runs
               if r.link_index == 3 and r.colour == "yellow"]
    assert yellows == [(50.0, 3.0), (116.0, 3.0)]


# --------------------------------------------------------------------------------------------
# c06: keeping the cycle anchored


@pytest.mark.sumo
def test_c06_install_program_anchors_the_offset(shared_dir: Path) -> None:
    d = case(shared_dir, "c06-program-switch-offset")
    offset, plan = programs(d / "progs.add.xml")["off30"]
    done: list[Installation] = []
    refused: list[str] = []

    def control(conn: Any, t: float) -> None:
        if t == 43:  # J2 shows the net program's yellow (42..45): no safe join
            with pytest.raises(UnsafeTransitionError, match=r"retry at .* t=45") as exc:
                install_program(conn, "J2", "off30", plan, offset_s=offset, min_green_s=10.0)
            refused.append(str(exc.value))
        if t == 100:
            done.append(install_program(conn, "J2", "off30", plan, offset_s=offset,
                                        min_green_s=10.0))

    report = observe(d / "corr.net.xml", tls_ids=["J2"], thresholds=VEHICLE, end_s=400,
                     control=control, record_runs=True)
    assert refused
    assert report.is_safe, report.violations
    # at 100 J2 is 10 s into the net's phase 0 (90..132); off30's phase 0 ends at 72 + k·90,
    # so the green is held to 162 (one 72 s green), then every phase runs to plan
    assert (done[0].phase_index, done[0].anchored_s) == (0, 162.0)
    starts = [t for t in report.green_starts("J2", 3) if t >= done[0].anchored_s]
    assert starts == [210.0, 300.0, 390.0]
    assert all((t - offset) % 90 == 0 for t in starts)
    assert [t for t in report.green_starts("J2", 0) if t > 100] == [165.0, 255.0, 345.0]


@pytest.mark.sumo
def test_c06_naive_set_program_logic_restarts_the_cycle(shared_dir: Path) -> None:
    d = case(shared_dir, "c06-program-switch-offset")
    offset, plan = programs(d / "progs.add.xml")["off30"]

    def control(conn: Any, t: float) -> None:
        if t == 100:
            tl = conn.trafficlight
            tl.setProgramLogic("J2", tl.Logic("off30", 0, 0,
                                              [tl.Phase(p, s, p, p) for p, s in plan]))

    report = observe(d / "corr.net.xml", tls_ids=["J2"], thresholds=VEHICLE, end_s=300,
                     control=control, record_runs=True)
    starts = [t for t in report.green_starts("J2", 3) if t > 100]
    assert starts == [190.0, 280.0]  # anchored at the call time, not at 30 + k·90
    assert all((t - offset) % 90 != 0 for t in starts)


@pytest.mark.sumo
def test_observe_falls_back_to_traci_while_libsumo_is_busy(shared_dir: Path) -> None:
    d = case(shared_dir, "c01-offset-anchor")
    inner: list[SafetyReport] = []

    def control(conn: Any, t: float) -> None:
        if t == 0:
            inner.append(observe(d / "corr.net.xml", additional_files=[d / "off.add.xml"],
                                 thresholds=VEHICLE, end_s=100, record_runs=True))

    outer = observe(d / "corr.net.xml", additional_files=[d / "off.add.xml"],
                    thresholds=VEHICLE, end_s=5, control=control)
    assert (outer.backend, inner[0].backend) == ("libsumo", "traci")
    assert inner[0].is_safe and inner[0].green_starts("J1", 3) == [10.0]


# --------------------------------------------------------------------------------------------
# the monitor on hand-made sequences


def feed(states: list[str], thresholds: Thresholds, step: float = 1.0) -> SafetyReport:
    m = SafetyMonitor(thresholds, step_s=step, record_runs=True)
    for i, s in enumerate(states):
        m.feed((i + 1) * step, "X", s)
    return m.report()


def test_all_red_and_min_green_are_counted_in_steps() -> None:
    lim = Thresholds(yellow_s=2.0, all_red_s=2.0, min_green_s=3.0)
    # link 0: 3 s green, 2 s yellow, red; link 1 turns green 1 s after link 0's yellow ended
    seq = ["Gr", "Gr", "Gr", "yr", "yr", "rr", "rG", "rG", "rG", "rr"]
    r = feed(seq, lim)
    assert [(v.time_s, v.link_index, v.kind) for v in r.violations] == [
        (6.0, 1, ViolationKind.ALL_RED_SKIPPED), (9.0, 1, G2R)]
    assert not feed(["Gr", "Gr", "Gr", "yr", "yr", "rr", "rr", "rG", "rG", "rG", "yG"],
                    lim).violations  # 2 s all-red; the last green still showing is not short
    short = feed(["rr", "Gr", "Gr", "yr", "yr", "rr"], lim)
    assert [(v.time_s, v.kind) for v in short.violations] == [(1.0, ViolationKind.MIN_GREEN)]
    assert "green of 2 s from t=1" in short.violations[0].detail


def test_yellow_counts_and_refusals() -> None:
    lim = Thresholds(yellow_s=3.0)
    r = feed(["G", "y", "y", "r", "G", "y", "y", "y", "y", "y"], lim)
    assert [(v.time_s, v.kind) for v in r.violations] == [
        (1.0, ViolationKind.YELLOW_TOO_SHORT), (5.0, ViolationKind.YELLOW_TOO_LONG)]
    assert "(still showing)" in r.violations[1].detail
    assert not feed(["y", "r", "G"], lim).violations  # a yellow cut by the start is not short
    assert [v.kind for v in feed(["G", "s", "G", "u", "G", "o"], lim).violations] == [G2R] * 3
    m = SafetyMonitor(lim, step_s=1.0)
    m.feed(1.0, "X", "G")
    with pytest.raises(InputError, match="one step"):
        m.feed(3.0, "X", "G")
    with pytest.raises(InputError, match="unknown characters"):
        m.feed(2.0, "X", "x")
    with pytest.raises(InputError, match="no thresholds for signal 'Y'"):
        SafetyMonitor({"X": lim}, step_s=1.0).feed(1.0, "Y", "G")


# --------------------------------------------------------------------------------------------
# properties


@st.composite
def safe_programs(draw: st.DrawFn) -> tuple[list[tuple[int, str]], Thresholds]:
    """A cyclic program built like greenwave's: each green phase, then a yellow for the links
    that stop (continuing links keep green), then an all-red; durations whole seconds."""
    n = draw(st.integers(1, 5))
    yellow, all_red, min_green = draw(st.integers(1, 4)), draw(st.integers(0, 3)), \
        draw(st.integers(1, 8))
    greens = draw(st.lists(st.text("Ggr", min_size=n, max_size=n), min_size=2, max_size=4))
    phases: list[tuple[int, str]] = []
    for k, now in enumerate(greens):
        nxt = greens[(k + 1) % len(greens)]
        stays = [a in "Gg" and b in "Gg" for a, b in zip(now, nxt, strict=True)]
        phases.append((draw(st.integers(min_green, min_green + 20)), now))
        phases.append((yellow, "".join(a if a not in "Gg" or s else "y"
                                       for a, s in zip(now, stays, strict=True))))
        if all_red:
            phases.append((all_red, "".join(a if s else "r"
                                            for a, s in zip(now, stays, strict=True))))
    return phases, Thresholds(float(yellow), all_red_s=float(all_red),
                              min_green_s=float(min_green))


def expand(phases: list[tuple[int, str]], start: int, seconds: int) -> list[str]:
    """Per-second states from second *start* of the cycle on."""
    per_second = [s for d, s in phases for _ in range(d)]
    return [per_second[(start + i) % len(per_second)] for i in range(seconds)]


@settings(max_examples=150, deadline=None)
@given(safe_programs(), st.integers(0, 400), st.integers(1, 3))
def test_valid_programs_give_no_violation(
    program: tuple[list[tuple[int, str]], Thresholds], start: int, cycles: int
) -> None:
    phases, lim = program
    seq = expand(phases, start, cycles * sum(d for d, _ in phases))
    assert feed(seq, lim).violations == ()


@settings(max_examples=150, deadline=None)
@given(safe_programs(), st.integers(0, 400), st.data())
def test_a_green_to_red_jump_is_always_detected(
    program: tuple[list[tuple[int, str]], Thresholds], start: int, data: st.DataObject
) -> None:
    phases, lim = program
    seq = expand(phases, start, 2 * sum(d for d, _ in phases))
    mid_green = [(i, k) for i in range(1, len(seq)) for k, c in enumerate(seq[i])
                 if c in "Gg" and seq[i - 1][k] in "Gg"]
    assume(mid_green)
    i, k = data.draw(st.sampled_from(mid_green))
    seq[i] = seq[i][:k] + "r" + seq[i][k + 1:]
    found = feed(seq, lim).of_kind(G2R)
    assert [(v.time_s, v.link_index) for v in found] == [(float(i), k)]
