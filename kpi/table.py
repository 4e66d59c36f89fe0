"""The pilot's KPI table (PILOT.md) from maeul's own rows, per local day and per month, weekday and weekend apart.

Per day:
- `entering_vehicles`: distinct vehicles the entrance cameras saw entering;
- `illegal_parking`: distinct vehicles seen at least once standing where parking is illegal (CCTV, officers,
  residents' and operators' reports);
- `supply_ratio`: (pre-existing legal spaces + shared slots with any sharing window that day) / registered vehicles
  (the village's two numbers are settings: `MAEUL_PRE_EXISTING_LEGAL_SPACES`, `MAEUL_REGISTERED_VEHICLES`);
- `shared_slots_open` (the shared slots in that numerator) and `shared_slots_supplied`: distinct shared slots booked
  at least once that day;
- `staff_hours` clocked by the village enterprise's staff and `jobs`: those hours over an 8-hour day;
- `revenue_owners`, `revenue_providers` (partner fleet companies), `revenue_enterprise`, `revenue_city`,
  `revenue_platform`: KRW each party earned that day (captures less refunds, from bookings, rides, valets and
  pick-up rides alike);
- the shared fleet, MDS-style: `vehicles_deployed` (in any state but `removed` at some time of the day),
  `vehicles_active` (ridden at least once), `trips` (started that day), `trips_per_vehicle` (trips over deployed
  vehicles) and `idle_share` (deployed vehicles nobody rode, over deployed vehicles).
Per month only: `satisfaction`, the mean of the survey's answers (1 to 5) given that month, on the pilot's 100-point
scale: (mean - 1) x 25, so 1 is 0 and 5 is 100.
These are `sim/assumptions.toml`'s `[definitions]`, so the simulator's scenarios and live data count alike.

Per local hour of a day (`hourly`): the time-weighted supply ratio ((pre-existing legal spaces + slot-hours open to
sharing in that hour) / registered vehicles), occupancy by zone (slot-seconds booked, not cancelled and not a
no-show, over slot-seconds open; at most 1), and the shared vehicles in each MDS state at the start of the hour.

Day types as the pilot reported them: Saturdays, Sundays and public holidays are `weekend`.

Privacy: only aggregates leave; a cell built from fewer than k distinct people (vehicles, drivers, staff; k =
`MAEUL_PRIVACY_MIN_CELL`, 5) is suppressed: its value is null and its name is listed in `suppressed`. Monthly means
are over the days whose cell was not suppressed (a mean of published cells reveals nothing more).
"""

from __future__ import annotations

import statistics
import tomllib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import PublicHoliday
from feedback import repository as feedback
from kpi import repository

HOURS_PER_JOB = 8.0
ASSUMPTIONS = Path(__file__).resolve().parent.parent / "sim" / "assumptions.toml"
# the table's KPIs, each with the published `[pilot_kpis]` rows it is compared with (weekday, weekend)
PUBLISHED_AS = {
    "entering_vehicles": ("entering_vehicles_per_day", "entering_vehicles_per_day"),
    "illegal_parking": ("illegal_parking_weekday", "illegal_parking_weekend"),
    "supply_ratio": ("supply_ratio_weekday", "supply_ratio_weekend"),
    "shared_slots_supplied": ("shared_slots_supplied_per_day", "shared_slots_supplied_per_day"),
}
NOBODY = repository.Measured(0.0, 0)
REVENUE = tuple(f"revenue_{party}" for party in repository.PARTIES)
PEOPLE_BASED = {
    "entering_vehicles",
    "illegal_parking",
    "shared_slots_supplied",
    "staff_hours",
    "trips",
    "vehicles_active",
    *REVENUE,
}
# a KPI computed from another measure is suppressed with it
SOURCE = {"jobs": "staff_hours", "trips_per_vehicle": "trips", "idle_share": "vehicles_active"}
# PILOT.md's KPI table: resident satisfaction, one score for all days (not in `[pilot_kpis]`)
SATISFACTION_PUBLISHED = {"before": 44.3, "after": 54.8}
KPIS = (
    "entering_vehicles",
    "illegal_parking",
    "supply_ratio",
    "shared_slots_open",
    "shared_slots_supplied",
    "jobs",
    *REVENUE,
    "vehicles_deployed",
    "vehicles_active",
    "trips",
    "trips_per_vehicle",
    "idle_share",
)


@dataclass(frozen=True, slots=True)
class Village:
    registered_vehicles: int
    pre_existing_legal_spaces: int
    min_people: int  # k
    timezone: str


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    day_type: str  # weekday | weekend
    values: dict[str, float | None]  # KPI name -> value, None when suppressed
    suppressed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Summary:
    """One KPI over a month: means of weekdays and weekend days, and the pilot's published values."""

    kpi: str
    weekday: float | None
    weekend: float | None
    weekday_days: int  # days the mean is over
    weekend_days: int
    published: dict[str, dict[str, float]] = field(default_factory=dict)  # weekday/weekend -> before/after


def published() -> dict[str, dict[str, float]]:
    """The pilot's published before/after values (`[pilot_kpis]` of `sim/assumptions.toml`)."""
    table = tomllib.loads(ASSUMPTIONS.read_text())["pilot_kpis"]
    return {name: dict(values) for name, values in table.items()}


async def _weekend_days(session: AsyncSession, first: date, last: date) -> set[date]:
    holidays = set(await session.scalars(select(PublicHoliday.day).where(PublicHoliday.day.between(first, last))))
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return holidays | {day for day in days if day.isoweekday() >= 6}


