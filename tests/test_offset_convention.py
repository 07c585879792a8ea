"""SUMO's offset convention and program activation, pinned by experiment (libsumo).

The convention greenwave uses everywhere (``greenwave.plan``): the time in cycle at absolute
simulation time t is ``(t - offset) mod C``, so phase 0 starts at ``t = offset + k·C``, whatever
``--begin`` is.

How a phase start is counted: with 1 s steps, a phase that starts at t0 is first read back
(``getPhase``/``getRedYellowGreenState``) after the step that *ends* at t0 + 1; at that moment
``getSpentDuration`` is 1 s. greenwave counts the start as ``getTime() - getSpentDuration()``,
i.e. t0 (c01: phase 0 read back first after the step ending at 57611 started at 57610, the time
the preceding yellow announced as its next switch).
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from greenwave.corridor import Corridor, Intersection, Phase
from greenwave.plan import plan_from_offsets
from greenwave.sumo.binaries import binary, sumo_env
from greenwave.sumo.netbuild import build_network
from greenwave.sumo.programs import write_programs

libsumo = pytest.importorskip("libsumo")

pytestmark = pytest.mark.sumo

REPO = Path(__file__).resolve().parents[1]
C01 = REPO.parent / "shared" / "cases" / "c01-offset-anchor"


@contextmanager
def simulation(*args: str) -> Iterator[None]:
    libsumo.start(["sumo", *args, "--no-step-log", "true", "--no-warnings", "false"])
    try:
        yield
    finally:
        libsumo.close()


def phase_starts(tls: str, seconds: int) -> list[tuple[float, int]]:
    """(start time, phase index) of every phase that starts during the next *seconds* steps."""
    starts: list[tuple[float, int]] = []
    last = libsumo.trafficlight.getPhase(tls)
    for _ in range(seconds):
        libsumo.simulationStep()
        phase = libsumo.trafficlight.getPhase(tls)
        if phase != last:
            start = libsumo.simulation.getTime() - libsumo.trafficlight.getSpentDuration(tls)
            starts.append((start, phase))
            last = phase
    return starts


def starts_of(phase: int, starts: list[tuple[float, int]]) -> list[float]:
    return [t for t, p in starts if p == phase]


# --------------------------------------------------------------------------------------------
# a one-signal net built here from plain XML (independent of greenwave's builder)


@pytest.fixture(scope="module")
def one_signal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A four-arm signalized cross; returns the net and its default program's states."""
    d = tmp_path_factory.mktemp("one_signal")
    nodes = ET.Element("nodes")
    for ident, x, y, kind in (("C", 0, 0, "traffic_light"), ("N", 0, 200, "priority"),
                              ("S", 0, -200, "priority"), ("W", -200, 0, "priority"),
                              ("E", 200, 0, "priority")):
        ET.SubElement(nodes, "node", id=ident, x=str(x), y=str(y), type=kind)
    edges = ET.Element("edges")
    for arm in "NSWE":
        ET.SubElement(edges, "edge", {"id": f"{arm}C", "from": arm, "to": "C", "numLanes": "1",
                                      "speed": "13.89"})
        ET.SubElement(edges, "edge", {"id": f"C{arm}", "from": "C", "to": arm, "numLanes": "1",
                                      "speed": "13.89"})
    ET.ElementTree(nodes).write(d / "x.nod.xml")
    ET.ElementTree(edges).write(d / "x.edg.xml")
    subprocess.run([str(binary("netconvert")), "-n", "x.nod.xml", "-e", "x.edg.xml",
                    "-o", "x.net.xml", "--no-turnarounds"], cwd=d, env=sumo_env(), check=True,
                   capture_output=True)
    net = d / "x.net.xml"
    logic = ET.parse(net).getroot().find("tlLogic")
    assert logic is not None
    states = [p.get("state", "") for p in logic.findall("phase")]
    assert len(states) == 4  # green, yellow, green, yellow: one-lane arms have no left phase
    return net, states


def write_program(path: Path, program_id: str, offset: float,
                  phases: list[tuple[float, str]]) -> Path:
    root = ET.Element("additional")
    tl = ET.SubElement(root, "tlLogic", id="C", type="static", programID=program_id,
                       offset=f"{offset:g}")
    for duration, state in phases:
        ET.SubElement(tl, "phase", duration=f"{duration:g}", state=state)
    ET.ElementTree(root).write(path)
    return path


@pytest.mark.parametrize("begin", [0, 57600, 1234])
def test_phase_0_starts_at_offset_plus_k_cycles(one_signal: tuple[Path, list[str]], tmp_path: Path,
                                                begin: int) -> None:
    net, states = one_signal
    cycle, offset = 70, 17  # 57600 is not a multiple of 70: a begin-anchored frame would show
    add = write_program(tmp_path / "p.add.xml", "p17", offset,
                        list(zip((37, 3, 27, 3), states, strict=True)))
    with simulation("-n", str(net), "-a", str(add), "--begin", str(begin)):
        starts = phase_starts("C", 3 * cycle)
    expected = [t for t in range(begin + 1, begin + 3 * cycle + 1) if (t - offset) % cycle == 0]
    assert starts_of(0, starts) == expected
    # The other phases keep their durations: phase 2 starts 37 + 3 s after phase 0.
    assert starts_of(2, starts) == [t for t in range(begin + 1, begin + 3 * cycle + 1)
                                    if (t - offset - 40) % cycle == 0]


