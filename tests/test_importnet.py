"""Corridor import from a SUMO network: small nets built here with netconvert, the shared cases
c02 (an 's' movement) and the ingolstadt7 arterial, and the refusals."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from greenwave.corridor import load_corridor
from greenwave.errors import InputError
from greenwave.sumo.binaries import binary, sumo_env
from greenwave.sumo.importnet import (
    coordinated_corridor,
    explain,
    import_corridor,
    write_corridor_spec,
)

pytestmark = pytest.mark.sumo

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
C02 = SHARED / "cases" / "c02-s-state"

# --------------------------------------------------------------------------------------------
# building small nets: plain XML written here, then netconvert

Node = tuple[Any, ...]  # id, x, y, type, and optionally the tl id
Edge = tuple[str, str, str, float, float]  # id, from, to, length [m], speed [m/s]
Link = tuple[str, str, str, int]  # from edge, to edge, tl id, link index
Program = tuple[str, str, list[tuple[float, str]]]  # tl id, programID, phases


def _write(root: ET.Element, path: Path) -> None:
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def build_net(out: Path, nodes: list[Node], edges: list[Edge], links: list[Link],
              programs: list[Program]) -> Path:
    """netconvert a net whose signal programs and link indices are exactly the ones given."""
    out.mkdir(parents=True, exist_ok=True)
    nod = ET.Element("nodes")
    for ident, x, y, kind, *joined in nodes:
        attrs = {"id": ident, "x": str(x), "y": str(y), "type": kind}
        if joined:  # nodes sharing a tl id form one signal
            attrs["tl"] = str(joined[0])
        ET.SubElement(nod, "node", attrs)
    edg = ET.Element("edges")
    for ident, a, b, length, speed in edges:
        ET.SubElement(edg, "edge", {"id": ident, "from": a, "to": b, "numLanes": "1",
                                    "length": str(length), "speed": str(speed)})
    con = ET.Element("connections")
    tll = ET.Element("tlLogics")
    for tl, program_id, phases in programs:
        logic = ET.SubElement(tll, "tlLogic", id=tl, programID=program_id, offset="0",
                              type="static")
        for duration, state in phases:
            ET.SubElement(logic, "phase", duration=str(duration), state=state)
    for a, b, tl, index in links:
        ET.SubElement(con, "connection", {"from": a, "to": b, "fromLane": "0", "toLane": "0"})
        ET.SubElement(tll, "connection", {"from": a, "to": b, "fromLane": "0", "toLane": "0",
                                          "tl": tl, "linkIndex": str(index)})
    for root, name in ((nod, "n.nod.xml"), (edg, "n.edg.xml"), (con, "n.con.xml"),
                       (tll, "n.tll.xml")):
        _write(root, out / name)
    net = out / "n.net.xml"
    result = subprocess.run(
        [str(binary("netconvert")), "-n", "n.nod.xml", "-e", "n.edg.xml", "-x", "n.con.xml",
         "-i", "n.tll.xml", "-o", net.name, "--no-turnarounds", "true",
         "--tls.default-type", "static"],
        cwd=out, capture_output=True, text=True, env=sumo_env(), check=False)
    assert result.returncode == 0, result.stderr
    return net


# --------------------------------------------------------------------------------------------
# the arterial: A, B and the joined signal C (nodes C1, C2), two-way, one lane per direction
#
#   W --150-- A --300-- B --250-- C1 -30- C2 --200-- E      (outbound W → E)
#
# A (60 s): 0 WA→AB s, 1 WA→As r, 2 BA→AW s, 3 BA→An r, 4 sA→An s, 5 sA→AB r ('s' always),
#           6 nA→As s, 7 nA→AW r, 8 BA→As l
# B (60 s): 0 AB→BC1 s, 1 AB→Bs r, 2 C1B→BA s, 3 C1B→Bn r, 4 nB→Bs s, 5 sB→Bn s
#           outbound leads by 10 s: out 30 s @ 0, in 20 s @ 10, shift +10
# C (70 s): C1: 0 BC1→C1C2 s, 1 BC1→Cn l, 2 C2C1→C1B s, 3 C2C1→Cn r, 4 nC→C1B r, 5 nC→C1C2 l;
#           C2: 6 C1C2→C2E s, 7 C1C2→Cs r, 8 EC2→C2C1 s, 9 EC2→Cs l, 10 sC→C2E r, 11 sC→C2C1 l
#           out (links 0, 6) 30 s @ 0 (link 6 alone is also green in the cross phase),
#           in (links 8, 2) 25 s @ 5, shift +5

V50, V60 = 13.89, 16.67

ARTERIAL_PROGRAMS: list[Program] = [
    ("A", "0", [(27, "GgGgrsrrg"), (3, "yyyyrsrry"), (25, "rrrrGsGgr"), (3, "rrrrysyyr"),
                (2, "rrrrrsrrr")]),
    ("B", "0", [(10, "Grrrrr"), (20, "GgGgrr"), (3, "yyyyrr"), (2, "rrrrrr"), (20, "rrrrGG"),
                (3, "rrrryy"), (2, "rrrrrr")]),
    ("C", "0", [(5, "GrrrrrGgrrrr"), (25, "GgGgrrGgGgrr"), (3, "yyyyrryyyyrr"),
                (2, "rrrrrrrrrrrr"), (30, "rrrrGgGrrrGg"), (3, "rrrryyyrrryy"),
                (2, "rrrrrrrrrrrr")]),
]


def build_arterial(out: Path) -> Path:
    """A 3-signal arterial: A 60 s, B 60 s, C (joined C1+C2) 70 s, with cross streets."""
    tl = "traffic_light"
    nodes: list[Node] = [("W", -150, 0, "priority"), ("A", 0, 0, tl), ("B", 300, 0, tl),
             ("C1", 550, 0, tl, "C"), ("C2", 580, 0, tl, "C"), ("E", 780, 0, "priority"),
             ("NA", 0, 150, "priority"), ("SA", 0, -150, "priority"),
             ("NB", 300, 150, "priority"), ("SB", 300, -150, "priority"),
             ("NC", 550, 150, "priority"), ("SC", 580, -150, "priority")]
    main = [("WA", "W", "A", 150, V50), ("AB", "A", "B", 300, V50), ("BC1", "B", "C1", 250, V60),
            ("C1C2", "C1", "C2", 30, V60), ("C2E", "C2", "E", 200, V50)]
    edges: list[Edge] = [*main, *[(f"{b}{a}" if len(b) + len(a) == 2 else _rev(i), b, a, ln, v)
                                  for i, a, b, ln, v in main]]
    for leg, node, side in (("nA", "A", "NA"), ("sA", "A", "SA"), ("nB", "B", "NB"),
                            ("sB", "B", "SB"), ("nC", "C1", "NC"), ("sC", "C2", "SC")):
        edges += [(leg, side, node, 150, V50), (node[0] + leg[0], node, side, 150, V50)]
    links: list[Link] = [
        ("WA", "AB", "A", 0), ("WA", "As", "A", 1), ("BA", "AW", "A", 2), ("BA", "An", "A", 3),
        ("sA", "An", "A", 4), ("sA", "AB", "A", 5), ("nA", "As", "A", 6), ("nA", "AW", "A", 7),
        ("BA", "As", "A", 8),
        ("AB", "BC1", "B", 0), ("AB", "Bs", "B", 1), ("C1B", "BA", "B", 2), ("C1B", "Bn", "B", 3),
        ("nB", "Bs", "B", 4), ("sB", "Bn", "B", 5),
        ("BC1", "C1C2", "C", 0), ("BC1", "Cn", "C", 1), ("C2C1", "C1B", "C", 2),
        ("C2C1", "Cn", "C", 3), ("nC", "C1B", "C", 4), ("nC", "C1C2", "C", 5),
        ("C1C2", "C2E", "C", 6), ("C1C2", "Cs", "C", 7), ("EC2", "C2C1", "C", 8),
        ("EC2", "Cs", "C", 9), ("sC", "C2E", "C", 10), ("sC", "C2C1", "C", 11),
    ]
    return build_net(out, nodes, edges, links, ARTERIAL_PROGRAMS)


@pytest.fixture(scope="module")
def arterial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_arterial(tmp_path_factory.mktemp("arterial"))


def _rev(edge_id: str) -> str:
    """Reverse edge id of the main road: WA → AW, BC1 → C1B, C1C2 → C2C1, C2E → EC2."""
    return {"BC1": "C1B", "C1C2": "C2C1", "C2E": "EC2"}[edge_id]


MAIN_ROUTE = ["WA", "AB", "BC1", "C1C2", "C2E"]


def test_arterial_signals_positions_links_and_windows(arterial: Path) -> None:
    ic = import_corridor(arterial, route=MAIN_ROUTE)
    assert [s.tls_id for s in ic.signals] == ["A", "B", "C"]
    assert [s.position_m for s in ic.signals] == pytest.approx([150.0, 450.0, 700.0])
    assert [s.node_ids for s in ic.signals] == [("A",), ("B",), ("C1", "C2")]
    assert [s.outbound.link_indices for s in ic.signals] == [(0,), (0,), (0, 6)]
    assert [s.inbound.link_indices for s in ic.signals if s.inbound] == [(2,), (2,), (2, 8)]
    assert [(s.outbound.green_s, s.outbound.green_start_s) for s in ic.signals] == [
        (27.0, 0.0), (30.0, 0.0), (30.0, 0.0)]
    assert [(s.inbound.green_s, s.inbound.green_start_s) for s in ic.signals if s.inbound] == [
        (27.0, 0.0), (20.0, 10.0), (25.0, 5.0)]
    assert [s.inbound_shift_s for s in ic.signals] == [0.0, 10.0, 5.0]
    assert [s.cycle_s for s in ic.signals] == [60.0, 60.0, 70.0]
    assert ic.common_cycle_s is None and ic.corridor.cycle_s is None
    assert ic.reverse_route == ("EC2", "C2C1", "C1B", "BA", "AW")
    assert not ic.reverse_route_given and not ic.one_way
    c_phases = ic.signals[2].phases
    assert [p.duration_s for p in c_phases] == [5, 25, 3, 2, 30, 3, 2]
    assert c_phases[4].state == "rrrrGgGrrrGg"
    # the corridor the optimizer sees
    i = ic.corridor.intersections
    assert [x.id for x in i] == ["A", "B", "C"]
    assert [(x.green_out_s, x.green_in_s, x.inbound_shift_s) for x in i] == [
        (27.0, 27.0, 0.0), (30.0, 20.0, 10.0), (30.0, 25.0, 5.0)]
    # speeds: 300 m at 50 km/h, 250 m at 60 km/h
    assert ic.link_speeds_kmh == pytest.approx((50.0, 60.0), abs=0.05)
    expected = 3.6 * 550 / (300 / V50 + 250 / V60)
    assert ic.corridor.speed_kmh == pytest.approx(expected)
    assert ic.corridor.speed_in_kmh == pytest.approx(expected)
    assert any("joined signal: 2 route nodes (C1, C2)" in n for n in ic.signals[2].notes)
    text = explain(ic)
    assert "joined signal" in text and "60 s ×2, 70 s ×1" in text
    assert "30 @ 0" in text and "20 @ 10" in text


def test_route_from_to_is_the_shortest_path(arterial: Path) -> None:
    ic = import_corridor(arterial, from_edge="WA", to_edge="C2E")
    assert ic.route == tuple(MAIN_ROUTE)
    assert import_corridor(arterial, route=" ".join(MAIN_ROUTE)).route == ic.route


def test_explicit_reverse_route(arterial: Path) -> None:
    ic = import_corridor(arterial, route=MAIN_ROUTE, reverse_route=["C2C1", "C1B", "BA"])
    assert ic.reverse_route_given
    # C2C1 starts inside C: the inbound passes C at C1 only (link 2); A is where it ends
    assert [s.inbound.link_indices for s in ic.signals if s.inbound] == [(2,), (2,), (2,)]
    assert ic.signals[0].inbound is not None and ic.signals[0].inbound.to_edge == "AW"


def test_write_spec_loads_back(arterial: Path, tmp_path: Path) -> None:
    ic = import_corridor(arterial, route=MAIN_ROUTE, name="arterial")
    csv_path, sidecar = write_corridor_spec(ic, tmp_path / "out" / "arterial.csv")
    assert sidecar == tmp_path / "out" / "arterial.import.json"
    corridor = load_corridor(csv_path, cycle_s=70.0)
    assert corridor.ids == ("A", "B", "C")
    assert [x.position_m for x in corridor.intersections] == [150.0, 450.0, 700.0]
    assert [(x.green_out_s, x.green_in_s, x.inbound_shift_s)
            for x in corridor.intersections] == [(27.0, 27.0, 0.0), (30.0, 20.0, 10.0),
                                                 (30.0, 25.0, 5.0)]
    assert corridor.speed_kmh == pytest.approx(round(ic.corridor.speed_kmh, 1))
    facts = json.loads(sidecar.read_text(encoding="utf-8"))
    assert facts["format"] == "greenwave.import/1"
    assert Path(facts["net_file"]) == arterial.resolve()
    assert (sidecar.parent / facts["net_file_relative"]).resolve() == arterial.resolve()
    c = facts["signals"][2]
    assert (c["tls_id"], c["program_id"], c["node_ids"]) == ("C", "0", ["C1", "C2"])
    assert c["outbound"]["link_indices"] == [0, 6]
    assert c["inbound"]["link_indices"] == [2, 8]
    assert [p["state"] for p in c["phases"]] == [s for _, s in ARTERIAL_PROGRAMS[2][2]]
    assert facts["route"] == MAIN_ROUTE and facts["one_way"] is False


def test_s_state_route_is_imported_but_not_coordinated(arterial: Path, tmp_path: Path) -> None:
    route = ["sA", "AB", "BC1", "C1C2", "C2E"]  # right turn at A, shown 's' in every phase
    ic = import_corridor(arterial, route=route)
    a = ic.signals[0]
    assert a.outbound.link_indices == (5,) and a.outbound.green_s == 0.0
    assert a.outbound.green_start_s is None and a.outbound.never_green_links == (5,)
    assert a.inbound is not None and a.inbound.link_indices == (8,)  # BA → As, left, 'g'
    assert (a.inbound.green_s, a.inbound.green_start_s) == (27.0, 0.0)
    assert ic.reverse_route == ("EC2", "C2C1", "C1B", "BA", "As")
    assert ic.corridor.intersections[0].green_out_s == 0.0
    assert any(n.startswith("s-state: outbound link 5") for n in a.notes)
    text = explain(ic)
    assert "s-state" in text and "never" in text
    with pytest.raises(InputError, match=r"signal A: the outbound through movement \(link 5"):
        coordinated_corridor(ic)
    with pytest.raises(InputError, match="link 5"):
        write_corridor_spec(ic, tmp_path / "s.csv")
    assert not list(tmp_path.iterdir())  # nothing written


# --------------------------------------------------------------------------------------------
# a one-way street with two programs at Q (the active one is the last in the file)
#
#   W --150-- P --250-- Q --200-- E   (one-way W → E; cross streets two-way)
#   P (50 s): 0 WP→PQ s, 1 nP→Ps s, 2 sP→Pn s
#   Q: 0 PQ→QE s, 1 nQ→Qs s, 2 sQ→Qn s; program "am" 50 s, program "pm" 60 s

ONE_WAY_PROGRAMS: list[Program] = [
    ("P", "0", [(22, "Grr"), (3, "yrr"), (22, "rGG"), (3, "ryy")]),
    ("Q", "am", [(20, "rGG"), (3, "ryy"), (24, "Grr"), (3, "yrr")]),
    ("Q", "pm", [(15, "rGG"), (3, "ryy"), (39, "Grr"), (3, "yrr")]),
]


@pytest.fixture(scope="module")
def one_way(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tl = "traffic_light"
    nodes: list[Node] = [("W", -150, 0, "priority"), ("P", 0, 0, tl), ("Q", 250, 0, tl),
             ("E", 450, 0, "priority"), ("NP", 0, 150, "priority"), ("SP", 0, -150, "priority"),
             ("NQ", 250, 150, "priority"), ("SQ", 250, -150, "priority")]
    edges: list[Edge] = [("WP", "W", "P", 150, V50), ("PQ", "P", "Q", 250, V50),
                         ("QE", "Q", "E", 200, V50)]
    for node in "PQ":
        for side in "NS":
            edges += [(f"{side.lower()}{node}", f"{side}{node}", node, 150, V50),
                      (f"{node}{side.lower()}", node, f"{side}{node}", 150, V50)]
    links: list[Link] = [("WP", "PQ", "P", 0), ("nP", "Ps", "P", 1), ("sP", "Pn", "P", 2),
                         ("PQ", "QE", "Q", 0), ("nQ", "Qs", "Q", 1), ("sQ", "Qn", "Q", 2)]
    return build_net(tmp_path_factory.mktemp("one_way"), nodes, edges, links, ONE_WAY_PROGRAMS)


def test_one_way_street(one_way: Path, tmp_path: Path) -> None:
    ic = import_corridor(one_way, route=["WP", "PQ", "QE"])
    assert ic.one_way and ic.reverse_route == ()
    assert [s.inbound for s in ic.signals] == [None, None]
    assert [s.position_m for s in ic.signals] == [150.0, 400.0]
    assert [(s.outbound.green_s, s.outbound.green_start_s) for s in ic.signals] == [
        (22.0, 0.0), (39.0, 18.0)]
    assert all("no inbound" in s.notes for s in ic.signals)
    assert "inbound: none, one-way corridor" in explain(ic)
    with pytest.raises(InputError, match="one-way"):
        write_corridor_spec(ic, tmp_path / "one_way.csv")


# a street that is two-way only between P and Q (no inbound edge Q → ... → W beyond P)
#
#   W --150-> P <-250-> Q <-200-> E
#   P (40 s): 0 WP→PQ s, 1 QP→Pn r, 2 nP→PQ l;   Q (40 s): 0 PQ→QE s, 1 EQ→QP s

@pytest.fixture(scope="module")
def half_two_way(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tl = "traffic_light"
    nodes: list[Node] = [("W", -150, 0, "priority"), ("P", 0, 0, tl), ("Q", 250, 0, tl),
                         ("E", 450, 0, "priority"), ("NP", 0, 150, "priority")]
    edges: list[Edge] = [("WP", "W", "P", 150, V50), ("PQ", "P", "Q", 250, V50),
                         ("QP", "Q", "P", 250, V50), ("QE", "Q", "E", 200, V50),
                         ("EQ", "E", "Q", 200, V50), ("nP", "NP", "P", 150, V50),
                         ("Pn", "P", "NP", 150, V50)]
    links: list[Link] = [("WP", "PQ", "P", 0), ("QP", "Pn", "P", 1), ("nP", "PQ", "P", 2),
                         ("PQ", "QE", "Q", 0), ("EQ", "QP", "Q", 1)]
    programs: list[Program] = [
        ("P", "0", [(17, "Ggr"), (3, "yyr"), (17, "rrG"), (3, "rry")]),
        ("Q", "0", [(12, "Gr"), (5, "GG"), (3, "yy"), (20, "rr")]),
    ]
    return build_net(tmp_path_factory.mktemp("half"), nodes, edges, links, programs)


def test_inbound_that_passes_only_some_signals(half_two_way: Path) -> None:
    ic = import_corridor(half_two_way, route=["WP", "PQ", "QE"])
    p, q = ic.signals
    assert ic.reverse_route == ("EQ", "QP") and not ic.one_way
    assert p.inbound is None and "no inbound" in p.notes
    assert q.inbound is not None and q.inbound.link_indices == (1,)
    assert (q.inbound.green_s, q.inbound.green_start_s, q.inbound_shift_s) == (5.0, 12.0, 12.0)
    assert any("passes 1 of 2 signals; no inbound at P" in w for w in ic.warnings)
    with pytest.raises(InputError, match="signal P: no inbound through movement"):
        coordinated_corridor(ic)


def _swapped_programs(net: Path, out: Path) -> Path:
    """A copy of *net* with Q's two <tlLogic> elements in the other order."""
    tree = ET.parse(net)
    root = tree.getroot()
    logics = [e for e in root if e.tag == "tlLogic" and e.get("id") == "Q"]
    first = list(root).index(logics[0])
    for e in logics:
        root.remove(e)
    for k, e in enumerate(reversed(logics)):
        root.insert(first + k, e)
    tree.write(out, encoding="utf-8", xml_declaration=True)
    return out


