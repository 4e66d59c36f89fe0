"""The Sangsalmi village as a population of drivers: who needs to park where and when, for a seeded week (pure).

Every behavioural number comes from `sim/assumptions.toml` (an identical copy of the shared file, checked by a test);
the three `[calibration].free` parameters are arguments (`Demand`). One number the file gives only in a comment is
held here as a constant: visitors' walking tolerance is capped at 600 m (`WALK_CAP_M`).

The model:
- Resident cars: `[supply].registered_resident_vehicles`, of which `pre_existing_legal_spaces` have a legal space of
  their own at home (a garage or a permit space; among them the holders of the inventory's resident-priority slots)
  and never need parking; the others (244) need a space near home whenever they are at home, within
  `max_walk_home_m`. Each day a car commutes (leaves in the morning, comes back in the evening) with the day type's
  share; departures and returns are normal around the file's means. Homes are uniform in the village circle.
- Visitors: `Demand.visitors_weekday` / `visitors_weekend` a day (Poisson), arriving by the file's hourly weights,
  staying a lognormal time, going to a destination uniform in the circle, walking at most a lognormal tolerance.
- Resident cars with a space of their own commute the same way; only their coming home is seen (at the entrances).
- Through traffic: vehicles that enter and never park, `Demand.through_traffic_share` of all entering vehicles.
- A need is a stay: a car that must stand somewhere legal from `start` to `end` near `lon`/`lat`. The scenarios
  (`sim/scenarios.py`) decide where it parks; a need without a legal space becomes illegal parking (residents always:
  `must_park_near_home`; visitors with `park_illegally_if_unserved`, else they leave).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from scipy.stats import poisson

ASSUMPTIONS = Path(__file__).resolve().parent / "assumptions.toml"
WALK_CAP_M = 600  # `[visitors].walk_tolerance_sigma`'s comment: "lognormal, capped at 600 m"
METRES_PER_DEG_LAT = 111_320.0
SEOUL = ZoneInfo("Asia/Seoul")


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True, slots=True)
class Assumptions:
    """`sim/assumptions.toml`, read whole; the scenarios and the bench take every number from here."""

    raw: dict[str, Any]

    @classmethod
    def load(cls, path: Path = ASSUMPTIONS) -> Assumptions:
        return cls(tomllib.loads(path.read_text()))

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.raw[section]  # type: ignore[no-any-return]

    @property
    def centre(self) -> tuple[float, float]:
        return self["area"]["center_lon"], self["area"]["center_lat"]

    @property
    def seeds(self) -> list[int]:
        return list(self["calibration"]["seeds"])

    @property
    def days(self) -> int:
        return int(self["calibration"]["days"])


@dataclass(frozen=True, slots=True)
class Demand:
    """The calibrated parameters (`[calibration].free`)."""

    visitors_weekday: float  # visitor_parking_demand_weekday: visitors who come to park, a weekday
    visitors_weekend: float  # visitor_parking_demand_weekend
    through_traffic_share: float  # of all vehicles entering the village, those that never park


@dataclass(frozen=True, slots=True)
class Need:
    """A car that must stand somewhere from `start` to `end`, near (`lon`, `lat`), walking at most `walk_m`."""

    id: int
    plate: str
    resident: bool
    lon: float
    lat: float
    start: datetime
    end: datetime
    walk_m: float
    uses_app: bool
    enters_at: datetime | None  # when the car entered the village for this stay (None: it was already in)
    parks_illegally: bool  # when no legal space is found: residents always, visitors by `park_illegally_if_unserved`
    takes_park_and_ride: bool  # maeul: a visitor offered a farther slot and a scooter takes it (`accept_share`)


@dataclass(frozen=True, slots=True)
class Week:
    first_day: date
    days: int
    needs: tuple[Need, ...]  # by start
    passing: tuple[tuple[str, datetime], ...]  # (plate, entered at) of vehicles entering that need no space found:
    # through traffic, and resident cars coming home to a space of their own
    sharing_permits: frozenset[int]  # which resident-priority slots (by their index) their holders share

    def day_start(self, day: int) -> datetime:
        return datetime.combine(self.first_day + timedelta(days=day), time(0), tzinfo=SEOUL)

    @property
    def end(self) -> datetime:
        return self.day_start(self.days)


def weekend(day: date) -> bool:
    return day.isoweekday() >= 6


def offset(lon: float, lat: float, *, east_m: float, north_m: float) -> tuple[float, float]:
    """The point `east_m` metres east and `north_m` metres north of (lon, lat)."""
    return (
        lon + east_m / (METRES_PER_DEG_LAT * math.cos(math.radians(lat))),
        lat + north_m / METRES_PER_DEG_LAT,
    )


@dataclass(slots=True)
class _Plates:
    """Distinct, valid Korean-style plates ("12가3456"), the same for the same seed (a stream of their own)."""

    rng: np.random.Generator
    seen: set[str] = field(default_factory=set)

    def new(self) -> str:
        letters = "가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주"
        while True:
            letter = letters[self.rng.integers(len(letters))]
            plate = f"{self.rng.integers(10, 1000)}{letter}{self.rng.integers(1000, 10000)}"
            if plate not in self.seen:
                self.seen.add(plate)
                return plate


def _point_in_village(rng: np.random.Generator, assumptions: Assumptions) -> tuple[float, float]:
    radius = assumptions["area"]["radius_m"] * math.sqrt(rng.random())  # uniform over the disc
    angle = rng.uniform(0, 2 * math.pi)
    return offset(*assumptions.centre, east_m=radius * math.cos(angle), north_m=radius * math.sin(angle))


def _stay(
    residents: dict[str, Any],
    plate: str,
    lon: float,
    lat: float,
    start: datetime,
    end: datetime,
    app: bool,
    entered: datetime | None,
) -> Need:
    """A resident car at home: it stands near home, legally or not when `must_park_near_home`."""
    walk, stays = residents["max_walk_home_m"], bool(residents["must_park_near_home"])
    return Need(0, plate, True, lon, lat, start, end, walk, app, entered, stays, False)


def generate(
    assumptions: Assumptions, demand: Demand, *, seed: int, first_day: date, days: int, resident_priority_slots: int
) -> Week:
    """A seeded week (or `days` days) of needs and through traffic from `first_day` (a Monday, for a full week).
    `resident_priority_slots`: how many of the inventory's slots have permit holders who may share them.

    Common random numbers: residents, each day's visitors and the through traffic draw from streams of their own,
    and a day's visitor count is the Poisson quantile of one fixed draw, so more demand adds visitors to the same
    ones, and nothing else moves (the calibration's search sees a monotone, noise-free response)."""
    streams = np.random.SeedSequence(seed).spawn(3 + days)
    rng, through_rng, plate_rng = (np.random.default_rng(s) for s in streams[:3])
    visitor_rngs = [np.random.default_rng(s) for s in streams[3:]]
    plates = _Plates(plate_rng)
    residents, visitors = assumptions["residents"], assumptions["visitors"]
    supply, adoption = assumptions["supply"], assumptions["adoption"]
    start_of = [datetime.combine(first_day + timedelta(days=d), time(0), tzinfo=SEOUL) for d in range(days + 1)]
    week_end = start_of[days]

    holders = rng.permutation(resident_priority_slots)
    sharing = frozenset(int(i) for i in holders[: round(adoption["permit_holders_sharing"] * resident_priority_slots)])

    needs: list[Need] = []
    entering_parkers = [0] * days
    passing: list[tuple[str, datetime]] = []

    def commute(kind: str) -> tuple[float, float] | None:
        """Minutes after midnight a car leaves and comes back, or None when it stays in today."""
        if rng.random() >= residents[f"commute_out_share_{kind}"]:
            return None
        depart = _minutes(residents["depart_mean"]) + rng.normal(0, residents["depart_sd_min"])
        back = _minutes(residents[f"return_mean_{kind}"]) + rng.normal(0, residents["return_sd_min"])
        depart = float(np.clip(depart, 5 * 60, 12 * 60))
        return depart, float(np.clip(back, depart + 60, 24 * 60 - 1))

    # resident cars with a space of their own: only their coming home is seen, at the entrances
    for _ in range(supply["pre_existing_legal_spaces"]):
        plate = plates.new()
        for d in range(days):
            trip = commute("weekend" if weekend(first_day + timedelta(days=d)) else "weekday")
            if trip is not None:
                passing.append((plate, start_of[d] + timedelta(minutes=round(trip[1]))))
                entering_parkers[d] += 1
    # resident cars without a legal space of their own: at home (needing a space) whenever not away commuting
    homeless = supply["registered_resident_vehicles"] - supply["pre_existing_legal_spaces"]
    for _ in range(homeless):
        plate = plates.new()
        lon, lat = _point_in_village(rng, assumptions)
        uses_app = bool(rng.random() < adoption["residents_using_app"])
        at_home_since, entered = start_of[0], None
        for d in range(days):
            trip = commute("weekend" if weekend(first_day + timedelta(days=d)) else "weekday")
            if trip is None:
                continue
            depart, back = trip
            leaves = start_of[d] + timedelta(minutes=round(depart))
            needs.append(_stay(residents, plate, lon, lat, at_home_since, leaves, uses_app, entered))
            at_home_since = entered = start_of[d] + timedelta(minutes=round(back))
            entering_parkers[d] += 1
        needs.append(_stay(residents, plate, lon, lat, at_home_since, week_end, uses_app, entered))
    # visitors who come to park
    weights = np.asarray(visitors["hourly_arrival_weights"], dtype=float)
    for d in range(days):
        kind = "weekend" if weekend(first_day + timedelta(days=d)) else "weekday"
        rng = visitor_rngs[d]
        count = int(poisson.ppf(rng.random(), getattr(demand, f"visitors_{kind}")))
        for _ in range(count):
            hour = rng.choice(24, p=weights / weights.sum())
            arrives = start_of[d] + timedelta(minutes=int(hour) * 60 + float(rng.uniform(0, 60)))
            arrives = arrives.replace(second=0, microsecond=0)
            stay = float(rng.lognormal(math.log(visitors["duration_median_min"]), visitors["duration_sigma"]))
            walk = min(
                WALK_CAP_M,
                float(rng.lognormal(math.log(visitors["walk_tolerance_median_m"]), visitors["walk_tolerance_sigma"])),
            )
            lon, lat = _point_in_village(rng, assumptions)
            uses_app = bool(rng.random() < adoption["visitors_using_app"])
            illegally = bool(rng.random() < visitors["park_illegally_if_unserved"])
            park_and_ride = bool(rng.random() < assumptions["park_and_ride"]["accept_share"])
            end = arrives + timedelta(minutes=max(15, round(stay)))
            needs.append(
                Need(0, plates.new(), False, lon, lat, arrives, end, walk, uses_app, arrives, illegally, park_and_ride)
            )
            entering_parkers[d] += 1
    # through traffic: a share of everything entering, arriving by the same hourly weights
    share = demand.through_traffic_share
    for d in range(days):
        count = round(entering_parkers[d] * share / (1 - share)) if share < 1 else 0
        for hour in through_rng.choice(24, size=count, p=weights / weights.sum()):
            at = start_of[d] + timedelta(minutes=int(hour) * 60 + int(through_rng.integers(60)))
            passing.append((plates.new(), at))
    ordered = sorted(needs, key=lambda n: (n.start, n.plate))
    return Week(
        first_day=first_day,
        days=days,
        needs=tuple(dataclasses.replace(need, id=i) for i, need in enumerate(ordered)),
        passing=tuple(sorted(passing, key=lambda t: t[1])),
        sharing_permits=sharing,
    )
