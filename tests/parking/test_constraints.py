"""Invariants PostgreSQL holds by itself, whatever the application does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parking import repository
from parking.models import Booking, BookingStatus
from tests.conftest import NOW
from tests.factories import make_account, make_slot, make_zone


async def _insert(session: AsyncSession, **fields) -> None:  # type: ignore[no-untyped-def]
    async with session.begin_nested():
        session.add(Booking(vehicle_plate="12가3456", status_changed_at=NOW, **fields))
        await session.flush()


async def test_exclusion_constraint_refuses_overlap_without_the_application(session: AsyncSession):
    await make_zone(session)
    slot = await make_slot(session, now=NOW)
    driver = await make_account(session)
    start = NOW + timedelta(hours=3)
    period = repository.half_open
    await _insert(session, slot_id=slot, driver_id=driver.id, period=period(start, start + timedelta(hours=2)))
    with pytest.raises(IntegrityError, match="no_double_booking"):
        await _insert(
            session,
            slot_id=slot,
            driver_id=driver.id,
            period=period(start + timedelta(hours=1), start + timedelta(hours=3)),
        )
    # touching intervals do not overlap; bookings that no longer hold the slot do not count
    await _insert(
        session,
        slot_id=slot,
        driver_id=driver.id,
        period=period(start + timedelta(hours=2), start + timedelta(hours=3)),
    )
    await _insert(
        session,
        slot_id=slot,
        driver_id=driver.id,
        status=BookingStatus.CANCELLED,
        period=period(start, start + timedelta(hours=3)),
    )


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE bookings SET status = 'lost' WHERE slot_id = :slot",
        "UPDATE bookings SET period = tstzrange(lower(period), upper(period), '(]') WHERE slot_id = :slot",
        "UPDATE bookings SET period = tstzrange(lower(period), NULL) WHERE slot_id = :slot",
        "UPDATE slots SET size = 'huge' WHERE id = :slot",
        "UPDATE slots SET kind = 'public_lot' WHERE id = :slot",
        "INSERT INTO sharing_rules (id, slot_id, weekdays, start_minute, end_minute) "
        "VALUES (gen_random_uuid(), :slot, '{8}', 0, 60)",
        "INSERT INTO sharing_rules (id, slot_id, weekdays, start_minute, end_minute) "
        "VALUES (gen_random_uuid(), :slot, '{1}', 600, 540)",
    ],
)
async def test_check_constraints(session: AsyncSession, sql: str):
    await make_zone(session)
    slot = await make_slot(session, now=NOW)
    driver = await make_account(session)
    await _insert(
        session, slot_id=slot, driver_id=driver.id, period=repository.half_open(NOW, NOW + timedelta(hours=1))
    )
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            await session.execute(text(sql), {"slot": slot})
