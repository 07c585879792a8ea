"""Corridor model: loading both input forms, derived through-green windows, retiming."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenwave.corridor import Phase, load_corridor, through_window
from greenwave.errors import InputError

# Link lengths of the model corridor, from the design brief (north to south).
BRIEF_LINKS_M = [380, 420, 350, 460, 510, 300, 440, 620, 1150, 480, 390, 560, 430, 350, 700,
                 520, 450, 380, 600, 410, 330, 370]


def test_ganjiang_spec_matches_the_brief(ganjiang_path: Path) -> None:
    c = load_corridor(ganjiang_path)
    assert len(c.intersections) == 23
    pos = [i.position_m for i in c.intersections]
    gaps = [b - a for a, b in itertools.pairwise(pos)]
    assert gaps == BRIEF_LINKS_M
    assert c.length_m == 10_600
    assert c.cycle_s == 100
    assert 50 <= c.speed_kmh <= 60
    assert {p.name for p in c.demand} >= {"offpeak", "am_peak"}
    am = c.period("am_peak")
    assert am.main_in_vph > am.main_out_vph  # tidal: northbound heavier in the morning
    for i in c.intersections:
        assert i.cycle_s == pytest.approx(100)
        for p in i.phases:
            assert p.green_s >= p.min_green_s
            assert p.yellow_s == 3 and p.all_red_s == 2


def test_major_and_minor_windows_by_hand(ganjiang_path: Path) -> None:
    c = load_corridor(ganjiang_path)
    major = c.intersections[0]  # S01: through 45 s first, then lefts, then cross
    minor = c.intersections[1]
    assert (major.green_out_s, major.green_in_s, major.inbound_shift_s) == (45, 45, 0)
    assert major.out_green_start_s == 0
    assert (minor.green_out_s, minor.green_in_s) == (61, 61)


def test_pedestrian_minimum_green_holds(ganjiang_path: Path) -> None:
    # Brief: pedestrian min green = 7 s + crossing length / 1.2 m/s - intergreen.
    c = load_corridor(ganjiang_path)
    for i in c.intersections:
        cross = next(p for p in i.phases if "cross_T" in p.protected)
        ped_min = 7 + i.crossing_length_m / 1.2 - (cross.yellow_s + cross.all_red_s)
        assert cross.green_s >= ped_min, i.id


def test_through_window_spanning_two_phases() -> None:
    # out_T green in phases A and B: 30 s + A's 5 s intergreen (out_T keeps going) + 10 s.
    a = Phase("A", 30, protected=frozenset({"out_T", "in_T"}))
    b = Phase("B", 10, protected=frozenset({"out_T", "out_L"}))
    x = Phase("X", 30, protected=frozenset({"cross_T"}))
    assert through_window([a, b, x], "out_T") == (0, 45)
    assert through_window([a, b, x], "in_T") == (0, 30)
    # leading left: through starts after the left phase (10 + 3 + 2)
    lt = Phase("L", 10, protected=frozenset({"out_L", "in_L"}))
    assert through_window([lt, a, x], "out_T") == (15, 30)
    # wrapping run: served by the last and the first phase
    assert through_window([b, x, a], "out_T") == (50, 45)


def test_through_window_must_be_contiguous() -> None:
    a = Phase("A", 30, protected=frozenset({"out_T"}))
    x = Phase("X", 30, protected=frozenset({"cross_T"}))
    with pytest.raises(ValueError, match="not consecutive"):
        through_window([a, x, a, x], "out_T")


def test_retiming_by_hand(ganjiang_path: Path) -> None:
    # Major: greens 45/11/29 (85 s) -> 95 s at C = 110: 50.29/12.29/32.41 -> 50/12/33.
    # Minor: 61/29 (90 s) -> 100 s: 67.78/32.22 -> 68/32.
    c = load_corridor(ganjiang_path, cycle_s=110)
    assert [p.green_s for p in c.intersections[0].phases] == [50, 12, 33]
    assert [p.green_s for p in c.intersections[1].phases] == [68, 32]
    assert c.intersections[0].green_out_s == 50


@given(st.integers(min_value=70, max_value=200))
def test_retiming_keeps_cycle_and_minimums(cycle: int) -> None:
    c = load_corridor(Path(__file__).resolve().parents[1] / "networks/ganjiang/corridor.toml")
    r = c.with_cycle(float(cycle))
    for i in r.intersections:
        assert math.isclose(sum(p.duration_s for p in i.phases), cycle)
        assert all(p.green_s >= p.min_green_s for p in i.phases)


def test_retiming_below_minimums_is_refused(ganjiang_path: Path) -> None:
    with pytest.raises(InputError, match=r"S01.*minimum greens"):
        load_corridor(ganjiang_path, cycle_s=50)


def _csv(tmp_path: Path, text: str, name: str = "c.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_form(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,position_m,green_out_s,green_in_s,inbound_shift_s\n"
                       "A,0,30,30,0\nB,427,30,25,5\n")
    c = load_corridor(p, cycle_s=60, speed_kmh=43.9)
    assert c.ids == ("A", "B")
    assert c.intersections[1].inbound_shift_s == 5
    assert c.cycle_s == 60 and c.speed_kmh == 43.9


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("id,position_m,green_out_s\nA,0,30\nB,100,30\n", "missing column 'green_in_s'"),
        ("id,position_m,green_out_s,green_in_s\nA,0,30,30\nB,-100,30,30\n",
         "position -100 m is not after A"),
        ("id,position_m,green_out_s,green_in_s\nA,0,30,30\nB,500,30,30\nC,400,30,30\n",
         "C: position 400 m is not after B"),
        ("id,position_m,green_out_s,green_in_s\nA,0,70,30\nB,500,30,30\n",
         "A: green 70 s is longer than the cycle 60 s"),
        ("id,position_m,green_out_s,green_in_s,colour\nA,0,30,30,red\nB,9,30,30,red\n",
         "unknown column 'colour'"),
        ("id,position_m,green_out_s,green_in_s\nA,0,thirty,30\nB,500,30,30\n",
         "'thirty' is not a number"),
    ],
)
def test_csv_bad_input(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(InputError, match=pattern) as err:
        load_corridor(_csv(tmp_path, text), cycle_s=60, speed_kmh=50)
    assert "c.csv" in str(err.value)


def test_not_a_corridor_file(tmp_path: Path) -> None:
    p = tmp_path / "corridor.xlsx"
    p.write_bytes(b"PK\x03\x04")
    with pytest.raises(InputError, match=r"expected \.toml or \.csv"):
        load_corridor(p)
    bad = tmp_path / "broken.toml"
    bad.write_text("[corridor\nname=")
    with pytest.raises(InputError, match=r"broken\.toml: not a valid TOML"):
        load_corridor(bad)


def _toml_variant(ganjiang_path: Path, tmp_path: Path, old: str, new: str) -> Path:
    text = ganjiang_path.read_text()
    assert old in text  # the test's own precondition on the fixture file
    p = tmp_path / "variant.toml"
    p.write_text(text.replace(old, new, 1))
    return p


@pytest.mark.parametrize(
    ("old", "new", "pattern"),
    [
        ('speed_kmh = 55.0 ', '', "field 'corridor.speed_kmh': missing field"),
        ('position_m = 380.0', 'position_m = -380.0', "S02: position -380 m is not after S01"),
        ('position_m = 380.0', 'position_m = "far"', "intersection S02.position_m"),
        ('template = "minor"', 'template = "tiny"', "unknown template 'tiny'"),
        ('green_s = 45.0', 'green_s = 145.0', "add up to 200 s, but signals.cycle_s is 100"),
        ('green_s = 11.0', 'green_s = 4.0', "below the minimum green 10"),
        ('outbound_name', 'outbund_name', "unknown field"),
        ('"out_L", "in_L"] }', '"out_X", "in_L"] }', "unknown movement 'out_X'"),
        ('name = "offpeak"', 'name = "../../x"', "period name '../../x' must be letters"),
        ('name = "ganjiang"', 'name = "../out"', "corridor name '../out' must be letters"),
    ],
)
def test_toml_bad_input(ganjiang_path: Path, tmp_path: Path, old: str, new: str,
                        pattern: str) -> None:
    with pytest.raises(InputError, match=pattern) as err:
        load_corridor(_toml_variant(ganjiang_path, tmp_path, old, new))
    assert "variant.toml" in str(err.value)
