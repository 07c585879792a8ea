"""Network building and demand: real netconvert, real sumo, reference values from the spec."""

from __future__ import annotations

import math
import subprocess
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest

from greenwave.corridor import Corridor, Intersection, PeriodDemand, Phase, load_corridor
from greenwave.errors import InputError
from greenwave.sumo.binaries import binary, sumo_env
from greenwave.sumo.demand import write_demand, write_sumocfg
from greenwave.sumo.netbuild import NetworkLayout, build_network, load_layout

REPO = Path(__file__).resolve().parents[1]
GANJIANG = REPO / "networks" / "ganjiang" / "corridor.toml"

pytestmark = pytest.mark.sumo

Built = tuple[Corridor, NetworkLayout]

TWO_PHASES = (
    Phase("main", 40.0, protected=frozenset({"out_T", "out_R", "in_T", "in_R"}),
          permitted=frozenset({"out_L", "in_L"})),
    Phase("cross", 30.0, protected=frozenset({"cross_T", "cross_R"}),
          permitted=frozenset({"cross_L"})),
)


def small_corridor() -> Corridor:
    """Three signals: 3 lanes + bays at A, 2 lanes without bay at B, 2 lanes + bay at C."""
    def signal(ident: str, pos: float, lanes: int, cross: int, bay: bool, major: bool
               ) -> Intersection:
        return Intersection(id=ident, position_m=pos, green_out_s=40.0, green_in_s=40.0,
                            through_lanes=lanes, cross_lanes=cross, left_turn_bay=bay,
                            major=major, phases=TWO_PHASES, cross_street=f"{ident} street")

    return Corridor(
        name="small",
        intersections=(
            signal("A", 0.0, 3, 2, True, True),
            signal("B", 420.0, 2, 1, False, False),
            signal("C", 700.0, 2, 1, True, True),
        ),
        cycle_s=80.0,
        speed_limit_kmh=60.0,
        approach_m=200.0,
        cross_link_m=150.0,
        demand=(PeriodDemand("test", duration_s=900.0, main_out_vph=900.0, main_in_vph=700.0,
                             cross_major_vph=300.0, cross_minor_vph=100.0, left_share=0.1,
                             right_share=0.08, minor_turn_factor=0.5),),
    )


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Corridor, NetworkLayout]:
    corridor = small_corridor()
    layout = build_network(corridor, tmp_path_factory.mktemp("small"), period="test", seed=7)
    return corridor, layout


@pytest.fixture(scope="module")
def ganjiang(tmp_path_factory: pytest.TempPathFactory) -> tuple[Corridor, NetworkLayout]:
    corridor = load_corridor(GANJIANG)
    layout = build_network(corridor, tmp_path_factory.mktemp("ganjiang"), period="offpeak")
    return corridor, layout


