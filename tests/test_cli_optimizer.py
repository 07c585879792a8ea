"""`greenwave optimize` with the full optimizer's options: every option reaches the API."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

CSV = ("id,position_m,green_out_s,green_in_s,inbound_shift_s\n"
       "A,0,30,30,0\nB,300,28,30,0\nC,600,30,26,0\nD,1500,30,30,0\nE,1670,26,30,0\n"
       "F,2090,30,30,0\nG,2340,24,30,0\n")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "greenwave.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_zones_on_a_csv_corridor(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(CSV)
    res = run("optimize", "c.csv", "--cycle-s", "60", "--speed-kmh", "36", "--zones",
              "--min-zone-signals", "2", "--max-zones", "3", "--boundary-penalty", "0",
              "--out", "out", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    zones = plan["solver"]["zones"]
    assert plan["solver"]["method"] == "maxband-zones" and 1 <= len(zones) <= 3
    assert zones[0][0] == 0 and zones[-1][1] == 6  # the zones cover the corridor in order
    assert all(b + 1 == c for (_, b), (c, _) in itertools.pairwise(zones))
    assert "sub-zones" in res.stdout


def test_refine_and_splits_from_demand(tmp_path: Path) -> None:
    res = run("optimize", "ganjiang", "--splits", "demand", "--cycle-range-s", "100", "100",
              "--speed-range-kmh", "55", "55", "--no-sequences", "--refine", "--keep-band",
              "0.9", "--max-split-s", "3", "--out", "out", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert plan["solver"]["options"]["splits"] == "demand"
    assert plan["solver"]["refined"] == "transyt-offsets-splits"
    assert "refined offsets and splits (delay model" in res.stdout
    assert "sumo_check" not in plan["solver"]  # only with --sumo-check
    kept = float(res.stdout.split("% kept")[0].rsplit("(", 1)[1])
    assert kept >= 90.0


def test_time_of_day_plans(tmp_path: Path) -> None:
    res = run("optimize", "ganjiang", "--periods", "offpeak,am_peak", "--cycle-range-s",
              "100", "100", "--speed-range-kmh", "55", "55", "--no-sequences", "--out", "out",
              cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for period in ("offpeak", "am_peak"):
        plan = json.loads((tmp_path / "out" / period / "plan.json").read_text())
        assert plan["period"] == period and plan["cycle_s"] == 100.0
        assert (tmp_path / "out" / period / "programs.add.xml").is_file()


@pytest.mark.parametrize(("extra", "needle"), [
    (["--refine"], "--refine needs demand periods"),
    (["--sumo-check"], "--sumo-check needs --refine"),
    (["--periods", "all"], "--periods needs demand periods"),
    (["--splits", "demand"], "--splits demand needs demand periods"),
    (["--keep-band", "1.5"], "expected a share from 0 to 1"),
    (["--max-zones", "0"], "expected a whole number from 1 to 1000"),
])
def test_bad_options_exit_2(tmp_path: Path, extra: list[str], needle: str) -> None:
    (tmp_path / "c.csv").write_text(CSV)
    res = run("optimize", "c.csv", "--cycle-s", "60", "--speed-kmh", "36", *extra,
              "--out", "out", cwd=tmp_path)
    assert res.returncode == 2
    assert needle in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_unknown_period_in_the_list(tmp_path: Path) -> None:
    res = run("optimize", "ganjiang", "--periods", "offpeak,nosuch", "--out", "out",
              cwd=tmp_path)
    assert res.returncode == 2 and "nosuch" in res.stderr and "'--periods'" in res.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "sumo_configs").exists()


def test_k_from_the_periods_volumes(tmp_path: Path) -> None:
    res = run("optimize", "ganjiang", "--period", "am_peak", "--mode", "weighted", "--k",
              "demand", "--cycle-range-s", "140", "140", "--speed-range-kmh", "55", "55",
              "--no-sequences", "--out", "out", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    # the spec's AM peak: 1,800 veh/h inbound (northbound), 1,150 veh/h outbound
    assert plan["solver"]["k"] == pytest.approx(1800.0 / 1150.0)
    assert plan["bandwidth_in_s"] >= plan["bandwidth_out_s"]  # the heavier direction


def test_k_demand_needs_demand(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(CSV)
    res = run("optimize", "c.csv", "--cycle-s", "60", "--speed-kmh", "36", "--mode",
              "weighted", "--k", "demand", "--out", "out", cwd=tmp_path)
    assert res.returncode == 2 and "--k demand needs demand periods" in res.stderr
    assert not (tmp_path / "out").exists()
