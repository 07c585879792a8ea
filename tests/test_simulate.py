"""Real SUMO runs on small corridors: trips, determinism, free-flow times, errors, processes."""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from greenwave.errors import InputError, SimulationError
from greenwave.sumo.binaries import binary
from greenwave.sumo.simulate import (
    TRIP_COLUMNS,
    SimulationJob,
    SimulationResult,
    lane_edge,
    read_statistics,
    read_tripinfo,
    run_simulation,
    run_simulations,
)

pytestmark = pytest.mark.sumo

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
C03 = SHARED / "cases" / "c03-flows-only"

# c03: J1 and J2 both run 42 s east-west green (phase 0), 3 s yellow, 42 s north-south, 3 s
# yellow; C = 90 s, offset 0. Route EW = WJ1 J1J2 J2E.
EW_LANES_M = (292.80, 14.40, 285.60, 14.40, 292.80)  # WJ1_0, :J1_10_0, J1J2_0, :J2_10_0, J2E_0
LANE_SPEED_MPS = 13.89

PROBES = """<routes>
    <vType id="probe" sigma="0" speedDev="0"/>
    <route id="EW" edges="WJ1 J1J2 J2E"/>
    <vehicle id="stopped" type="probe" depart="30" departPos="0" departSpeed="max" route="EW"/>
    <vehicle id="free" type="probe" depart="75" departPos="0" departSpeed="max" route="EW"/>
</routes>
"""


@pytest.fixture(scope="module")
def c03() -> Path:
    if not (C03 / "corr.net.xml").is_file():
        pytest.skip(f"shared case folder not found: {C03}")
    return C03


def _run(case: Path, out: Path, *, seed: int = 42, label: str = "run") -> SimulationResult:
    return run_simulation(
        case / "corr.net.xml",
        case / "flows.rou.xml",
        seed=seed,
        end_s=600,
        out_dir=out,
        label=label,
    )


@pytest.fixture(scope="module")
def runs(c03: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, SimulationResult]:
    out = tmp_path_factory.mktemp("c03")
    return {
        "a": _run(c03, out, label="a"),
        "b": _run(c03, out, label="b"),
        "seed7": _run(c03, out, seed=7, label="seed7"),
    }


# --------------------------------------------------------------------------------------------
# one run


def test_trips_and_totals(runs: dict[str, SimulationResult]) -> None:
    r = runs["a"]
    assert r.backend == "libsumo"
    assert list(r.trips.columns) == list(TRIP_COLUMNS)
    assert r.teleports == 0 and r.collisions == 0
    # 700 + 500 + 333 + 250 + 170 + 95 = 2048 veh/h for 600 s: about 341 vehicles
    assert 300 < r.vehicles_inserted < 380
    assert len(r.trips) == r.vehicles_inserted  # write-unfinished: one row per inserted vehicle
    # two independent sources agree: tripinfo (arrived) and statistic-output (running)
    assert r.vehicles_arrived + r.vehicles_running == r.vehicles_inserted
    assert r.vehicles_waiting == 0
    finished = r.trips[r.trips["finished"]]
    assert len(finished) == r.vehicles_arrived
    assert r.total_delay_s == pytest.approx((finished["timeLoss"] + finished["departDelay"]).sum())
    assert r.total_delay_s > 0
    unfinished = r.trips[~r.trips["finished"]]
    assert unfinished["arrival"].isna().all() and (unfinished["last_edge"] == "").all()
    assert set(finished["first_edge"]) == {"WJ1", "EJ2", "N1J1", "S1J1", "N2J2", "S2J2"}
    assert set(finished["last_edge"]) == {"J2E", "J1W", "J1S1", "J1N1", "J2S2", "J2N2"}
    for f in (r.tripinfo_file, r.statistics_file, r.log_file):
        assert f.is_file()
    assert not list(r.tripinfo_file.parent.glob("*.part"))
    assert "Statistics" in r.log_file.read_text()  # --duration-log.statistics went to the log


