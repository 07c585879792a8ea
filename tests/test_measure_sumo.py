"""The measured band on Ganjiang in SUMO: low demand, vehicles held to the band speed."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenwave import load_corridor, optimize_corridor
from greenwave.sumo.programs import write_programs
from greenwave.workflow import build_scenario, probe_run


@pytest.mark.sumo
def test_measured_band_matches_planned_on_ganjiang(ganjiang_path: Path, tmp_path: Path) -> None:
    corridor = load_corridor(ganjiang_path)
    scenario = build_scenario(corridor, tmp_path / "net", period="offpeak")
    plan = optimize_corridor(corridor, period="offpeak")
    programs = write_programs(plan, scenario.layout.net_file, corridor, scenario.layout,
                              tmp_path / "programs.add.xml")
    m = probe_run(scenario, plan, programs, tmp_path / "probe")
    bands = m.bands.set_index("direction")
    for direction, planned in (("outbound", plan.bandwidth_out_s),
                               ("inbound", plan.bandwidth_in_s)):
        row = bands.loc[direction]
        assert row["through_vehicles"] == 100  # one per phase second: none lost
        assert row["planned_band_s"] == pytest.approx(planned)
        assert abs(row["measured_band_s"] - planned) <= 3.0, row.to_dict()
    assert (m.delay["los"] == "A").all()  # vehicles alone on the road: little delay
    assert (m.arrivals["arrivals"] == 100).all()  # every vehicle arrives at every signal
    # most signals are passed inside the band, where everyone arrives on green
    assert m.arrivals["aog_share"].median() > 0.9
