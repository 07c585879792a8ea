"""The refined plan checked in SUMO (greenwave.refine_check) on a four-signal corridor."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from greenwave import load_corridor, workflow
from greenwave.optimize import optimize_progression
from greenwave.plan import check_plan_matches
from greenwave.refine import partial_refinement, refine_plan
from greenwave.refine_check import check_refinement


@pytest.mark.sumo
def test_check_keeps_a_plan_no_worse_than_band_in_sumo(ganjiang_path: Path,
                                                        tmp_path: Path) -> None:
    full = load_corridor(ganjiang_path)
    demand = replace(full.period("offpeak"), duration_s=240.0)
    corridor = replace(full, intersections=full.intersections[:4], demand=(demand,))
    band = optimize_progression(corridor, cycle_range_s=(100.0, 100.0),
                                speed_range_kmh=(55.0, 55.0), period="offpeak", splits="spec")
    refined, report = refine_plan(band, corridor, "offpeak", max_split_s=4)
    assert report.network_pi_after < report.network_pi_before
    scenario = workflow.build_scenario(corridor, tmp_path / "net", period="offpeak")
    kept, check = check_refinement(band, refined, corridor, scenario, out_dir=tmp_path / "chk",
                                   seeds=(101,), drain_s=200.0)
    record = kept.solver["sumo_check"]
    assert record["seeds"] == [101]
    assert record["trials"][0]["fraction"] == 1.0
    # the plan kept is never worse than the band plan on the tuning seeds
    kept_trial = [t for t in check.trials if t.kept]
    if kept_trial:
        assert kept_trial[0].delay_vehh <= check.band_delay_vehh
        f = kept_trial[0].fraction
        expected = refined if f == 1.0 else partial_refinement(band, refined, corridor, f)
        assert kept.offsets_s == expected.offsets_s
    else:
        assert all(t.delay_vehh > check.band_delay_vehh for t in check.trials)
        assert kept.offsets_s == band.offsets_s
    assert len(check.trials) <= 3
    check_plan_matches(kept, corridor)  # its phases are a safe timing of the corridor
    # the programs of every simulated candidate were written (and safety-checked)
    assert (tmp_path / "chk" / "refined" / "programs.add.xml").is_file()