def test_same_seed_same_trips_other_seed_differs(runs: dict[str, SimulationResult]) -> None:
    pd.testing.assert_frame_equal(runs["a"].trips, runs["b"].trips)
    assert runs["a"].total_delay_s == runs["b"].total_delay_s
    assert not runs["a"].trips.equals(runs["seed7"].trips)
    assert runs["a"].total_delay_s != runs["seed7"].total_delay_s


def test_free_flow_through_green_takes_length_over_speed(c03: Path, tmp_path: Path) -> None:
    routes = tmp_path / "probes.rou.xml"
    routes.write_text(PROBES)
    r = run_simulation(c03 / "corr.net.xml", routes, end_s=300, out_dir=tmp_path)
    trips = r.trips.set_index("id")
    # Hand numbers: 900.0 m at 13.89 m/s = 64.8 s. The 'free' probe reaches J1's stop line at
    # 75 + 292.8/13.89 = 96.1 (green 90-132) and J2's at 117.7 (same green): no stop.
    length = sum(EW_LANES_M)
    assert length == pytest.approx(900.0)
    free = trips.loc["free"]
    assert free["routeLength"] == pytest.approx(length)
    assert free["waitingCount"] == 0
    # arrival is recorded at the end of a 1 s step: at most one step late
    assert 0 <= free["duration"] - length / LANE_SPEED_MPS <= 1.0
    # the 'stopped' probe reaches J1 at 51 s, in the north-south phase (45-87): it must wait
    stopped = trips.loc["stopped"]
    assert stopped["waitingCount"] >= 1
    assert stopped["duration"] > length / LANE_SPEED_MPS + 30  # waits until 90 s at least


def _tiny_net(tmp_path: Path) -> Path:
    """A 1,000 m one-lane road at 10 m/s, built with netconvert from plain XML."""
    nodes = ET.Element("nodes")
    ET.SubElement(nodes, "node", id="A", x="0", y="0")
    ET.SubElement(nodes, "node", id="B", x="1000", y="0")
    edges = ET.Element("edges")
    ET.SubElement(
        edges, "edge", {"id": "AB", "from": "A", "to": "B", "numLanes": "1", "speed": "10"}
    )
    ET.ElementTree(nodes).write(tmp_path / "tiny.nod.xml")
    ET.ElementTree(edges).write(tmp_path / "tiny.edg.xml")
    net = tmp_path / "tiny.net.xml"
    subprocess.run(
        [
            str(binary("netconvert")),
            "-n",
            str(tmp_path / "tiny.nod.xml"),
            "-e",
            str(tmp_path / "tiny.edg.xml"),
            "-o",
            str(net),
        ],
        check=True,
        capture_output=True,
    )
    return net


def test_tiny_road_free_flow_and_late_begin(tmp_path: Path) -> None:
    net = _tiny_net(tmp_path)
    routes = tmp_path / "one.rou.xml"
    routes.write_text(
        '<routes><vType id="t" sigma="0" speedDev="0"/>'
        '<vehicle id="v" type="t" depart="57610" departPos="0" departSpeed="max">'
        '<route edges="AB"/></vehicle></routes>'
    )
    r = run_simulation(net, routes, begin_s=57600, end_s=57800, out_dir=tmp_path)
    v = r.trips.iloc[0]
    assert v["depart"] == 57610
    assert v["routeLength"] == pytest.approx(1000.0)
    assert 100.0 <= v["duration"] <= 101.0  # 1,000 m / 10 m/s, plus at most one step
    assert v["timeLoss"] < 1.0 and v["waitingCount"] == 0
    assert r.vehicles_arrived == 1 and r.teleports == 0


def test_sumo_warnings_are_kept(c03: Path, tmp_path: Path) -> None:
    routes = tmp_path / "unsorted.rou.xml"
    routes.write_text(
        '<routes><route id="EW" edges="WJ1 J1J2 J2E"/>'
        '<vehicle id="late" depart="75" route="EW"/><vehicle id="early" depart="0" route="EW"/>'
        "</routes>"
    )
    r = run_simulation(c03 / "corr.net.xml", routes, end_s=200, out_dir=tmp_path)
    # SUMO drops a vehicle listed out of departure order, with only a warning
    assert r.trips["id"].tolist() == ["late"]
    assert any("sorted" in w and "'early'" in w for w in r.warnings)


