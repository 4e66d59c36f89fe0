"""Dynamic pricing: occupancy per zone and hour of the day, turned into price multipliers by the documented curve.

Occupancy of a zone in an hour of the day = booked minutes / shared minutes of its active slots in that hour, the
larger of the last 24 hours' (what was parked) and the next 24 hours' (what is booked): a busy hour raises the price
whether it was busy recently or is booked up now. Recomputed by the worker.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import PriceMultiplier
from billing.pricing import multiplier_for

_OCCUPANCY = text(
    """
    WITH hours AS (
        SELECT generate_series(date_trunc('hour', CAST(:now AS timestamptz)) - interval '24 hours',
                               date_trunc('hour', CAST(:now AS timestamptz)) + interval '23 hours',
                               interval '1 hour') AS h
    ), windows AS MATERIALIZED (
        -- each slot's sharing windows over the 48 hours, computed once (not once per hour)
        SELECT s.id, s.zone_id,
               slot_windows(s.id, (SELECT min(h) FROM hours), (SELECT max(h) FROM hours) + interval '1 hour', :tz)
               AS open
        FROM slots s
        WHERE s.active
    ), per_slot AS (
        SELECT w.zone_id,
               extract(hour FROM h AT TIME ZONE :tz)::int AS hour,
               h < date_trunc('hour', CAST(:now AS timestamptz)) AS recent,
               coalesce((SELECT sum(upper(r) - lower(r))
                         FROM unnest(w.open * tstzmultirange(tstzrange(h, h + interval '1 hour'))) r),
                        interval '0') AS shared,
               coalesce((SELECT sum(upper(b.period * tstzrange(h, h + interval '1 hour'))
                                    - lower(b.period * tstzrange(h, h + interval '1 hour')))
                         FROM bookings b
                         WHERE b.slot_id = w.id AND b.status IN ('reserved', 'active', 'overstayed', 'completed')
                           AND b.period && tstzrange(h, h + interval '1 hour')),
                        interval '0') AS booked
        FROM windows w CROSS JOIN hours
    )
    SELECT zone_id, hour, extract(epoch FROM sum(shared)) AS shared_s, extract(epoch FROM sum(booked)) AS booked_s
    FROM per_slot GROUP BY zone_id, hour, recent
    """
)


async def reprice(session: AsyncSession, *, now: datetime, timezone: str) -> int:
    """Recompute every zone's hourly multipliers; returns how many were written."""
    busiest: dict[tuple[object, int], int] = {}
    for zone_id, hour, shared, booked in await session.execute(_OCCUPANCY, {"now": now, "tz": timezone}):
        part = min(int(1000 * float(booked) / float(shared)), 1000) if shared else 0
        busiest[(zone_id, hour)] = max(part, busiest.get((zone_id, hour), 0))
    values = [
        {
            "zone_id": zone_id,
            "hour": hour,
            "occupancy_permille": occupancy,
            "multiplier_permille": multiplier_for(occupancy),
            "computed_at": now,
        }
        for (zone_id, hour), occupancy in busiest.items()
    ]
    if values:
        statement = insert(PriceMultiplier).values(values)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[PriceMultiplier.zone_id, PriceMultiplier.hour],
                set_={
                    "occupancy_permille": statement.excluded.occupancy_permille,
                    "multiplier_permille": statement.excluded.multiplier_permille,
                    "computed_at": statement.excluded.computed_at,
                },
            )
        )
    return len(values)
