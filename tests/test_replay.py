"""greenwave replay: a run folder opens in sumo-gui; --screenshot renders the corridor."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from greenwave import load_corridor, optimize_corridor
from greenwave.cli import main
from greenwave.sumo.programs import write_programs
from greenwave.sumo.replay import find_run, read_run
from greenwave.sumo.simulate import run_simulation
from greenwave.workflow import build_scenario


@pytest.mark.sumo
def test_replay_screenshot_of_a_run(ganjiang_path: Path, tmp_path: Path) -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (sumo-gui needs a display)")
    corridor = load_corridor(ganjiang_path)
    scenario = build_scenario(corridor, tmp_path / "net", period="offpeak")
    plan = optimize_corridor(corridor, period="offpeak")
    programs = write_programs(plan, scenario.layout.net_file, corridor, scenario.layout,
                              tmp_path / "programs.add.xml")
    run_dir = tmp_path / "out" / "runs" / "greenwave_seed7"
    run_simulation(scenario.layout.net_file, scenario.routes_file,
                   additional_files=[programs], seed=7, end_s=420.0, out_dir=run_dir,
                   label="greenwave")
    # the run folder records exactly what was simulated
    run = read_run(find_run(tmp_path / "out"))
    assert run.config == run_dir / "greenwave.sumocfg"
    assert run.net_file == scenario.layout.net_file.resolve()
    text = run.config.read_text()
    assert 'value="7"' in text and "programs.add.xml" in text and "offpeak.rou.xml" in text
    assert run.probe is not None  # the longest trip departing after 300 s
    shot = tmp_path / "shot.png"
    assert main(["replay", str(run_dir), "--screenshot", str(shot), "--time", "400"]) == 0
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1600, 900)
    assert len(data) > 10_000  # not a blank image: roads, vehicles and the legend
