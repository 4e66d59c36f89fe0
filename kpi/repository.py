"""The KPI queries: one pass per measure over a range of local days, each giving per day the value and the number
of distinct people it is built from (for suppression). Days are local (the village's time zone)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import Date, DateTime, String

from parking.models import HOLDING_STATUSES, Booking, Slot


@dataclass(frozen=True, slots=True)
class Measured:
    value: float
    people: int  # distinct people the value is built from


DAYS = """
WITH days AS (
  SELECT d::date AS day, (d::date::timestamp AT TIME ZONE :tz) AS day_start,
         ((d::date + 1)::timestamp AT TIME ZONE :tz) AS day_end, CAST(:now AS timestamptz) AS now
  FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') d
)
"""


# the parties money is split between: name -> journal account, or the prefix of one account per member
PARTIES = {
    "owners": "owner:",
    "providers": "provider:",
    "enterprise": "enterprise",
    "city": "city",
    "platform": "platform",
}


def _revenue(party: str) -> str:
    """Money a party earned that day (captures less refunds, from every service), from the people who paid; the
    owners' cell from no fewer owners either (slot owners are people: one owner's income is theirs; partner
    providers are companies)."""
    account = PARTIES[party]
    payers = "count(DISTINCT h.driver_id)"
    which = f"LIKE '{account}%'" if account.endswith(":") else f"= '{account}'"
    people = f"least({payers}, count(DISTINCT p.account))" if party == "owners" else payers
    return (
        DAYS
        + f"""
SELECT days.day, sum(p.amount_krw), {people}
FROM days
JOIN journal_postings p ON p.created_at >= days.day_start AND p.created_at < days.day_end AND p.account {which}
JOIN journal_transactions t ON t.id = p.transaction_id AND t.kind IN ('capture', 'refund')
JOIN payment_holds h ON t.reference = 'hold:' || h.id::text
GROUP BY days.day
"""
    )


MEASURES = {
    # distinct vehicles entering (each a plate: one person's car)
    "entering_vehicles": DAYS
    + """
SELECT days.day, count(DISTINCT e.plate_hash), count(DISTINCT e.plate_hash)
FROM days JOIN entrance_events e ON e.at >= days.day_start AND e.at < days.day_end
GROUP BY days.day
""",
    # distinct vehicles standing at least once where parking is illegal
    "illegal_parking": DAYS
    + """
SELECT days.day, count(DISTINCT v.plate_hash), count(DISTINCT v.plate_hash)
FROM days JOIN violations v ON v.at >= days.day_start AND v.at < days.day_end
GROUP BY days.day
""",
    # shared slots open to the village that day (any sharing window): not built from people
    "shared_slots_open": DAYS
    + """
SELECT days.day, count(s.id), NULL
FROM days JOIN slots s ON s.active AND NOT isempty(
  slot_windows(s.id, days.day_start, days.day_end, :tz) * tstzmultirange(tstzrange(days.day_start, days.day_end)))
GROUP BY days.day
""",
    # distinct shared slots booked at least once that day, from the drivers who booked them
    "shared_slots_supplied": DAYS
    + """
SELECT days.day, count(DISTINCT b.slot_id), count(DISTINCT b.driver_id)
FROM days JOIN bookings b ON b.period && tstzrange(days.day_start, days.day_end) AND b.status <> 'cancelled'
GROUP BY days.day
""",
    **{f"revenue_{party}": _revenue(party) for party in PARTIES},
    # shared vehicles deployed (in any state but removed) at some time of the day: not built from people
    "vehicles_deployed": DAYS
    + """
SELECT days.day, count(*) FILTER (WHERE before.state <> 'removed' OR during.deployed), NULL
FROM days CROSS JOIN vehicles v
LEFT JOIN LATERAL (SELECT e.state FROM vehicle_events e WHERE e.vehicle_id = v.id AND e.at < days.day_start
                   ORDER BY e.at DESC, e.seq DESC LIMIT 1) before ON true
LEFT JOIN LATERAL (SELECT bool_or(e.state <> 'removed') AS deployed FROM vehicle_events e
                   WHERE e.vehicle_id = v.id AND e.at >= days.day_start AND e.at < days.day_end) during ON true
GROUP BY days.day
""",
    # shared-vehicle trips started that day, and the vehicles they were on, from the riders who took them
    "trips": DAYS
    + """
SELECT days.day, count(*), count(DISTINCT t.rider_id)
FROM days JOIN trips t ON t.started_at >= days.day_start AND t.started_at < days.day_end
GROUP BY days.day
""",
    "vehicles_active": DAYS
    + """
SELECT days.day, count(DISTINCT t.vehicle_id), count(DISTINCT t.rider_id)
FROM days JOIN trips t ON t.started_at >= days.day_start AND t.started_at < days.day_end
GROUP BY days.day
""",
    # staff hours clocked that day (a shift still open counts up to now), from the staff who worked them
    "staff_hours": DAYS
    + """
SELECT days.day,
       sum(extract(epoch FROM least(coalesce(s.clocked_out_at, days.now), days.day_end)
                              - greatest(s.clocked_in_at, days.day_start))) / 3600.0,
       count(DISTINCT s.staff_id)
FROM days JOIN shifts s ON s.clocked_in_at IS NOT NULL AND s.clocked_in_at < days.day_end
                       AND coalesce(s.clocked_out_at, days.now) > days.day_start
