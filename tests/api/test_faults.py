"""Faults on the real services: a redis-server of the test's own, stopped in the middle of a run and started again.
Search and bookings go on without it; /health says degraded; sign-in fails closed with a clear error; everything
recovers by itself when Redis is back."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.app import create_app
from api.state import AppState, build_state
from billing import journal
from billing.models import PaymentHold
from core import services
from core.clock import FixedClock
from core.db import database_url, make_engine, make_sessionmaker
from core.migrate import upgrade
from core.settings import Settings
from ledger.audit import audit
from ledger.signing import signer_for
from parking.models import Booking
from tests.api.test_inventory import search_params
from tests.conftest import NOW, asgi_client
from tests.factories import PASSWORD, auth, booking_body, error_of, free_port, make_account, make_slot, make_zone

pytestmark = pytest.mark.slow


@pytest.fixture
def own_redis(settings: Settings, database: str, tmp_path: Path) -> Settings:
    """Settings whose Redis is a redis-server of this test only (the database is the test's)."""
    port = free_port()
    mine = settings.model_copy(
        update={"home": tmp_path / "home", "redis_port": port, "redis_url": None, "database_url": database}
    )
    services.up(mine)
    return mine


@pytest.fixture
async def fragile(own_redis: Settings, database: str, clock: FixedClock) -> AsyncIterator[AppState]:
    state = build_state(own_redis, clock=clock, database_url=database)
    yield state
    services.down(own_redis)
    await state.redis.aclose()
    await state.engine.dispose()


async def test_redis_stopped_mid_run(fragile: AppState, own_redis: Settings, session: AsyncSession):
    await make_zone(session)
    slot = await make_slot(session, east_m=40, now=NOW)
    email = "fault-test-driver@test.maeul"
    driver = await make_account(session, role=Role.RESIDENT, email=email)
    headers = auth(fragile, driver)
    sign_in = {"username": email, "password": PASSWORD}
    async with asgi_client(fragile, session) as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.post("/auth/token", data=sign_in)).status_code == 200

        services.down(own_redis)  # Redis goes away in the middle of the run

        health = await client.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "degraded"
        assert health.json()["redis"].startswith("down") and health.json()["database"] == "ok"
        found = await client.get("/slots/search", params=search_params(), headers=headers)
        assert found.status_code == 200 and [i["slot"]["id"] for i in found.json()["items"]] == [str(slot)]
        booked = await client.post(
            "/bookings", json=booking_body(slot, NOW.replace(hour=10), NOW.replace(hour=12)), headers=headers
        )
        assert booked.status_code == 201, booked.text
        refused = await client.post("/auth/token", data=sign_in)
        assert refused.status_code == 503 and error_of(refused) == "sign_in_unavailable"
        assert refused.headers["retry-after"] and "try again" in refused.json()["detail"]

        services.up(own_redis)  # back: no restart of the API

        assert (await client.get("/health")).status_code == 200
        assert (await client.post("/auth/token", data=sign_in)).status_code == 200
        mine = await client.get("/bookings", headers=headers)
        assert [b["id"] for b in mine.json()["items"]] == [booked.json()["id"]]  # nothing was lost


async def test_redis_that_stops_answering_slows_nothing_beyond_its_timeout(
    fragile: AppState, own_redis: Settings, session: AsyncSession
):
    """redis-server paused (SIGSTOP: connections stay open, nothing answers, as when packets are dropped): requests
    still answer within 2 s, degraded where Redis is needed, and all is well again after SIGCONT."""
    await make_zone(session)
    slot = await make_slot(session, east_m=40, now=NOW)
    email = "paused-redis-driver@test.maeul"
    driver = await make_account(session, role=Role.RESIDENT, email=email)
    headers = auth(fragile, driver)
    pid = int((Path(own_redis.home) / "redis" / "redis.pid").read_text())
    async with asgi_client(fragile, session) as client:
        assert (await client.get("/health")).status_code == 200
        os.kill(pid, signal.SIGSTOP)
        try:
            timed = []
            for call in (
                lambda: client.get("/slots/search", params=search_params(), headers=headers),
                lambda: client.get("/health"),
                lambda: client.post("/auth/token", data={"username": email, "password": PASSWORD}),
                lambda: client.get("/bookings", headers=headers),
            ):
                started = time.monotonic()
                answer = await asyncio.wait_for(call(), timeout=10)
                timed.append((str(answer.request.url.path), answer.status_code, time.monotonic() - started))
        finally:
            os.kill(pid, signal.SIGCONT)
        assert all(seconds < 2 for _, _, seconds in timed), timed
        statuses = {path: status for path, status, _ in timed}
        assert statuses["/slots/search"] == 200 and statuses["/bookings"] == 200
        assert statuses["/health"] == 503 and statuses["/auth/token"] == 503
        for _ in range(50):  # back: the API finds Redis again by itself
            if (await client.get("/health")).status_code == 200:
                break
            await asyncio.sleep(0.2)
        assert (await client.get("/health")).status_code == 200
        assert (await client.post("/auth/token", data={"username": email, "password": PASSWORD})).status_code == 200
        assert [
            i["slot"]["id"]
            for i in (await client.get("/slots/search", params=search_params(), headers=headers)).json()["items"]
        ] == [str(slot)]


