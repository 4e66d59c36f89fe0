"""JWT access tokens (HS256, with a key id and a token id) and the role gate every endpoint declares.

A token comes as `Authorization: Bearer` (apps, scripts) or, for the dashboards, in the session cookie that signing in
at `/pages/sign-in` sets (HttpOnly, SameSite=Strict). A request authenticated by the cookie that changes anything
(not GET, HEAD or OPTIONS) must also send the `X-CSRF-Token` header with the value of the `maeul_csrf` cookie
(double submit): another site can make a browser send the cookie, never read it to copy it into a header."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from accounts.actor import Actor
from accounts.models import Role
from accounts.service import active_role
from api.deps import NowDep, SessionDep, StateDep
from api.errors import CsrfFailed, NotAuthenticated
from api.state import TokenKeys, key_id
from core.errors import Forbidden

ALGORITHM = "HS256"
oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
SESSION_COOKIE, CSRF_COOKIE, CSRF_HEADER = "maeul_session", "maeul_csrf", "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

EVERYONE = frozenset(Role)
DRIVERS = frozenset({Role.RESIDENT, Role.OWNER})
SLOT_MANAGERS = frozenset({Role.OWNER, Role.OPERATOR, Role.ADMIN})
OPERATORS = frozenset({Role.OPERATOR, Role.ADMIN})
MONITORS = frozenset({Role.OPERATOR, Role.ADMIN, Role.CITY})
CREW = frozenset({Role.STAFF, Role.OPERATOR, Role.ADMIN})  # field staff and those who plan their work


@dataclass(frozen=True, slots=True)
class Token:
    actor: Actor
    token_id: uuid.UUID
    expires_at: datetime


def issue_token(actor: Actor, *, keys: TokenKeys, now: datetime, lifetime: timedelta) -> str:
    # `iat` to the microsecond (a JWT NumericDate may have a fraction): signing out everywhere refuses exactly the
    # tokens issued before it, and a sign-in right after is not caught by it
    claims = {
        "sub": str(actor.id),
        "role": actor.role,
        "jti": uuid.uuid4().hex,
        "iat": now.timestamp(),
        "exp": now + lifetime,
    }
    return jwt.encode(claims, keys.current, algorithm=ALGORITHM, headers={"kid": key_id(keys.current)})


def _claims(token: str, keys: TokenKeys) -> dict[str, Any]:
    """The claims of a token signed with an accepted key; its expiry is the caller's to check (against the
    service's injected clock, not the machine's)."""
    secret = keys.accepted.get(jwt.get_unverified_header(token).get("kid", ""))
    if secret is None:
        raise jwt.InvalidKeyError("signed with a key this service no longer accepts")
    claims: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        options={"require": ["exp", "sub", "jti"], "verify_exp": False, "verify_iat": False},
    )
    return claims


def token_subject(token: str, keys: TokenKeys) -> str | None:
    """Whose token this is, if it is genuine (for rate limits: no database, expiry not checked)."""
    try:
        return str(_claims(token, keys)["sub"])
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError):
        return None


def csrf_matches(request: Request, offered: str | None) -> bool:
    """The double-submit check: `offered` (a header or a form field) equals the CSRF cookie."""
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie and offered and hmac.compare_digest(cookie, offered))


async def current_token(
    request: Request,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    bearer: Annotated[str | None, Depends(oauth2)],
) -> Token:
    # the dashboards' cookie is not an OpenAPI security scheme: apps and scripts send the bearer token, and a second
    # scheme offered as an alternative would make every operation's "no credentials" case ambiguous to clients and
    # to schemathesis; the API's description documents it
    cookie = request.cookies.get(SESSION_COOKIE)
    token = bearer or cookie
    if bearer is None and cookie is not None and request.method not in SAFE_METHODS:
        if not csrf_matches(request, request.headers.get(CSRF_HEADER)):
            raise CsrfFailed(f"a change made with the session cookie needs the {CSRF_HEADER} header (the csrf cookie)")
    if token is None:
        raise NotAuthenticated("sign in first: send 'Authorization: Bearer <token>' from POST /auth/token")
    try:
        claims = _claims(token, state.token_keys)
        account_id, token_id = uuid.UUID(claims["sub"]), uuid.UUID(claims["jti"])
        expires_at = datetime.fromtimestamp(float(claims["exp"]), tz=UTC)
        if expires_at <= now:
            raise jwt.ExpiredSignatureError("the token has expired")
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError) as error:
        raise NotAuthenticated("the access token is invalid or has expired; sign in again") from error
    issued_at = datetime.fromtimestamp(float(claims.get("iat", 0)), tz=UTC)
    role = await active_role(session, account_id, token_id, issued_at)
    if role is None:
        raise NotAuthenticated("this token was signed out, or its account no longer exists or is disabled")
    return Token(Actor(id=account_id, role=role), token_id, expires_at)


async def current_actor(token: Annotated[Token, Depends(current_token)]) -> Actor:
    return token.actor


SignedIn = Annotated[Token, Depends(current_token)]


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
Operator = Annotated[Actor, Depends(require(OPERATORS))]
Monitor = Annotated[Actor, Depends(require(MONITORS))]
FieldStaff = Annotated[Actor, Depends(require(frozenset({Role.STAFF})))]
Crew = Annotated[Actor, Depends(require(CREW))]
Admin = Annotated[Actor, Depends(require(frozenset({Role.ADMIN})))]
Owner = Annotated[Actor, Depends(require(frozenset({Role.OWNER})))]
CityOrAdmin = Annotated[Actor, Depends(require(frozenset({Role.CITY, Role.ADMIN})))]
SlotReader = Annotated[Actor, Depends(require(frozenset({Role.OWNER, Role.OPERATOR, Role.CITY, Role.ADMIN})))]
