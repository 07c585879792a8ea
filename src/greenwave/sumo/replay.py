"""Replay a simulated run in sumo-gui: exactly what was evaluated, with a view on the corridor.

Every run greenwave simulates leaves ``<label>.sumocfg`` in its run folder (network, demand,
signal programs, begin/end, step length and seed; see
:func:`greenwave.sumo.simulate.write_run_config`). :func:`replay` opens it in sumo-gui with a
view settings file written here (vehicles coloured by speed and drawn larger, the colour
legend, a step delay, the corridor in view), drives it over TraCI so that one probe vehicle —
the longest trip of the run that starts after the first few minutes — is tracked by the view,
and can instead take a screenshot and quit (:func:`screenshot`). Without a display, sumo-gui
is started under ``xvfb-run``.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from greenwave.errors import InputError, SimulationError
from greenwave.sumo.binaries import binary

VIEW = "View #0"
#: sumo-gui's vehicle colouring "by speed" (index in its list of vehicle colour schemes)
COLOR_BY_SPEED = 8


@dataclass(frozen=True)
class ReplayRun:
    """A run folder's configuration and what the view needs from it."""

    config: Path
    net_file: Path
    begin_s: float
    end_s: float
    probe: str | None  # vehicle to track
    probe_depart_s: float
    probe_duration_s: float


def find_run(run_dir: str | os.PathLike[str]) -> Path:
    """The ``.sumocfg`` of a run: *run_dir* itself, the one config in it, or, for an output
    folder of ``evaluate``/``demo``/``evaluate-net``, that of its first greenwave run."""
    p = Path(run_dir)
    if p.is_file() and p.suffix == ".sumocfg":
        return p
    if not p.is_dir():
        raise InputError("no such run folder or .sumocfg", file=str(p))
    configs = sorted(p.glob("*.sumocfg"))
    if len(configs) == 1:
        return configs[0]
    runs = sorted((p / "runs").glob("greenwave_seed*/*.sumocfg")) if not configs else []
    if runs:
        return runs[0]
    if configs:
        raise InputError(f"several configurations: {', '.join(c.name for c in configs)}; "
                         "give the .sumocfg", file=str(p))
    raise InputError("no .sumocfg here (expected a run folder runs/<method>_seed<N>/ or an "
                     "output folder with runs/)", file=str(p))


def read_run(config: Path) -> ReplayRun:
    """Network, time span and a probe vehicle of the run configured by *config*."""
    try:
        root = ET.parse(config).getroot()
    except (OSError, ET.ParseError) as exc:
        raise InputError(f"cannot read the configuration ({exc})", file=str(config)) from exc

    def value(tag: str, default: str = "") -> str:
        node = root.find(f".//{tag}")
        return node.get("value", default) if node is not None else default

    net = value("net-file")
    if not net:
        raise InputError("no net-file", file=str(config), field="net-file")
    begin, end = float(value("begin", "0")), float(value("end", "3600"))
    probe, depart, duration = _probe(config, begin)
    return ReplayRun(config, (config.parent / net).resolve(), begin, end, probe, depart,
                     duration)


def _probe(config: Path, begin_s: float) -> tuple[str | None, float, float]:
    """The longest finished trip departing after the first 5 minutes (from the run's
    tripinfo output), or none when the run left no tripinfo."""
    from greenwave.sumo.simulate import read_tripinfo

    info = config.with_suffix(".tripinfo.xml")
    if not info.is_file():
        return None, math.nan, math.nan
    trips = read_tripinfo(info)
    trips = trips[trips["finished"] & (trips["depart"] >= begin_s + 300.0)]
    if trips.empty:
        return None, math.nan, math.nan
    best = trips.sort_values(["routeLength", "depart"], ascending=[False, True]).iloc[0]
    return str(best["id"]), float(best["depart"]), float(best["duration"])


def corridor_boundary(net_file: Path) -> tuple[float, float, float, float]:
    """The network's bounding box (``convBoundary``) [m]."""
    for _, elem in ET.iterparse(net_file, events=("start",)):
        if elem.tag == "location":
            xmin, ymin, xmax, ymax = (float(v) for v in elem.get("convBoundary", "").split(","))
            return xmin, ymin, xmax, ymax
    raise SimulationError(f"network file {net_file}: no <location>")