GROUP BY days.day
""",
}


async def measure(
    session: AsyncSession, name: str, *, first: date, last: date, timezone: str, now: datetime
) -> dict[date, Measured]:
    """One measure per local day in [first, last]; days without any row are absent (zero from no one)."""
    statement = text(MEASURES[name]).bindparams(
        bindparam("first", type_=Date),
        bindparam("last", type_=Date),
        bindparam("tz", type_=String),
        bindparam("now", type_=DateTime(timezone=True)),
    )
    values = {"first": first, "last": last, "tz": timezone, "now": now}
    rows = await session.execute(statement, values)
    return {day: Measured(float(value), int(people) if people is not None else 0) for day, value, people in rows}


HOURS = """
WITH hours AS (
  SELECT h, (CAST(:day AS date)::timestamp + make_interval(hours => h)) AT TIME ZONE :tz AS hour_start,
            (CAST(:day AS date)::timestamp + make_interval(hours => h + 1)) AT TIME ZONE :tz AS hour_end
  FROM generate_series(0, 23) h
)
"""
# per zone and local hour: slot-seconds open to sharing, slot-seconds booked, the drivers who booked them
ZONE_HOURS = (
    HOURS
    + """
, windows AS (
  SELECT s.zone_id, slot_windows(s.id, (SELECT min(hour_start) FROM hours), (SELECT max(hour_end) FROM hours), :tz)
         AS open
  FROM slots s WHERE s.active
), open AS (
  SELECT w.zone_id, hours.h, sum(x.seconds) AS seconds
  FROM windows w CROSS JOIN hours
  CROSS JOIN LATERAL (
    SELECT coalesce(sum(extract(epoch FROM upper(r) - lower(r))), 0) AS seconds
    FROM unnest(w.open * tstzmultirange(tstzrange(hours.hour_start, hours.hour_end))) r
  ) x
  GROUP BY 1, 2
), booked AS (
  SELECT s.zone_id, hours.h,
         sum(extract(epoch FROM upper(b.period * tstzrange(hours.hour_start, hours.hour_end))
                                - lower(b.period * tstzrange(hours.hour_start, hours.hour_end)))) AS seconds,
         count(DISTINCT b.driver_id) AS people
  FROM bookings b JOIN slots s ON s.id = b.slot_id
  JOIN hours ON b.period && tstzrange(hours.hour_start, hours.hour_end)
  WHERE b.status NOT IN ('cancelled', 'no_show')
  GROUP BY 1, 2
)
SELECT z.id, z.code, z.name, hours.h, coalesce(open.seconds, 0), coalesce(booked.seconds, 0),
       coalesce(booked.people, 0)
FROM zones z CROSS JOIN hours
LEFT JOIN open ON open.zone_id = z.id AND open.h = hours.h
LEFT JOIN booked ON booked.zone_id = z.id AND booked.h = hours.h
ORDER BY z.code, hours.h
"""
)
# per local hour: how many shared vehicles stood in each MDS state at the start of the hour
FLEET_HOURS = (
    HOURS
    + """
SELECT hours.h, last.state, count(*)
FROM hours CROSS JOIN vehicles v
JOIN LATERAL (SELECT e.state FROM vehicle_events e WHERE e.vehicle_id = v.id AND e.at <= hours.hour_start
              ORDER BY e.at DESC, e.seq DESC LIMIT 1) last ON true
GROUP BY 1, 2
ORDER BY 1, 2
"""
)


@dataclass(frozen=True, slots=True)
class ZoneHour:
    zone_id: uuid.UUID
    zone_code: str
    zone_name: str
    hour: int
    open_s: float  # slot-seconds open to sharing in the hour
    booked_s: float  # slot-seconds booked (not cancelled, not no-show)
    people: int  # drivers who booked them


def _hourly(statement: str) -> TextClause:
    return text(statement).bindparams(bindparam("day", type_=Date), bindparam("tz", type_=String))


async def zone_hours(session: AsyncSession, *, day: date, timezone: str) -> list[ZoneHour]:
    rows = await session.execute(_hourly(ZONE_HOURS), {"day": day, "tz": timezone})
    return [ZoneHour(z, code, name, h, float(o), float(b), int(p)) for z, code, name, h, o, b, p in rows]


async def fleet_hours(session: AsyncSession, *, day: date, timezone: str) -> list[tuple[int, str, int]]:
    """(local hour, MDS state, vehicles in it at the start of the hour)."""
    rows = await session.execute(_hourly(FLEET_HOURS), {"day": day, "tz": timezone})
    return [(int(h), str(state), int(n)) for h, state, n in rows]


async def bookings_in_lot(
    session: AsyncSession, *, lot_id: uuid.UUID, start: datetime, end: datetime
) -> list[tuple[uuid.UUID, uuid.UUID, str, datetime]]:
    """(driver, booking, slot code, booking start) of every booking holding a slot of the lot in [start, end): the
    cars parked there now and those coming, one row per booking."""
    rows = await session.execute(
        select(Booking.driver_id, Booking.id, Slot.code, func.lower(Booking.period))
        .join(Slot, Slot.id == Booking.slot_id)
        .where(
            Slot.lot_id == lot_id,
            Booking.status.in_(HOLDING_STATUSES),
            Booking.period.op("&&")(func.tstzrange(start, end)),
        )
        .order_by(func.lower(Booking.period), Booking.id)
    )
    return [(driver, booking, code, at) for driver, booking, code, at in rows]
