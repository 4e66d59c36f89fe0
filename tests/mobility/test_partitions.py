"""Telemetry partitions: made a week ahead; a fix of a day without its partition (the worker down for days) is kept
in the DEFAULT partition, not refused with a 500, and moves into the day's partition when the worker makes it."""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mobility import repository
from mobility.ingest import prepare_telemetry
from tests.conftest import NOW


async def _home_of(session: AsyncSession, vehicle_id: uuid.UUID) -> str:
    return str(
        await session.scalar(text("SELECT tableoid::regclass FROM telemetry WHERE vehicle_id = :v"), {"v": vehicle_id})
    )


async def test_a_fix_without_its_partition_waits_in_the_default_and_moves_when_it_is_made(session: AsyncSession):
    await prepare_telemetry(session, now=NOW, retention_days=90)
    days = await repository.telemetry_partitions(session)
    today = NOW.astimezone(UTC).date()
    assert days and max(days) >= today + timedelta(days=7)

    later = NOW + timedelta(days=12)  # the worker was down: no partition for that day
    vehicle = uuid.uuid4()
    await session.execute(
        text("INSERT INTO telemetry (vehicle_id, at, lon, lat) VALUES (:v, :at, 126.78, 37.52)"),
        {"v": vehicle, "at": later},
    )
    assert await _home_of(session, vehicle) == "telemetry_default"

    await prepare_telemetry(session, now=later, retention_days=90)  # the worker is back
    assert await _home_of(session, vehicle) == repository.partition_name(later.astimezone(UTC).date())
    left = await session.scalar(text("SELECT count(*) FROM telemetry_default WHERE vehicle_id = :v"), {"v": vehicle})
    assert left == 0