def write_gui_settings(path: Path, *, delay_ms: float = 20.0, center: tuple[float, float],
                       zoom: float, angle_deg: float = 0.0,
                       vehicle_exaggeration: float = 6.0) -> Path:
    """A sumo-gui view settings file: vehicles coloured by speed (with the legend) and drawn
    *vehicle_exaggeration* times larger, lanes drawn wider, traffic-light states at the stop
    lines (sumo-gui's default), a step delay, and the viewport at *center* with *zoom*
    (sumo-gui's percent) turned by *angle_deg*."""
    root = ET.Element("viewsettings")
    scheme = ET.SubElement(root, "scheme", name="greenwave")
    ET.SubElement(scheme, "background", backgroundColor="white")
    ET.SubElement(scheme, "edges", laneEdgeMode="0", widthExaggeration="2")
    ET.SubElement(scheme, "vehicles", vehicleMode=str(COLOR_BY_SPEED),
                  vehicle_exaggeration=f"{vehicle_exaggeration:g}", vehicle_minSize="1")
    ET.SubElement(scheme, "legend", showSizeLegend="true", showVehicleColorLegend="true")
    ET.SubElement(root, "viewport", zoom=f"{zoom:.2f}", x=f"{center[0]:.2f}",
                  y=f"{center[1]:.2f}", angle=f"{angle_deg:g}")
    ET.SubElement(root, "delay", value=f"{delay_ms:g}")
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


def _gui_command(run: ReplayRun, settings: Path, window: tuple[int, int],
                 headless: bool) -> list[str]:
    # --quit-on-end for a screenshot: sumo-gui otherwise stays open after TraCI closes
    cmd = [str(binary("sumo-gui")), "-c", str(run.config), "--gui-settings-file",
           str(settings), "--start", "--window-size", f"{window[0]},{window[1]}",
           "--no-step-log", "true", "--duration-log.disable", "true",
           *(["--quit-on-end"] if headless else [])]
    if headless or not os.environ.get("DISPLAY"):
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            raise SimulationError("no display and no xvfb-run: install Xvfb (apt-get install "
                                  "xvfb) or run with a display")
        screen = f"-screen 0 {window[0] + 100}x{window[1] + 200}x24"
        cmd = [xvfb, "-a", "-s", screen, *cmd]
    return cmd


def replay(run_dir: str | os.PathLike[str], *, screenshot_file: str | os.PathLike[str] | None
           = None, at_s: float | None = None, delay_ms: float = 20.0,
           window: tuple[int, int] = (1600, 900), view_m: float = 1200.0) -> Path | None:
    """Open the run in sumo-gui, tracking a probe vehicle; with *screenshot_file*, render the
    view at *at_s* (default: when the probe is half-way) headless and quit.

    Returns the screenshot's path (or None for an interactive replay that the user closed).
    """
    import traci

    run = read_run(find_run(run_dir))
    xmin, ymin, xmax, ymax = corridor_boundary(run.net_file)
    extent = max(xmax - xmin, ymax - ymin, 1.0)
    zoom = 100.0 * extent / max(view_m, 1.0)
    # not turned: sumo-gui 1.28 leaves out what lies outside the unturned view
    settings = write_gui_settings(run.config.with_suffix(".gui.xml"), delay_ms=delay_ms,
                                  center=((xmin + xmax) / 2, (ymin + ymax) / 2), zoom=zoom)
    shot = Path(screenshot_file).resolve() if screenshot_file is not None else None
    if shot is not None and at_s is None:
        at_s = (run.probe_depart_s + run.probe_duration_s / 2 if run.probe is not None
                else min(run.end_s, run.begin_s + 600.0))
    label = f"greenwave-replay-{os.getpid()}"
    cmd = _gui_command(run, settings, window, headless=shot is not None)
    traci.start(cmd, port=traci.getFreeSocketPort(), label=label)
    conn = traci.getConnection(label)
    tracked = False
    try:
        while True:
            t = conn.simulation.getTime()
            if (shot is not None and at_s is not None and t >= at_s) or t >= run.end_s:
                break
            conn.simulationStep()
            if run.probe is not None and not tracked and run.probe in \
                    conn.simulation.getDepartedIDList():
                conn.gui.trackVehicle(VIEW, run.probe)
                with contextlib.suppress(traci.TraCIException):
                    conn.gui.setZoom(VIEW, zoom)
                tracked = True
        if shot is not None:
            if run.probe is not None and run.probe in conn.vehicle.getIDList():
                conn.vehicle.highlight(run.probe, (255, 0, 255, 255), size=12.0)
            conn.gui.screenshot(VIEW, str(shot), window[0], window[1])
            conn.simulationStep()  # the screenshot is written when the next step is drawn
    except traci.FatalTraCIError:
        return None  # the user closed sumo-gui
    finally:
        with contextlib.suppress(Exception):
            conn.close()
    if shot is not None and not shot.is_file():
        raise SimulationError(f"sumo-gui wrote no screenshot {shot}")
    return shot


def replay_command(run_dir: str | os.PathLike[str]) -> Sequence[str]:
    """The plain sumo-gui command line of a run (for a reader without greenwave)."""
    run = read_run(find_run(run_dir))
    return [str(binary("sumo-gui")), "-c", str(run.config)]