@pytest.fixture
def own_cluster(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A PostgreSQL cluster of this test only, migrated (the Redis is the test's)."""
    mine = settings.model_copy(
        update={"home": tmp_path / "home", "pg_port": free_port(), "database_name": "faults", "database_url": None}
    )
    services.up(_only_postgres(mine))
    services.ensure_database(mine, "faults")
    upgrade(database_url(mine))
    yield mine
    services.down(_only_postgres(mine))


def _only_postgres(settings: Settings) -> Settings:
    return settings.model_copy(update={"redis_url": "redis://unused.invalid/0"})  # Redis is not managed here


def _restart_postgres(settings: Settings) -> None:
    services.down(_only_postgres(settings))
    services.up(_only_postgres(settings))


async def test_postgres_restarted_mid_run(own_cluster: Settings, clock: FixedClock):
    state = build_state(own_cluster, clock=clock)
    await state.redis.flushdb()
    async with state.sessionmaker() as session:
        await make_zone(session)
        slot = await make_slot(session, east_m=40, now=NOW)
        driver = await make_account(session, role=Role.RESIDENT)
        await session.commit()
    headers = auth(state, driver)
    app = create_app(own_cluster, state=state)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    hours = [NOW.replace(hour=9 + i) for i in range(8)]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://maeul.test") as client:

            async def book(start: datetime) -> httpx.Response:
                body = booking_body(slot, start, start + timedelta(minutes=50))
                return await client.post("/bookings", json=body, headers=headers)

            assert (await book(hours[0])).status_code == 201
            # bookings in flight while PostgreSQL restarts: each lands whole or fails cleanly as retryable
            restart = asyncio.create_task(asyncio.to_thread(_restart_postgres, own_cluster))
            answers = await asyncio.gather(*(book(start) for start in hours[1:]))
            await restart
            for answer in answers:
                assert answer.status_code in (201, 503), answer.text
                if answer.status_code == 503:
                    assert error_of(answer) == "service_unavailable" and answer.headers["retry-after"]
            failed = [start for start, answer in zip(hours[1:], answers, strict=True) if answer.status_code == 503]
            # while it is down, every request is refused the same way
            services.down(_only_postgres(own_cluster))
            down = await book(failed[0] if failed else hours[-1])
            assert down.status_code == 503 and error_of(down) == "service_unavailable", down.text
            services.up(_only_postgres(own_cluster))
            # the pool recovers without a restart of the API; the client's retries go through
            retried = [await book(start) for start in failed]
            assert all(r.status_code == 201 for r in retried), [r.text for r in retried]
            assert (await client.get("/health")).status_code == 200
    finally:
        await state.redis.aclose()
        await state.engine.dispose()
    # nothing half-written: every booking has its payment hold and ledger entry, the journal balances, the log audits
    async with make_sessionmaker(make_engine(own_cluster))() as session:
        bookings = await session.scalar(select(func.count()).select_from(Booking).where(Booking.driver_id == driver.id))
        holds = await session.scalar(
            select(func.count()).select_from(PaymentHold).where(PaymentHold.driver_id == driver.id)
        )
        assert bookings == holds == len(hours)
        assert sum((await journal.balances(session)).values()) == 0
        report = await audit(session, public_key=signer_for(own_cluster).public_key, chain=None)
        assert report.ok, report.problems
        await session.bind.dispose()  # type: ignore[union-attr]
