"""Detectors on imported SUMO networks: the small arterial of test_importnet (with sidewalks
added by netconvert), a libsumo run read through subscriptions against SUMO's own loop output,
the ingolstadt7 corridor, and ``import-net --detectors``."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from greenwave.retiming.measure import Measurement, RollingWindow
from greenwave.sumo.binaries import binary, sumo_env
from greenwave.sumo.detectors import (
    LOOP_OFFSET_M,
    QUEUE_LENGTH_M,
    DetectorReader,
    detector_specs,
    queue_detectors,
    write_detectors,
)
from greenwave.sumo.importnet import import_corridor
from greenwave.sumo.retime import sumo_args
from greenwave.sumo.simulate import connect
from test_importnet import MAIN_ROUTE, build_arterial
from test_writeback import run

pytestmark = pytest.mark.sumo

# The arterial (W → E outbound, y grows to the north): outbound heading east, so the legs from
# the south are on its right (west), those from the north on its left (east). C joins C1 and
# C2; C1C2 and C2C1 lie inside it.
ARTERIAL_LEGS = {
    "A/out": "WA", "A/in": "BA", "A/west": "sA", "A/east": "nA",
    "B/out": "AB", "B/in": "C1B", "B/west": "sB", "B/east": "nB",
    "C/out": "BC1", "C/in": "EC2", "C/west": "sC", "C/east": "nC",
}


@pytest.fixture(scope="module")
def arterial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_arterial(tmp_path_factory.mktemp("det_arterial"))


@pytest.fixture(scope="module")
def sidewalks(arterial: Path) -> Path:
    """The arterial with the sidewalks netconvert guesses (on its 50 km/h edges: lane 0 is
    then a sidewalk and the car lane is lane 1); link indices and programs unchanged."""
    net = arterial.with_name("sw.net.xml")
    r = subprocess.run([str(binary("netconvert")), "-s", str(arterial), "-o", str(net),
                        "--sidewalks.guess", "true", "--crossings.guess", "false"],
                       capture_output=True, text=True, env=sumo_env(), check=False)
    assert r.returncode == 0, r.stderr
    return net


def _detectors(path: Path) -> dict[str, list[dict[str, str]]]:
    root = ET.parse(path).getroot()
    return {tag: [e.attrib for e in root.iter(tag)] for tag in ("inductionLoop",
                                                                "laneAreaDetector")}


def test_every_car_lane_of_every_approach_has_one_loop_and_one_queue_detector(
        sidewalks: Path, tmp_path: Path) -> None:
    import sumolib

    ic = import_corridor(sidewalks, route=MAIN_ROUTE)
    path = write_detectors(ic, tmp_path / "d.add.xml")
    found = _detectors(path)
    net = sumolib.net.readNet(str(sidewalks))
    car_lanes = {a: [ln for ln in net.getEdge(e).getLanes() if ln.allows("passenger")]
                 for a, e in ARTERIAL_LEGS.items()}
    assert any(len(net.getEdge(e).getLanes()) > 1 for e in ARTERIAL_LEGS.values())  # sidewalks
    for tag in ("inductionLoop", "laneAreaDetector"):
        lanes = Counter(d["lane"] for d in found[tag])
        assert lanes == Counter(ln.getID() for ls in car_lanes.values() for ln in ls), tag
    prefix = {"inductionLoop": "e1", "laneAreaDetector": "e2"}
    for tag, dets in found.items():
        for d in dets:
            signal, leg = d["id"].split("_")[1:3]
            assert d["lane"].rsplit("_", 1)[0] == ARTERIAL_LEGS[f"{signal}/{leg}"]
            assert d["id"].startswith(prefix[tag]) and d["period"] == "60"
    length = {ln.getID(): ln.getLength() for ls in car_lanes.values() for ln in ls}
    for d in found["inductionLoop"]:
        assert float(d["pos"]) == LOOP_OFFSET_M
    for d in found["laneAreaDetector"]:
        assert float(d["length"]) == QUEUE_LENGTH_M
        assert float(d["pos"]) == pytest.approx(length[d["lane"]] - QUEUE_LENGTH_M)
    # k counts car lanes: the west leg of A has a sidewalk as lane 0; BC1 has none
    ids = {d["id"]: d["lane"] for d in found["inductionLoop"]}
    assert ids["e1_A_west_0"] == "sA_1" and ids["e1_C_out_0"] == "BC1_0"
    assert not any(d["lane"].startswith(("C1C2_", "C2C1_")) for ds in found.values()
                   for d in ds)  # inside the joined signal C
    again = write_detectors(import_corridor(sidewalks, route=MAIN_ROUTE), tmp_path / "e.add.xml")
    assert again.read_bytes() == path.read_bytes()


def _demand(path: Path, end_s: float) -> Path:
    root = ET.Element("routes")
    for ident, a, b, vph in (("east", "WA", "C2E", 600), ("west", "EC2", "AW", 400),
                             ("crossB", "nB", "Bs", 300), ("crossA", "sA", "An", 200)):
        ET.SubElement(root, "flow", {"id": ident, "from": a, "to": b, "begin": "0",
                                     "end": str(end_s), "vehsPerHour": str(vph)})
    ET.ElementTree(root).write(path)
    return path


def _reference_loops(detectors: Path, out: Path, output: Path) -> Path:
    """The same loops under other ids, writing SUMO's own interval output to *output*."""
    root = ET.Element("additional")
    for d in _detectors(detectors)["inductionLoop"]:
        ET.SubElement(root, "inductionLoop", {**d, "id": "ref_" + d["id"],
                                              "file": str(output)})
    ET.ElementTree(root).write(out)
    return out


