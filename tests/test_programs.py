"""Signal programs: link classification, phase states, safety checks, files and SUMO runs."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest

from greenwave.corridor import Corridor, Intersection, Phase
from greenwave.errors import InputError
from greenwave.plan import SignalTiming, TimingPlan, plan_from_offsets
from greenwave.sumo.binaries import binary, sumo_env
from greenwave.sumo.netbuild import NetworkLayout, build_network
from greenwave.sumo.programs import (
    UnsafeProgramError,
    check_program,
    movement_map,
    program_phases,
    program_states,
    set_program_logic,
    write_programs,
)

libsumo = pytest.importorskip("libsumo")

REPO = Path(__file__).resolve().parents[1]
C04 = REPO.parent / "shared" / "cases" / "c04-start-phase"

MAJOR = (
    Phase("main through", 40.0, protected=frozenset({"out_T", "out_R", "in_T", "in_R"})),
    Phase("main left", 12.0, all_red_s=1.0, protected=frozenset({"out_L", "in_L"})),
    Phase("cross", 25.0, min_green_s=20.0, yellow_s=4.0, protected=frozenset({"cross_T",
                                                                              "cross_R"}),
          permitted=frozenset({"cross_L"})),
)  # 45 + 16 + 31 = 92 s
MINOR = (
    Phase("main", 55.0, protected=frozenset({"out_T", "out_R", "in_T", "in_R"}),
          permitted=frozenset({"out_L", "in_L"})),
    Phase("cross", 27.0, protected=frozenset({"cross_T", "cross_R"}),
          permitted=frozenset({"cross_L"})),
)  # 60 + 32 = 92 s
CYCLE = 92.0

Built = tuple[Corridor, NetworkLayout]


def corridor() -> Corridor:
    def signal(ident: str, pos: float, lanes: int, bay: bool, phases: tuple[Phase, ...]
               ) -> Intersection:
        return Intersection(id=ident, position_m=pos, green_out_s=40.0, green_in_s=40.0,
                            through_lanes=lanes, cross_lanes=2 if phases is MAJOR else 1,
                            left_turn_bay=bay, major=phases is MAJOR, phases=phases)

    return Corridor(
        name="three",
        intersections=(signal("A", 0.0, 3, True, MAJOR), signal("B", 350.0, 2, False, MINOR),
                       signal("C", 800.0, 2, True, MAJOR)),
        cycle_s=CYCLE,
        approach_m=150.0,
        cross_link_m=120.0,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Corridor, NetworkLayout]:
    c = corridor()
    return c, build_network(c, tmp_path_factory.mktemp("three"))


# --------------------------------------------------------------------------------------------
# movement classification


def test_movement_map_follows_edges_and_directions(built: Built) -> None:
    c, layout = built
    links = movement_map(layout.net_file, c, layout)
    # Independent reading of the net: every controlled connection with its from-edge and dir.
    net = ET.parse(layout.net_file).getroot()
    for conn in net.iter("connection"):
        tls = conn.get("tl")
        if not tls:
            continue
        idx = int(conn.get("linkIndex", "-1"))
        src, d = conn.get("from"), conn.get("dir")
        movement = links[tls][idx]
        if movement == "out_T":
            assert src == layout.out_approach[tls] and d == "s"
        if src == layout.out_approach[tls] and d == "s":
            assert movement == "out_T"
        if src in (layout.cross_edges[tls].west_in, layout.cross_edges[tls].east_in):
            assert movement.startswith("cross_")
        if src == layout.in_approach[tls] and d == "l":
            assert movement == "in_L"
            # the left turn leaves from the bay (the extra leftmost lane) where there is one
            lane = int(conn.get("fromLane", "-1"))
            assert lane == {"A": 3, "B": 1, "C": 2}[tls]


def test_movement_counts_per_signal(built: Built) -> None:
    c, layout = built
    links = movement_map(layout.net_file, c, layout)
    a = Counter(links["A"].values())
    # 3 through lanes each way, one right and one left link per main approach; two cross
    # approaches with 2 lanes: 2 through links each, one right, one left.
    assert a == {"out_T": 3, "out_R": 1, "out_L": 1, "in_T": 3, "in_R": 1, "in_L": 1,
                 "cross_T": 4, "cross_R": 2, "cross_L": 2}
    b = Counter(links["B"].values())
    assert b == {"out_T": 2, "out_R": 1, "out_L": 1, "in_T": 2, "in_R": 1, "in_L": 1,
                 "cross_T": 2, "cross_R": 2, "cross_L": 2}
    assert sorted(links["A"]) == list(range(18))


def test_unknown_link_names_signal_and_index(built: Built) -> None:
    c, layout = built
    broken = replace(layout, out_edges=tuple(e for e in layout.out_edges
                                             if e != layout.out_approach["B"]))
    edge = layout.out_approach["B"]
    with pytest.raises(InputError, match=rf"signal B link \d+: incoming edge '{edge}'"):
        movement_map(layout.net_file, c, broken)


# --------------------------------------------------------------------------------------------
# states


LINKS = {0: "out_T", 1: "out_L", 2: "in_T", 3: "in_L", 4: "cross_T", 5: "cross_R"}
PLAN3 = (
    Phase("main", 30.0, yellow_s=3.0, all_red_s=2.0, protected=frozenset({"out_T", "in_T"}),
          permitted=frozenset({"out_L", "in_L"})),
    Phase("lead out", 10.0, yellow_s=3.0, all_red_s=1.0,
          protected=frozenset({"out_T", "out_L"})),
    Phase("cross", 20.0, yellow_s=4.0, all_red_s=0.0,
          protected=frozenset({"cross_T", "cross_R"})),
)


def test_program_states_of_a_hand_written_plan() -> None:
    expected = [
        (30.0, "GgGgrr"),  # main: through protected, lefts permitted
        (3.0, "Ggyyrr"),  # inbound stops; outbound through and left continue into lead out
        (2.0, "Ggrrrr"),
        (10.0, "GGrrrr"),  # lead out: outbound left now protected
        (3.0, "yyrrrr"),
        (1.0, "rrrrrr"),
        (20.0, "rrrrGG"),
        (4.0, "rrrryy"),  # no all-red phase: its length is 0
    ]
    assert program_states(PLAN3, LINKS) == expected
    assert sum(d for d, _ in expected) == sum(p.duration_s for p in PLAN3)
    names = [p.name for p in program_phases(PLAN3, LINKS)]
    assert names[:3] == ["main", "main: yellow", "main: all-red"]
    assert check_program(expected, {0: 10, 1: 10, 2: 10, 3: 10, 4: 20, 5: 20}, 3.0) == []


def test_yellow_only_for_links_that_stop() -> None:
    states = program_states(PLAN3, LINKS)
    for (_, green), (_, yellow) in zip(states[0::3][:2], states[1::3][:2], strict=True):
        for g, y in zip(green, yellow, strict=True):
            assert y in (g, "y")
    assert states[1][1][0] == "G" and states[1][1][2] == "y"


def test_gaps_in_link_indices_are_refused() -> None:
    with pytest.raises(InputError, match="link indices"):
        program_states(PLAN3, {0: "out_T", 2: "in_T"})


# --------------------------------------------------------------------------------------------
# safety check


def test_check_program_catches_green_to_red_without_yellow() -> None:
    problems = check_program([(30, "Gr"), (30, "rG")], 10, 3)
    assert len(problems) == 2
    assert all("without yellow" in p for p in problems)
    # across a cycle boundary too
    problems = check_program([(30, "rG"), (3, "ry"), (30, "Gr")], 10, 3)
    assert any("link 0" in p and "without yellow" in p for p in problems)


def test_check_program_catches_a_short_yellow() -> None:
    problems = check_program([(30, "Gr"), (2, "yr"), (30, "rG"), (3, "ry")], 10, 3)
    assert len(problems) == 1
    assert "link 0" in problems[0] and "yellow of 2 s" in problems[0]


def test_check_program_catches_a_short_green() -> None:
    problems = check_program([(5, "Gr"), (3, "yr"), (30, "rG"), (3, "ry")], 10, 3,
                             tls_id="X")
    assert problems == ["signal X: link 0: green of 5 s from phase 0 is below its minimum "
                        "(10 s)"]
    # A green spanning two phases counts once: 6 + 6 s is a 12 s green.
    assert check_program([(6, "Gr"), (6, "Gr"), (3, "yr"), (30, "rG"), (3, "ry")], 10,
                         3) == []


def test_check_program_other_faults() -> None:
    assert check_program([(30, "Gr"), (3, "yr"), (2, "rr"), (30, "rG"), (3, "ry"),
                          (2, "rr")], 10, 3) == []
    assert any("yellow → green" in p for p in
               check_program([(30, "Gr"), (3, "yG"), (30, "GG"), (3, "yy")], 1, 3))
    assert check_program([(30, "Gr"), (3, "y")], 1, 3) == [
        "phase states differ in length: [1, 2]"]


def test_write_programs_refuses_unsafe_plans(built: Built, tmp_path: Path) -> None:
    c, layout = built
    no_yellow = tuple(replace(p, yellow_s=0.0, all_red_s=p.all_red_s + p.yellow_s)
                      for p in MAJOR)
    short_green = (replace(MAJOR[0], green_s=MAJOR[0].green_s - 35.0),
                   MAJOR[1], replace(MAJOR[2], green_s=MAJOR[2].green_s + 35.0))
    for phases, message in ((no_yellow, "without yellow"), (short_green, "below its minimum")):
        plan = plan_from_offsets(c, [0, 0, 0])
        signals = (replace(plan.signals[0], phases=phases), *plan.signals[1:])
        out = tmp_path / "unsafe.add.xml"
        with pytest.raises(UnsafeProgramError, match=message):
            write_programs(replace(plan, signals=signals), layout.net_file, c, layout, out)
        assert not out.exists()


# --------------------------------------------------------------------------------------------
# files


def test_written_offsets_lie_in_one_cycle(built: Built, tmp_path: Path) -> None:
    c, layout = built
    signals = tuple(
        SignalTiming(id=i.id, offset_s=off, green_out_start_s=0.0, green_out_s=40.0,
                     green_in_start_s=0.0, green_in_s=40.0, phases=i.phases)
        for i, off in zip(c.intersections, (-10.0, 200.0, 91.9999), strict=True)
    )
    plan = TimingPlan(corridor="three", cycle_s=CYCLE, speed_out_kmh=50, speed_in_kmh=50,
                      bandwidth_out_s=0, bandwidth_in_s=0, band_out_start_s=0,
                      band_in_start_s=0, signals=signals, program_id="gw-test")
    out = write_programs(plan, layout.net_file, c, layout, tmp_path / "p.add.xml")
    root = ET.parse(out).getroot()
    logics = root.findall("tlLogic")
    assert [lg.get("id") for lg in logics] == ["A", "B", "C"]
    offsets = [float(lg.get("offset", "nan")) for lg in logics]
    assert offsets == [82.0, 16.0, 0.0]  # -10 → 82, 200 → 16, 91.9999 → 92 ≡ 0
    assert all(0 <= o < CYCLE for o in offsets)
    for lg in logics:
        assert lg.get("type") == "static" and lg.get("programID") == "gw-test"
        total = sum(float(p.get("duration", "nan")) for p in lg.findall("phase"))
        assert total == pytest.approx(CYCLE)
        assert all(p.get("name") for p in lg.findall("phase"))
    # A: 3 plan phases × (green, yellow, all-red); B: 2 × 3.
    assert [len(lg.findall("phase")) for lg in logics] == [9, 6, 9]


# --------------------------------------------------------------------------------------------
# SUMO runs


@pytest.mark.sumo
def test_written_programs_load_without_warnings(built: Built, tmp_path: Path) -> None:
    c, layout = built
    plan = plan_from_offsets(c, [0.0, 30.0, 61.5])
    add = write_programs(plan, layout.net_file, c, layout, tmp_path / "gw.add.xml")
    log = tmp_path / "sumo.log"
    result = subprocess.run(
        [str(binary("sumo")), "-n", str(layout.net_file), "-a", str(add), "--end", "200",
         "--no-step-log", "true", "--log", str(log)],
        capture_output=True, text=True, env=sumo_env(), check=False,
    )
    assert result.returncode == 0, result.stderr
    text = log.read_text(encoding="utf-8")
    assert "Warning" not in text and "Error" not in text, text


def observe(tls_ids: list[str], seconds: int) -> dict[str, list[tuple[float, int]]]:
    """Start time (getTime - getSpentDuration) and index of every phase change, per signal."""
    last = {t: libsumo.trafficlight.getPhase(t) for t in tls_ids}
    seen: dict[str, list[tuple[float, int]]] = {t: [] for t in tls_ids}
    for _ in range(seconds):
        libsumo.simulationStep()
        for t in tls_ids:
            p = libsumo.trafficlight.getPhase(t)
            if p != last[t]:
                start = libsumo.simulation.getTime() - libsumo.trafficlight.getSpentDuration(t)
                seen[t].append((start, p))
                last[t] = p
    return seen


@pytest.mark.sumo
def test_written_plan_runs_with_its_durations_and_offsets(built: Built, tmp_path: Path) -> None:
    c, layout = built
    plan = plan_from_offsets(c, [7.0, 50.0, 88.0])
    add = write_programs(plan, layout.net_file, c, layout, tmp_path / "gw.add.xml")
    links = movement_map(layout.net_file, c, layout)
    begin = 57600
    libsumo.start(["sumo", "-n", str(layout.net_file), "-a", str(add), "--begin", str(begin),
                   "--no-step-log", "true"])
    try:
        assert all(libsumo.trafficlight.getProgram(t) == "greenwave" for t in layout.tls_ids)
        seen = observe(list(layout.tls_ids), int(3 * CYCLE))
    finally:
        libsumo.close()
    for i, timing in zip(c.intersections, plan.signals, strict=True):
        durations = [d for d, _ in program_states(i.phases, links[i.id])]
        starts = seen[i.id]
        n = len(durations)
        # every observed phase lasted exactly its programmed duration
        for (t0, p0), (t1, _) in pairwise(starts):
            assert t1 - t0 == pytest.approx(durations[p0]), (i.id, p0)
        # phase 0 starts at offset + k·C in absolute time
        zero = [t for t, p in starts if p == 0]
        assert zero and all((t - timing.offset_s) % CYCLE == pytest.approx(0) for t in zero)
        assert len(starts) >= 2 * n


@pytest.mark.sumo
def test_set_program_logic_keeps_the_started_phase_duration(built: Built) -> None:
    """c04: a program installed at run time, started at phase k, runs phase k for its own
    duration (SUMO alone would run it for phase 0's duration)."""
    c, layout = built
    links = movement_map(layout.net_file, c, layout)
    phases = program_phases(MAJOR, links["A"])
    start_at = 3  # "main left" green: 12 s, while phase 0 lasts 40 s
    libsumo.start(["sumo", "-n", str(layout.net_file), "--begin", "100", "--no-step-log",
                   "true"])
    try:
        set_program_logic(libsumo, "A", "runtime", phases, phase_index=start_at)
        assert libsumo.trafficlight.getProgram("A") == "runtime"
        assert libsumo.trafficlight.getPhase("A") == start_at
        seen = observe(["A"], int(CYCLE) + 20)["A"]
    finally:
        libsumo.close()
    expected = [100.0]
    for k in range(start_at, start_at + len(phases) + 1):
        expected.append(expected[-1] + phases[k % len(phases)].duration_s)
    starts = [t for t, _ in seen]
    assert starts[: len(expected) - 1] == expected[1:]
    assert [p for _, p in seen][:3] == [4, 5, 6]


needs_c04 = pytest.mark.skipif(not C04.is_dir(), reason="shared case c04 not available")


@needs_c04
@pytest.mark.sumo
def test_c04_start_phase_keeps_its_duration() -> None:
    """c04's program 50/3/10/3 s started at index 2 shows a 10 s phase 2."""
    libsumo.start(["sumo", "-n", str(C04 / "corr.net.xml"), "--no-step-log", "true"])
    try:
        program = [(50.0, "rrrGGgrrrGGg"), (3.0, "rrryyyrrryyy"), (10.0, "GGgrrrGGgrrr"),
                   (3.0, "yyyrrryyyrrr")]
        set_program_logic(libsumo, "J1", "c04", program, phase_index=2)
        seen = observe(["J1"], 80)["J1"]
    finally:
        libsumo.close()
    assert seen[:3] == [(10.0, 3), (13.0, 0), (63.0, 1)]
