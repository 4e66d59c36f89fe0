"""The KPI queries: one pass per measure over a range of local days, each giving per day the value and the number
of distinct people it is built from (for suppression). Days are local (the village's time zone)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
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