def test_active_program_is_the_one_sumo_runs(one_way: Path, tmp_path: Path) -> None:
    pytest.importorskip("libsumo")
    swapped = _swapped_programs(one_way, tmp_path / "swapped.net.xml")
    code = (
        "import sys, libsumo\n"
        "for net in sys.argv[1:]:\n"
        "    libsumo.start(['sumo', '-n', net, '--no-step-log', 'true'])\n"
        "    print(libsumo.trafficlight.getProgram('Q'))\n"
        "    libsumo.close()\n"
    )
    run = subprocess.run([sys.executable, "-c", code, str(one_way), str(swapped)],
                         capture_output=True, text=True, env=sumo_env(), check=True, timeout=60)
    # the last two lines: libsumo may print a warning at import (a pyarrow of another libarrow)
    running = run.stdout.split()[-2:]
    assert running == ["pm", "am"]  # netconvert writes am, pm; SUMO runs the last one loaded
    for net, active in zip((one_way, swapped), running, strict=True):
        q = import_corridor(net, route=["WP", "PQ", "QE"]).signals[1]
        assert q.program_id == active
        assert set(q.programs) == {"am", "pm"}
        assert q.cycle_s == {"am": 50.0, "pm": 60.0}[active]


# --------------------------------------------------------------------------------------------
# shared case c02 and the ingolstadt7 arterial


