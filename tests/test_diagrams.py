"""Time-space diagram: band geometry by hand numbers, and a PNG that really is one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from greenwave.diagrams import band_corners, green_intervals, time_space_diagram, time_window
from greenwave.errors import InputError
from greenwave.plan import SignalTiming, TimingPlan


def _plan() -> TimingPlan:
    """Three signals at 0, 400 and 1,000 m; C = 90 s; bands at 36 and 45 km/h."""
    signals = (
        SignalTiming(
            "A",
            offset_s=0.0,
            green_out_start_s=0.0,
            green_out_s=40.0,
            green_in_start_s=50.0,
            green_in_s=35.0,
            position_m=0.0,
        ),
        SignalTiming(
            "B",
            offset_s=40.0,
            green_out_start_s=40.0,
            green_out_s=40.0,
            green_in_start_s=15.0,
            green_in_s=35.0,
            position_m=400.0,
        ),
        SignalTiming(
            "C",
            offset_s=10.0,
            green_out_start_s=10.0,
            green_out_s=38.0,
            green_in_start_s=30.0,
            green_in_s=35.0,
            position_m=1000.0,
        ),
    )
    return TimingPlan(
        corridor="hand",
        cycle_s=90.0,
        speed_out_kmh=36.0,
        speed_in_kmh=45.0,
        bandwidth_out_s=20.0,
        bandwidth_in_s=15.0,
        band_out_start_s=5.0,
        band_in_start_s=30.0,
        signals=signals,
        period="offpeak",
    )


def test_outbound_band_corners_by_hand() -> None:
    # 1,000 m at 36 km/h = 10 m/s: the leading edge needs 100 s from A to C
    corners = band_corners(_plan(), "outbound")
    expected = [(5.0, 0.0), (25.0, 0.0), (125.0, 1000.0), (105.0, 1000.0)]
    assert np.allclose(corners, expected)
    shifted = band_corners(_plan(), "outbound", cycle_index=2)
    assert shifted[0] == pytest.approx((185.0, 0.0))  # 5 + 2 * 90


def test_inbound_band_corners_by_hand() -> None:
    # from C back to A at 45 km/h = 12.5 m/s: 80 s; leading edge leaves C at 30 s
    corners = band_corners(_plan(), "inbound")
    assert np.allclose(corners, [(30.0, 1000.0), (45.0, 1000.0), (125.0, 0.0), (110.0, 0.0)])


def test_band_passes_a_middle_signal_at_distance_over_speed() -> None:
    (t0, x0), _, (_, x1), (t1, _) = band_corners(_plan(), "outbound")
    # B at 400 m is reached at 5 + 400 / 10 = 45 s, inside B's green [40, 80)
    t_b = t0 + (400.0 - x0) * (t1 - t0) / (x1 - x0)
    assert t_b == pytest.approx(45.0)


def test_green_intervals() -> None:
    assert green_intervals(0.0, 40.0, 90.0, 0.0, 270.0) == [
        (0.0, 40.0),
        (90.0, 40.0),
        (180.0, 40.0),
    ]
    # a green wrapping over the cycle end is split at the window edges
    assert green_intervals(80.0, 30.0, 90.0, 0.0, 180.0) == [
        (0.0, 20.0),
        (80.0, 30.0),
        (170.0, 10.0),
    ]
    assert green_intervals(10.0, 90.0, 90.0, 0.0, 100.0) == [(0.0, 100.0)]  # always green
    assert green_intervals(10.0, 0.0, 90.0, 0.0, 100.0) == []


def test_time_window_covers_long_corridors() -> None:
    assert time_window(_plan(), 3) == (0.0, 270.0)  # bands take at most 100 s < 3 cycles
    long = replace(
        _plan(), signals=tuple(replace(s, position_m=s.position_m * 10) for s in _plan().signals)
    )
    # 10 km at 10 m/s = 1,000 s: ceil(1000 / 90) = 12 cycles, plus one
    assert time_window(long, 3) == (0.0, 13 * 90.0)


def test_png_is_written_and_readable(tmp_path: Path) -> None:
    traj = pd.DataFrame(
        {"time_s": np.arange(0.0, 100.0), "pos_m": np.arange(0.0, 100.0) * 10.0, "vehicle": "v1"}
    )
    out = time_space_diagram(
        _plan(), tmp_path / "plots" / "tsd.png", title="hand", trajectories=traj
    )
    assert out == tmp_path / "plots" / "tsd.png"
    assert out.stat().st_size > 10_000
    image = matplotlib.image.imread(out)
    assert image.shape == (700, 1200, 4)  # 12 x 7 in at 100 dpi
    assert image[..., :3].std() > 0.05  # not a blank canvas
    assert [p.name for p in out.parent.iterdir()] == ["tsd.png"]  # the temp file was renamed
    small = time_space_diagram(_plan(), tmp_path / "small.png", size_in=(8.0, 5.0), dpi=50)
    assert matplotlib.image.imread(small).shape == (250, 400, 4)


def test_bad_inputs(tmp_path: Path) -> None:
    plan = _plan()
    unordered = replace(plan, signals=(plan.signals[1], plan.signals[0], plan.signals[2]))
    with pytest.raises(InputError, match="not after"):
        time_space_diagram(unordered, tmp_path / "x.png")
    with pytest.raises(InputError, match="trajectories need"):
        time_space_diagram(
            plan, tmp_path / "x.png", trajectories=pd.DataFrame({"t": [0.0], "x": [0.0]})
        )
    with pytest.raises(InputError, match="cycles"):
        time_space_diagram(plan, tmp_path / "x.png", cycles=0)
    assert not list(tmp_path.iterdir())