def _read_intervals(conn: object, reader: DetectorReader, end_s: float,
                    interval_s: float) -> list[Measurement]:
    sim = conn.simulation  # type: ignore[attr-defined]
    out = []
    while sim.getTime() < end_s - 1e-6:
        conn.simulationStep()  # type: ignore[attr-defined]
        reader.step()
        t = sim.getTime()
        if abs(t / interval_s - round(t / interval_s)) < 1e-6:
            readings, queues = reader.read()
            out.append(Measurement(t, interval_s, readings, queues))
    return out


def test_subscribed_counts_equal_sumo_loop_output(sidewalks: Path, tmp_path: Path) -> None:
    end = 300.0
    ic = import_corridor(sidewalks, route=MAIN_ROUTE)
    det = write_detectors(ic, tmp_path / "d.add.xml")
    sumo_out = tmp_path / "loops.xml"
    ref = _reference_loops(det, tmp_path / "ref.add.xml", sumo_out)
    specs, queues = detector_specs(ic), queue_detectors(ic)
    args = sumo_args(sidewalks, [_demand(tmp_path / "d.rou.xml", end)], [det, ref],
                     begin_s=0.0, end_s=end, seed=7)
    with connect(args, tmp_path / "sumo.log") as (conn, _):
        reader = DetectorReader(conn, specs, queues)
        measured = _read_intervals(conn, reader, end, 60.0)
    assert [m.time_s for m in measured] == [60.0, 120.0, 180.0, 240.0, 300.0]
    sumo = {(e.get("id")[4:], float(e.get("end"))): float(e.get("nVehContrib"))
            for e in ET.parse(sumo_out).getroot().iter("interval")}
    ours = {(d, m.time_s): r.count for m in measured for d, r in m.readings.items()}
    assert ours == sumo
    window = RollingWindow(specs, size=5)
    for m in measured:
        window.add(m)
    flows = {a: f.flow_vph for a, f in window.approaches().items()}
    demanded = {"A/out", "B/out", "C/out", "C/in", "B/in", "A/in", "B/east", "A/west"}
    assert set(flows) == set(ARTERIAL_LEGS)
    assert all(flows[a] > 0 for a in demanded), flows
    assert all(flows[a] == 0 for a in set(flows) - demanded), flows
    # an hourly rate of the counts SUMO wrote: 3600 * vehicles / 300 s
    a_out = sum(n for (d, _), n in sumo.items() if d.startswith("e1_A_out_"))
    assert flows["A/out"] == pytest.approx(3600 * a_out / end)
    # A's outbound red stops the east flow; nothing arrives from the north at A
    assert max(m.queues_veh["A/out"] for m in measured) > 0
    assert all(m.queues_veh["A/east"] == 0 for m in measured)


def _allows_cars(lane: ET.Element) -> bool:
    if "allow" in lane.attrib:
        return "passenger" in lane.attrib["allow"].split()
    return "passenger" not in lane.attrib.get("disallow", "").split()