# --------------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("<net></net>", "no <location>"),  # SUMO 1.28 itself segfaults on this one
        ("<net><edge id='a'>", "not well-formed"),
        ("<routes/>", "expected <net>"),
    ],
)
def test_bad_net_file_is_refused_naming_it(
    c03: Path, tmp_path: Path, content: str, expected: str
) -> None:
    net = tmp_path / "broken.net.xml"
    net.write_text(content)
    with pytest.raises(SimulationError, match=expected) as info:
        run_simulation(net, c03 / "flows.rou.xml", end_s=60, out_dir=tmp_path)
    assert str(net) in str(info.value)


def test_missing_net_file(c03: Path, tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match=r"nowhere\.net\.xml: no such file"):
        run_simulation(tmp_path / "nowhere.net.xml", c03 / "flows.rou.xml", out_dir=tmp_path)


def test_sumo_error_message_surfaces_and_next_run_works(c03: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.rou.xml"
    bad.write_text(
        '<routes><vehicle id="x" depart="0"><route edges="NOPE J1J2"/></vehicle></routes>'
    )
    with pytest.raises(SimulationError, match=r"edge 'NOPE'.*not known"):
        run_simulation(c03 / "corr.net.xml", bad, end_s=60, out_dir=tmp_path, label="bad")
    with pytest.raises(SimulationError, match="bogus"):
        run_simulation(
            c03 / "corr.net.xml",
            c03 / "flows.rou.xml",
            end_s=60,
            out_dir=tmp_path,
            label="opt",
            extra_args=["--bogus-option"],
        )
    assert not (tmp_path / "bad.tripinfo.xml").exists()
    # libsumo was closed properly: the process can run again
    ok = run_simulation(c03 / "corr.net.xml", c03 / "flows.rou.xml", end_s=60, out_dir=tmp_path)
    assert ok.vehicles_inserted > 0


def test_refuses_to_clobber_a_loaded_libsumo(c03: Path, tmp_path: Path) -> None:
    libsumo = pytest.importorskip("libsumo")
    libsumo.start([str(binary("sumo")), "-n", str(c03 / "corr.net.xml"), "--no-step-log"])
    try:
        with pytest.raises(SimulationError, match="already loaded"):
            run_simulation(c03 / "corr.net.xml", c03 / "flows.rou.xml", out_dir=tmp_path)
    finally:
        libsumo.close()


def test_bad_arguments(c03: Path, tmp_path: Path) -> None:
    net, routes = c03 / "corr.net.xml", c03 / "flows.rou.xml"
    with pytest.raises(InputError, match="end_s"):
        run_simulation(net, routes, begin_s=100, end_s=100, out_dir=tmp_path)
    with pytest.raises(InputError, match="label"):
        run_simulation(net, routes, out_dir=tmp_path, label="../escape")
    with pytest.raises(InputError, match="route_files"):
        run_simulation(net, [], out_dir=tmp_path)


# --------------------------------------------------------------------------------------------
# backends and processes


def test_traci_fallback_gives_the_same_trips(
    c03: Path, tmp_path: Path, runs: dict[str, SimulationResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "libsumo", None)  # "import libsumo" now fails
    r = _run(c03, tmp_path, label="traci")
    assert r.backend == "traci"
    pd.testing.assert_frame_equal(r.trips, runs["a"].trips)
    assert r.teleports == runs["a"].teleports
    # a SUMO that refuses its options fails fast (traci would otherwise restart it 60 times)
    began = time.perf_counter()
    with pytest.raises(SimulationError, match="bogus"):
        run_simulation(
            c03 / "corr.net.xml",
            c03 / "flows.rou.xml",
            end_s=60,
            out_dir=tmp_path,
            label="traci_bad",
            extra_args=["--bogus-option"],
        )
    assert time.perf_counter() - began < 20


def test_parallel_runs_equal_sequential_runs(
    c03: Path, tmp_path: Path, runs: dict[str, SimulationResult]
) -> None:
    jobs = [
        SimulationJob(
            c03 / "corr.net.xml", c03 / "flows.rou.xml", tmp_path, label=label, seed=seed, end_s=600
        )
        for label, seed in (("baseline", 42), ("plan", 7))
    ]
    baseline, plan = run_simulations(jobs, processes=2)
    assert (baseline.label, plan.label) == ("baseline", "plan")
    pd.testing.assert_frame_equal(baseline.trips, runs["a"].trips)
    pd.testing.assert_frame_equal(plan.trips, runs["seed7"].trips)
    assert baseline.total_delay_s == runs["a"].total_delay_s


def test_a_crashing_job_is_reported_and_others_finish(c03: Path, tmp_path: Path) -> None:
    empty_net = tmp_path / "empty.net.xml"
    empty_net.write_text("<net></net>")
    good = SimulationJob(
        c03 / "corr.net.xml", c03 / "flows.rou.xml", tmp_path, label="good", end_s=60
    )
    # extra_args bypass the input checks: SUMO 1.28 segfaults on this additional file
    crash = SimulationJob(
        c03 / "corr.net.xml",
        c03 / "flows.rou.xml",
        tmp_path,
        label="crash",
        end_s=60,
        extra_args=("-a", str(empty_net)),
    )
    with pytest.raises(SimulationError, match=r"'crash'.*died"):
        run_simulations([good, crash], processes=2)
    assert (tmp_path / "good.tripinfo.xml").is_file()


def test_jobs_writing_the_same_files_are_refused(c03: Path, tmp_path: Path) -> None:
    job = SimulationJob(c03 / "corr.net.xml", c03 / "flows.rou.xml", tmp_path)
    with pytest.raises(InputError, match="label"):
        run_simulations([job, job])


# --------------------------------------------------------------------------------------------
# readers


def test_read_tripinfo_hand_written(tmp_path: Path) -> None:
    f = tmp_path / "t.xml"
    f.write_text(
        "<tripinfos>\n"
        '<tripinfo id="a" depart="10.00" departLane="J1_J2_0" departDelay="0.50" '
        'arrival="70.00" arrivalLane="J2_E_1" duration="60.00" routeLength="600.00" '
        'waitingTime="4.00" waitingCount="1" timeLoss="12.50" vType="car" speedFactor="1.05"/>\n'
        '<tripinfo id="b" depart="20.00" departLane="S_J1_0" departDelay="0.00" '
        'arrival="-1.00" arrivalLane="" duration="80.00" routeLength="300.00" '
        'waitingTime="0.00" waitingCount="0" timeLoss="3.00" vType="car" vaporized="end"/>\n'
        "</tripinfos>\n"
    )
    trips = read_tripinfo(f).set_index("id")
    assert trips.loc["a", "first_edge"] == "J1_J2" and trips.loc["a", "last_edge"] == "J2_E"
    assert trips.loc["a", "finished"] and not trips.loc["b", "finished"]
    assert pd.isna(trips.loc["b", "arrival"]) and trips.loc["b", "last_edge"] == ""
    assert trips.loc["a", "waitingCount"] == 1 and trips.loc["a", "timeLoss"] == 12.5
    assert pd.isna(trips.loc["b", "speedFactor"])
    assert lane_edge(":J1_12_0") == ":J1_12"


def test_read_tripinfo_empty_and_statistics_errors(tmp_path: Path) -> None:
    f = tmp_path / "t.xml"
    f.write_text("<tripinfos/>")
    empty = read_tripinfo(f)
    assert list(empty.columns) == list(TRIP_COLUMNS) and len(empty) == 0
    s = tmp_path / "s.xml"
    s.write_text("<statistics><vehicles loaded='1'/></statistics>")
    with pytest.raises(SimulationError, match="inserted"):
        read_statistics(s)
