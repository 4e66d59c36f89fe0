"""Races over real HTTP: a uvicorn server on loopback, its own connection pool, real commits."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from accounts.models import Account
from parking.models import HOLDING_STATUSES, Booking
from tests.factories import PASSWORD, booking_body

CONCURRENT = 60


async def _sign_in(client: httpx.AsyncClient, account_id: uuid.UUID, engine: AsyncEngine) -> dict[str, str]:
    async with AsyncSession(engine) as session:
        email = await session.scalar(select(Account.email).where(Account.id == account_id))
    response = await client.post("/auth/token", data={"username": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _holding(engine: AsyncEngine, slot_id: uuid.UUID) -> int:
    async with AsyncSession(engine) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(Booking.slot_id == slot_id, Booking.status.in_(HOLDING_STATUSES))
        )
    return int(count or 0)


async def test_concurrent_bookings_of_one_slot_yield_exactly_one(
    live_server: str, engine: AsyncEngine, committed: dict[str, object]
):
    slot_id = committed["slot_id"]
    assert isinstance(slot_id, uuid.UUID)
    drivers = committed["drivers"]
    assert isinstance(drivers, list)
    start = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    limits = httpx.Limits(max_connections=CONCURRENT)
    async with httpx.AsyncClient(base_url=live_server, timeout=60, limits=limits) as client:
        headers = [await _sign_in(client, d.id, engine) for d in drivers]
        barrier = asyncio.Event()

        async def attempt(n: int) -> httpx.Response:
            # every request overlaps every other: they all contain [start + 1h, start + 2h)
            body = booking_body(slot_id, start + timedelta(minutes=n), start + timedelta(hours=2, minutes=n))
            await barrier.wait()
            return await client.post("/bookings", json=body, headers=headers[n % len(headers)])

        tasks = [asyncio.create_task(attempt(n)) for n in range(CONCURRENT)]
        await asyncio.sleep(0.1)
        barrier.set()
        responses = await asyncio.gather(*tasks)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: CONCURRENT - 1}, statuses
    assert {r.json()["error"] for r in responses if r.status_code == 409} == {"slot_unavailable"}
    assert await _holding(engine, slot_id) == 1


async def test_concurrent_retries_with_one_idempotency_key_book_once(
    live_server: str, engine: AsyncEngine, committed: dict[str, object]
):
    slot_id = committed["slot_id"]
    assert isinstance(slot_id, uuid.UUID)
    drivers = committed["drivers"]
    assert isinstance(drivers, list)
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    body = booking_body(slot_id, start, start + timedelta(hours=1))
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as client:
        headers = {**await _sign_in(client, drivers[0].id, engine), "Idempotency-Key": str(uuid.uuid4())}
        responses = await asyncio.gather(*(client.post("/bookings", json=body, headers=headers) for _ in range(20)))
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses if r.status_code != 201]
    assert len({r.json()["id"] for r in responses}) == 1
    async with AsyncSession(engine) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(Booking.slot_id == slot_id, func.lower(Booking.period) == start)
        )
    assert count == 1
