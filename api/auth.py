"""JWT access tokens (HS256) and the role gate every endpoint declares."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from accounts.actor import Actor
from accounts.models import Role
from accounts.service import active_role
from api.deps import NowDep, SessionDep, StateDep
from api.errors import NotAuthenticated
from core.errors import Forbidden

ALGORITHM = "HS256"
oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)

EVERYONE = frozenset(Role)
DRIVERS = frozenset({Role.RESIDENT, Role.OWNER})
SLOT_MANAGERS = frozenset({Role.OWNER, Role.OPERATOR, Role.ADMIN})
STAFF = frozenset({Role.OPERATOR, Role.ADMIN})
MONITORS = frozenset({Role.OPERATOR, Role.ADMIN, Role.CITY})


def issue_token(actor: Actor, *, secret: str, now: datetime, lifetime: timedelta) -> str:
    claims = {"sub": str(actor.id), "role": actor.role, "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


async def current_actor(
    state: StateDep, session: SessionDep, now: NowDep, token: Annotated[str | None, Depends(oauth2)]
) -> Actor:
    if token is None:
        raise NotAuthenticated("sign in first: send 'Authorization: Bearer <token>' from POST /auth/token")
    try:
        # expiry is checked against the service's (injected) clock, not the machine's
        claims = jwt.decode(
            token,
            state.signing_secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"], "verify_exp": False, "verify_iat": False},
        )
        account_id = uuid.UUID(claims["sub"])
        if float(claims["exp"]) <= now.timestamp():
            raise jwt.ExpiredSignatureError("the token has expired")
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise NotAuthenticated("the access token is invalid or has expired; sign in again") from error
    role = await active_role(session, account_id)
    if role is None:
        raise NotAuthenticated("the account of this token no longer exists or is disabled")
    return Actor(id=account_id, role=role)


def require(roles: frozenset[Role]) -> Callable[..., Awaitable[Actor]]:
    """A dependency admitting only `roles`; the set is also kept on the function for documentation and tests."""

    async def gate(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
        if actor.role not in roles:
            allowed = ", ".join(sorted(roles))
            raise Forbidden(f"this endpoint is for: {allowed}", extra={"allowed_roles": sorted(roles)})
        return actor

    gate.allowed_roles = roles  # type: ignore[attr-defined]
    return gate


Anyone = Annotated[Actor, Depends(require(EVERYONE))]
Driver = Annotated[Actor, Depends(require(DRIVERS))]
SlotManager = Annotated[Actor, Depends(require(SLOT_MANAGERS))]
Staff = Annotated[Actor, Depends(require(STAFF))]
Monitor = Annotated[Actor, Depends(require(MONITORS))]
Admin = Annotated[Actor, Depends(require(frozenset({Role.ADMIN})))]
Owner = Annotated[Actor, Depends(require(frozenset({Role.OWNER})))]
CityOrAdmin = Annotated[Actor, Depends(require(frozenset({Role.CITY, Role.ADMIN})))]
NotResident = Annotated[Actor, Depends(require(EVERYONE - {Role.RESIDENT}))]