def _approach_lanes(net_file: Path, tls_id: str) -> set[str]:
    """Car lanes of the edges that feed a connection of *tls_id*, read from the XML, leaving
    out edges that leave one of its nodes."""
    root = ET.parse(net_file).getroot()
    edges = {e.get("id"): e for e in root.iter("edge") if e.get("function") != "internal"}
    feeding = {c.get("from") for c in root.iter("connection") if c.get("tl") == tls_id}
    nodes = {edges[e].get("to") for e in feeding}
    return {ln.get("id") for e in feeding if edges[e].get("from") not in nodes
            for ln in edges[e].iter("lane") if _allows_cars(ln)}


def test_ingolstadt7_detectors_load_and_count(ingolstadt: Path, tmp_path: Path) -> None:
    ic = import_corridor(ingolstadt, from_edge="124812856#1", to_edge="51857517#1")
    det = write_detectors(ic, tmp_path / "i7.add.xml")
    found = _detectors(det)
    for s in ic.signals:
        for tag in ("inductionLoop", "laneAreaDetector"):
            lanes = Counter(d["lane"] for d in found[tag]
                            if d["id"].startswith(("e1_" + s.id + "_", "e2_" + s.id + "_")))
            assert set(lanes) == _approach_lanes(ingolstadt, s.tls_id), (s.id, tag)
            assert set(lanes.values()) == {1}, (s.id, tag)
    specs, queues = detector_specs(ic), queue_detectors(ic)
    assert {(s.signal, s.leg, s.lane.rsplit("_", 1)[0]) for s in specs if s.leg == "out"} == {
        (s.id, "out", s.outbound.from_edge) for s in ic.signals}
    begin, end = 57600.0, 57900.0
    args = sumo_args(ingolstadt, [ingolstadt.parent / "ingolstadt7.rou.xml"], [det], begin_s=begin,
                     end_s=end, seed=1)
    log = tmp_path / "sumo.log"
    with connect(args, log) as (conn, _):
        reader = DetectorReader(conn, specs, queues)
        measured = _read_intervals(conn, reader, end, 60.0)
    assert len(measured) == 5
    assert not [ln for ln in log.read_text().splitlines() if ln.startswith("Error")]
    window = RollingWindow(specs, size=5)
    for m in measured:
        window.add(m)
    flows = window.approaches()
    # seven T-junctions: out, in and one cross leg each, every one of them driven in 5 minutes
    assert len(flows) == 21 and {a.rsplit("/", 1)[1] for a in flows} == {"out", "in", "west",
                                                                         "east"}
    assert all(f.flow_vph > 0 for f in flows.values()), flows


# --------------------------------------------------------------------------------------------
# command line


def test_import_net_writes_the_detectors(arterial: Path, tmp_path: Path) -> None:
    r = run("import-net", str(arterial), "--route", *MAIN_ROUTE, "--out", "c.csv",
            "--detectors", "c.add.xml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    # 3 signals x 4 approaches, one lane each (the arterial without sidewalks)
    assert "wrote c.add.xml: 12 induction loops and 12 queue detectors on 12 approaches" in (
        r.stdout.splitlines())
    found = _detectors(tmp_path / "c.add.xml")
    assert sorted(d["lane"] for d in found["inductionLoop"]) == sorted(
        f"{e}_0" for e in ARTERIAL_LEGS.values())
    assert (tmp_path / "c.csv").is_file() and (tmp_path / "c.import.json").is_file()


@pytest.mark.parametrize(("target", "needle"), [
    ("nodir/d.add.xml", "does not exist"),
    (".", "is a folder"),
    ("c.csv", "is the corridor CSV"),
    ("c.import.json", "is its sidecar"),
    ("NET", "is the input network"),  # the input net itself
    *([("/proc/d.add.xml", "takes no file")] if Path("/proc/self").is_dir() else []),
])
def test_import_net_bad_detector_file_exit_2(arterial: Path, tmp_path: Path, target: str,
                                             needle: str) -> None:
    net_before = arterial.read_bytes()
    target = str(arterial) if target == "NET" else target
    r = run("import-net", str(arterial), "--route", *MAIN_ROUTE, "--out", "c.csv",
            "--detectors", target, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--detectors" in lines[0] and repr(target) in lines[0]
    assert needle in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written, no folder made
    assert arterial.read_bytes() == net_before
