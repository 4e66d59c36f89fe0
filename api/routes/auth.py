from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from accounts import recovery, service
from accounts.actor import Actor
from accounts.models import Role
from api.auth import Admin, Anyone, SignedIn, issue_token
from api.deps import NowDep, SessionDep, StateDep
from api.idempotency import IdempotencyKeyHeader, create_once
from api.schemas.accounts import (
    AccountIn,
    AccountOut,
    MeOut,
    PasswordChangeIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    RegisterIn,
    TokenOut,
)
from api.schemas.common import ErrorOut
from ledger import pseudonyms

router = APIRouter(tags=["accounts"])


@router.post(
    "/auth/token",
    response_model=TokenOut,
    responses={401: {"model": ErrorOut}, 429: {"model": ErrorOut}},
    summary="Sign in (OAuth2 password flow)",
)
async def sign_in(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], state: StateDep, session: SessionDep, now: NowDep
) -> TokenOut:
    """Exchange email (as `username`) and password for a bearer access token. After
    `MAEUL_LOGIN_MAX_FAILURES` wrong passwords for one email, sign-in for it is locked for
    `MAEUL_LOGIN_LOCKOUT_SECONDS` (429 with `Retry-After`)."""
    account = await service.authenticate(
        session,
        state.redis,
        email=form.username,
        password=form.password,
        max_failures=state.settings.login_max_failures,
        lockout_seconds=state.settings.login_lockout_seconds,
    )
    lifetime = timedelta(minutes=state.settings.access_token_minutes)
    token = issue_token(
        Actor(id=account.id, role=Role(account.role)), keys=state.token_keys, now=now, lifetime=lifetime
    )
    return TokenOut(access_token=token, expires_in=int(lifetime.total_seconds()))


@router.post(
    "/auth/register",
    response_model=AccountOut,
    status_code=201,
    responses={409: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    summary="Create a resident account",
)
async def register(body: RegisterIn, session: SessionDep) -> AccountOut:
    """Open to anyone: residents and visiting drivers sign up here. Other roles are created by an admin."""
    account = await service.create_account(
        session, email=body.email, password=body.password, display_name=body.display_name, role=Role.RESIDENT
    )
    await session.commit()
    return AccountOut.of(account)


@router.post("/auth/sign-out", status_code=204, summary="Sign out: revoke this access token")
async def sign_out(token: SignedIn, session: SessionDep, now: NowDep) -> None:
    """The token sent is refused from now on (other tokens of the account, e.g. on another phone, stay valid)."""
    await service.revoke_token(
        session, account_id=token.actor.id, token_id=token.token_id, expires_at=token.expires_at, now=now
    )
    await session.commit()


@router.post("/auth/sign-out-everywhere", status_code=204, summary="Sign out on every device")
async def sign_out_everywhere(token: SignedIn, session: SessionDep, now: NowDep) -> None:
    """Every token of the account issued until now is refused from now on, this one included (a lost phone)."""
    await service.sign_out_everywhere(session, account_id=token.actor.id, now=now)
    await service.revoke_token(
        session, account_id=token.actor.id, token_id=token.token_id, expires_at=token.expires_at, now=now
    )
    await session.commit()


@router.post(
    "/auth/password-reset",
    status_code=202,
    responses={422: {"model": ErrorOut}},
    summary="Ask for a password-reset code by e-mail",
)
async def ask_password_reset(body: PasswordResetIn, state: StateDep, session: SessionDep, now: NowDep) -> None:
    """Accepted whether or not an account has this address (nothing tells which): when an active one does, a
    one-time code valid for `MAEUL_PASSWORD_RESET_MINUTES` is e-mailed to it (at most three an hour)."""
    lifetime = timedelta(minutes=state.settings.password_reset_minutes)
    await recovery.request_reset(session, state.redis, email=body.email, lifetime=lifetime, now=now)
    await session.commit()


@router.post(
    "/auth/password-reset/confirm",
    status_code=204,
    responses={
        404: {"model": ErrorOut, "description": "invalid_reset_token: unknown, used or expired"},
        422: {"model": ErrorOut},
    },
    summary="Set a new password with an e-mailed code",
)
async def confirm_password_reset(body: PasswordResetConfirmIn, session: SessionDep, now: NowDep) -> None:
    """The code works once; the account is signed out everywhere: sign in with the new password."""
    await recovery.reset_password(session, token=body.code, new_password=body.new_password, now=now)
    await session.commit()


@router.post(
    "/me/password",
    status_code=204,
    responses={401: {"model": ErrorOut, "description": "invalid_credentials: the current password is wrong"}},
    summary="Change the password",
)
async def change_password(body: PasswordChangeIn, token: SignedIn, session: SessionDep, now: NowDep) -> None:
    """Given the current password; then every token of the account is signed out, this one too: sign in again."""
    await service.change_password(
        session, account_id=token.actor.id, current=body.current_password, new=body.new_password, now=now
    )
    await service.revoke_token(
        session, account_id=token.actor.id, token_id=token.token_id, expires_at=token.expires_at, now=now
    )
    await session.commit()


@router.get("/me", response_model=MeOut, summary="The signed-in account")
async def me(actor: Anyone, session: SessionDep) -> MeOut:
    """The account, and the pseudonym the public ledger knows it by."""
    account = AccountOut.of(await service.get_account(session, actor.id))
    return MeOut(**account.model_dump(), ledger_pseudonym=await pseudonyms.pseudonym(session, actor.id))


@router.post(
    "/admin/accounts",
    response_model=AccountOut,
    status_code=201,
    responses={409: {"model": ErrorOut}},
    summary="Create an account of any role (admin)",
)
async def create_account(
    body: AccountIn, actor: Admin, session: SessionDep, idempotency_key: IdempotencyKeyHeader = None
) -> AccountOut:
    async def work() -> AccountOut:
        account = await service.create_account(
            session, email=body.email, password=body.password, display_name=body.display_name, role=body.role
        )
        return AccountOut.of(account)

    return await create_once(  # type: ignore[return-value]
        session, actor=actor, key=idempotency_key, operation="POST /admin/accounts", payload=body, work=work
    )


def _activation_route(active: bool) -> None:
    action = "enable" if active else "disable"

    async def route(account_id: uuid.UUID, actor: Admin, session: SessionDep) -> AccountOut:
        account = await service.set_active(session, account_id=account_id, active=active)
        await session.commit()
        return AccountOut.of(account)

    route.__doc__ = (
        "The account can sign in again; tokens signed out before stay refused."
        if active
        else "The account cannot sign in, and every token it holds is refused from its next request on."
    )
    router.add_api_route(
        f"/admin/accounts/{{account_id:uuid}}/{action}",
        route,
        methods=["POST"],
        response_model=AccountOut,
        responses={404: {"model": ErrorOut}},
        summary=f"{action.capitalize()} an account (admin)",
        name=f"{action}_account",
    )


_activation_route(active=False)
_activation_route(active=True)
