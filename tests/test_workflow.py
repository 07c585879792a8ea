"""End to end on a small corridor: TOML spec -> SUMO network -> optimized plan -> simulation."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from _small_corridor import SMALL
from greenwave import load_corridor, optimize_corridor
from greenwave.bands import evaluate_bands


@pytest.fixture
def small_toml(tmp_path: Path) -> Path:
    p = tmp_path / "small.toml"
    p.write_text(SMALL)
    return p


def test_alternate_system_found(small_toml: Path) -> None:
    corridor = load_corridor(small_toml)
    plan = optimize_corridor(corridor)
    assert plan.bandwidth_out_s == pytest.approx(35.0, abs=1e-6)
    assert plan.bandwidth_in_s == pytest.approx(35.0, abs=1e-6)
    starts = [s.green_out_start_s for s in plan.signals]
    steps = [(b - a) % 60 for a, b in itertools.pairwise(starts)]
    assert steps == pytest.approx([30.0, 30.0, 30.0])
    # the bands written are what the offsets give
    exact = evaluate_bands(corridor.band_problem(), starts)
    assert exact.bandwidth_out_s == pytest.approx(plan.bandwidth_out_s)


@pytest.mark.sumo
def test_evaluate_cli_end_to_end(small_toml: Path, tmp_path: Path) -> None:
    def gw(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "greenwave.cli", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)

    res = gw("optimize", str(small_toml), "--out", "plan")
    assert res.returncode == 0, res.stderr
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text())
    add = (tmp_path / "plan" / "programs.add.xml").read_text()
    assert add.count("<tlLogic") == 4 and 'programID="greenwave"' in add
    assert all(0 <= s["offset_s"] < 60 for s in plan["intersections"])

    res = gw("evaluate", str(small_toml), "--plan", "plan/plan.json", "--end-s", "600", "--seeds", "7",
             "--out", "eval")
    assert res.returncode == 0, res.stderr
    m = pd.read_csv(tmp_path / "eval" / "metrics.csv")
    assert list(m.columns[:8]) == ["method", "period", "direction", "trips", "travel_time_s",
                                   "delay_s", "stops_per_trip", "pass_without_stop_rate"]
    assert set(m["method"]) == {"baseline", "uncoordinated", "greenwave"}
    assert set(m["direction"]) == {"outbound", "inbound"}
    assert (m["teleports"] == 0).all()
    assert set(m["seed"]) == {7}
    # ~500 veh/h for 600 s in each direction, all through trips (no turns): about 83 each
    assert m["trips"].between(50, 120).all()
    g = m[m.method == "greenwave"].set_index("direction")
    b = m[m.method == "baseline"].set_index("direction")
    for d in ("outbound", "inbound"):
        # with a 35 s band in a 60 s cycle most platoons pass all four signals
        assert g.loc[d, "stops_per_trip"] < b.loc[d, "stops_per_trip"]
        u = m[m.method == "uncoordinated"].set_index("direction")
        assert g.loc[d, "stops_per_trip"] < u.loc[d, "stops_per_trip"]
        assert g.loc[d, "pass_without_stop_rate"] >= 0.4
        # free-flow bound: 1,200 m between signals + 2 x 200 m links at <= 50 km/h
        assert g.loc[d, "travel_time_s"] >= 1600 / (50 / 3.6) * 0.85


def test_builtin_corridor_found_from_any_folder(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from greenwave.workflow import resolve_corridor_path

    monkeypatch.chdir(tmp_path)
    path = resolve_corridor_path("ganjiang")
    repo_spec = Path(__file__).resolve().parents[1] / "networks/ganjiang/corridor.toml"
    assert path.read_text() == repo_spec.read_text()
    assert len(load_corridor(path).intersections) == 23


def test_uncoordinated_reference_keeps_splits_and_zero_offsets(small_toml: Path) -> None:
    from greenwave.workflow import uncoordinated_plan

    corridor = load_corridor(small_toml)
    plan = optimize_corridor(corridor)
    ref = uncoordinated_plan(plan, corridor)
    assert [s.offset_s for s in ref.signals] == [0, 0, 0, 0]
    assert [s.green_out_s for s in ref.signals] == [s.green_out_s for s in plan.signals]
    # By hand: all 35 s greens start at 0 and a link takes C/2 = 30 s. Leaving A at t in
    # [0, 35], B (t + 30) and D (t + 90) need t in [0, 5] or [30, 35] (mod 60), C (t + 60)
    # any t: two 5 s pieces, so the band is 5 s each way.
    assert ref.bandwidth_out_s == pytest.approx(5.0)
    assert ref.bandwidth_in_s == pytest.approx(5.0)


def test_demo_tables_use_the_corridors_direction_names(
        ganjiang_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from greenwave.cli import _print_metrics

    corridor = load_corridor(ganjiang_path)  # southbound / northbound
    metrics = pd.DataFrame(
        [{"method": m, "period": "offpeak", "direction": d, "trips": 10,
          "travel_time_s": t, "delay_s": t / 2, "stops_per_trip": 2.0,
          "pass_without_stop_rate": 0.1, "seed": 1, "teleports": 0, "total_delay_s": 9.0,
          "not_inserted": 0}
         for m, t in (("baseline", 900.0), ("greenwave", 700.0))
         for d in ("outbound", "inbound")])
    _print_metrics(metrics, corridor)
    out = capsys.readouterr().out
    pooled, comparison = out.split("\n\n")[:2]
    for table in (pooled, comparison):
        assert "southbound" in table and "northbound" in table, table
        assert "outbound" not in table and "inbound" not in table, table
    assert metrics["direction"].tolist()[:2] == ["outbound", "inbound"]  # input untouched
