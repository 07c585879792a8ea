"""sumo-gui loads the built network and a written plan without warnings (needs Xvfb)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from greenwave import load_corridor, optimize_corridor
from greenwave.sumo.binaries import binary
from greenwave.workflow import build_scenario, write_plan_files


@pytest.mark.sumo
def test_sumo_gui_loads_ganjiang_with_plan(ganjiang_path: Path, tmp_path: Path) -> None:
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        pytest.skip("xvfb-run is not installed (sumo-gui needs a display)")
    corridor = load_corridor(ganjiang_path)
    scenario = build_scenario(corridor, tmp_path / "net", period="offpeak")
    plan = optimize_corridor(corridor, period="offpeak")
    out = tmp_path / "plan"
    out.mkdir()
    config = write_plan_files(plan, corridor, out, scenario).replay
    assert config is not None
    log_file = tmp_path / "gui.log"  # sumo-gui shows messages in its window, not on stderr
    res = subprocess.run(
        [xvfb, "-a", str(binary("sumo-gui")), "-c", str(config), "--start", "--quit-on-end",
         "--end", "120", "--log", str(log_file)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert res.returncode == 0, res.stderr
    log = log_file.read_text()
    assert "Simulation ended at time: 120" in log
    problems = [ln for ln in log.splitlines() if ln.startswith(("Warning", "Error"))]
    assert problems == []
