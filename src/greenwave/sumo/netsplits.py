"""Splits from demand for the signals of an imported net: link flows counted from driven
routes, Webster's critical lane flow ratios per phase, green shared in proportion.

Counting
--------
A SUMO traffic light controls *links* (``linkIndex``): connections from an incoming lane to an
outgoing lane. :func:`link_flows` counts, for every link of the given traffic lights, the
vehicles of a driven-route table (SUMO's ``--vehroute-output``, as a detector count would)
that depart in ``[begin, end)`` and drive from the link's incoming edge to its outgoing edge;
when several links join the same two edges (several lanes), the vehicles are shared equally
among them. Flows are per hour of the period [veh/h]. Counting departures in the period, not
passages, measures demand, not the capacity the current programs let through.

Splits (Webster 1958; HCM 2016 ch. 19, critical lane groups)
-----------------------------------------------------------
A lane's flow is the sum of its links' flows. In a program, a green phase (one without yellow)
serves the lanes of its protected (``G``) links; a lane served in several green phases has its
flow shared equally among them; yellow phases keep their time and serve no share. A phase's
flow ratio is the largest ``lane flow / saturation flow`` it serves (``y_i``, saturation
1,800 veh/h per lane by default). At cycle C the green phases share ``C − Σ(yellow, all-red)``
in proportion to ``y_i`` (Webster's equal degree of saturation,
:func:`greenwave.splits.phase_greens`, policy ``"webster"``), none below its minimum. Yellow and
all-red phases keep their durations; the phase order and states do not change.

Why not the coordinated policy of built corridors (non-coordinated phases at v/c 0.9, the slack
to the through phases)? Counted flows on a real net understate what its cross streets need
(permitted turns, short lanes, blocking): on ingolstadt7 that policy left the cross phases 5–9 s
of 90 s and SUMO jammed them (92 teleports in 3 seeds against 9 with Webster's shares); equal
saturation keeps every approach's reserve, and the offsets then do the coordinating.

Webster's cycle ``C0 = (1.5 L + 5) / (1 − Y)`` of such a signal (L its yellow and all-red time,
Y the sum of its phases' flow ratios) is :func:`greenwave.splits.webster_optimum_cycle_s`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from greenwave.errors import InputError
from greenwave.sumo.simulate import DrivenRoute

SATURATION_VPHPL = 1800.0
"""Saturation flow of one lane [veh/h] (HCM base 1,900 less heavy vehicles and turns)."""


@dataclass(frozen=True)
class SignalLink:
    """One controlled link of a traffic light: incoming lane and edges."""

    index: int
    from_lane: str
    from_edge: str
    to_edge: str


def read_signal_links(net_file: str | Path,
                      tls_ids: Iterable[str]) -> dict[str, tuple[SignalLink, ...]]:
    """The controlled links of every traffic light in *tls_ids*, from the net (sumolib)."""
    from greenwave.sumo.programs import read_net

    net = read_net(net_file)
    out: dict[str, tuple[SignalLink, ...]] = {}
    for tls in tls_ids:
        try:
            conns = net.getTLS(tls).getConnections()
        except KeyError:
            raise InputError(f"no traffic light {tls!r} in the net", file=str(net_file),
                             field="tlLogic", value=tls) from None
        out[tls] = tuple(sorted(
            (SignalLink(int(index), inl.getID(), inl.getEdge().getID(), outl.getEdge().getID())
             for inl, outl, index in conns), key=lambda x: (x.index, x.from_lane)))
    return out


def link_flows(routes: Mapping[str, DrivenRoute], links: Mapping[str, Sequence[SignalLink]], *,
               begin_s: float, end_s: float) -> dict[str, dict[int, float]]:
    """Flow of every link [veh/h] from driven routes departing in [begin_s, end_s) (module doc)."""
    if not end_s > begin_s:
        raise InputError(f"end {end_s:g} s must be after begin {begin_s:g} s", field="end_s",
                         value=end_s)
    moves: dict[tuple[str, str], int] = defaultdict(int)
    for r in routes.values():
        if begin_s <= r.depart_s < end_s:
            for a, b in zip(r.edges, r.edges[1:], strict=False):
                moves[(a, b)] += 1
    hours = (end_s - begin_s) / 3600.0
    out: dict[str, dict[int, float]] = {}
    for tls, tls_links in links.items():
        by_pair: dict[tuple[str, str], set[int]] = defaultdict(set)
        for link in tls_links:
            by_pair[(link.from_edge, link.to_edge)].add(link.index)
        flows: dict[int, float] = {link.index: 0.0 for link in tls_links}
        for pair, indices in by_pair.items():
            for k in indices:
                flows[k] += moves.get(pair, 0) / len(indices) / hours
        out[tls] = flows
    return out


def phase_flow_ratios(states: Sequence[str], links: Sequence[SignalLink],
                      flows: Mapping[int, float], *,
                      saturation_vphpl: float = SATURATION_VPHPL) -> list[float]:
    """Webster's flow ratio y of every phase (0 for phases serving no protected flow)."""
    if not (math.isfinite(saturation_vphpl) and saturation_vphpl > 0):
        raise InputError(f"must be > 0, found {saturation_vphpl!r}", field="saturation_vphpl",
                         value=saturation_vphpl)
    lane_of = {link.index: link.from_lane for link in links}
    lane_flow: dict[str, float] = defaultdict(float)
    for link in links:
        lane_flow[link.from_lane] += flows.get(link.index, 0.0)
    served: list[set[str]] = []
    for state in states:  # transition phases (yellow, red-yellow) keep their time: no share
        transition = any(c in "yYu" for c in state)
        served.append(set() if transition else
                      {lane_of[k] for k, c in enumerate(state) if c == "G" and k in lane_of})
    phases_of: dict[str, int] = defaultdict(int)
    for lanes in served:
        for lane in lanes:
            phases_of[lane] += 1
    return [max((lane_flow[lane] / phases_of[lane] / saturation_vphpl for lane in lanes),
                default=0.0) for lanes in served]
