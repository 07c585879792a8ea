"""Writing plans back into an imported net's own programs, corridor trips on an imported net,
and the import-net / evaluate-net commands (real SUMO, small nets built here)."""

from __future__ import annotations

import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from greenwave.errors import InfeasibleError, InputError
from greenwave.netscenario import (
    CorridorPath,
    NetDemand,
    coordinate,
    corridor_passage,
    corridor_trips,
    evaluate_net,
    through_paths,
)
from greenwave.sumo.binaries import binary, sumo_env
from greenwave.sumo.importnet import import_corridor
from greenwave.sumo.programs import UnsafeProgramError
from greenwave.sumo.simulate import DrivenRoute
from greenwave.sumo.writeback import (
    check_retimed,
    choose_cycle,
    net_programs,
    own_cycle_exclusions,
    retime_corridor,
    retime_signal,
    timing_sheet,
    write_net_programs,
)
from test_importnet import MAIN_ROUTE, build_arterial

pytestmark = pytest.mark.sumo

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
INGOLSTADT_TLS = ["cluster_1757124350_1757124352", "gneJ143", "gneJ207", "cluster_306484187_",
                  "32564122", "gneJ260", "gneJ210"]


@pytest.fixture(scope="module")
def arterial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The arterial of test_importnet (A 60 s, B 60 s, joined C 70 s), with cross streets."""
    return build_arterial(tmp_path_factory.mktemp("wb_arterial"))


# --------------------------------------------------------------------------------------------
# retiming


def test_retime_keeps_transitions_and_scales_greens(arterial: Path) -> None:
    ic = import_corridor(arterial, route=MAIN_ROUTE)
    assert choose_cycle(ic) == 60.0  # A and B run 60 s, C 70 s
    c = ic.signals[2]
    r = retime_signal(c, 60.0)
    old = [p.duration_s for p in c.phases]
    new = [p.duration_s for p in r.phases]
    assert old == [5, 25, 3, 2, 30, 3, 2] and sum(new) == 60
    assert [new[k] for k in (2, 3, 5, 6)] == [3, 2, 3, 2]  # yellow and all-red kept
    assert all(float(x).is_integer() for x in new)
    assert new[0] == 5  # already at the default minimum of 5 s: not shortened
    assert sum(new[k] for k in (1, 4)) == 45 and abs(new[1] - new[4]) <= 5
    assert [p.state for p in r.phases] == [p.state for p in c.phases]
    # outbound window = phases 0 and 1 (links 0 and 6 green), inbound = phase 1 only
    assert (r.out_green_start_s, r.green_out_s) == (0.0, new[0] + new[1])
    assert (r.in_green_start_s, r.green_in_s) == (new[0], new[1])
    with pytest.raises(InfeasibleError, match=r"signal C: cannot run a 20 s cycle"):
        retime_signal(c, 20.0)


def test_program_check_refuses_unsafe_retimings(arterial: Path) -> None:
    ic = import_corridor(arterial, route=MAIN_ROUTE)
    rc = retime_corridor(ic, 60.0)
    a = rc.signals[0]
    base = net_programs(rc, _plan(rc))[0]
    ok, inherited = check_retimed(a.signal, base, a.minimums_s)
    assert ok == [] and inherited == []
    phases = list(base.phases)
    longer_yellow = replace(base, phases=(phases[0], replace(phases[1], duration_s=4.0),
                                          *phases[2:]))
    assert any("yellow/all-red of 3 s, written as 4 s" in p
               for p in check_retimed(a.signal, longer_yellow, a.minimums_s)[0])
    short = replace(base, phases=(replace(phases[0], duration_s=2.0), *phases[1:]))
    assert any("below its minimum 5 s" in p
               for p in check_retimed(a.signal, short, a.minimums_s)[0])
    no_yellow = replace(base, phases=(phases[0], replace(phases[1], state=phases[2].state),
                                      *phases[2:]))
    problems = check_retimed(a.signal, no_yellow, a.minimums_s)[0]
    assert any("phase states differ" in p for p in problems)
    bad_offset = replace(base, offset_s=61.0)
    assert any("outside [0, 60)" in p for p in check_retimed(a.signal, bad_offset)[0])


def test_unsafe_program_writes_nothing(arterial: Path, tmp_path: Path) -> None:
    ic = import_corridor(arterial, route=MAIN_ROUTE)
    rc = retime_corridor(ic, 60.0)
    programs = list(net_programs(rc, _plan(rc)))
    p0 = programs[0]
    programs[0] = replace(p0, phases=(replace(p0.phases[0], duration_s=1.0), *p0.phases[1:]))
    out = tmp_path / "x.add.xml"
    with pytest.raises(UnsafeProgramError, match="nothing written"):
        write_net_programs(rc, programs, out)
    assert not out.exists()


def _plan(rc):  # type: ignore[no-untyped-def]
    from greenwave.optimize import optimize_corridor

    return optimize_corridor(rc.corridor)


# --------------------------------------------------------------------------------------------
# round trip in SUMO


def test_written_programs_run_in_sumo_as_planned(arterial: Path, tmp_path: Path) -> None:
    libsumo = pytest.importorskip("libsumo")
    ic = import_corridor(arterial, route=MAIN_ROUTE)
    plan = coordinate(ic, cycle_s=60.0)
    add, _ = write_net_programs(plan.retimed, plan.programs, tmp_path / "gw.add.xml")
    offsets = {p.tls_id: p.offset_s for p in plan.programs}
    assert all(0 <= o < 60 for o in offsets.values())
    log = tmp_path / "sumo.log"
    begin = 57600  # not a multiple of any offset: the frame is absolute time, not begin
    libsumo.start(["sumo", "-n", str(arterial), "-a", str(add), "--begin", str(begin),
                   "--no-step-log", "true", "--log", str(log)])
    try:
        tl = libsumo.trafficlight
        assert {t: tl.getProgram(t) for t in offsets} == {t: "greenwave" for t in offsets}
        starts: dict[str, list[float]] = {t: [] for t in offsets}
        last = {t: tl.getPhase(t) for t in offsets}
        for _ in range(130):
            libsumo.simulationStep()
            for t in offsets:
                phase = tl.getPhase(t)
                if phase != last[t] and phase == 0:
                    starts[t].append(libsumo.simulation.getTime() - tl.getSpentDuration(t))
                last[t] = phase
    finally:
        libsumo.close()
    for rs, timing in zip(plan.retimed.signals, plan.plan.signals, strict=True):
        t = rs.signal.tls_id
        assert len(starts[t]) >= 2, t
        for start in starts[t]:
            # phase 0 starts at t = offset + k·C, and the outbound green where the plan put it
            assert (start - offsets[t]) % 60 == pytest.approx(0, abs=1e-6)
            green = (start + rs.out_green_start_s) % 60
            assert math.isclose(green, timing.green_out_start_s % 60, abs_tol=1e-6) or \
                math.isclose(abs(green - timing.green_out_start_s % 60), 60, abs_tol=1e-6)
    # no warning about the signals beyond those the net's own programs already get
    own = subprocess.run([str(binary("sumo")), "-n", str(arterial), "--end", "1",
                          "--no-step-log", "true"], capture_output=True, text=True,
                         env=sumo_env(), check=True)
    lines = [ln for ln in (own.stdout + own.stderr).splitlines() if "tlLogic" in ln]
    before = {*lines, *(ln.replace("program '0'", "program 'greenwave'") for ln in lines)}
    after = [ln for ln in log.read_text(encoding="utf-8").splitlines()
             if "tlLogic" in ln or "traffic light" in ln.lower()]
    assert [ln for ln in after if ln not in before] == []


def test_keep_own_cycle_leaves_other_cycles_out(arterial: Path, tmp_path: Path) -> None:
    libsumo = pytest.importorskip("libsumo")
    ic = import_corridor(arterial, route=MAIN_ROUTE)
    assert own_cycle_exclusions(ic, 70.0)[0].tls_id == "A"
    all_in = retime_corridor(ic, 60.0)
    assert all_in.excluded == () and len(all_in.signals) == 3
    plan = coordinate(ic, cycle_s=60.0, keep_own_cycle=True)
    rc = plan.retimed
    assert [e.tls_id for e in rc.excluded] == ["C"]  # C runs 70 s, the common cycle is 60 s
    assert "own cycle 70 s differs from the common cycle 60 s" in rc.excluded[0].reason
    assert [r.signal.tls_id for r in rc.signals] == ["A", "B"]
    assert rc.corridor.ids == tuple(i.id for i in ic.corridor.intersections[:2])
    assert [s.id for s in plan.plan.signals] == list(rc.corridor.ids)
    assert [p.tls_id for p in plan.programs] == ["A", "B"]
    assert "not coordinated: C" in timing_sheet(rc, plan.programs)
    add, _ = write_net_programs(rc, plan.programs, tmp_path / "gw.add.xml")
    written = [el.get("id") for el in ET.parse(add).getroot().iter("tlLogic")]
    assert written == ["A", "B"]
    with pytest.raises(InputError, match="only 1 signal"):
        retime_corridor(ic, 70.0, keep_own_cycle=True)
    libsumo.start(["sumo", "-n", str(arterial), "-a", str(add), "--no-step-log", "true"])
    try:
        tl = libsumo.trafficlight
        progs = {t: tl.getProgram(t) for t in ("A", "B", "C")}
        c_cycle = sum(p.duration for p in
                      tl.getCompleteRedYellowGreenDefinition("C")[0].phases)
    finally:
        libsumo.close()
    assert progs == {"A": "greenwave", "B": "greenwave", "C": ic.signals[2].program_id}
    assert c_cycle == pytest.approx(70.0)  # untouched: its own program at its own cycle


# --------------------------------------------------------------------------------------------
# corridor trips


def test_corridor_passage_counts_consecutive_signals() -> None:
    # signals: s0 between edges a→b, s1 (joined) b→c→d, s2 d→e
    path = CorridorPath(("a", "b", "c", "d", "e"), ((0, 1), (1, 3), (3, 4)))
    whole = DrivenRoute(("x", "a", "b", "c", "d", "e", "y"), (10, 20, 30, 35, 50, 60, 70), 0)
    assert corridor_passage(whole, path) == (3, 60 - 10)
    first_two = DrivenRoute(("a", "b", "c", "d", "z"), (20, 30, 35, 50, 55), 5)
    assert corridor_passage(first_two, path) == (2, 50 - 5)  # from departure on edge a
    turns_in_cluster = DrivenRoute(("a", "b", "c", "q"), (1, 2, 3, 4), 0)
    assert corridor_passage(turns_in_cluster, path)[0] == 1
    other = DrivenRoute(("e", "d", "c"), (), 0)
    n, seconds = corridor_passage(other, path)
    assert n == 0 and math.isnan(seconds)
    routes = {"whole": whole, "two": first_two, "one": turns_in_cluster, "none": other}
    assert set(corridor_trips(routes, path, min_signals=2)) == {"whole", "two"}
    assert set(corridor_trips(routes, path, min_signals=3)) == {"whole"}


def test_through_paths_of_the_arterial(arterial: Path) -> None:
    ic = import_corridor(arterial, route=MAIN_ROUTE)
    paths = through_paths(ic)
    assert paths["outbound"].edges == ("WA", "AB", "BC1", "C1C2", "C2E")
    assert paths["outbound"].spans == ((0, 1), (1, 2), (2, 4))  # C joins C1 and C2
    assert paths["inbound"].edges == ("EC2", "C2C1", "C1B", "BA", "AW")
    assert paths["inbound"].spans == ((0, 2), (2, 3), (3, 4))


def test_evaluate_net_on_the_arterial(arterial: Path, tmp_path: Path) -> None:
    routes = tmp_path / "d.rou.xml"
    root = ET.Element("routes")
    ET.SubElement(root, "flow", id="east", begin="0", end="600", vehsPerHour="500",
                  **{"from": "WA", "to": "C2E"})
    ET.SubElement(root, "flow", id="west", begin="0", end="600", vehsPerHour="400",
                  **{"from": "EC2", "to": "AW"})
    ET.SubElement(root, "flow", id="cross", begin="0", end="600", vehsPerHour="150",
                  **{"from": "nB", "to": "Bs"})
    ET.ElementTree(root).write(routes)
    ic = import_corridor(arterial, route=MAIN_ROUTE)
    plan = coordinate(ic, cycle_s=60.0)
    add, _ = write_net_programs(plan.retimed, plan.programs, tmp_path / "gw.add.xml")
    demand = NetDemand(arterial, (routes,), 0.0, 600.0)
    result = evaluate_net(demand, ic, add, out_dir=tmp_path / "eval", seeds=(1,),
                          min_signals=3)
    m = result.metrics
    assert list(m["method"].unique()) == ["original", "tlscoordinator", "greenwave"]
    assert result.failures == {}
    east = m[m["direction"] == "outbound"].set_index("method")
    assert (east["trips"] > 50).all()  # ~83 vehicles of the east flow drive all 3 signals
    assert (m[m["direction"] == "inbound"]["trips"] > 40).all()
    assert east.loc["greenwave", "stops_per_trip"] <= east.loc["original", "stops_per_trip"]
    # these trips drive exactly the corridor path: the corridor time is the trip's (±1 s steps)
    assert (m["corridor_time_s"] <= m["travel_time_s"] + 1e-9).all()
    assert (m["corridor_time_s"] > m["travel_time_s"] - 3).all()
    assert (tmp_path / "eval" / "tlscoordinator.add.xml").stat().st_size != 0
    assert isinstance(m, pd.DataFrame)


# --------------------------------------------------------------------------------------------
# command line


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "greenwave", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--route", "AW"], "passes no traffic light"),
        (["--route", "WA", "nope"], "no edge 'nope'"),
        (["--from", "nope", "--to", "C2E"], "no edge 'nope'"),
        (["--route", "WA", "BC1"], "edges 'WA' and 'BC1' are not connected"),
        (["--from", "WA"], "--from needs --to"),
    ],
)
def test_import_net_bad_input_exit_2(arterial: Path, tmp_path: Path, args: list[str],
                                     needle: str) -> None:
    r = run("import-net", str(arterial), *args, "--out", "c.csv", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]
    assert not (tmp_path / "c.csv").exists()


def test_import_net_not_a_sumo_net(tmp_path: Path) -> None:
    routes = tmp_path / "r.rou.xml"
    routes.write_text("<routes/>\n", encoding="utf-8")
    r = run("import-net", str(routes), "--route", "a", cwd=tmp_path)
    assert r.returncode == 2 and "not a SUMO network" in r.stderr
    r = run("import-net", str(tmp_path / "missing.net.xml"), "--route", "a", cwd=tmp_path)
    assert r.returncode == 2 and "no such file" in r.stderr


def test_import_net_writes_spec_and_explains(arterial: Path, tmp_path: Path) -> None:
    r = run("import-net", str(arterial), "--route", " ".join(MAIN_ROUTE), "--out", "art.csv",
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "out green" in r.stdout and "joined signal" in r.stdout
    assert (tmp_path / "art.csv").is_file() and (tmp_path / "art.import.json").is_file()


def test_ingolstadt7_import_net_and_common_cycle(ingolstadt: Path, tmp_path: Path) -> None:
    r = run("import-net", str(ingolstadt), "--from", "124812856#1", "--to", "51857517#1",
            "--out", "i7.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = (tmp_path / "i7.csv").read_text(encoding="utf-8").splitlines()[1:]
    ids = [row.split(",")[0] for row in rows]
    assert len(ids) == 7
    assert ids[:3] + ids[4:] == INGOLSTADT_TLS[:3] + INGOLSTADT_TLS[4:]
    assert ids[3].startswith(INGOLSTADT_TLS[3])
    ic = import_corridor(ingolstadt, from_edge="124812856#1", to_edge="51857517#1")
    rc = retime_corridor(ic)
    assert rc.cycle_s == 90.0
    big = rc.signals[3]
    assert [p.duration_s for p in big.signal.phases] == [15, 3, 5, 3, 36, 3]
    new = [p.duration_s for p in big.phases]
    assert sum(new) == 90 and [new[k] for k in (1, 3, 5)] == [3, 3, 3]
    assert new[0] / 15 == pytest.approx(new[4] / 36, rel=0.1)
    for s in rc.signals:
        if s is not big:
            assert s.phases == s.signal.phases  # the 90 s signals keep their durations


def test_evaluate_net_keeps_own_cycles_by_default(arterial: Path, tmp_path: Path) -> None:
    routes = tmp_path / "d.rou.xml"
    root = ET.Element("routes")
    ET.SubElement(root, "flow", id="east", begin="0", end="300", vehsPerHour="400",
                  **{"from": "WA", "to": "C2E"})
    ET.ElementTree(root).write(routes)
    common = ("evaluate-net", str(arterial), "--route", " ".join(MAIN_ROUTE), "--demand",
              str(routes), "--end", "300", "--cycle-s", "60", "--seeds", "1",
              "--baselines", "original")
    written = {}
    for flags in (("--splits", "own"), ("--splits", "own", "--no-keep-own-cycle"), ()):
        out = "o" + "".join(flags)
        r = run(*common, *flags, "--out", out, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert ("not coordinated: C: own cycle 70 s" in r.stderr) == (flags == ("--splits",
                                                                                 "own"))
        add = ET.parse(tmp_path / out / "greenwave.add.xml").getroot()
        written[flags] = [el.get("id") for el in add.iter("tlLogic")]
    # splits from demand (the default) retime every signal to the common cycle
    assert written == {("--splits", "own"): ["A", "B"],
                       ("--splits", "own", "--no-keep-own-cycle"): ["A", "B", "C"],
                       (): ["A", "B", "C"]}
    # the counted flows: 400 veh/h east for 300 s is 33 or 34 vehicles, 396-408 veh/h, on the
    # one link from WA to AB; nothing on the cross street
    flows = pd.read_csv(tmp_path / "o" / "flows.csv")
    east = flows[(flows["from_edge"] == "WA") & (flows["to_edge"] == "AB")]
    assert len(east) == 1 and 396 <= float(east["flow_vph"].iloc[0]) <= 408
    assert float(flows[flows["from_edge"] == "nA"]["flow_vph"].sum()) == 0.0