def test_last_loaded_program_is_active(one_signal: tuple[Path, list[str]], tmp_path: Path) -> None:
    net, states = one_signal
    a = write_program(tmp_path / "a.add.xml", "first", 0,
                      list(zip((30, 3, 30, 3), states, strict=True)))
    b = write_program(tmp_path / "b.add.xml", "second", 5,
                      list(zip((20, 3, 40, 3), states, strict=True)))
    with simulation("-n", str(net), "-a", f"{a},{b}"):
        assert libsumo.trafficlight.getProgram("C") == "second"
        ids = {lg.programID for lg in libsumo.trafficlight.getAllProgramLogics("C")}
        assert ids == {"0", "first", "second"}  # the net's own program stays available
        starts = phase_starts("C", 80)
    assert starts_of(0, starts) == [5, 71]  # the "second" program, offset 5, cycle 66


# --------------------------------------------------------------------------------------------
# the shared case c01


needs_c01 = pytest.mark.skipif(not C01.is_dir(), reason="shared case c01 not available")


@needs_c01
@pytest.mark.parametrize(("begin", "expected"), [(0, [10.0, 100.0]),
                                                 (57600, [57610.0, 57700.0])])
def test_c01_offset_is_anchored_at_time_zero(begin: int, expected: list[float]) -> None:
    with simulation("-n", str(C01 / "corr.net.xml"), "-a", str(C01 / "off.add.xml"),
                    "--begin", str(begin)):
        assert libsumo.trafficlight.getProgram("J1") == "off10"  # the loaded program is active
        starts = phase_starts("J1", 180)
    assert starts_of(0, starts) == expected


@needs_c01
def test_c01_reading_around_the_switch() -> None:
    """The exact readings the case describes, and how greenwave counts them."""
    with simulation("-n", str(C01 / "corr.net.xml"), "-a", str(C01 / "off.add.xml"),
                    "--begin", "57600"):
        tl = libsumo.trafficlight
        while libsumo.simulation.getTime() < 57610:
            libsumo.simulationStep()
        assert libsumo.simulation.getTime() == 57610
        assert tl.getPhase("J1") == 3  # still the yellow before phase 0 ...
        assert tl.getRedYellowGreenState("J1") == "yyyrrryyyrrr"
        assert tl.getNextSwitch("J1") == 57610  # ... announcing its switch at 57610
        libsumo.simulationStep()  # the step that ends at 57611
        assert tl.getPhase("J1") == 0
        assert tl.getRedYellowGreenState("J1") == "rrrGGgrrrGGg"
        assert tl.getSpentDuration("J1") == 1
        # greenwave's count: the phase started at getTime() - getSpentDuration() = 57610.
        assert libsumo.simulation.getTime() - tl.getSpentDuration("J1") == 57610
        assert tl.getNextSwitch("J1") == 57610 + 42


# --------------------------------------------------------------------------------------------
# greenwave's own writer


def test_written_program_is_active_and_anchored(tmp_path: Path) -> None:
    phases = (
        Phase("main", 40.0, protected=frozenset({"out_T", "out_R", "in_T", "in_R"}),
              permitted=frozenset({"out_L", "in_L"})),
        Phase("cross", 25.0, protected=frozenset({"cross_T", "cross_R", "cross_L"})),
    )
    cycle = sum(p.duration_s for p in phases)  # 75 s
    corridor = Corridor(
        name="pair",
        intersections=tuple(
            Intersection(id=i, position_m=pos, green_out_s=40.0, green_in_s=40.0,
                         through_lanes=1, cross_lanes=1, phases=phases)
            for i, pos in (("J1", 0.0), ("J2", 300.0))
        ),
        cycle_s=cycle,
    )
    layout = build_network(corridor, tmp_path / "net")
    plan = plan_from_offsets(corridor, [10.0, 80.0], program_id="gw")
    assert plan.offsets_s == (10.0, 5.0)  # 80 mod 75
    add = write_programs(plan, layout.net_file, corridor, layout, tmp_path / "gw.add.xml")
    with simulation("-n", str(layout.net_file), "-a", str(add), "--begin", "57600"):
        assert libsumo.trafficlight.getProgram("J1") == "gw"
        assert libsumo.trafficlight.getProgram("J2") == "gw"
        s1 = phase_starts("J1", 2 * int(cycle))
    assert starts_of(0, s1) == [t for t in range(57601, 57601 + 150) if (t - 10) % 75 == 0]
