"""An account's life: an admin disables it (its tokens stop working at once) and enables it again; its owner changes
the password or signs out everywhere; the first admin comes from `maeul admin create`; `maeul demo` and its published
demo passwords are refused in production."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from typer.testing import CliRunner

from accounts.models import Account, Role
from api.state import AppState
from cli.main import app
from core.clock import FixedClock
from core.settings import get_settings
from tests.conftest import NOW
from tests.factories import PASSWORD, auth, make_account, unique


async def _sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/auth/token", data={"username": email, "password": password})


async def test_a_disabled_account_is_refused_at_once_and_can_be_enabled_again(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState
):
    email = f"{unique('lifecycle')}@test.maeul"
    resident = await make_account(session, email=email)
    admin = await make_account(session, role=Role.ADMIN)
    token = auth(state, resident)
    assert (await client.get("/me", headers=token)).status_code == 200

    disabled = await client.post(f"/admin/accounts/{resident.id}/disable", headers=auth(state, admin))
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert (await client.get("/me", headers=token)).status_code == 401  # the token it holds, at once
    assert (await _sign_in(client, email, PASSWORD)).status_code == 401
    resident_cannot = await client.post(f"/admin/accounts/{admin.id}/disable", headers=auth(state, resident))
    assert resident_cannot.status_code == 401

    enabled = await client.post(f"/admin/accounts/{resident.id}/enable", headers=auth(state, admin))
    assert enabled.status_code == 200 and enabled.json()["active"] is True, enabled.text
    assert (await _sign_in(client, email, PASSWORD)).status_code == 200
    stranger = await client.post(f"/admin/accounts/{resident.id}/disable", headers=auth(state, resident))
    assert stranger.status_code == 403


async def test_signing_out_everywhere_refuses_every_earlier_token(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    email = f"{unique('everywhere')}@test.maeul"
    resident = await make_account(session, email=email)
    phone, laptop = auth(state, resident), auth(state, resident)
    clock.set(NOW + timedelta(minutes=5))
    assert (await client.post("/auth/sign-out-everywhere", headers=phone)).status_code == 204
    assert (await client.get("/me", headers=phone)).status_code == 401
    assert (await client.get("/me", headers=laptop)).status_code == 401
    again = await _sign_in(client, email, PASSWORD)
    assert again.status_code == 200
    fresh = {"Authorization": f"Bearer {again.json()['access_token']}"}
    assert (await client.get("/me", headers=fresh)).status_code == 200


async def test_a_password_change_needs_the_current_one_and_signs_out_everywhere(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    email = f"{unique('password')}@test.maeul"
    resident = await make_account(session, email=email)
    token = auth(state, resident)
    clock.set(NOW + timedelta(minutes=5))
    wrong = await client.post(
        "/me/password", json={"current_password": "not it", "new_password": "a new long secret"}, headers=token
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_credentials"
    changed = await client.post(
        "/me/password", json={"current_password": PASSWORD, "new_password": "a new long secret"}, headers=token
    )
    assert changed.status_code == 204, changed.text
    assert (await client.get("/me", headers=token)).status_code == 401
    assert (await _sign_in(client, email, PASSWORD)).status_code == 401
    assert (await _sign_in(client, email, "a new long secret")).status_code == 200


def test_maeul_admin_create_makes_the_first_admin(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAEUL_DATABASE_NAME", "maeul_test")
    get_settings.cache_clear()
    email = f"{unique('first-admin')}@maeul.example"
    try:
        made = CliRunner().invoke(
            app, ["admin", "create", "--email", email, "--password-stdin"], input="the first admin's secret\n"
        )
        short = CliRunner().invoke(
            app, ["admin", "create", "--email", "x@maeul.example", "--password-stdin"], input="short\n"
        )
    finally:
        get_settings.cache_clear()
    assert made.exit_code == 0, made.output
    assert short.exit_code == 1 and "10 to 200" in short.output

    async def role() -> str | None:  # an engine of this event loop (the test is not async: the CLI runs its own)
        engine = create_async_engine(database)
        try:
            async with AsyncSession(engine) as session:
                return await session.scalar(select(Account.role).where(Account.email == email))
        finally:
            await engine.dispose()

    assert asyncio.run(role()) == "admin"


def test_maeul_demo_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "MAEUL_ENV": "production",
        "MAEUL_DATABASE_URL": "postgresql+asyncpg://maeul:x@127.0.0.1:1/maeul",
        "MAEUL_REDIS_URL": "redis://127.0.0.1:1/0",
        "MAEUL_JWT_SECRET": "a-production-jwt-secret-of-more-than-32-characters",
        "MAEUL_LEDGER_SIGNING_KEY": base64.b64encode(bytes(32)).decode(),
        "MAEUL_PLATE_HASH_KEY": "a-production-plate-key-of-more-than-32-characters",
        "MAEUL_CHAIN_URL": "http://127.0.0.1:1",
        "MAEUL_CHAIN_PRIVATE_KEY": "0x" + "11" * 32,
        "MAEUL_PAYMENT_GATEWAY_URL": "https://api.tosspayments.com",
        "MAEUL_PAYMENT_SECRET_KEY": "live_sk_an-operators-gateway-key",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        refused = CliRunner().invoke(app, ["demo", "--no-serve"])
    finally:
        get_settings.cache_clear()
    assert refused.exit_code == 1 and "refused with MAEUL_ENV=production" in refused.output
