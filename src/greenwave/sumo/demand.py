"""Corridor demand as SUMO flows, and the ``.sumocfg`` that runs a scenario.

The demand rule (one period, all rates in veh/h)
------------------------------------------------
Turning shares at signal ``i``: ``l_i = left_share`` and ``r_i = right_share`` at a major
crossing, both times ``minor_turn_factor`` at a minor one; ``s_i = 1 - l_i - r_i`` is the share
of the main-street flow that goes straight on.

* Main street, per direction ``d`` (outbound enters at ``start`` with ``main_out_vph``, inbound at
  ``end`` with ``main_in_vph``; call it ``F_d``): at every signal ``F_d·l_i`` turns off left and
  ``F_d·r_i`` right, and as much turns *in* from the cross street (``F_d·r_i`` as a right turn,
  ``F_d·l_i`` as a left turn), so the main-street section flow stays ``F_d`` all along.
* Every origin (a main entry, or a turn-in at signal ``k``) sends its volume ``V`` downstream;
  the share still on the main street at signal ``j`` is the survival probability
  ``Π_{k<m<j} s_m``. OD flows: ``V·Π·l_j`` and ``V·Π·r_j`` leave at ``j`` (left/right cross
  leg); ``V·Π_{all m>k} s_m`` reaches the far end of the corridor.
* Cross street, per approach: the approach volume is ``cross_major_vph`` (major crossing) or
  ``cross_minor_vph`` (minor); its through flow is that volume minus the turn-ins it supplies
  above, never below zero (then the approach carries only its turn-ins).

One ``<flow>`` per OD pair with its explicit ``<route>``. Turning OD pairs under
``MIN_FLOW_VPH`` are folded into the same origin's trip to the far end (so every origin's total
stays exact); any other flow under ``MIN_FLOW_VPH`` is dropped. Arrivals are Poisson
(``period="exp(rate)"``, rate in veh/s), drawn by SUMO from the simulation's ``--seed``.

Flow ids read ``<kind>_<origin>_to_<destination>``: end-to-end main street trips are
``through_outbound_start_to_end`` and ``through_inbound_end_to_start``; other main-street trips
``outbound_…``/``inbound_…`` (e.g. ``outbound_start_to_S05_west``, ``outbound_S03_east_to_end``);
cross-street through trips ``cross_S03_west_to_S03_east``.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from greenwave.corridor import Corridor, Intersection, PeriodDemand
from greenwave.errors import InputError
from greenwave.sumo.netbuild import NetworkLayout, write_xml

MIN_FLOW_VPH = 1.0
VTYPE_ID = "passenger"


@dataclass(frozen=True)
class ODFlow:
    """One origin–destination flow on a fixed route [veh/h]."""

    id: str
    origin: str
    destination: str
    vph: float
    edges: tuple[str, ...]


def turn_shares(i: Intersection, demand: PeriodDemand) -> tuple[float, float]:
    """(left, right) shares of the main-street flow turning off at *i*."""
    f = 1.0 if i.major else demand.minor_turn_factor
    return demand.left_share * f, demand.right_share * f


def od_flows(corridor: Corridor, layout: NetworkLayout, period: str) -> list[ODFlow]:
    """The OD flows of *period* (see the module docstring for the rule), in a fixed order."""
    demand = corridor.period(period)
    xs = corridor.intersections
    if tuple(layout.tls_ids) != corridor.ids:
        raise InputError(
            f"layout signals {list(layout.tls_ids)} do not match the corridor {list(corridor.ids)}",
            field="layout",
        )
    flows: list[ODFlow] = []
    flows += _main_flows(xs, layout, demand, outbound=True)
    flows += _main_flows(xs, layout, demand, outbound=False)
    flows += _cross_flows(xs, layout, demand)
    return [f for f in flows if f.vph >= MIN_FLOW_VPH]


def _main_flows(
    xs: Sequence[Intersection], layout: NetworkLayout, demand: PeriodDemand, *, outbound: bool
) -> list[ODFlow]:
    order = list(xs) if outbound else list(xs)[::-1]
    edges = list(layout.out_edges if outbound else layout.in_edges)
    approach = layout.out_approach if outbound else layout.in_approach
    entry_flow = demand.main_out_vph if outbound else demand.main_in_vph
    kind = "outbound" if outbound else "inbound"
    entry, far_end = ("start", "end") if outbound else ("end", "start")
    # Cross legs as seen by a vehicle travelling in this direction (right-hand traffic,
    # southbound outbound): outbound turns right into the west leg, inbound into the east leg.
    right_leg, left_leg = ("west", "east") if outbound else ("east", "west")

    def leg(i: Intersection, side: str, suffix: str) -> str:
        legs = layout.cross_edges[i.id]
        return str(getattr(legs, f"{side}_{suffix}"))

    shares = [turn_shares(i, demand) for i in order]
    stop = [edges.index(approach[i.id]) for i in order]  # index of the edge at the stop line
    # Origins: (name, position k along the direction, volume, first edges); k = -1 = main entry.
    origins: list[tuple[str, int, float, list[str]]] = [(entry, -1, entry_flow, [])]
    for k, i in enumerate(order):
        left, right = shares[k]
        # Turning in: eastbound traffic from the west leg turns right to go south, so right
        # turns in come from the leg that right turns off go to, left turns from the other.
        origins.append((f"{i.id}_{right_leg}", k, entry_flow * right,
                        [leg(i, right_leg, "in")]))
        origins.append((f"{i.id}_{left_leg}", k, entry_flow * left,
                        [leg(i, left_leg, "in")]))

    out: list[ODFlow] = []
    for name, k, volume, head in origins:
        if volume <= 0:
            continue
        first = 0 if k < 0 else stop[k] + 1
        alive = 1.0
        turning: list[ODFlow] = []
        for j in range(k + 1, len(order)):
            left, right = shares[j]
            path = head + edges[first: stop[j] + 1]
            for side, share in ((right_leg, right), (left_leg, left)):
                dest = f"{order[j].id}_{side}"
                turning.append(ODFlow(f"{kind}_{name}_to_{dest}", name, dest,
                                      volume * alive * share,
                                      (*path, leg(order[j], side, "out"))))
            alive *= 1.0 - left - right
        kept = [f for f in turning if f.vph >= MIN_FLOW_VPH]
        # Tiny OD pairs are folded into the trip to the far end: origin totals stay exact.
        folded = sum(f.vph for f in turning) - sum(f.vph for f in kept)
        flow_kind = f"through_{kind}" if k < 0 else kind
        out += kept
        out.append(ODFlow(f"{flow_kind}_{name}_to_{far_end}", name, far_end,
                          volume * alive + folded, (*head, *edges[first:])))
    return out


def _cross_flows(
    xs: Sequence[Intersection], layout: NetworkLayout, demand: PeriodDemand
) -> list[ODFlow]:
    out: list[ODFlow] = []
    for i in xs:
        left, right = turn_shares(i, demand)
        approach_vph = demand.cross_major_vph if i.major else demand.cross_minor_vph
        # Turn-ins each approach supplies (see _main_flows): west feeds outbound by a right
        # turn and inbound by a left turn; east the other way round.
        turns = {
            "west": demand.main_out_vph * right + demand.main_in_vph * left,
            "east": demand.main_in_vph * right + demand.main_out_vph * left,
        }
        legs = layout.cross_edges[i.id]
        for side, other, first, last in (("west", "east", legs.west_in, legs.east_out),
                                         ("east", "west", legs.east_in, legs.west_out)):
            vph = max(0.0, approach_vph - turns[side])
            out.append(ODFlow(f"cross_{i.id}_{side}_to_{i.id}_{other}", f"{i.id}_{side}",
                              f"{i.id}_{other}", vph, (first, last)))
    return out


def _rate(vph: float) -> str:
    return f"{vph / 3600.0:.8g}"


def write_demand(
    corridor: Corridor,
    layout: NetworkLayout,
    period: str,
    out_file: str | Path,
    *,
    seed: int = 42,
    begin_s: float = 0.0,
) -> Path:
    """Write the demand of *period* as a SUMO route file of OD ``<flow>``s; return its path.

    Flows run from *begin_s* for the period's ``duration_s``. The file does not depend on
    *seed*: SUMO draws the Poisson arrivals from the simulation seed (see
    :func:`write_sumocfg`); *seed* is only recorded in the file's header comment.
    """
    demand = corridor.period(period)
    flows = od_flows(corridor, layout, period)
    if not flows:
        raise InputError(f"period {period!r} has no demand", field="period", value=period)
    root = ET.Element("routes")
    root.append(ET.Comment(
        f" greenwave demand: corridor {corridor.name}, period {period}, {len(flows)} OD flows, "
        f"Poisson arrivals drawn by SUMO (intended seed {seed}) "
    ))
    ET.SubElement(root, "vType", id=VTYPE_ID, vClass="passenger")
    end = begin_s + demand.duration_s
    for f in flows:
        el = ET.SubElement(root, "flow", {
            "id": f.id,
            "type": VTYPE_ID,
            "begin": f"{begin_s:g}",
            "end": f"{end:g}",
            "period": f"exp({_rate(f.vph)})",
            "departLane": "best",
            "departSpeed": "max",
        })
        el.append(ET.Comment(f" {f.vph:.1f} veh/h "))
        ET.SubElement(el, "route", edges=" ".join(f.edges))
    return write_xml(root, Path(out_file))


def write_sumocfg(
    out_dir: str | Path,
    net: str | Path,
    routes: str | Path | Sequence[str | Path] | None,
    additionals: Sequence[str | Path] = (),
    begin: float = 0.0,
    end: float = 3600.0,
    seed: int = 42,
    *,
    name: str = "corridor.sumocfg",
    step_length_s: float = 1.0,
) -> Path:
    """Write a ``.sumocfg`` in *out_dir* loading *net*, *routes* and *additionals*.

    Paths are written relative to *out_dir* so the scenario folder can move. Additional files
    load in the given order; a ``<tlLogic>`` in a later file becomes the active program.
    """
    out = Path(out_dir)
    if not math.isfinite(begin) or not math.isfinite(end) or end <= begin:
        raise InputError(f"end {end:g} s must be after begin {begin:g} s", field="end",
                         value=end)

    def rel(p: str | Path) -> str:
        return Path(os.path.relpath(Path(p).resolve(), out.resolve())).as_posix()

    if routes is None:
        route_list: list[str | Path] = []
    elif isinstance(routes, str | Path):
        route_list = [routes]
    else:
        route_list = list(routes)
    root = ET.Element("configuration")
    inp = ET.SubElement(root, "input")
    ET.SubElement(inp, "net-file", value=rel(net))
    if route_list:
        ET.SubElement(inp, "route-files", value=",".join(rel(r) for r in route_list))
    if additionals:
        ET.SubElement(inp, "additional-files", value=",".join(rel(a) for a in additionals))
    time = ET.SubElement(root, "time")
    ET.SubElement(time, "begin", value=f"{begin:g}")
    ET.SubElement(time, "end", value=f"{end:g}")
    ET.SubElement(time, "step-length", value=f"{step_length_s:g}")
    rnd = ET.SubElement(root, "random_number")
    ET.SubElement(rnd, "seed", value=str(int(seed)))
    report = ET.SubElement(root, "report")
    ET.SubElement(report, "no-step-log", value="true")
    return write_xml(root, out / name)
