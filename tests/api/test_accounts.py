"""Sign-up, sign-in with argon2 hashes, token checks and the Redis-backed lockout."""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service
from accounts.actor import Actor
from accounts.models import Role
from api.auth import issue_token
from api.state import AppState, TokenKeys, key_id
from core.clock import FixedClock
from tests.factories import PASSWORD, auth, error_of, make_account


async def test_register_sign_in_and_me(client: httpx.AsyncClient):
    body = {"email": "New.Resident@Example.org", "password": "a long passphrase", "display_name": "New resident"}
    created = await client.post("/auth/register", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "new.resident@example.org" and created.json()["role"] == "resident"
    again = await client.post("/auth/register", json=body)
    assert again.status_code == 409 and error_of(again) == "email_taken"
    token = await client.post(
        "/auth/token", data={"username": "new.resident@example.org", "password": "a long passphrase"}
    )
    assert token.status_code == 200 and token.json()["token_type"] == "bearer"
    me = await client.get("/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json()["display_name"] == "New resident"
    weak = await client.post("/auth/register", json={**body, "email": "b@example.org", "password": "short"})
    assert weak.status_code == 422
    bad_email = await client.post("/auth/register", json={**body, "email": "not an email"})
    assert bad_email.status_code == 422


async def test_lockout_after_repeated_failures(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    account = await make_account(session, email="locked@test.maeul")
    for _ in range(5):
        wrong = await client.post("/auth/token", data={"username": "locked@test.maeul", "password": "wrong password"})
        assert wrong.status_code == 401 and error_of(wrong) == "invalid_credentials"
    locked = await client.post("/auth/token", data={"username": "locked@test.maeul", "password": PASSWORD})
    assert locked.status_code == 429 and error_of(locked) == "too_many_attempts"
    assert int(locked.headers["Retry-After"]) > 0
    await state.redis.flushdb()  # the lockout window passes
    ok = await client.post("/auth/token", data={"username": "LOCKED@test.maeul", "password": PASSWORD})
    assert ok.status_code == 200
    assert account.role == Role.RESIDENT


async def test_unknown_email_is_just_wrong_credentials(client: httpx.AsyncClient):
    response = await client.post("/auth/token", data={"username": "nobody@test.maeul", "password": "whatever it is"})
    assert response.status_code == 401 and error_of(response) == "invalid_credentials"


async def test_tokens_are_checked(client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock):
    account = await make_account(session)
    headers = auth(state, account)
    assert (await client.get("/me", headers=headers)).status_code == 200
    clock.advance(timedelta(minutes=61))
    expired = await client.get("/me", headers=headers)
    assert expired.status_code == 401 and expired.headers["WWW-Authenticate"] == "Bearer"
    forged = issue_token(
        account, keys=TokenKeys.of("not the secret" * 4, []), now=clock.now(), lifetime=timedelta(hours=1)
    )
    assert (await client.get("/me", headers={"Authorization": f"Bearer {forged}"})).status_code == 401
    none_alg = jwt.encode({"sub": str(account.id), "exp": 9999999999}, key=None, algorithm="none")
    assert (await client.get("/me", headers={"Authorization": f"Bearer {none_alg}"})).status_code == 401
    ghost = issue_token(
        Actor(id=account.id.__class__(int=1), role=Role.ADMIN),
        keys=state.token_keys,
        now=clock.now(),
        lifetime=timedelta(hours=1),
    )
    assert (await client.get("/me", headers={"Authorization": f"Bearer {ghost}"})).status_code == 401
    assert (await client.get("/me", headers={"Authorization": "Bearer garbage"})).status_code == 401


async def test_admin_creates_staff_accounts(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    admin = await make_account(session, role=Role.ADMIN)
    body = {"email": "staff@test.maeul", "password": "staff password", "display_name": "Staff", "role": "operator"}
    created = await client.post("/admin/accounts", json=body, headers=auth(state, admin))
    assert created.status_code == 201 and created.json()["role"] == "operator"
    bad_role = await client.post("/admin/accounts", json={**body, "role": "king"}, headers=auth(state, admin))
    assert bad_role.status_code == 422


async def test_sign_out_revokes_only_that_token(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    account = await make_account(session)
    phone, laptop = auth(state, account), auth(state, account)
    assert phone != laptop  # every token has its own id
    assert (await client.post("/auth/sign-out", headers=phone)).status_code == 204
    refused = await client.get("/me", headers=phone)
    assert refused.status_code == 401 and "signed out" in refused.json()["detail"]
    assert (await client.get("/me", headers=laptop)).status_code == 200
    assert (await client.post("/auth/sign-out", headers=phone)).status_code == 401
    # the revocation is forgotten once the token has expired anyway
    clock.advance(timedelta(hours=2))
    assert await service.prune_revoked_tokens(session, now=clock.now()) >= 1


async def test_signing_keys_rotate_without_signing_everyone_out(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    account = await make_account(session)
    old = state.token_keys
    before = issue_token(account, keys=old, now=clock.now(), lifetime=timedelta(hours=1))
    assert jwt.get_unverified_header(before)["kid"] == key_id(old.current)
    # a new secret signs from now on; the old one is retired but still accepted
    state.token_keys = TokenKeys.of("a brand new secret of enough length!", [old.current])
    after = issue_token(account, keys=state.token_keys, now=clock.now(), lifetime=timedelta(hours=1))
    try:
        for token in (before, after):
            assert (await client.get("/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200
        # once the old secret is dropped, its tokens are refused
        state.token_keys = TokenKeys.of("a brand new secret of enough length!", [])
        assert (await client.get("/me", headers={"Authorization": f"Bearer {before}"})).status_code == 401
        assert (await client.get("/me", headers={"Authorization": f"Bearer {after}"})).status_code == 200
    finally:
        state.token_keys = old
