"""Sign-in holds under attack, over real HTTP (a live uvicorn on the test database): concurrent wrong passwords are
counted before any is checked, so at most the allowed number is ever tried; argon2 runs off the event loop, so
other requests are served while a hundred sign-ins are in flight; usernames of any length are refused before they
reach Redis."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from accounts.models import Account
from core.settings import Settings
from tests.factories import PASSWORD


async def _email_of(engine: AsyncEngine, account_id: uuid.UUID) -> str:
    async with AsyncSession(engine) as session:
        email = await session.scalar(select(Account.email).where(Account.id == account_id))
    assert email is not None
    return email


async def test_fifty_concurrent_wrong_passwords_try_at_most_five(
    live_server: str, engine: AsyncEngine, committed: dict[str, object], settings: Settings
):
    drivers = committed["drivers"]
    assert isinstance(drivers, list)
    email = await _email_of(engine, drivers[0].id)
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as client:
        answers = await asyncio.gather(
            *(client.post("/auth/token", data={"username": email, "password": f"guess {n}"}) for n in range(50))
        )
        statuses = [answer.status_code for answer in answers]
        assert statuses.count(401) <= settings.login_max_failures, statuses
        assert statuses.count(429) >= 50 - settings.login_max_failures, statuses
        assert all(a.json()["error"] == "too_many_attempts" for a in answers if a.status_code == 429)
        # locked: the right password is refused too until the window passes
        right = await client.post("/auth/token", data={"username": email, "password": PASSWORD})
        assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0


async def test_requests_are_served_while_a_hundred_sign_ins_are_in_flight(live_server: str):
    limits = httpx.Limits(max_connections=200)
    async with (
        httpx.AsyncClient(base_url=live_server, timeout=120, limits=limits) as client,
        httpx.AsyncClient(base_url=live_server, timeout=30) as other,  # its own connections: none wait for a free one
    ):
        signing_in = [
            asyncio.create_task(
                client.post("/auth/token", data={"username": f"nobody-{n}@test.maeul", "password": "wrong"})
            )
            for n in range(100)
        ]
        await asyncio.sleep(0.3)  # the sign-ins have arrived and are being hashed
        waits = []
        for _ in range(5):
            started = time.perf_counter()
            health = await other.get("/ledger/public-key")
            waits.append(time.perf_counter() - started)
            assert health.status_code == 200
        still_signing_in = sum(not task.done() for task in signing_in)
        answers = await asyncio.gather(*signing_in)
    # a hundred argon2 verifications take seconds of CPU; the other requests did not queue behind them
    assert still_signing_in > 0, "the sign-ins were over before the other requests: the test measured nothing"
    assert max(waits) < 1.0, waits
    assert {answer.status_code for answer in answers} <= {401, 503}


async def test_a_username_of_any_length_is_refused_without_becoming_a_key(live_server: str):
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        answer = await client.post("/auth/token", data={"username": "a" * 100_000 + "@x.y", "password": "p"})
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_credentials"
