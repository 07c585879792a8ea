"""A three-signal corridor and a 25-minute day segment for the retiming tests."""

from __future__ import annotations

from greenwave.corridor import Corridor, Intersection, PeriodDemand, Phase
from greenwave.sumo.dayseg import DaySegment, DemandSlice, Surge, TodEntry, blend
from greenwave.sumo.retime import DetectorFault

MAJOR = (
    Phase("main through", 40.0, protected=frozenset({"out_T", "out_R", "in_T", "in_R"})),
    Phase("main left", 10.0, protected=frozenset({"out_L", "in_L"})),
    Phase("cross", 25.0, min_green_s=15.0, protected=frozenset({"cross_T", "cross_R"}),
          permitted=frozenset({"cross_L"})),
)


def small_corridor() -> Corridor:
    def signal(ident: str, pos: float) -> Intersection:
        return Intersection(id=ident, position_m=pos, green_out_s=40.0, green_in_s=40.0,
                            through_lanes=2, cross_lanes=2, left_turn_bay=True, major=True,
                            crossing_length_m=14.0, phases=MAJOR,
                            cross_street=f"{ident} street")

    return Corridor(
        name="small3",
        intersections=(signal("A", 0.0), signal("B", 400.0), signal("C", 750.0)),
        cycle_s=90.0, cycle_range_s=(80.0, 120.0), speed_kmh=50.0, speed_limit_kmh=60.0,
        approach_m=200.0, cross_link_m=150.0,
        demand=(
            PeriodDemand("offpeak", main_out_vph=700.0, main_in_vph=650.0,
                         cross_major_vph=200.0, cross_minor_vph=100.0),
            PeriodDemand("am_peak", main_out_vph=750.0, main_in_vph=1250.0,
                         cross_major_vph=300.0, cross_minor_vph=100.0),
        ),
    )


def small_segment(minutes: float = 25.0) -> DaySegment:
    c = small_corridor()
    off, am = c.period("offpeak"), c.period("am_peak")
    b = 6 * 3600.0
    end = b + minutes * 60
    return DaySegment(
        name="small_shift", corridor=c, begin_s=b, end_s=end,
        slices=(DemandSlice(b, b + 300, off), DemandSlice(b + 300, b + 600,
                                                          blend(off, am, 0.5, "ramp")),
                DemandSlice(b + 600, end, am)),
        tod=(TodEntry(0.0, "offpeak", 90.0), TodEntry(b + 900, "am_peak", 110.0)),
        surges=(Surge("B", "west", b + 600, end, 500.0),),
        faults=(DetectorFault("e1_C_in_0", b + 420, "stuck"),),
        drain_s=120.0,
    )