async def daily(session: AsyncSession, *, village: Village, first: date, last: date, now: datetime) -> list[Day]:
    """Every local day in [first, last], in order."""
    measured = {
        name: await repository.measure(session, name, first=first, last=last, timezone=village.timezone, now=now)
        for name in repository.MEASURES
    }
    weekend = await _weekend_days(session, first, last)
    days = []
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        cells = {name: per_day.get(day, NOBODY) for name, per_day in measured.items()}
        hidden = {name for name, cell in cells.items() if name in PEOPLE_BASED and 0 < cell.people < village.min_people}
        hours = cells["staff_hours"].value
        legal = village.pre_existing_legal_spaces + cells["shared_slots_open"].value
        deployed = cells["vehicles_deployed"].value
        values: dict[str, float | None] = {
            "entering_vehicles": cells["entering_vehicles"].value,
            "illegal_parking": cells["illegal_parking"].value,
            "supply_ratio": round(legal / village.registered_vehicles, 4),
            "shared_slots_open": cells["shared_slots_open"].value,
            "shared_slots_supplied": cells["shared_slots_supplied"].value,
            "jobs": round(hours / HOURS_PER_JOB, 2),
            **{party: cells[party].value for party in REVENUE},
            "vehicles_deployed": deployed,
            "vehicles_active": cells["vehicles_active"].value,
            "trips": cells["trips"].value,
            "trips_per_vehicle": round(cells["trips"].value / deployed, 3) if deployed else None,
            "idle_share": round(1 - cells["vehicles_active"].value / deployed, 4) if deployed else None,
        }
        suppressed = tuple(kpi for kpi in KPIS if (SOURCE.get(kpi, kpi)) in hidden)
        for kpi in suppressed:
            values[kpi] = None
        days.append(Day(day, "weekend" if day in weekend else "weekday", values, suppressed))
    return days


def summarise(days: Sequence[Day]) -> list[Summary]:
    """Weekday and weekend means of each KPI over `days`, beside the pilot's published values."""
    table = published()
    out = []
    for kpi in KPIS:
        means: dict[str, tuple[float | None, int]] = {}
        for day_type in ("weekday", "weekend"):
            kept = [v for d in days if d.day_type == day_type and (v := d.values[kpi]) is not None]
            means[day_type] = (round(statistics.fmean(kept), 4) if kept else None, len(kept))
        beside = {}
        if kpi in PUBLISHED_AS:
            for day_type, row in zip(("weekday", "weekend"), PUBLISHED_AS[kpi], strict=True):
                beside[day_type] = table[row]
        out.append(
            Summary(kpi, means["weekday"][0], means["weekend"][0], means["weekday"][1], means["weekend"][1], beside)
        )
    return out


async def satisfaction(session: AsyncSession, *, village: Village, first: date, last: date) -> Summary:
    """The survey's answers given in [first, last] (local days): their mean on the 100-point scale, weekdays and
    weekend days apart, each suppressed when fewer than k people answered; `*_days` count days with answers."""
    answers = await feedback.scores_by_local_day(session, first=first, last=last, timezone=village.timezone)
    weekend = await _weekend_days(session, first, last)
    means: dict[str, tuple[float | None, int]] = {}
    for day_type in ("weekday", "weekend"):
        kept = [(day, who, score) for day, who, score in answers if (day in weekend) == (day_type == "weekend")]
        people = len({who for _, who, _ in kept})
        mean = (statistics.fmean(score for _, _, score in kept) - 1) * 25 if people >= village.min_people else None
        means[day_type] = (round(mean, 1) if mean is not None else None, len({day for day, _, _ in kept}))
    published = {day_type: dict(SATISFACTION_PUBLISHED) for day_type in ("weekday", "weekend")}
    return Summary(
        "satisfaction", means["weekday"][0], means["weekend"][0], means["weekday"][1], means["weekend"][1], published
    )


@dataclass(frozen=True, slots=True)
class ZoneHours:
    zone_id: uuid.UUID
    code: str
    name: str
    open_slots: list[float]  # per hour: slots open to sharing, time-weighted (a slot open half the hour is 0.5)
    occupancy: list[float | None]  # per hour: booked over open; None when nothing was open or the cell is suppressed
    suppressed: list[int]  # hours whose occupancy came from fewer than k drivers


@dataclass(frozen=True, slots=True)
class Hourly:
    day: date
    supply_ratio: list[float]  # per hour, time-weighted
    zones: list[ZoneHours]
    fleet: list[dict[str, int]]  # per hour: MDS state -> vehicles in it at the start of the hour


async def hourly(session: AsyncSession, *, village: Village, day: date) -> Hourly:
    """The day hour by hour (local hours 0-23)."""
    cells = await repository.zone_hours(session, day=day, timezone=village.timezone)
    zones: dict[uuid.UUID, ZoneHours] = {}
    for cell in cells:
        zone = zones.setdefault(cell.zone_id, ZoneHours(cell.zone_id, cell.zone_code, cell.zone_name, [], [], []))
        zone.open_slots.append(round(cell.open_s / 3600, 3))
        if 0 < cell.people < village.min_people:
            zone.suppressed.append(cell.hour)
            zone.occupancy.append(None)
        else:
            zone.occupancy.append(round(min(1.0, cell.booked_s / cell.open_s), 4) if cell.open_s > 0 else None)
    supply = [
        round(
            (village.pre_existing_legal_spaces + sum(zone.open_slots[hour] for zone in zones.values()))
            / village.registered_vehicles,
            4,
        )
        for hour in range(24)
    ]
    fleet: list[dict[str, int]] = [{} for _ in range(24)]
    for hour, state, count in await repository.fleet_hours(session, day=day, timezone=village.timezone):
        fleet[hour][state] = count
    return Hourly(day, supply, list(zones.values()), fleet)
