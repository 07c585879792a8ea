"""SUMO's tlsCoordinator and tlsCycleAdaptation as baselines: real tools, real SUMO, no mocks."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from greenwave.errors import InputError, SimulationError
from greenwave.sumo.baselines import (
    COORDINATOR,
    CYCLE_ADAPTATION,
    BaselineResult,
    expand_demand,
    tls_coordinator,
    tls_cycle_adaptation,
)
from greenwave.sumo.binaries import sumo_env, sumo_home, tool

pytestmark = pytest.mark.sumo

GRID_CYCLE_S = 90.0  # every signal of tlscoord_grid5 runs a 90 s program


def _grid(shared: Path) -> Path:
    return shared / "scenarios" / "tlscoord_grid5"


def _c03(shared: Path) -> Path:
    return shared / "cases" / "c03-flows-only"


def _vehicles(path: Path) -> list[tuple[str, float, str]]:
    """(id, depart, route edges) of each vehicle in a route file."""
    out = []
    for v in ET.parse(path).getroot().iter("vehicle"):
        route = v.find("route")
        assert route is not None, f"vehicle {v.get('id')} has no embedded route"
        out.append((v.get("id", ""), float(v.get("depart", "nan")), route.get("edges", "")))
    return out


def _circular_gap(a: float, b: float, cycle: float) -> float:
    d = (a - b) % cycle
    return min(d, cycle - d)


# --------------------------------------------------------------------------------------------
# the tools come from the installed wheel


def test_tools_are_found_inside_the_installed_sumo_package() -> None:
    for name in (COORDINATOR, CYCLE_ADAPTATION):
        path = tool(name)
        assert path.is_file()
        assert path.parent == sumo_home() / "tools"
    assert sumo_env()["SUMO_HOME"] == str(sumo_home())


# --------------------------------------------------------------------------------------------
# tlsCoordinator reproduces SUMO's own regression outputs


@pytest.mark.parametrize(("case", "vehicles"), [("1flow", 33), ("3flows", 150)])
def test_coordinator_reproduces_sumo_regression_offsets(
    shared_dir: Path, tmp_path: Path, case: str, vehicles: int
) -> None:
    grid = _grid(shared_dir)
    out = tmp_path / f"{case}.add.xml"
    result = tls_coordinator(grid / "net.net.xml", grid / f"{case}.rou.xml", out)
    assert isinstance(result, BaselineResult)
    assert result.tool == COORDINATOR
    assert result.path == out and out.is_file()
    assert result.vehicles == vehicles
    # the SUMO test suite ran the tool with its default options
    expected = {
        e.get("id", ""): float(e.get("offset", "nan"))
        for e in ET.parse(grid / f"{case}.expected.add.xml").getroot().iter("tlLogic")
    }
    assert result.offsets_s.keys() == expected.keys()
    for p in result.programs:
        assert p.cycle_s == GRID_CYCLE_S  # read from the net's program "0"
        assert p.phases == ()  # the coordinator writes offsets only
        assert _circular_gap(p.offset_s, expected[p.tls_id], GRID_CYCLE_S) < 0.005, p.tls_id
        assert 0 <= p.offset_in_cycle_s < GRID_CYCLE_S
    # the file written is the one read back
    written = {e.get("id"): float(e.get("offset", "nan")) for e in ET.parse(out).iter("tlLogic")}
    assert written == result.offsets_s


def test_expansion_keeps_the_routes_vehicles_already_have(
    shared_dir: Path, tmp_path: Path
) -> None:
    # duarouter's route choice would swap most of the 24-signal snake routes for shortcuts
    grid = _grid(shared_dir)
    given = _vehicles(grid / "1flow.rou.xml")
    expanded = expand_demand(grid / "1flow.rou.xml", grid / "net.net.xml",
                             tmp_path / "d.rou.xml", seed=7)
    assert expanded.vehicles == len(given) == 33
    norm = [(i, d, " ".join(e.split())) for i, d, e in given]
    assert _vehicles(expanded.path) == norm


def test_coordinator_offset_is_the_travel_time_between_signals(
    shared_dir: Path, tmp_path: Path
) -> None:
    # c03: J1J2 is 285.60 m long at 13.89 m/s; the tool assumes 0.8 × the speed limit, so the
    # main direction's J2 offset follows J1's by 285.60 / (0.8 · 13.89) = 25.70 s
    c03 = _c03(shared_dir)
    result = tls_coordinator(c03 / "corr.net.xml", c03 / "flows.rou.xml", tmp_path / "o.add.xml")
    gap = result.offsets_s["J2"] - result.offsets_s["J1"]
    assert gap == pytest.approx(285.60 / (0.8 * 13.89), abs=0.01)
    again = tls_coordinator(c03 / "corr.net.xml", c03 / "flows.rou.xml", tmp_path / "p.add.xml")
    assert again.path.read_bytes() == result.path.read_bytes()


# --------------------------------------------------------------------------------------------
# c03-flows-only: flows are expanded and reach tlsCycleAdaptation


def test_flows_expand_to_the_vehicles_sumo_would_insert(
    shared_dir: Path, tmp_path: Path
) -> None:
    c03 = _c03(shared_dir)
    expanded = expand_demand(c03 / "flows.rou.xml", c03 / "corr.net.xml",
                             tmp_path / "d.rou.xml", seed=1, begin=0, end=3600)
    vehicles = _vehicles(expanded.path)
    by_flow = Counter(vid.rsplit(".", 1)[0] for vid, _, _ in vehicles)
    # A vehsPerHour flow inserts at begin, then every 3600/vph s rounded to the ms, while the
    # departure is before end (3600 s): 700 → 5.143 s, 699 · 5.143 = 3594.96, 700 vehicles;
    # 500 → 7.2 s, 500 (the 501st would depart at 3600); 333 → 10.811 s, 332 · 10.811 =
    # 3589.3, 333; 250 → 14.4 s, 250; 170 → 21.176 s, 170 · 21.176 = 3599.92 < 3600, so 171;
    # 95 → 37.895 s, 94 · 37.895 = 3562.1, 95.
    assert by_flow == {"EW": 700, "WE": 500, "NS1": 333, "SN1": 250, "NS2": 171, "SN2": 95}
    assert expanded.vehicles == len(vehicles) == 2049
    routes = {"EW": "WJ1 J1J2 J2E", "WE": "EJ2 J2J1 J1W", "NS1": "N1J1 J1S1",
              "SN1": "S1J1 J1N1", "NS2": "N2J2 J2S2", "SN2": "S2J2 J2N2"}
    assert all(edges == routes[vid.rsplit(".", 1)[0]] for vid, _, edges in vehicles)
    departs = [d for _, d, _ in vehicles]
    assert departs == sorted(departs) and departs[0] >= 0 and departs[-1] < 3600
    # no named routes are left for tlsCoordinator to count as extra traffic
    assert ET.parse(expanded.path).getroot().findall("route") == []


def test_expansion_honours_the_period(
    shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(_c03(shared_dir))  # relative paths are the caller's, not duarouter's
    expanded = expand_demand("flows.rou.xml", "corr.net.xml", tmp_path / "d.rou.xml",
                             seed=1, begin=0, end=1800)
    by_flow = Counter(vid.rsplit(".", 1)[0] for vid, _, _ in _vehicles(expanded.path))
    # before 1800 s: EW 349 · 5.143 = 1794.9 → 350; WE 1800 / 7.2 = 250 exactly → 250;
    # NS2 85 · 21.176 = 1799.96 → 86
    assert (by_flow["EW"], by_flow["WE"], by_flow["NS2"]) == (350, 250, 86)


def test_expansion_is_deterministic_with_the_seed(shared_dir: Path, tmp_path: Path) -> None:
    c03 = _c03(shared_dir)
    poisson = tmp_path / "poisson.rou.xml"
    routes = ET.Element("routes")
    ET.SubElement(routes, "flow", id="p", begin="0", end="600", period="exp(0.2)",
                  **{"from": "WJ1", "to": "J2E"})
    ET.ElementTree(routes).write(poisson)
    net = c03 / "corr.net.xml"
    a = expand_demand(poisson, net, tmp_path / "a.rou.xml", seed=5, begin=0, end=600)
    b = expand_demand(poisson, net, tmp_path / "b.rou.xml", seed=5, begin=0, end=600)
    c = expand_demand(poisson, net, tmp_path / "c.rou.xml", seed=6, begin=0, end=600)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert [d for _, d, _ in _vehicles(a.path)] != [d for _, d, _ in _vehicles(c.path)]
    # 0.2 veh/s over 600 s: 120 expected, sd ≈ 11
    assert 80 < a.vehicles < 160
    assert all(e == "WJ1 J1J2 J2E" for _, _, e in _vehicles(a.path))  # trips were routed


def test_cycle_adaptation_sees_the_flows(shared_dir: Path, tmp_path: Path) -> None:
    c03 = _c03(shared_dir)
    net = c03 / "corr.net.xml"
    # The tool alone, given the flows file: it reads no <flow>, so it finds no traffic and
    # writes no program at all (the signals keep their 90 s, 42 s / 42 s programs).
    raw = tmp_path / "raw.add.xml"
    proc = subprocess.run(
        [sys.executable, str(tool(CYCLE_ADAPTATION)), "-n", str(net), "-r",
         str(c03 / "flows.rou.xml"), "-b", "0", "-o", str(raw)],
        env=sumo_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert ET.parse(raw).getroot().findall("tlLogic") == []
    assert "no flows" in proc.stdout.lower()

    out = tmp_path / "webster.add.xml"
    result = tls_cycle_adaptation(net, c03 / "flows.rou.xml", out,
                                  demand_file=tmp_path / "demand.rou.xml")
    assert result.vehicles == 2049
    assert result.demand_file is not None and result.demand_file.is_file()
    assert [p.tls_id for p in result.programs] == ["J1", "J2"]
    # Webster with the tool's defaults (lost time 4 s per phase, yellow 4 s, 1800 veh/h per
    # lane, one lane per approach), L = 2 · 4 = 8 s:
    # J1: y = 700/1800 + 333/1800 = 0.574; C = round((1.5·8 + 5) / (1 − 0.574)) = 40 s;
    #     greens 32 · 0.389/0.574 = 21.7 → 22 s and 32 · 0.185/0.574 = 10.3 → 10 s.
    # J2: y = 700/1800 + 171/1800 = 0.484; C = round(17 / 0.516) = 33 s;
    #     greens 25 · 0.389/0.484 = 20.1 → 20 s and 25 · 0.095/0.484 = 4.9 → 5 s.
    j1, j2 = result.program("J1"), result.program("J2")
    assert (j1.cycle_s, j1.green_s) == (40.0, (22.0, 10.0))
    assert (j2.cycle_s, j2.green_s) == (33.0, (20.0, 5.0))
    assert [p.duration_s for p in j1.phases] == [22.0, 4.0, 10.0, 4.0]
    assert j1.program_id == "a"
    assert {e.get("id") for e in ET.parse(out).iter("tlLogic")} == {"J1", "J2"}


def test_coordinator_coordinates_replacement_programs(shared_dir: Path, tmp_path: Path) -> None:
    c03 = _c03(shared_dir)
    net, flows = c03 / "corr.net.xml", c03 / "flows.rou.xml"
    webster = tls_cycle_adaptation(net, flows, tmp_path / "w.add.xml")
    coord = tls_coordinator(net, flows, tmp_path / "o.add.xml", programs_file=webster.path)
    assert {p.tls_id: (p.program_id, p.cycle_s) for p in coord.programs} == {
        "J1": ("a", 40.0), "J2": ("a", 33.0)
    }


# --------------------------------------------------------------------------------------------
# bad inputs


@pytest.mark.parametrize(
    "content",
    [
        "<routes/>",
        '<routes><route id="EW" edges="WJ1 J1J2 J2E"/><vType id="car"/></routes>',
    ],
    ids=["empty", "routes-only"],
)
def test_no_demand_is_an_input_error(shared_dir: Path, tmp_path: Path, content: str) -> None:
    c03 = _c03(shared_dir)
    empty = tmp_path / "empty.rou.xml"
    empty.write_text(content)
    with pytest.raises(InputError, match="no demand") as info:
        expand_demand(empty, c03 / "corr.net.xml", tmp_path / "d.rou.xml")
    message = str(info.value)
    assert str(empty) in message and "\n" not in message
    out = tmp_path / "w.add.xml"
    with pytest.raises(InputError, match="no demand"):
        tls_cycle_adaptation(c03 / "corr.net.xml", empty, out)
    assert not out.exists() and not (tmp_path / "d.rou.xml").exists()


def test_demand_outside_the_period_is_an_input_error(shared_dir: Path, tmp_path: Path) -> None:
    c03 = _c03(shared_dir)
    with pytest.raises(InputError, match=r"no vehicle departs in the period \[3600, 7200\)"):
        expand_demand(c03 / "flows.rou.xml", c03 / "corr.net.xml", tmp_path / "d.rou.xml",
                      begin=3600, end=7200)


def test_missing_or_non_sumo_net_is_an_input_error(shared_dir: Path, tmp_path: Path) -> None:
    c03 = _c03(shared_dir)
    missing = tmp_path / "nope.net.xml"
    with pytest.raises(InputError, match="no such network file") as info:
        tls_coordinator(missing, c03 / "flows.rou.xml", tmp_path / "o.add.xml")
    assert str(missing) in str(info.value)
    with pytest.raises(InputError, match=r"root element is <routes>, expected <net>"):
        tls_cycle_adaptation(c03 / "flows.rou.xml", c03 / "flows.rou.xml", tmp_path / "o.xml")
    with pytest.raises(InputError, match="no such route file"):
        tls_coordinator(c03 / "corr.net.xml", tmp_path / "none.rou.xml", tmp_path / "o.xml")
    assert not (tmp_path / "o.add.xml").exists()


def test_a_failing_tool_names_itself_its_exit_code_and_its_message(
    shared_dir: Path, tmp_path: Path
) -> None:
    # c02: the path S1J1 → J1J2 → J2E turns right at J1 on a link that is never green ('s');
    # tlsCoordinator raises "No green light for tlIndex 6 at tl J1"
    c02 = shared_dir / "cases" / "c02-s-state"
    out = tmp_path / "o.add.xml"
    with pytest.raises(SimulationError) as info:
        tls_coordinator(c02 / "net_s.net.xml", c02 / "routes2.rou.xml", out)
    message = str(info.value)
    assert COORDINATOR in message and "exit code 1" in message
    assert "No green light for tlIndex 6 at tl J1" in message
    assert not out.exists()


def test_a_broken_net_fails_in_duarouter_with_its_message(
    shared_dir: Path, tmp_path: Path
) -> None:
    c03 = _c03(shared_dir)
    broken = tmp_path / "broken.net.xml"
    broken.write_bytes((c03 / "corr.net.xml").read_bytes()[:3000])  # <net>, cut short
    with pytest.raises(SimulationError) as info:
        tls_cycle_adaptation(broken, c03 / "flows.rou.xml", tmp_path / "o.add.xml")
    message = str(info.value)
    assert "duarouter" in message and "exit code 1" in message
    assert "unexpected end of input" in message


def test_tool_option_errors_are_reported(shared_dir: Path, tmp_path: Path) -> None:
    c03 = _c03(shared_dir)
    with pytest.raises(InputError, match="min_cycle_s 90 is above max_cycle_s 60"):
        tls_cycle_adaptation(c03 / "corr.net.xml", c03 / "flows.rou.xml", tmp_path / "o.xml",
                             min_cycle_s=90, max_cycle_s=60)
    with pytest.raises(SimulationError, match=r"(?s)exit code 2.*unrecognized arguments"):
        tls_cycle_adaptation(c03 / "corr.net.xml", c03 / "flows.rou.xml", tmp_path / "o.xml",
                             extra_args=["--no-such-option"])