def read_net(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def edge_lanes(net: ET.Element) -> dict[str, int]:
    return {e.get("id", ""): len(e.findall("lane")) for e in net.iter("edge")
            if e.get("function") is None}


def junction_xy(net: ET.Element) -> dict[str, tuple[float, float]]:
    return {j.get("id", ""): (float(j.get("x", "nan")), float(j.get("y", "nan")))
            for j in net.iter("junction")}


def sumo_log(config_or_net: list[str], tmp_path: Path, end: int = 5) -> str:
    log = tmp_path / "sumo.log"
    result = subprocess.run(
        [str(binary("sumo")), *config_or_net, "--begin", "0", "--end", str(end),
         "--no-step-log", "true", "--log", str(log)],
        capture_output=True, text=True, env=sumo_env(), check=False,
    )
    assert result.returncode == 0, result.stderr
    return log.read_text(encoding="utf-8") + result.stderr


# --------------------------------------------------------------------------------------------
# the small corridor


def test_signals_are_traffic_lights_named_after_intersections(small: Built) -> None:
    _, layout = small
    net = read_net(layout.net_file)
    tls = [t.get("id") for t in net.iter("tlLogic")]
    assert tls == ["A", "B", "C"]
    assert layout.tls_ids == ("A", "B", "C")
    types = {j.get("id"): j.get("type") for j in net.iter("junction")}
    assert all(types[t] == "traffic_light" for t in tls)
    # The netconvert default program is kept as the baseline, programID "0".
    assert {t.get("programID") for t in net.iter("tlLogic")} == {"0"}


def test_edge_ids_and_order(small: Built) -> None:
    _, layout = small
    assert layout.out_edges == ("out_start_A", "out_start_A_bay", "out_A_B", "out_A_B_taper",
                                "out_B_C", "out_B_C_bay", "out_C_end")
    assert layout.in_edges == ("in_end_C", "in_end_C_bay", "in_C_B", "in_B_A", "in_B_A_bay",
                               "in_A_start")
    assert layout.through_routes == {"outbound": ("out_start_A", "out_C_end"),
                                     "inbound": ("in_end_C", "in_A_start")}
    assert layout.out_approach == {"A": "out_start_A_bay", "B": "out_A_B_taper",
                                   "C": "out_B_C_bay"}
    assert layout.in_approach == {"A": "in_B_A_bay", "B": "in_C_B", "C": "in_end_C_bay"}
    assert layout.cross_edges["B"].west_in == "B_west_in"
    # Edges chain: each main edge ends where the next one starts.
    net = read_net(layout.net_file)
    ends = {e.get("id"): (e.get("from"), e.get("to")) for e in net.iter("edge")}
    for seq in (layout.out_edges, layout.in_edges):
        for a, b in pairwise(seq):
            assert ends[a][1] == ends[b][0]


def test_main_road_lies_on_one_axis_with_the_corridor_spacing(small: Built) -> None:
    corridor, layout = small
    xy = junction_xy(read_net(layout.net_file))
    xs = {xy[i.id][0] for i in corridor.intersections}
    assert len(xs) == 1  # straight north-south axis
    y0 = xy["A"][1]
    for i in corridor.intersections:  # outbound = southbound: y decreases with position
        assert y0 - xy[i.id][1] == pytest.approx(i.position_m, abs=0.01)
    assert xy["start"][1] - y0 == pytest.approx(200.0, abs=0.01)
    assert y0 - xy["end"][1] == pytest.approx(700.0 + 200.0, abs=0.01)


def test_driven_length_matches_the_spacing(small: Built) -> None:
    """Edge lengths plus the through connections inside junctions ≈ the node distance."""
    corridor, layout = small
    net = read_net(layout.net_file)
    lane_len = {ln.get("id"): float(ln.get("length", "nan")) for ln in net.iter("lane")}
    edge_len = {e.get("id"): float(e.find("lane").get("length", "nan"))  # type: ignore[union-attr]
                for e in net.iter("edge")}
    via = {(c.get("from"), c.get("to")): c.get("via") for c in net.iter("connection")
           if c.get("fromLane") == "0" and c.get("via")}
    for seq in (layout.out_edges, layout.in_edges):
        total = sum(edge_len[e] for e in seq)
        total += sum(lane_len[via[(a, b)]] for a, b in pairwise(seq)
                     if (a, b) in via)
        expected = corridor.length_m + 2 * corridor.approach_m
        assert total == pytest.approx(expected, abs=3.0 * len(corridor.intersections))


def test_lanes_and_left_turn_bays(small: Built) -> None:
    corridor, layout = small
    net = read_net(layout.net_file)
    lanes = edge_lanes(net)
    conns = [c for c in net.iter("connection") if c.get("tl")]
    for i in corridor.intersections:
        for approach in (layout.out_approach[i.id], layout.in_approach[i.id]):
            expected = i.through_lanes + (1 if i.left_turn_bay else 0)
            assert lanes[approach] == expected, approach
            mine = [c for c in conns if c.get("from") == approach]
            left_lanes = {int(c.get("fromLane", "-1")) for c in mine if c.get("dir") == "l"}
            through_lanes = {int(c.get("fromLane", "-1")) for c in mine if c.get("dir") == "s"}
            assert through_lanes == set(range(i.through_lanes))
            if i.left_turn_bay:
                # The bay is the extra leftmost lane and carries only the left turn.
                assert left_lanes == {i.through_lanes}
            else:
                assert left_lanes == {i.through_lanes - 1}
        legs = layout.cross_edges[i.id]
        for leg in (legs.west_in, legs.west_out, legs.east_in, legs.east_out):
            assert lanes[leg] == i.cross_lanes
    # Links leave a signal with its lanes; 3 → 2 lanes taper ahead of B (which has no bay).
    assert (lanes["out_A_B"], lanes["out_A_B_taper"], lanes["in_B_A"]) == (3, 2, 2)
    # Bays start 60 m before the stop line.
    xy = junction_xy(net)
    assert xy["A_out_bay"][1] - xy["A"][1] == pytest.approx(60.0, abs=0.01)
    assert xy["C"][1] - xy["C_in_bay"][1] == pytest.approx(60.0, abs=0.01)
    assert "B_out_bay" not in xy


def test_speeds(small: Built) -> None:
    _, layout = small
    net = read_net(layout.net_file)
    speed = {e.get("id"): float(e.find("lane").get("speed", "nan"))  # type: ignore[union-attr]
             for e in net.iter("edge") if e.get("function") is None}
    assert speed["out_A_B"] == pytest.approx(60 / 3.6, abs=0.01)
    assert speed["B_east_in"] == pytest.approx(50 / 3.6, abs=0.01)


def test_sumo_loads_without_warnings(small: Built, tmp_path: Path) -> None:
    _, layout = small
    assert layout.config_file is not None
    log = sumo_log(["-c", str(layout.config_file)], tmp_path, end=60)
    assert "Warning" not in log, log
    assert "Error" not in log, log


def test_build_is_deterministic(tmp_path: Path) -> None:
    corridor = small_corridor()
    a = build_network(corridor, tmp_path / "a", period="test", seed=3)
    b = build_network(corridor, tmp_path / "b", period="test", seed=3)
    again = build_network(corridor, tmp_path / "a", period="test", seed=3)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["corridor.con.xml", "corridor.edg.xml", "corridor.net.xml",
                     "corridor.nod.xml", "corridor.sumocfg", "detectors.add.xml", "layout.json",
                     "test.rou.xml"]
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert again.out_edges == a.out_edges == b.out_edges


def test_layout_round_trip(small: Built) -> None:
    _, layout = small
    loaded = load_layout(layout.net_file.parent / "layout.json")
    assert loaded.net_file.resolve() == layout.net_file.resolve()
    assert loaded.routes_file is not None and layout.routes_file is not None
    assert loaded.routes_file.resolve() == layout.routes_file.resolve()
    for name in ("out_edges", "in_edges", "tls_ids", "through_routes", "out_approach",
                 "in_approach", "cross_edges", "period"):
        assert getattr(loaded, name) == getattr(layout, name), name


def test_load_layout_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_layout(tmp_path / "missing.json")
    bad = tmp_path / "layout.json"
    bad.write_text('{"net_file": "x.net.xml"}', encoding="utf-8")
    with pytest.raises(InputError, match="malformed layout"):
        load_layout(bad)


def test_lane_changes_and_short_links_build_cleanly(tmp_path: Path) -> None:
    """Lane counts that change between signals and a 40 m link still give a clean net."""
    spec = [(0.0, 1, 1, True), (60.0, 2, 3, False), (100.0, 4, 1, True), (400.0, 1, 2, True)]
    xs = tuple(Intersection(id=f"X{k}", position_m=p, green_out_s=30.0, green_in_s=30.0,
                            through_lanes=n, cross_lanes=m, left_turn_bay=bay)
               for k, (p, n, m, bay) in enumerate(spec))
    layout = build_network(Corridor(name="odd", intersections=xs, cycle_s=60.0), tmp_path)
    net = read_net(layout.net_file)
    assert edge_lanes(net)["out_X1_X2_bay"] == 5
    xy = junction_xy(net)
    assert xy["X2_out_bay"][1] - xy["X2"][1] == pytest.approx(16.0, abs=0.01)  # 40 % of 40 m
    log = sumo_log(["-n", str(layout.net_file)], tmp_path)
    assert "Warning" not in log, log


def test_bad_intersection_id_is_refused(tmp_path: Path) -> None:
    corridor = small_corridor()
    bad = replace(corridor.intersections[0], id="a b")
    with pytest.raises(InputError, match="cannot name a SUMO junction"):
        build_network(Corridor(name="x", intersections=(bad, *corridor.intersections[1:])),
                      tmp_path)


# --------------------------------------------------------------------------------------------
# demand


Flow = tuple[str, float, list[str]]


def flows_by_first_edge(routes: Path) -> tuple[dict[str, float], list[Flow]]:
    """Demand per entry edge [veh/h] and (id, veh/h, edges) per flow, read from the file."""
    root = ET.parse(routes).getroot()
    per_entry: dict[str, float] = defaultdict(float)
    flows = []
    for f in root.iter("flow"):
        period = f.get("period", "")
        assert period.startswith("exp(") and period.endswith(")")
        vph = float(period[4:-1]) * 3600.0
        route = f.find("route")
        assert route is not None
        edges = route.get("edges", "").split()
        per_entry[edges[0]] += vph
        flows.append((f.get("id", ""), vph, edges))
    return per_entry, flows


def test_demand_totals_per_entry_match_the_spec(small: Built) -> None:
    corridor, layout = small
    assert layout.routes_file is not None
    per_entry, flows = flows_by_first_edge(layout.routes_file)
    spec = corridor.period("test")
    assert per_entry["out_start_A"] == pytest.approx(900.0, rel=0.02)
    assert per_entry["in_end_C"] == pytest.approx(700.0, rel=0.02)
    for i in corridor.intersections:
        want = spec.cross_major_vph if i.major else spec.cross_minor_vph
        for leg in (layout.cross_edges[i.id].west_in, layout.cross_edges[i.id].east_in):
            assert per_entry[leg] == pytest.approx(want, rel=0.03), leg
    # Section flows stay close to the entry flow along the main street.
    for seq, entry in ((layout.out_edges, 900.0), (layout.in_edges, 700.0)):
        for edge in seq:
            on_edge = sum(v for _, v, edges in flows if edge in edges)
            assert on_edge == pytest.approx(entry, rel=0.05), edge


def test_demand_turn_volumes_follow_the_shares(small: Built) -> None:
    """At major crossing A, 10 % of the outbound entry flow turns left (east), 8 % right."""
    _, layout = small
    assert layout.routes_file is not None
    _, flows = flows_by_first_edge(layout.routes_file)
    to_east = sum(v for _, v, e in flows if e[0] == "out_start_A" and e[-1] == "A_east_out")
    to_west = sum(v for _, v, e in flows if e[0] == "out_start_A" and e[-1] == "A_west_out")
    assert to_east == pytest.approx(90.0, abs=0.5)
    assert to_west == pytest.approx(72.0, abs=0.5)
    # At minor B (factor 0.5): 5 % and 4 % of the 900 veh/h reaching it.
    at_b = sum(v for _, v, e in flows if "out_A_B" in e and e[-1] in ("B_east_out",
                                                                       "B_west_out"))
    assert at_b == pytest.approx(900.0 * 0.09, rel=0.02)


def test_through_flows_are_recognisable(small: Built) -> None:
    _, layout = small
    assert layout.routes_file is not None
    _, flows = flows_by_first_edge(layout.routes_file)
    through = {fid: (v, edges) for fid, v, edges in flows if fid.startswith("through_")}
    assert set(through) == {"through_outbound_start_to_end", "through_inbound_end_to_start"}
    v, edges = through["through_outbound_start_to_end"]
    assert tuple(edges) == layout.out_edges
    # Survival: 900 · (1 - 0.18) · (1 - 0.09) · (1 - 0.18), plus folded tiny pairs (none here).
    assert v == pytest.approx(900 * 0.82 * 0.91 * 0.82, rel=0.01)
    assert len({fid for fid, _, _ in flows}) == len(flows)


def test_demand_runs_in_sumo_without_teleports(small: Built, tmp_path: Path) -> None:
    _, layout = small
    assert layout.config_file is not None
    stats = tmp_path / "stats.xml"
    result = subprocess.run(
        [str(binary("sumo")), "-c", str(layout.config_file), "--end", "600",
         "--statistic-output", str(stats), "--no-warnings", "false"],
        capture_output=True, text=True, env=sumo_env(), check=False,
    )
    assert result.returncode == 0, result.stderr
    root = ET.parse(stats).getroot()
    teleports = root.find("teleports")
    vehicles = root.find("vehicles")
    assert teleports is not None and vehicles is not None
    assert int(teleports.get("total", "-1")) == 0
    # 600 s of about 900 + 700 + 2·300 + 2·100 + 2·300 veh/h ≈ 500 vehicles.
    assert 380 < int(vehicles.get("inserted", "0")) < 620


def test_sumocfg_loads_additionals_in_order(small: Built, tmp_path: Path) -> None:
    _, layout = small
    assert layout.routes_file is not None
    empty = tmp_path / "empty.add.xml"
    empty.write_text("<additional/>\n", encoding="utf-8")
    cfg = write_sumocfg(tmp_path, layout.net_file, layout.routes_file, [empty], 100, 160, 1,
                        name="x.sumocfg")
    root = ET.parse(cfg).getroot()
    assert root.find("input/additional-files").get("value") == "empty.add.xml"  # type: ignore[union-attr]
    assert root.find("time/begin").get("value") == "100"  # type: ignore[union-attr]
    log = sumo_log(["-c", str(cfg)], tmp_path, end=110)
    assert "Warning" not in log and "Error" not in log, log
    with pytest.raises(InputError):
        write_sumocfg(tmp_path, layout.net_file, None, (), 100, 100, 1)


def test_write_demand_unknown_period(small: Built, tmp_path: Path) -> None:
    corridor, layout = small
    with pytest.raises(InputError, match="unknown period"):
        write_demand(corridor, layout, "night", tmp_path / "x.rou.xml", seed=1)


# --------------------------------------------------------------------------------------------
# Ganjiang


def test_ganjiang_network(ganjiang: Built, tmp_path: Path) -> None:
    corridor, layout = ganjiang
    net = read_net(layout.net_file)
    ids = [f"S{k:02d}" for k in range(1, 24)]
    assert [t.get("id") for t in net.iter("tlLogic")] == ids
    assert list(layout.tls_ids) == ids
    xy = junction_xy(net)
    assert xy["S01"][1] - xy["S23"][1] == pytest.approx(10600.0, abs=1.0)
    assert xy["S01"][1] > xy["S23"][1]  # laid out north → south: outbound is southbound
    spacing = [380, 420, 350, 460, 510, 300, 440, 620, 1150, 480, 390, 560, 430, 350, 700,
               520, 450, 380, 600, 410, 330, 370]
    gaps = [xy[a][1] - xy[b][1] for a, b in pairwise(ids)]
    assert gaps == pytest.approx(spacing, abs=0.05)
    lanes = edge_lanes(net)
    for i in corridor.intersections:
        assert lanes[layout.out_approach[i.id]] == 4  # 3 through + the left-turn bay
        assert lanes[layout.in_approach[i.id]] == 4
        assert lanes[layout.cross_edges[i.id].west_in] == (2 if i.major else 1)
    assert lanes["out_S08_S09"] == 3
    log = sumo_log(["-n", str(layout.net_file)], tmp_path)
    assert "Warning" not in log, log


def test_ganjiang_demand(ganjiang: Built) -> None:
    corridor, layout = ganjiang
    assert layout.routes_file is not None
    per_entry, flows = flows_by_first_edge(layout.routes_file)
    assert per_entry["out_start_S01"] == pytest.approx(1100.0, rel=0.02)
    assert per_entry["in_end_S23"] == pytest.approx(1000.0, rel=0.02)
    for i in corridor.intersections:
        want = 350.0 if i.major else 120.0
        assert per_entry[layout.cross_edges[i.id].east_in] == pytest.approx(want, rel=0.03)
    total = sum(per_entry.values())
    assert math.isfinite(total)
    assert all(v >= 1.0 for _, v, _ in flows)
