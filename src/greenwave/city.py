"""Realistic random corridors, like the 165 green-wave roads of the model city.

Nanchang runs 165 coordinated roads; Ganjiang Avenue (23 signals, 10.6 km) is the one that
was reported. :func:`generate_corridor` draws a corridor with the same kind of data, every
range taken from the design brief:

* 8–30 signals, 23 on average (rounded normal, sd 4.5, clipped);
* links of 250–1,200 m: most 300–650 m, about one in ten a long stretch of 800–1,200 m;
* band speed 40–60 km/h (5 km/h steps), speed limit the next 10 km/h above it;
* a common cycle of 90–140 s (10 s steps); yellow 3 s, all-red 2 s, minimum green 10 s,
  pedestrian minimum green on the cross phase = 7 s + crossing length / 1.2 m/s − intergreen;
* about a third of the crossings major (three phases: main through, protected main lefts,
  cross street; cross streets of 2–3 lanes), the others minor (two phases, permitted lefts;
  cross streets of 1–2 lanes);
* periods ``offpeak`` (900–1,300 veh/h per direction on the main road, cross streets 100–600
  veh/h per approach, 10–20 % turning), ``am_peak`` (tidal: inbound × 1.3–1.6) and
  ``pm_peak`` (outbound × 1.3–1.6).

Everything is drawn from ``random.Random(seed)``: the same seed gives the same corridor on
every machine and Python version (the Mersenne Twister's stream is fixed).
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

from greenwave.corridor import Corridor, Intersection, PeriodDemand, Phase, validate

YELLOW_S = 3.0
ALL_RED_S = 2.0
MIN_GREEN_S = 10.0
WALK_SPEED_MPS = 1.2
CITY_ROADS = 165
"""Green-wave roads of the model city (Nanchang)."""

_MAIN = frozenset({"out_T", "out_R", "in_T", "in_R"})
_CROSS = frozenset({"cross_T", "cross_R"})


def corridor_seed(city_seed: int, index: int) -> int:
    """The seed of the *index*-th corridor of a city drawn with *city_seed* (stable)."""
    return city_seed * 1_000_003 + index


def generate_corridor(seed: int, *, name: str | None = None,
                      n_signals: int | None = None) -> Corridor:
    """A realistic random arterial (see the module doc); deterministic in *seed*.

    *n_signals* fixes the number of signals (at least 2) instead of drawing it. The corridor
    is validated like a TOML spec and can be built into a SUMO network.
    """
    rng = random.Random(seed)
    n = n_signals if n_signals is not None else min(30, max(8, round(rng.gauss(23.0, 4.5))))
    if n < 2:
        raise ValueError(f"a corridor needs at least 2 signals, found {n}")
    speed = float(rng.choice((40, 45, 50, 55, 60)))
    limit = float(10 * math.floor(speed / 10) + 10)
    cycle = float(rng.choice((90, 100, 110, 120, 130, 140)))
    main_vph = rng.uniform(900.0, 1300.0)
    lanes = 3 if main_vph > 1050.0 or rng.random() < 0.5 else 2
    position = 0.0
    intersections = []
    for k in range(n):
        if k:
            position += round(rng.uniform(800.0, 1200.0) if rng.random() < 0.1
                              else rng.uniform(300.0, 650.0), -1)
        intersections.append(_intersection(rng, f"S{k + 1:02d}", position, cycle, lanes,
                                           major=k in (0, n - 1) or rng.random() < 0.3))
    offpeak = _offpeak(rng, main_vph)
    tidal = rng.uniform(1.3, 1.6)
    am = replace(offpeak, name="am_peak", main_in_vph=round(offpeak.main_in_vph * tidal))
    pm = replace(offpeak, name="pm_peak", main_out_vph=round(offpeak.main_out_vph * tidal))
    corridor = Corridor(
        name=name or f"city-{seed}",
        description=f"generated corridor (greenwave.city, seed {seed}): {n} signals",
        intersections=tuple(intersections),
        cycle_s=cycle,
        cycle_range_s=(max(60.0, cycle - 20.0), min(180.0, cycle + 40.0)),
        speed_kmh=speed,
        speed_range_kmh=(max(30.0, speed - 5.0), min(limit, speed + 5.0)),
        speed_limit_kmh=limit,
        approach_m=300.0,
        cross_link_m=200.0,
        demand=(offpeak, am, pm),
        meta={"generator": "greenwave.city", "seed": seed},
    )
    validate(corridor)
    return corridor


def city_corridors(count: int = CITY_ROADS, *, seed: int = 0) -> list[Corridor]:
    """*count* generated corridors named ``city-000``, ``city-001``, ... (see
    :func:`generate_corridor`; corridor *k* uses :func:`corridor_seed` (seed, k))."""
    return [generate_corridor(corridor_seed(seed, k), name=f"city-{k:03d}")
            for k in range(count)]


def _intersection(rng: random.Random, ident: str, position_m: float, cycle_s: float,
                  lanes: int, *, major: bool) -> Intersection:
    crossing_m = round(rng.uniform(8.0, 12.0) * lanes, 0)
    intergreen = YELLOW_S + ALL_RED_S
    ped_min = math.ceil(7.0 + crossing_m / WALK_SPEED_MPS - intergreen)
    cross_green = float(max(ped_min, round(cycle_s * rng.uniform(0.20, 0.28))))
    phases: list[Phase] = []
    if major:
        left_green = float(rng.randint(10, 14))
        main_green = cycle_s - 3 * intergreen - left_green - cross_green
        phases = [_phase("main through", main_green, _MAIN),
                  _phase("main left", left_green, frozenset({"out_L", "in_L"})),
                  _phase("cross", cross_green, _CROSS, min_green_s=ped_min,
                         permitted=frozenset({"cross_L"}))]
    else:
        main_green = cycle_s - 2 * intergreen - cross_green
        phases = [_phase("main", main_green, _MAIN, permitted=frozenset({"out_L", "in_L"})),
                  _phase("cross", cross_green, _CROSS, min_green_s=ped_min,
                         permitted=frozenset({"cross_L"}))]
    base = Intersection(
        id=ident, position_m=position_m, green_out_s=1.0, green_in_s=1.0,
        cross_street=f"Cross street {ident[1:]}", through_lanes=lanes,
        cross_lanes=rng.randint(2, 3) if major else rng.randint(1, 2),
        left_turn_bay=major or rng.random() < 0.5, major=major, crossing_length_m=crossing_m,
    )
    return base.with_phases(phases)


def _phase(name: str, green_s: float, protected: frozenset[str], *,
           min_green_s: float = MIN_GREEN_S,
           permitted: frozenset[str] = frozenset()) -> Phase:
    return Phase(name=name, green_s=green_s, yellow_s=YELLOW_S, all_red_s=ALL_RED_S,
                 min_green_s=min_green_s, protected=protected, permitted=permitted)


def _offpeak(rng: random.Random, main_vph: float) -> PeriodDemand:
    turning = rng.uniform(0.10, 0.20)
    left = round(turning * rng.uniform(0.4, 0.6), 3)
    return PeriodDemand(
        name="offpeak",
        duration_s=3600.0,
        main_out_vph=round(main_vph),
        main_in_vph=round(main_vph * rng.uniform(0.85, 1.0)),
        cross_major_vph=round(rng.uniform(250.0, 600.0)),
        cross_minor_vph=round(rng.uniform(100.0, 250.0)),
        left_share=left,
        right_share=round(turning - left, 3),
        minor_turn_factor=0.25,
    )
