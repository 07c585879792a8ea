"""Tuning an imported corridor's offsets in SUMO (netscenario.tune_net_plan, evaluate-net
--tune): the objective is what the docs say, recomputed from an independent evaluation run; the
tuned programs are checked and their bands exact; tuning on the evaluation seeds is refused."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from greenwave.errors import InputError
from greenwave.netscenario import (
    NetDemand,
    check_route_files,
    coordinate,
    evaluate_net,
    tune_net_plan,
)
from greenwave.sumo.importnet import import_corridor
from greenwave.sumo.writeback import write_net_programs
from test_importnet import MAIN_ROUTE, build_arterial

pytestmark = pytest.mark.sumo


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The 3-signal arterial of test_importnet with flows both ways and across A."""
    out = tmp_path_factory.mktemp("tune")
    net = build_arterial(out)
    routes = out / "d.rou.xml"
    root = ET.Element("routes")
    for fid, src, dst, vph in (("east", "WA", "C2E", 700), ("west", "EC2", "AW", 600),
                               ("north", "sA", "An", 300)):
        ET.SubElement(root, "flow", id=fid, begin="0", end="600", vehsPerHour=str(vph),
                      **{"from": src, "to": dst})
    ET.ElementTree(root).write(routes)
    return net, routes


def test_tuned_plan_is_checked_exact_and_its_value_is_reproduced(
        scene: tuple[Path, Path], tmp_path: Path) -> None:
    net, routes = scene
    ic = import_corridor(net, route=MAIN_ROUTE)
    demand = NetDemand(net, (routes,), 0.0, 600.0)
    band = coordinate(ic, cycle_s=60.0, keep_own_cycle=True)
    tuned, report = tune_net_plan(band, demand, out_dir=tmp_path, seeds=(7,),
                                  max_evaluations=8, stop_penalty_s=20.0)
    assert report.evaluations <= 8
    assert len(report.trials) == report.evaluations  # one row per simulated candidate
    assert report.value_after <= min(report.start_values.values()) + 1e-9
    assert not (tmp_path / "tune").exists()
    # still a green wave: at least 80 % of the band plan's two-way band
    assert (tuned.plan.bandwidth_out_s + tuned.plan.bandwidth_in_s
            >= 0.8 * (band.plan.bandwidth_out_s + band.plan.bandwidth_in_s) - 1e-6)
    # no direction bought with the other: accepted moves keep both within 1 % of the start
    t = report.trials
    start = t.iloc[0] if report.start == "band" else t.iloc[1]
    for _, row in t[t["accepted"]].iterrows():
        for d in ("outbound", "inbound"):
            assert row[f"{d}_per_trip_s"] <= start[f"{d}_per_trip_s"] * 1.01 + 1e-9
    # bands are the exact bands of the tuned offsets; the programs pass the safety check; the
    # MILP's record is the band plan's, not the tuned plan's
    assert tuned.plan.solver["band_plan"] == dict(band.plan.solver)
    assert tuned.plan.solver["two_way"] == (tuned.plan.bandwidth_out_s > 0
                                            and tuned.plan.bandwidth_in_s > 0)
    exact = tuned.plan.with_exact_bands()
    assert tuned.plan.bandwidth_out_s == pytest.approx(exact.bandwidth_out_s)
    assert tuned.plan.bandwidth_in_s == pytest.approx(exact.bandwidth_in_s)
    add, _ = write_net_programs(tuned.retimed, tuned.programs, tmp_path / "tuned.add.xml")
    # the objective, recomputed by hand from an ordinary evaluation run on the tuning seed:
    # all vehicles' delay + corridor trips' (delay + 20 s per stop), in veh·h
    ev = evaluate_net(demand, ic, add, out_dir=tmp_path / "check", seeds=(7,), baselines=())
    m = ev.metrics
    corridor = float((m["trips"] * (m["delay_s"] + 20.0 * m["stops_per_trip"])).sum())
    pi = (float(m["total_delay_s"].iloc[0]) + corridor) / 3600.0
    assert pi == pytest.approx(report.value_after, rel=1e-9)
    offsets = {p.tls_id: p.offset_s for p in tuned.programs}
    written = {el.get("id"): float(el.get("offset"))
               for el in ET.parse(add).getroot().iter("tlLogic")}
    assert written == pytest.approx(offsets)


def test_tuning_on_the_evaluation_seeds_is_refused(scene: tuple[Path, Path],
                                                   tmp_path: Path) -> None:
    net, routes = scene
    r = subprocess.run([sys.executable, "-m", "greenwave", "evaluate-net", str(net), "--route",
                        " ".join(MAIN_ROUTE), "--demand", str(routes), "--end", "600",
                        "--seeds", "1,2", "--tune", "--tune-seeds", "2,9", "--out", "o"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert "tuning seeds [2] are also evaluation seeds" in r.stderr
    assert "--tune-seeds" in r.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("content", "needle"), [
    (None, "no such route file"),
    ("not xml", "not well-formed XML"),
    ("<routes></routes>", "holds no demand"),
])
def test_route_files_without_demand_are_refused(tmp_path: Path, content: str | None,
                                                needle: str) -> None:
    f = tmp_path / "d.rou.xml"
    if content is not None:
        f.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as e:
        check_route_files([f], source="x.sumocfg")
    assert needle in str(e.value) and "x.sumocfg" in str(e.value)
    assert e.value.field == "route-files"


@pytest.mark.parametrize(("extra", "needle"), [
    (("--tune", "--tune-evaluations", "1"), "expected at least 2"),
    (("--tune-seeds", "7,8"), "--tune-seeds is for the tuning run: add --tune"),
    (("--tune-evaluations", "5"), "--tune-evaluations is for the tuning run: add --tune"),
])
def test_tuning_options_are_checked_before_any_run(scene: tuple[Path, Path], tmp_path: Path,
                                                   extra: tuple[str, ...], needle: str) -> None:
    net, routes = scene
    r = subprocess.run([sys.executable, "-m", "greenwave", "evaluate-net", str(net), "--route",
                        " ".join(MAIN_ROUTE), "--demand", str(routes), "--end", "600",
                        *extra, "--out", "o"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert needle in r.stderr
    assert "[1/4]" not in r.stderr and not (tmp_path / "o").exists()


def test_min_signals_above_the_corridor_is_refused(scene: tuple[Path, Path],
                                                   tmp_path: Path) -> None:
    net, routes = scene
    r = subprocess.run([sys.executable, "-m", "greenwave", "evaluate-net", str(net), "--route",
                        " ".join(MAIN_ROUTE), "--demand", str(routes), "--end", "600",
                        "--min-signals", "4", "--out", "o"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert "the corridor has 3 signals; a corridor trip cannot drive through 4" in r.stderr
    assert not (tmp_path / "o").exists()