@pytest.fixture
def c02() -> Path:
    net = C02 / "net_s.net.xml"
    if not net.is_file():
        pytest.skip("../shared/cases/c02-s-state is not present")
    return net


def test_c02_s_movement_is_not_green(c02: Path) -> None:
    ic = import_corridor(c02, route=["S1J1", "J1J2", "J2E"])
    j1, j2 = ic.signals
    assert (j1.tls_id, j2.tls_id) == ("J1", "J2")
    assert j1.outbound.link_indices == (6,) and j1.outbound.green_s == 0.0
    assert any("s-state" in n and "link 6" in n for n in j1.notes)
    assert (j2.outbound.link_indices, j2.outbound.green_s, j2.outbound.green_start_s) == (
        (10,), 42.0, 0.0)
    assert "s-state" in explain(ic)
    with pytest.raises(InputError) as err:
        coordinated_corridor(ic)
    message = str(err.value)
    assert "signal J1" in message and "link 6" in message and "\n" not in message
    # the main road through the same signals is green at both
    main = coordinated_corridor(import_corridor(c02, route=["WJ1", "J1J2", "J2E"]))
    assert [(i.green_out_s, i.green_in_s) for i in main.intersections] == [(42.0, 42.0)] * 2


# the INDEX's edge routes, direction A and direction B
INGOLSTADT_A = [
    "124812856#1", "201956821#0", "201956821#1.68", "201963537#1", "104010475#0", "104012170",
    "-32124745", "-32124743", "-32124744", "-201089423#2", "-201089423#1", "-32999434#1",
    "32999110#0", "402600768#0", "402600768#1", "51857517#0", "51857517#0.33", "51857517#1",
]
INGOLSTADT_B = [
    "32124637#1", "168702040#1", "168702040#2", "168702040#3", "168702040#4", "168702039#1",
    "32999434#0", "201089423#0", "201089423#2", "32124744", "32124743", "285716192#0",
    "285716192#0.83", "201963535", "104010354", "124812857#0", "201956819#0",
]


