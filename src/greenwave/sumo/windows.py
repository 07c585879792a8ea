"""SUMO programs for corridors known only by their through-green windows (the CSV form).

Such a signal has two controlled links: index 0 is the outbound through movement, index 1 the
inbound one. Each shows ``G`` in its window, ``y`` for ``yellow_s`` after it and ``r`` otherwise;
phase 0 starts at the outbound green start, so the tlLogic offset equals that start.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from greenwave._io import atomic_open
from greenwave.errors import InputError
from greenwave.plan import TimingPlan
from greenwave.sumo.programs import format_time


def _link_char(t: float, start: float, green: float, yellow: float, cycle: float) -> str:
    since = (t - start) % cycle
    if green >= cycle or since < green:
        return "G"
    if since < green + yellow:
        return "y"
    return "r"


def window_phases(
    out_start_s: float,
    green_out_s: float,
    in_start_s: float,
    green_in_s: float,
    cycle_s: float,
    *,
    yellow_s: float = 3.0,
    signal_id: str = "",
    source: str = "",
) -> list[tuple[float, str]]:
    """(duration, state) phases for the two through links, starting at the outbound green.

    A green shorter than the cycle must leave room for its yellow (g <= C - yellow_s).
    """
    for name, g in (("green_out_s", green_out_s), ("green_in_s", green_in_s)):
        if g < cycle_s and cycle_s - g < yellow_s:
            raise InputError(
                f"intersection {signal_id}: green {g:g} s leaves {cycle_s - g:g} s of red, "
                f"less than the {yellow_s:g} s yellow a signal program needs (use g <= "
                f"{cycle_s - yellow_s:g} s or g = {cycle_s:g} s)",
                file=source or None, field=name, value=g,
            )
    rel_in = (in_start_s - out_start_s) % cycle_s
    cuts = {0.0}
    for start, g in ((0.0, green_out_s), (rel_in, green_in_s)):
        if g < cycle_s:
            cuts.update({start % cycle_s, (start + g) % cycle_s, (start + g + yellow_s) % cycle_s})
    points = sorted(round(c, 6) for c in cuts)
    phases: list[tuple[float, str]] = []
    for a, b in zip(points, [*points[1:], cycle_s], strict=True):
        if b - a <= 1e-9:
            continue
        mid = (a + b) / 2
        state = _link_char(mid, 0.0, green_out_s, yellow_s, cycle_s) + _link_char(
            mid, rel_in, green_in_s, yellow_s, cycle_s
        )
        if phases and phases[-1][1] == state:
            phases[-1] = (phases[-1][0] + b - a, state)
        else:
            phases.append((b - a, state))
    return phases


def write_window_programs(plan: TimingPlan, out_file: str | Path, *,
                          yellow_s: float = 3.0, source: str = "") -> Path:
    """Additional file with one two-link tlLogic per signal of a window-only plan."""
    root = ET.Element("additional")
    for s in plan.signals:
        phases = window_phases(s.green_out_start_s, s.green_out_s, s.green_in_start_s,
                               s.green_in_s, plan.cycle_s, yellow_s=yellow_s, signal_id=s.id,
                               source=source)
        tl = ET.SubElement(root, "tlLogic", id=s.id, type="static", programID=plan.program_id,
                           offset=format_time(s.green_out_start_s % plan.cycle_s))
        for duration, state in phases:
            ET.SubElement(tl, "phase", duration=format_time(duration), state=state)
    ET.indent(root)
    with atomic_open(out_file) as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        fh.write("<!-- link 0: outbound through, link 1: inbound through -->\n")
        fh.write(ET.tostring(root, encoding="unicode") + "\n")
    return Path(out_file)
