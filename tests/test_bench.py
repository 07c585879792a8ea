"""greenwave bench: spec checks, real small matrices, resuming, failures, Dask = local pool."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from _small_corridor import SMALL
from greenwave.bench import TABLE_COLUMNS, read_spec, run_bench
from greenwave.bench.run import TIME_COLUMNS
from greenwave.cli import main
from greenwave.errors import InputError

MATRIX = """
[bench]
name = "tiny"
methods = ["baseline", "tlscoordinator", "greenwave", "refined"]
seeds = [1]
measure_s = 300
drain_s = 150

[[scenario]]
corridor = "small.toml"

[[scenario]]
name = "gen"
generate = 1
seed = 5
signals = 3
"""


def write_spec(folder: Path, text: str = MATRIX) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "small.toml").write_text(SMALL)
    spec = folder / "bench.toml"
    spec.write_text(text)
    return spec


def stable(table: pd.DataFrame) -> pd.DataFrame:
    """The table without the wall times (which differ from run to run)."""
    return table.drop(columns=list(TIME_COLUMNS)).reset_index(drop=True)


@pytest.fixture(scope="module")
def pool_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The tiny matrix run once by the CLI on the local pool: (spec, out, stderr)."""
    folder = tmp_path_factory.mktemp("bench")
    spec = write_spec(folder)
    out = folder / "out"
    proc = subprocess.run([sys.executable, "-m", "greenwave.cli", "bench", str(spec), "--out",
                           str(out), "--workers", "2"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return spec, out, proc.stderr


# --------------------------------------------------------------------------------------------
# spec checks: before anything runs, exit code 2, one line naming file, field and value


@pytest.mark.parametrize(("bench", "scenario", "expected"), [
    ('methods = ["baseline", "maxband"]\nseeds = [1]', 'corridor = "small.toml"',
     "field 'bench.methods': unknown method 'maxband'"),
    ('methods = ["baseline"]\nseeds = [1, 1]', 'corridor = "small.toml"',
     "field 'bench.seeds': seeds must differ"),
    ('methods = ["baseline"]\nseeds = [1, -3]', 'corridor = "small.toml"',
     "field 'bench.seeds': expected a non-empty list of whole numbers from 0 to 2147483647"),
    ('methods = ["baseline"]\nseeds = "1,2"', 'corridor = "small.toml"',
     "field 'bench.seeds': expected list"),
    ('methods = ["baseline"]\nseeds = []', 'corridor = "small.toml"',
     "field 'bench.seeds': expected a non-empty list"),
    ('methods = ["baseline"]\nseeds = [1]', 'corridor = "nowhere.toml"',
     "field 'scenario[0].corridor': no corridor file 'nowhere.toml'"),
    ('methods = ["baseline"]\nseeds = [1]\nperiods = ["am_peak"]', 'corridor = "small.toml"',
     "unknown period 'am_peak'; its corridor defines: offpeak"),
    ('methods = ["baseline"]\nseeds = [1]\nmeasure_s = 5000', 'corridor = "small.toml"',
     "field 'scenario[0].measure_s': scenario 'small': 5000 s is beyond period 'offpeak'"),
    ('methods = ["baseline"]\nseeds = [1]', 'generate = 0',
     "field 'scenario[0].generate': must be at least 1"),
    ('methods = ["baseline"]\nseeds = [1]', 'name = "x"',
     "a scenario needs exactly one of corridor"),
])
def test_bad_spec_fails_before_any_run(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       bench: str, scenario: str, expected: str) -> None:
    spec = write_spec(tmp_path, f"[bench]\n{bench}\n\n[[scenario]]\n{scenario}\n")
    code = main(["bench", str(spec), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err
    assert err.startswith(f"greenwave: error: {spec}: ")
    assert not (tmp_path / "out").exists()  # nothing ran, nothing was written


def test_imported_net_without_demand_fails_before_any_run(tmp_path: Path) -> None:
    (tmp_path / "n.sumocfg").write_text(
        '<configuration><input><net-file value="n.net.xml"/><route-files value="e.rou.xml"/>'
        '</input></configuration>', encoding="utf-8")
    (tmp_path / "e.rou.xml").write_text("<routes></routes>", encoding="utf-8")
    spec = write_spec(tmp_path, '[bench]\nmethods = ["baseline"]\nseeds = [1]\n\n'
                                '[[scenario]]\nsumocfg = "n.sumocfg"\nroute = ["a", "b"]\n')
    with pytest.raises(InputError, match="route file holds no demand") as e:
        read_spec(spec)
    assert "scenario[0].sumocfg" in str(e.value)


def test_unknown_top_level_field_and_duplicate_names(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, MATRIX + '\n[[scenario]]\ncorridor = "small.toml"\n')
    with pytest.raises(InputError, match="two scenarios are named 'small'"):
        read_spec(spec)
    spec.write_text(MATRIX + "\n[extra]\nx = 1\n")
    with pytest.raises(InputError, match="field 'extra': unknown field"):
        read_spec(spec)


def test_matrix_of_a_spec(tmp_path: Path) -> None:
    spec = read_spec(write_spec(tmp_path, MATRIX.replace("generate = 1", "generate = 3")
                                .replace("seeds = [1]", "seeds = [4, 9]")))
    cells = spec.cells()
    assert [s.name for s in spec.scenarios] == ["small", "gen-000", "gen-001", "gen-002"]
    assert len(cells) == 4 * 4 * 2
    assert cells[0].key == ("small", "offpeak", "baseline", 4)
    assert cells[1].key == ("small", "offpeak", "baseline", 9)
    assert len({c.fingerprint() for c in cells}) == len(cells)
    # generated corridors are drawn again from their seed: the same corridor every time
    again = read_spec(tmp_path / "bench.toml")
    assert [c.fingerprint() for c in again.cells()] == [c.fingerprint() for c in cells]


# --------------------------------------------------------------------------------------------
# a real run


@pytest.mark.sumo
def test_bench_writes_table_summary_plots_with_progress(pool_run: tuple[Path, Path, str]
                                                        ) -> None:
    _, out, stderr = pool_run
    table = pd.read_csv(out / "results.csv", keep_default_na=False, na_values=[""])
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert (table["status"] == "ok").all()
    # 2 scenarios x 4 methods x 1 seed, 2 directions each
    assert len(table) == 16
    assert set(table["scenario"]) == {"small", "gen-000"}
    assert set(table["method"]) == {"baseline", "tlscoordinator", "greenwave", "refined"}
    assert (table["teleports"] == 0).all() and (table["trips"] > 10).all()
    assert (table["run_time_s"] >= table["sim_time_s"]).all() and (table["sim_time_s"] > 0).all()
    parquet = pd.read_parquet(out / "results.parquet")
    assert parquet["travel_time_s"].tolist() == pytest.approx(table["travel_time_s"].tolist())
    # the band plan carries the whole 35 s green: far fewer stops than the 90 s defaults
    small = table[table["scenario"] == "small"].groupby("method")["stops_per_trip"].mean()
    assert small["greenwave"] < 0.6 * small["baseline"]
    summary = (out / "summary.md").read_text()
    assert "Cells finished: 8 of 8; failed: 0" in summary
    assert "## small — offpeak" in summary and "](plots/gen-000_offpeak.png)" in summary
    for name in ("small_offpeak.png", "gen-000_offpeak.png"):
        assert (out / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "0 already done, 8 to run on a local pool of 2 processes" in stderr
    assert "8/8 cells" in stderr and "ETA" in stderr and "elapsed" in stderr


@pytest.mark.sumo
def test_rerun_completes_only_missing_cells(pool_run: tuple[Path, Path, str],
                                            tmp_path: Path) -> None:
    spec_path, first, _ = pool_run
    out = tmp_path / "out"
    shutil.copytree(first, out)
    (out / "cells" / "gen-000" / "offpeak" / "refined_seed1.json").unlink()
    before = pd.read_csv(first / "results.csv")
    seen = []
    run = run_bench(read_spec(spec_path), out, workers=2,
                    on_done=lambda o: seen.append(o.key))
    assert (run.total, run.skipped, run.ran, run.failed) == (8, 7, 1, 0)
    assert seen == [("gen-000", "offpeak", "refined", 1)]
    after = pd.read_csv(out / "results.csv")
    pd.testing.assert_frame_equal(stable(after), stable(before))


@pytest.mark.sumo
def test_killed_run_resumes_with_the_missing_cells(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, MATRIX.replace('"tlscoordinator", "greenwave", "refined"',
                                               '"greenwave"').replace("seeds = [1]",
                                                                      "seeds = [1, 2]"))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "greenwave.cli", "bench", str(spec), "--out", str(out),
           "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("cells/*/*/*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the run and every worker and SUMO under it
    proc.wait()
    done = len(list(out.glob("cells/*/*/*.json")))
    assert 1 <= done < 8
    assert not (out / "results.csv").exists()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{done} already done, {8 - done} to run" in again.stderr
    assert f"{8 - done} cells run (0 failed), {done} already done" in again.stdout
    table = pd.read_csv(out / "results.csv")
    assert len(table.drop_duplicates(["scenario", "method", "seed"])) == 8


@pytest.mark.sumo
def test_sigterm_stops_the_run_and_every_simulation_under_it(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, MATRIX.replace("seeds = [1]", "seeds = [1, 2, 3]"))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "greenwave.cli", "bench", str(spec),
                             "--out", str(out), "--workers", "2"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("cells/*/*/*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)  # the run only, as a scheduler or `kill` would
    assert proc.wait(timeout=300) == 128 + signal.SIGTERM
    # no pool worker and no SUMO process of the run is left running
    ps = subprocess.run(["ps", "-o", "pid=,stat=,args=", "-g", str(proc.pid)],
                        capture_output=True, text=True).stdout.splitlines()
    alive = [line for line in ps if line.split()[1][0] != "Z"]
    assert alive == []
    assert len(list(out.glob("cells/*/*/*.json"))) < 24 and not (out / "results.csv").exists()


@pytest.mark.sumo
def test_failing_cell_is_recorded_and_the_rest_run(tmp_path: Path) -> None:
    spec_path = write_spec(tmp_path, MATRIX.replace('"tlscoordinator", "greenwave", "refined"',
                                                    '"greenwave"'))
    spec = read_spec(spec_path)
    good = (tmp_path / "small.toml").read_text()
    # the corridor file breaks after the spec was checked (e.g. edited during a long run)
    (tmp_path / "small.toml").write_text(good.replace('id = "C"', 'id = "B"'))
    run = run_bench(spec, tmp_path / "out", workers=2)
    assert (run.ran, run.failed) == (4, 2)
    table = run.table
    failed = table[table["status"] == "failed"]
    assert sorted(failed["method"]) == ["baseline", "greenwave"]
    assert set(failed["scenario"]) == {"small"} and (failed["direction"] == "").all()
    assert failed["error"].str.contains("duplicate intersection id 'B'").all()
    assert (table[table["scenario"] == "gen-000"]["status"] == "ok").sum() == 4  # 2 cells
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "failed: 2" in summary and "duplicate intersection id 'B'" in summary
    # fixed: the next run runs the failed cells again, and only those
    (tmp_path / "small.toml").write_text(good)
    again = run_bench(spec, tmp_path / "out", workers=2)
    assert (again.skipped, again.ran, again.failed) == (2, 2, 0)
    assert (again.table["status"] == "ok").all() and len(again.table) == 8


@pytest.mark.sumo
def test_dask_cluster_gives_the_same_table(pool_run: tuple[Path, Path, str],
                                           tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    spec_path, first, _ = pool_run
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        run = run_bench(read_spec(spec_path), tmp_path / "out",
                        scheduler=cluster.scheduler_address)
    assert (run.ran, run.failed) == (8, 0)
    pool = pd.read_csv(first / "results.csv")
    dask = pd.read_csv(tmp_path / "out" / "results.csv")
    pd.testing.assert_frame_equal(stable(dask), stable(pool))


@pytest.mark.sumo
def test_imported_net_cells(shared_dir: Path, tmp_path: Path) -> None:
    cfg = shared_dir / "scenarios" / "ingolstadt7" / "ingolstadt7.sumocfg"
    spec = tmp_path / "bench.toml"
    spec.write_text(f"""
[bench]
methods = ["baseline", "greenwave"]
seeds = [3]
measure_s = 600
drain_s = 300

[[scenario]]
name = "ingolstadt"
sumocfg = "{cfg}"
from = "124812856#1"
to = "51857517#1"
""")
    run = run_bench(read_spec(spec), tmp_path / "out", workers=2)
    t = run.table
    assert (t["status"] == "ok").all() and len(t) == 4
    assert set(t["period"]) == {"16:00-17:00"} and set(t["kind"]) == {"net"}
    assert (t["trips"] > 0).all() and t["corridor_time_s"].notna().all()
    spec.write_text(spec.read_text().replace('"greenwave"', '"refined"'))
    with pytest.raises(InputError, match="method 'refined' is not available there"):
        read_spec(spec)