def test_ingolstadt7_direction_a(ingolstadt: Path, tmp_path: Path) -> None:
    ic = import_corridor(ingolstadt, route=INGOLSTADT_A)
    tls = [s.tls_id for s in ic.signals]
    assert tls[:3] == ["cluster_1757124350_1757124352", "gneJ143", "gneJ207"]
    assert tls[3].startswith("cluster_306484187_")
    assert tls[4:] == ["32564122", "gneJ260", "gneJ210"]
    gaps = [b.position_m - a.position_m for a, b in pairwise(ic.signals)]
    assert gaps == pytest.approx([93, 144, 67, 263, 226, 155], abs=5)
    assert [s.cycle_s for s in ic.signals] == [90, 90, 90, 65, 90, 90, 90]
    assert ic.corridor.cycle_s is None
    assert [len(s.phases) for s in ic.signals] == [6, 6, 6, 6, 4, 6, 6]
    assert ic.corridor.speed_kmh == pytest.approx(50.0, abs=0.1)
    # the inbound found is the INDEX's direction B (plus the edge leaving the first signal)
    assert list(ic.reverse_route[:-1]) == INGOLSTADT_B
    given = import_corridor(ingolstadt, route=INGOLSTADT_A, reverse_route=INGOLSTADT_B)
    assert [s.inbound for s in given.signals] == [s.inbound for s in ic.signals]
    # the 65 s cluster: outbound 5 + 3 + 36 s from 18 s, inbound 36 s from 26 s
    big = ic.signals[3]
    assert big.inbound is not None
    assert (big.outbound.green_s, big.outbound.green_start_s) == (44.0, 18.0)
    assert (big.inbound.green_s, big.inbound.green_start_s, big.inbound_shift_s) == (
        36.0, 26.0, 8.0)
    assert "no common cycle" in explain(ic)
    csv_path, _ = write_corridor_spec(ic, tmp_path / "ingolstadt7.csv")
    assert load_corridor(csv_path, cycle_s=90.0).ids == tuple(s.id for s in ic.signals)


