"""Vehicle trajectories along the corridor from SUMO's FCD output.

SUMO writes the trajectories itself (``--fcd-output``), restricted to the corridor's main-road
edges (``--fcd-output.filter-edges.input-file``) and to the attributes needed (lane, position
on the lane, speed), so nothing is polled from Python during the run. :func:`path_geometry`
maps every lane of a direction's edge chain (and the junction-internal lanes between
consecutive edges) to its distance from the start of the chain, so a sample ``(lane, pos)``
becomes a distance along the path; :func:`read_fcd` returns the vehicle log of
:mod:`greenwave.measure`.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from greenwave.errors import InputError, SimulationError

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class PathGeometry:
    """Where a direction's lanes lie along its path [m]."""

    direction: str
    edges: tuple[str, ...]
    lane_start_m: Mapping[str, float]  # lane id -> distance of the lane's start
    edge_end_m: Mapping[str, float]  # edge id -> distance of its end (a stop line when the
    # edge ends at a signal)


def _read_net(net_file: Path) -> tuple[dict[str, float], dict[tuple[str, str], list[list[str]]],
                                       dict[str, list[str]]]:
    """Lane lengths, the internal-lane chains of each edge-to-edge connection, lanes per edge.

    A connection's internal lane (``via``) may be split at an internal junction; the chain
    lists its pieces in driving order.
    """
    lengths: dict[str, float] = {}
    lanes_of: dict[str, list[str]] = {}
    vias: dict[tuple[str, str], list[str]] = {}
    via_next: dict[str, str] = {}
    try:
        for _, elem in ET.iterparse(net_file, events=("end",)):
            if elem.tag == "lane":
                lid = elem.get("id", "")
                lengths[lid] = float(elem.get("length", "0"))
                lanes_of.setdefault(lid.rsplit("_", 1)[0], []).append(lid)
            elif elem.tag == "connection":
                src, dst, via = elem.get("from", ""), elem.get("to", ""), elem.get("via")
                if via and not src.startswith(":"):
                    vias.setdefault((src, dst), []).append(via)
                elif via:
                    via_next[f"{src}_{elem.get('fromLane', '0')}"] = via
            elif elem.tag == "edge":
                elem.clear()
    except (OSError, ET.ParseError) as exc:
        raise SimulationError(f"network file {net_file}: cannot be read ({exc})") from exc
    chains: dict[tuple[str, str], list[list[str]]] = {}
    for key, firsts in vias.items():
        for v in firsts:
            chain = [v]
            while chain[-1] in via_next and len(chain) < 10:
                chain.append(via_next[chain[-1]])
            chains.setdefault(key, []).append(chain)
    return lengths, chains, lanes_of


def path_geometry(net_file: PathLike, edges: Sequence[str], *, direction: str) -> PathGeometry:
    """Distances along the chain *edges* (driving order) of every lane on it.

    Each edge's lanes start where the previous edge ends plus the longest internal path
    between the two (the junction); pieces of a split internal lane start where the piece
    before them ends.
    """
    lengths, chains, lanes_of = _read_net(Path(net_file))
    start: dict[str, float] = {}
    edge_end: dict[str, float] = {}
    at = 0.0
    for k, edge in enumerate(edges):
        lanes = lanes_of.get(edge)
        if not lanes:
            raise InputError(f"edge {edge!r} is not in the network", file=str(net_file),
                             field="edges", value=edge)
        for lane in lanes:
            start[lane] = at
        at += max(lengths[lane] for lane in lanes)
        edge_end[edge] = at
        if k + 1 < len(edges):
            longest = 0.0
            for chain in chains.get((edge, edges[k + 1]), []):
                along = 0.0
                for lane in chain:
                    start.setdefault(lane, at + along)
                    along += lengths.get(lane, 0.0)
                longest = max(longest, along)
            at += longest
    return PathGeometry(direction, tuple(edges), start, edge_end)


def fcd_args(out_dir: PathLike, label: str, edges: Sequence[str]) -> tuple[str, ...]:
    """SUMO options that write ``<label>.fcd.xml`` for *edges* only (the selection file
    ``<label>.fcd-edges.txt`` is written into *out_dir*)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    selection = out / f"{label}.fcd-edges.txt"
    selection.write_text("".join(f"edge:{e}\n" for e in dict.fromkeys(edges)), encoding="utf-8")
    return ("--fcd-output", str(out / f"{label}.fcd.xml"),
            "--fcd-output.filter-edges.input-file", str(selection),
            "--fcd-output.attributes", "lane,pos,speed")


def read_fcd(path: PathLike, geometries: Sequence[PathGeometry]) -> pd.DataFrame:
    """The vehicle log (:data:`greenwave.measure.LOG_COLUMNS`) of an FCD file.

    Samples on lanes of none of *geometries* are left out; a lane of several paths is
    assigned to the first.
    """
    where: dict[str, tuple[str, float]] = {}
    for g in geometries:
        for lane, d in g.lane_start_m.items():
            where.setdefault(lane, (g.direction, d))
    rows: list[tuple[str, str, float, float, float]] = []
    p = Path(path)
    t = 0.0
    try:
        for event, elem in ET.iterparse(p, events=("start", "end")):
            if event == "start":
                if elem.tag == "timestep":
                    t = float(elem.get("time", "0"))
                continue
            if elem.tag == "vehicle":
                hit = where.get(elem.get("lane", ""))
                if hit is not None:
                    rows.append((elem.get("id", ""), hit[0], t,
                                 hit[1] + float(elem.get("pos", "0")),
                                 float(elem.get("speed", "0"))))
            elif elem.tag == "timestep":
                elem.clear()
    except FileNotFoundError:
        raise SimulationError(f"FCD file {p}: no such file") from None
    except ET.ParseError as exc:
        raise SimulationError(f"FCD file {p}: not well-formed XML ({exc})") from exc
    return pd.DataFrame(rows, columns=["vehicle", "direction", "time_s", "dist_m", "speed_mps"])


def stop_line_distances(geometry: PathGeometry, approach_edges: Sequence[str]) -> list[float]:
    """Distances of the stop lines at the end of each of *approach_edges* along the path."""
    out = []
    for e in approach_edges:
        if e not in geometry.edge_end_m:
            raise InputError(f"approach edge {e!r} is not on the {geometry.direction} path",
                             field="approach", value=e)
        out.append(float(geometry.edge_end_m[e]))
    return out
