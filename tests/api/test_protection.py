"""Protection at the edge: rate limits per account and per address (429 with Retry-After, counted in Redis, not
enforced while Redis is away), the request body limit, security headers and CORS as settings."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.state import AppState, build_state
from core.clock import FixedClock
from core.settings import Settings
from tests.conftest import asgi_client
from tests.factories import auth, error_of, make_account


@pytest.fixture
async def strict(settings: Settings, database: str, clock: FixedClock) -> AsyncIterator[AppState]:
    """An API with tight limits and CORS for one origin."""
    tight = settings.model_copy(
        update={
            "rate_limit_per_account": "3/minute",
            "rate_limit_per_address": "8/minute",
            "max_body_bytes": 4096,
            "cors_origins": ["https://app.maeul.example"],
            "hsts_seconds": 31536000,
        }
    )
    state = build_state(tight, clock=clock, database_url=database)
    await state.redis.flushdb()
    yield state
    await state.redis.aclose()
    await state.engine.dispose()


@pytest.fixture
async def strict_client(strict: AppState, session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(strict, session) as client:
        yield client


async def test_rate_limits_per_account_and_per_address(
    strict_client: httpx.AsyncClient, strict: AppState, session: AsyncSession
):
    first, second = await make_account(session), await make_account(session, role=Role.OWNER)
    for _ in range(3):
        assert (await strict_client.get("/me", headers=auth(strict, first))).status_code == 200
    refused = await strict_client.get("/me", headers=auth(strict, first))  # a new token: the account is counted
    assert refused.status_code == 429 and error_of(refused) == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60 and refused.json()["retry_after_s"] >= 1
    assert "account" in refused.json()["detail"]
    # another account from the same address still gets through, until the address's limit
    for _ in range(4):
        assert (await strict_client.get("/me", headers=auth(strict, second))).status_code in (200, 429)
    anonymous = await strict_client.get("/zones")
    assert anonymous.status_code == 429 and "address" in anonymous.json()["detail"]
    # /health and /metrics are limited like every path (public and unthrottled, they were a cheap flood): a probe
    # comes far below any limit
    assert (await strict_client.get("/health")).status_code == 429
    assert (await strict_client.get("/metrics")).status_code == 429


async def test_limits_are_not_enforced_while_redis_is_away(
    strict_client: httpx.AsyncClient, strict: AppState, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
):
    account = await make_account(session)

    async def unreachable(*args: object, **kwargs: object) -> bool:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(strict.rate_limits.limiter, "hit", unreachable)
    for _ in range(5):  # over the limit of 3, yet served
        assert (await strict_client.get("/me", headers=auth(strict, account))).status_code == 200


async def test_body_limit_headers_and_cors(strict_client: httpx.AsyncClient, strict: AppState, session: AsyncSession):
    account = await make_account(session)
    huge = await strict_client.post(
        "/telemetry", content=b"{" + b" " * 10_000 + b"}", headers={"Content-Type": "application/json"}
    )
    assert huge.status_code == 413 and error_of(huge) == "payload_too_large"

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"points": ['
        for _ in range(100):
            yield b" " * 100

    chunked = await strict_client.post("/telemetry", content=streamed(), headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413 and error_of(chunked) == "payload_too_large"
    answered = await strict_client.get("/me", headers={**auth(strict, account), "X-Request-ID": "trace-42"})
    assert answered.headers["x-request-id"] == "trace-42"  # the caller's id is echoed (and bound to the logs)
    assert len((await strict_client.get("/health")).headers["x-request-id"]) == 32  # or a new one
    assert answered.headers["x-content-type-options"] == "nosniff" and answered.headers["x-frame-options"] == "DENY"
    assert answered.headers["strict-transport-security"] == "max-age=31536000"
    assert "frame-ancestors 'none'" in answered.headers["content-security-policy"]
    assert "script-src 'self';" in answered.headers["content-security-policy"]  # scripts from files only
    docs = await strict_client.get("/docs")  # its inline script allowed by its hash alone, under one policy
    (policy,) = [value for name, value in docs.headers.multi_items() if name == "content-security-policy"]
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0] and "'sha256-" in policy
    preflight = await strict_client.options(
        "/bookings",
        headers={"Origin": "https://app.maeul.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.maeul.example"
    stranger = await strict_client.options(
        "/bookings", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in stranger.headers