# --------------------------------------------------------------------------------------------
# refusals: each names the bad value


def test_route_without_signals(arterial: Path) -> None:
    with pytest.raises(InputError, match=r"passes no traffic light.*AW"):
        import_corridor(arterial, route=["AW"])


def test_unknown_edge(arterial: Path) -> None:
    with pytest.raises(InputError, match="no edge 'nope'"):
        import_corridor(arterial, route=["WA", "nope"])
    with pytest.raises(InputError, match=r"field 'from_edge'.*no edge 'nope'"):
        import_corridor(arterial, from_edge="nope", to_edge="C2E")
    with pytest.raises(InputError, match=r"field 'reverse_route'.*no edge 'x'"):
        import_corridor(arterial, route=MAIN_ROUTE, reverse_route=["x"])


def test_disconnected_route(arterial: Path) -> None:
    with pytest.raises(InputError, match="edges 'WA' and 'BC1' are not connected"):
        import_corridor(arterial, route=["WA", "BC1"])


def test_no_path(arterial: Path) -> None:
    with pytest.raises(InputError, match=r"no path .* from edge 'AW' to edge 'WA'"):
        import_corridor(arterial, from_edge="AW", to_edge="WA")


def test_route_arguments(arterial: Path) -> None:
    with pytest.raises(InputError, match="not both"):
        import_corridor(arterial, route=MAIN_ROUTE, from_edge="WA")
    with pytest.raises(InputError, match="from_edge and to_edge"):
        import_corridor(arterial, from_edge="WA")
    with pytest.raises(InputError, match="empty route"):
        import_corridor(arterial, route=[])


def test_not_a_sumo_network(tmp_path: Path) -> None:
    text = tmp_path / "notes.net.xml"
    text.write_text("hello, not XML\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"notes\.net\.xml: not an XML file"):
        import_corridor(text, route=["a"])
    routes = tmp_path / "routes.xml"
    routes.write_text("<routes><vehicle id='v'/></routes>\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"routes\.xml.*root element is <routes>"):
        import_corridor(routes, route=["a"])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.net\.xml: no such file"):
        import_corridor(tmp_path / "missing.net.xml", route=["a"])


def test_a_failed_spec_write_leaves_no_sidecar(arterial: Path, tmp_path: Path) -> None:
    ic = import_corridor(arterial, route=MAIN_ROUTE)
    (tmp_path / "arterial.csv").mkdir()  # the CSV cannot replace a folder
    with pytest.raises(OSError):
        write_corridor_spec(ic, tmp_path / "arterial.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arterial.csv"]


def test_spec_name_must_be_csv(arterial: Path, tmp_path: Path) -> None:
    ic = import_corridor(arterial, route=MAIN_ROUTE)
    with pytest.raises(InputError, match=r"expected a \.csv file name"):
        write_corridor_spec(ic, tmp_path / "arterial.toml")
