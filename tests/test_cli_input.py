"""Bad input at the command line: one clear line, exit code 2, no output left behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GOOD = "id,position_m,green_out_s,green_in_s\nA,0,30,30\nB,427,30,30\n"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "greenwave.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("name", "text", "extra", "needle"),
    [
        ("missing.toml", None, [], "no such file"),
        ("c.csv", "id,position_m,green_out_s\nA,0,30\nB,9,30\n", [], "missing column"),
        ("c.csv", "id,position_m,green_out_s,green_in_s\nA,0,30,30\nB,-5,30,30\n", [],
         "not after A"),
        ("c.csv", "id,position_m,green_out_s,green_in_s\nA,0,30,30\nB,900,30,30\nC,800,30,30\n",
         [], "not after B"),
        ("c.csv", "id,position_m,green_out_s,green_in_s\nA,0,30,90\nB,900,30,30\n", [],
         "longer than the cycle"),
        ("c.csv", "id,position_m,green_out_s,green_in_s,lanes\nA,0,30,30,2\nB,9,30,30,2\n", [],
         "unknown column 'lanes'"),
        ("c.txt", GOOD, [], "expected .toml or .csv"),
        ("c.toml", "this is = = not toml", [], "not a valid TOML"),
        ("c.csv", GOOD, ["--mode", "fastest"], "invalid choice"),
        ("c.csv", GOOD, ["--cycle-s", "-60"], "expected a finite positive number"),
        ("c.csv", GOOD, ["--cycle-s", "nan"], "expected a finite positive number"),
        ("c.csv", GOOD, ["--cycle-s", "1e9"], "outside the plausible range [10, 600]"),
        ("c.csv", GOOD, ["--speed-in-kmh", "1e-9"], "outside the plausible range [5, 200]"),
        ("c.csv", GOOD, ["--k", "-1"], "expected a finite >= 0 number"),
        ("c.csv", "id,position_m,green_out_s,green_in_s\nA,0,30,30\nA,400,30,30\n", [],
         "duplicate intersection id 'A'"),
        ("c.csv", "id,position_m,green_out_s,green_in_s\nA,0,58,30\nB,400,30,30\n", [],
         "A: green 58 s leaves 2 s of red"),
    ],
)
def test_bad_input_exit_2_and_nothing_written(tmp_path: Path, name: str, text: str | None,
                                              extra: list[str], needle: str) -> None:
    if text is not None:
        (tmp_path / name).write_text(text)
    args = ["optimize", name, "--out", "out"]
    if "--cycle-s" not in extra:
        args += ["--cycle-s", "60"]
    res = run(*args, "--speed-kmh", "44", *extra, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert needle in res.stderr
    assert "Traceback" not in res.stderr
    if not any(w in needle for w in ("invalid choice", "positive", ">= 0", "plausible")):
        error_lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert len(error_lines) == 1
        assert name in error_lines[0]
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ([name] if text is not None else [])


def test_csv_optimize_writes_plan_and_programs(tmp_path: Path) -> None:
    # ORACLES 1 geometry: 1,400 ft at 40 ft/s (35 s), C = 60 s, 50/50. By hand: with B's green
    # start θ, out band = 30 - |θ - 35|, in band = 30 - |θ + 35| (circular distances, and
    # θ - 35 and θ + 35 are 10 s apart on the 60 s circle), so the best total is 60 - 10 = 50.
    (tmp_path / "c.csv").write_text(
        "id,position_m,green_out_s,green_in_s\nA,0,30,30\nB,426.72,30,30\n")
    res = run("optimize", "c.csv", "--cycle-s", "60", "--speed-kmh", "43.8912", "--out", "out",
              cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    import json

    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert plan["cycle_s"] == 60
    assert [s["id"] for s in plan["intersections"]] == ["A", "B"]
    for key in ("offset_s", "green_out_start_s", "green_out_s", "green_in_start_s",
                "green_in_s"):
        assert key in plan["intersections"][0]
    assert plan["bandwidth_out_s"] <= 30 + 1e-9 and plan["bandwidth_in_s"] <= 30 + 1e-9
    assert plan["bandwidth_out_s"] + plan["bandwidth_in_s"] == pytest.approx(50, abs=1e-6)
    assert plan["efficiency"] == pytest.approx(50 / 120, abs=1e-6)
    assert (tmp_path / "out" / "programs.add.xml").is_file()


def test_out_pointing_at_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(GOOD)
    (tmp_path / "taken").write_text("keep me")
    res = run("optimize", "c.csv", "--cycle-s", "60", "--speed-kmh", "44", "--out", "taken",
              cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip() == ("greenwave: error: field '--out': taken exists and is not "
                                  "a folder")
    assert (tmp_path / "taken").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv", "taken"]


def test_scenario_commands_refuse_a_csv_corridor(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(GOOD)
    res = run("build-net", "c.csv", cwd=tmp_path)
    assert res.returncode == 2
    assert "needs the full TOML spec" in res.stderr
    assert not (tmp_path / "sumo_configs").exists()


def test_seed_lists_are_checked(tmp_path: Path) -> None:
    for seeds, needle in (("1,1", "seeds must differ"), ("1,,2", "expected seeds like"),
                          ("a,b", "expected seeds like"), ("-3", "from 0 to 2147483647"),
                          ("2147483648", "from 0 to 2147483647")):
        res = run("demo", "--seeds", seeds, "--out", "o", cwd=tmp_path)
        assert res.returncode == 2 and needle in res.stderr, (seeds, res.stderr)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.sumo
def test_evaluate_refuses_broken_plans_before_simulating(tmp_path: Path) -> None:
    import json

    res = run("optimize", "ganjiang", "--out", "p", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    good = json.loads((tmp_path / "p" / "plan.json").read_text())

    def variant(name: str, change: object) -> str:
        plan = json.loads(json.dumps(good))
        change(plan)  # type: ignore[operator]
        (tmp_path / name).write_text(json.dumps(plan))
        return name

    cases = {
        variant("nan.json", lambda p: p["intersections"][5].update(offset_s=float("nan"))):
            "field 'intersections[S06].offset_s': expected a finite number, found nan",
        variant("gap.json", lambda p: p["intersections"].pop(5)):
            "plan signals do not match the corridor's (missing ['S06'])",
        variant("text.json", lambda p: p["intersections"][0].update(green_out_s="long")):
            "field 'intersections[S01].green_out_s': expected a finite number, found 'long'",
        variant("other.json", lambda p: p.update(corridor="elsewhere")):
            "plan is for corridor 'elsewhere', not 'ganjiang'",
        variant("nophases.json", lambda p: p["intersections"][2].update(phases=[])):
            (
                "field 'intersections[S03].phases': no phases; the corridor's signals have a "
                "phase plan"),
        variant("green.json", lambda p: p["intersections"][1].update(green_out_s=30)):
            "field 'intersections[S02].green_out_s': 30 differs from the 61 its phases give",
        variant("offset.json", lambda p: p["intersections"][3].update(
            offset_s=p["intersections"][3]["offset_s"] + 7)):
            "field 'intersections[S04].offset_s'",
        variant("short.json", lambda p: (p["intersections"][0]["phases"][1].update(green_s=5),
                                         p["intersections"][0]["phases"][2].update(green_s=35))):
            "field 'intersections[S01].phases[1].green_s': 5 s is below the corridor's 10 s",
        variant("noleft.json", lambda p: p["intersections"][0]["phases"][1].update(
            protected=[])):
            "field 'intersections[S01].phases': no phase gives in_L the protected green",
    }
    (tmp_path / "list.json").write_text("[1, 2, 3]")
    cases["list.json"] = "list.json: expected a JSON object, found list"
    for name, needle in cases.items():
        res = run("evaluate", "ganjiang", "--plan", name, "--out", "ev", "--seeds", "1",
                  cwd=tmp_path)
        assert res.returncode == 2, (name, res.stderr)
        assert needle in res.stderr, (name, res.stderr)
        assert name in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "ev").exists()


@pytest.mark.sumo
def test_evaluate_recomputes_bands_instead_of_trusting_the_file(tmp_path: Path) -> None:
    import json

    res = run("optimize", "ganjiang", "--out", "p", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    plan = json.loads((tmp_path / "p" / "plan.json").read_text())
    true_band = plan["bandwidth_out_s"]
    plan["bandwidth_out_s"] = 99.0
    (tmp_path / "boast.json").write_text(json.dumps(plan))
    res = run("evaluate", "ganjiang", "--plan", "boast.json", "--end-s", "60", "--seeds", "1",
              "--out", "ev", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    written = json.loads((tmp_path / "ev" / "plan.json").read_text())
    assert written["bandwidth_out_s"] == pytest.approx(true_band, abs=1e-6)
    assert "99.0 s" not in res.stdout


def test_signals_too_close_for_a_network_are_refused(tmp_path: Path) -> None:
    spec = (Path(__file__).resolve().parents[1] / "networks/ganjiang/corridor.toml").read_text()
    (tmp_path / "close.toml").write_text(spec.replace("position_m = 380.0", "position_m = 10.0"))
    res = run("build-net", "close.toml", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip() == (
        "greenwave: error: close.toml: field 'position_m': intersection S02: 10 m after S01; "
        "the SUMO network needs at least 30 m between signals")
    assert not (tmp_path / "sumo_configs").exists()


def test_end_beyond_the_period_is_refused(tmp_path: Path) -> None:
    res = run("demo", "--end-s", "5000", "--out", "o", cwd=tmp_path)
    assert res.returncode == 2
    assert "5000 s is beyond the period's demand (offpeak: 3600 s)" in res.stderr
    assert list(tmp_path.iterdir()) == []


GANJIANG = Path(__file__).resolve().parents[1] / "networks" / "ganjiang" / "corridor.toml"


def _one_error_line(res: subprocess.CompletedProcess[str]) -> str:
    """The run failed as bad input: exit code 2, exactly one line on stderr; that line."""
    assert res.returncode == 2, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("approach_m = 300.0", "approach_m = -300.0",
         "field 'corridor.approach_m': must be positive, found -300"),
        ("cross_link_m = 250.0", "cross_link_m = -250.0",
         "field 'corridor.cross_link_m': must be positive, found -250"),
        ("speed_limit_kmh = 60.0", "speed_limit_kmh = 0",
         "field 'corridor.speed_limit_kmh': must be positive, found 0"),
        ("speed_limit_kmh = 60.0", "speed_limit_kmh = 900",
         "field 'corridor.speed_limit_kmh': 900 is outside the plausible range [5, 200]"),
        ("crossing_length_m = 30.0", "crossing_length_m = -30.0",
         "field 'intersection S01.crossing_length_m': must be at least 0, found -30"),
        ("cross_lanes = 2", "cross_lanes = 0",
         "field 'intersection S01.cross_lanes': must be at least 1, found 0"),
        ("\nyellow_s = 3.0", "\nyellow_s = -3.0",
         "field 'signals.yellow_s': must be at least 0, found -3"),
        ("\nmin_green_s = 10.0", "\nmin_green_s = -1.0",
         "field 'signals.min_green_s': must be at least 0, found -1"),
        ("left_share = 0.07", "left_share = 1.5",
         "field 'period offpeak.left_share': a share of the flow must lie in [0, 1], "
         "found 1.5"),
        ("left_share = 0.07", "left_share = 0.95",
         "field 'period offpeak.left_share': left_share + right_share = 0.95 + 0.07 = 1.02 "
         "exceeds 1"),
        ('name = "am_peak"', 'name = "offpeak"',
         "field 'period[1].name': duplicate period name 'offpeak' (period[0] has it too)"),
        ("green_s = 45.0", "green_s = 145.0",
         "field 'phase_templates.major.phases[0].green_s': green 145 s does not fit the "
         "cycle: the phases add up to 200 s, but signals.cycle_s is 100 s (template of "
         "intersection S01)"),
        ("green_s = 45.0", "green_s = 55.0",
         "field 'phase_templates.major.phases': the phases add up to 110 s, but "
         "signals.cycle_s is 100 s (template of intersection S01)"),
        ("green_s = 11.0", "green_s = 4.0",
         "field 'phase_templates.major.phases[1].green_s': green 4 s is below the minimum "
         "green 10 s (template of intersection S01)"),
    ],
)
def test_bad_toml_values_are_refused_at_load_time(tmp_path: Path, old: str, new: str,
                                                   message: str) -> None:
    # refused when the spec is read, before the solver runs or any folder (./sumo_configs,
    # --out) is created
    text = GANJIANG.read_text()
    assert old in text
    (tmp_path / "bad.toml").write_text(text.replace(old, new, 1))
    res = run("optimize", "bad.toml", "--out", "out", cwd=tmp_path)
    assert _one_error_line(res) == f"greenwave: error: bad.toml: {message}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


@pytest.mark.parametrize(
    ("text", "extra", "message"),
    [
        # the file's speeds are checked even when --speed-kmh overrides them
        ("id,position_m,green_out_s,green_in_s,speed_kmh\nA,0,30,30,-50\nB,427,30,30,-50\n",
         ["--cycle-s", "60", "--speed-kmh", "50"],
         "c.csv: field 'speed_kmh': line 2: must be a positive number, found -50"),
        ("id,position_m,green_out_s,green_in_s,speed_kmh\nA,0,30,30,50\nB,427,30,30,500\n",
         ["--cycle-s", "60", "--speed-kmh", "50"],
         "c.csv: field 'speed_kmh': line 3: 500 is outside the plausible range [5, 200]"),
        ("id,position_m,green_out_s,green_in_s,green_in_s\nA,0,30,30,30\nB,427,30,30,30\n",
         ["--cycle-s", "60", "--speed-kmh", "50"],
         "c.csv: field 'green_in_s': duplicate column 'green_in_s' in the header"),
        (GOOD, ["--speed-kmh", "50"],
         "c.csv: field 'cycle_s': a CSV corridor has no cycle: pass --cycle-s"),
        (GOOD, ["--cycle-s", "60", "--speed-kmh", "50", "--period", "nosuch"],
         "c.csv: field '--period': the corridor has no demand periods (a CSV corridor has "
         "none; they come from a TOML spec), found 'nosuch'"),
    ],
)
def test_bad_csv_input_is_refused(tmp_path: Path, text: str, extra: list[str],
                                  message: str) -> None:
    (tmp_path / "c.csv").write_text(text)
    res = run("optimize", "c.csv", *extra, "--out", "out", cwd=tmp_path)
    assert _one_error_line(res) == f"greenwave: error: {message}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv"]


def test_a_folder_given_as_corridor_is_called_a_folder(tmp_path: Path) -> None:
    (tmp_path / "somefolder").mkdir()
    res = run("optimize", "somefolder", "--cycle-s", "60", "--out", "out", cwd=tmp_path)
    assert _one_error_line(res) == ("greenwave: error: somefolder: is a folder, not a "
                                    "corridor file (expected a .toml or .csv file)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["somefolder"]
    if Path("/dev/null").exists():  # there, but not a file one can read a corridor from
        res = run("optimize", "/dev/null", "--out", "out", cwd=tmp_path)
        assert _one_error_line(res) == "greenwave: error: /dev/null: not a regular file"


@pytest.mark.parametrize("command", [["optimize", "ganjiang"], ["demo"], ["build-net"]])
def test_unknown_period_names_the_option_and_the_valid_periods(tmp_path: Path,
                                                               command: list[str]) -> None:
    res = run(*command, "--period", "nosuch", "--out", "out", cwd=tmp_path)
    assert _one_error_line(res) == (
        "greenwave: error: field '--period': unknown period 'nosuch'; ganjiang defines: "
        "offpeak, am_peak, pm_peak")
    assert list(tmp_path.iterdir()) == []


def _ganjiang_plan(tmp_path: Path, name: str, **changes: object) -> str:
    """A valid plan.json for Ganjiang (offsets 0, no solver), with top-level *changes*."""
    import json

    from greenwave.corridor import load_corridor
    from greenwave.plan import plan_from_offsets

    corridor = load_corridor(GANJIANG)
    plan = plan_from_offsets(corridor, [i.out_green_start_s for i in corridor.intersections],
                             period="offpeak")
    data = plan.to_dict()
    data.update(changes)
    (tmp_path / name).write_text(json.dumps(data))
    return name


def test_a_plans_unknown_period_names_the_plan_file(tmp_path: Path) -> None:
    name = _ganjiang_plan(tmp_path, "plan.json", period="nosuch")
    res = run("evaluate", "ganjiang", "--plan", name, "--seeds", "1", "--out", "ev",
              cwd=tmp_path)
    assert _one_error_line(res) == (
        "greenwave: error: plan.json: field 'period': plan is for period 'nosuch', which "
        "ganjiang does not define (it defines: offpeak, am_peak, pm_peak)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]


def test_unknown_plan_fields_are_refused(tmp_path: Path) -> None:
    import json

    from greenwave.plan import read_plan

    good = _ganjiang_plan(tmp_path, "good.json")
    data = json.loads((tmp_path / good).read_text())
    # what to_dict writes today (including the link bands) reads back
    assert {"link_bandwidths_out_s", "link_bandwidths_in_s"} <= set(data)
    assert read_plan(tmp_path / good).signals[0].id == "S01"
    (tmp_path / good).unlink()
    top = _ganjiang_plan(tmp_path, "top.json", cycle=120)
    signal = dict(data)
    signal["intersections"] = [dict(s) for s in data["intersections"]]
    signal["intersections"][2]["offset"] = 5
    (tmp_path / "signal.json").write_text(json.dumps(signal))
    expected = {
        top: "field 'cycle': unknown field 'cycle'; expected one of corridor, period, ",
        "signal.json": "field 'intersections[S03].offset': unknown field 'offset'; expected "
                       "one of id, offset_s, ",
    }
    for name, start in expected.items():
        res = run("evaluate", "ganjiang", "--plan", name, "--seeds", "1", "--out", "ev",
                  cwd=tmp_path)
        assert _one_error_line(res).startswith(f"greenwave: error: {name}: {start}"), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signal.json", "top.json"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--seeds", "a,b"],
         "argument --seeds: expected seeds like 1,2,3, found 'a,b' (see 'greenwave demo "
         "--help')"),
        (["demo", "--end-s", "-5"],
         "argument --end-s: expected a finite positive number, found '-5' (see 'greenwave "
         "demo --help')"),
        (["optimize", "c.csv", "--cycle-s", "-5"],
         "argument --cycle-s: expected a finite positive number, found '-5' (see 'greenwave "
         "optimize --help')"),
        (["optimize", "c.csv", "--mode", "foo"],
         "argument --mode: invalid choice: 'foo' (choose from 'balanced', 'weighted', "
         "'equal') (see 'greenwave optimize --help')"),
        (["optimize", "c.csv", "--k", "-1"],
         "argument --k: expected a finite >= 0 number, found '-1' (see 'greenwave optimize "
         "--help')"),
        (["nosuch"], "argument COMMAND: invalid choice: 'nosuch' (choose from "),
    ],
)
def test_usage_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    res = run(*args, cwd=tmp_path)
    assert _one_error_line(res).startswith(f"greenwave: error: {message}")
    assert res.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_help_still_works(tmp_path: Path) -> None:
    for args in (["--help"], ["optimize", "--help"]):
        res = run(*args, cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith("usage: greenwave")
        assert res.stderr == ""


def test_failed_staging_leaves_no_parent_folders(tmp_path: Path) -> None:
    from greenwave._io import atomic_open, staged_dir

    with pytest.raises(RuntimeError), staged_dir(tmp_path / "sumo_configs" / "x" / "net") as d:
        (d / "half.xml").write_text("<")
        raise RuntimeError("the build failed")
    with pytest.raises(RuntimeError), atomic_open(tmp_path / "a" / "b" / "f.txt") as fh:
        fh.write("half")
        raise RuntimeError("the writer failed")
    assert list(tmp_path.iterdir()) == []
    with staged_dir(tmp_path / "ok" / "out") as d:
        (d / "f.txt").write_text("done")
    assert (tmp_path / "ok" / "out" / "f.txt").read_text() == "done"


def test_help_states_each_default_once_as_it_is_typed(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    import re

    from greenwave.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["evaluate-net", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "(default: None)" not in text
    assert "(default: 1,2,3)" in text  # --seeds, typed comma-separated
    assert "(default: original,tlscoordinator)" in text  # --baselines
    assert "(default: balanced)" in text  # --mode
    # an option whose help says its default gets no second one
    for option in re.split(r"\s(?=--[a-z])", text):
        assert option.lower().count("default") <= 1, option
