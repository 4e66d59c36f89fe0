"""A generated Sangsalmi fleet to rebalance (seeded), for the solver's tests and the dispatch benchmark.

The village: the demo's five parking areas (`sim.fleet.AREAS`). The district: a grid of parking areas over a square
(`district_side_m`). Riders start trips where people leave from (entrances, the core) and end them where people
live, so by the evening the vehicles stand where the riders are not: each area gets a popularity for departures and
another for arrivals. Four weeks of departures give the targets by the documented rule
(`ops.rebalance.targets_from_history`); the vehicles stand by the arrivals' popularity, some of them strays outside
every area, some flat.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from mobility.models import GeofenceKind
from ops.rebalance import Area, FleetVehicle, Van, targets_from_history
from routing.travel import Point
from sim.fleet import AREAS
from sim.pilot import CENTRE
from sim.sangsalmi import offset

HOUR = 18  # the evening hour the tours prepare for
HISTORY_DAYS = 28
TYPES = (("scooter", 0.75), ("ebike", 0.25))
EVENING_TRIPS_PER_VEHICLE = 0.4  # trips starting in the evening hour, fleet-wide, per vehicle on an average day
STRAY_SHARE = 0.1
FLAT_SHARE = 0.12


@dataclass(frozen=True, slots=True)
class Scenario:
    areas: tuple[Area, ...]
    vehicles: tuple[FleetVehicle, ...]
    vans: tuple[Van, ...]


def _village_places() -> list[tuple[float, float]]:
    return [(east, north) for _, kind, east, north, _, _ in AREAS if kind == GeofenceKind.PARKING]


def _district_places(rng: random.Random, count: int, side_m: float) -> list[tuple[float, float]]:
    return [(rng.uniform(-side_m / 2, side_m / 2), rng.uniform(-side_m / 2, side_m / 2)) for _ in range(count)]


def scenario(
    seed: int,
    *,
    vehicles: int,
    vans: int,
    areas: int | None = None,
    district_side_m: float = 4000,
    van_capacity: int = 8,
    van_batteries: int = 20,
    tour_s: float = 5400,
    reserve: int = 1,
) -> Scenario:
    """`areas` None: the village's five; else that many in a district square of `district_side_m`."""
    rng = random.Random(seed)
    places = _village_places() if areas is None else _district_places(rng, areas, district_side_m)
    spread = 150.0 if areas is None else district_side_m / 2
    departures = [rng.paretovariate(1.5) for _ in places]
    arrivals = [1 / weight for weight in departures]  # riders end their trips where few start theirs
    per_day = vehicles * EVENING_TRIPS_PER_VEHICLE
    starts = []
    for _ in range(HISTORY_DAYS):
        for _ in range(rng.randint(int(per_day * 0.7), int(per_day * 1.3))):
            a = rng.choices(range(len(places)), weights=departures)[0]
            type_code = rng.choices([t for t, _ in TYPES], weights=[w for _, w in TYPES])[0]
            starts.append((a, type_code, HOUR))
    targets = targets_from_history(starts, days=HISTORY_DAYS, hour=HOUR, reserve=reserve)
    area_list = tuple(
        Area(
            area_id=uuid.UUID(int=rng.getrandbits(128)),
            at=Point(*offset(*CENTRE, east_m=east, north_m=north)),
            targets={t: targets.get((a, t), reserve) for t, _ in TYPES},
        )
        for a, (east, north) in enumerate(places)
    )
    fleet = []
    for _ in range(vehicles):
        type_code = rng.choices([t for t, _ in TYPES], weights=[w for _, w in TYPES])[0]
        flat = rng.random() < FLAT_SHARE
        if rng.random() < STRAY_SHARE:
            area = None
            east, north = rng.uniform(-spread, spread), rng.uniform(-spread, spread)
        else:
            area = rng.choices(range(len(places)), weights=arrivals)[0]
            east, north = places[area][0] + rng.uniform(-30, 30), places[area][1] + rng.uniform(-30, 30)
        fleet.append(
            FleetVehicle(
                vehicle_id=uuid.UUID(int=rng.getrandbits(128)),
                type_code=type_code,
                at=Point(*offset(*CENTRE, east_m=east, north_m=north)),
                battery_pct=rng.randint(3, 12) if flat else rng.randint(25, 100),
                area=area,
                usable=not flat,
                flat=flat,
            )
        )
    crew = tuple(
        Van(
            staff_id=uuid.UUID(int=rng.getrandbits(128)),
            at=Point(*offset(*CENTRE, east_m=rng.uniform(-spread, spread), north_m=rng.uniform(-spread, spread))),
            available_s=tour_s,
            capacity=van_capacity,
            batteries=van_batteries,
        )
        for _ in range(vans)
    )
    return Scenario(area_list, tuple(fleet), crew)
