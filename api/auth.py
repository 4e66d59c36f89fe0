"""JWT access tokens (HS256, with a key id and a token id) and the role gate every endpoint declares.

A token comes as `Authorization: Bearer` (apps, scripts) or, for the dashboards, in the session cookie that signing in
at `/pages/sign-in` sets (HttpOnly, SameSite=Strict; `__Host-maeul_session` over https and in production). A request
authenticated by the cookie that changes anything (not GET, HEAD or OPTIONS) must also send the `X-CSRF-Token` header
with the session's CSRF token, which the pages get in the `maeul_csrf` cookie (`__Host-maeul_csrf`): it is bound to the
session (an HMAC of its token's id under the signing key), so another site can make a browser send the cookies, never
read the token to copy it into a header, nor plant one that would match."""

from __future__ import annotations

import base64
import hashlib
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
from core.settings import Settings

ALGORITHM = "HS256"
oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
SESSION_COOKIE, CSRF_COOKIE, CSRF_HEADER = "maeul_session", "maeul_csrf", "X-CSRF-Token"
HOST_PREFIX = "__Host-"
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


def secure_cookies(request: Request, settings: Settings) -> bool:
    """Cookies for https (`Secure`, `__Host-` names): over https, and always in production (behind its proxy)."""
    return request.url.scheme == "https" or settings.env == "production"


def cookie_name(request: Request, settings: Settings, name: str) -> str:
    """`__Host-<name>` where cookies are secure: the browser takes it only over https, for this host alone, path /,
    so a sibling subdomain can neither set nor overwrite it; plain http (a laptop demo, the tests) keeps `<name>`."""
    return f"{HOST_PREFIX}{name}" if secure_cookies(request, settings) else name


def read_cookie(request: Request, settings: Settings, name: str) -> str | None:
    return request.cookies.get(cookie_name(request, settings, name))


def session_csrf(token_id: uuid.UUID, keys: TokenKeys) -> str:
    """The CSRF token of a signed-in session, bound to it: an HMAC of its access token's id under the signing key.
    Whoever can plant cookies (a sibling subdomain, a network on http) still cannot make one for another session."""
    mac = hmac.new(keys.current.encode(), f"csrf:{token_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def token_id(token: str, keys: TokenKeys) -> uuid.UUID:
    return uuid.UUID(_claims(token, keys)["jti"])


def session_token_id(request: Request, settings: Settings, keys: TokenKeys) -> uuid.UUID | None:
    """The id of the session cookie's access token, if it is genuine (expiry not checked)."""
    token = read_cookie(request, settings, SESSION_COOKIE)
    if token is None:
        return None
    try:
        return token_id(token, keys)
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError, KeyError):
        return None


def csrf_valid(request: Request, settings: Settings, keys: TokenKeys, offered: str | None) -> bool:
    """A form's or header's CSRF token: with a session, the one bound to it; before signing in (the sign-in form),
    the CSRF cookie's (double submit)."""
    token_id = session_token_id(request, settings, keys)
    expected = session_csrf(token_id, keys) if token_id else read_cookie(request, settings, CSRF_COOKIE)
    return bool(expected and offered and hmac.compare_digest(expected, offered))


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
    cookie = read_cookie(request, state.settings, SESSION_COOKIE)
    token = bearer or cookie
    if bearer is None and cookie is not None and request.method not in SAFE_METHODS:
        if not csrf_valid(request, state.settings, state.token_keys, request.headers.get(CSRF_HEADER)):
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
Photographer = Annotated[Actor, Depends(require(DRIVERS | CREW))]  # condition-report photos: not the city
Admin = Annotated[Actor, Depends(require(frozenset({Role.ADMIN})))]
Owner = Annotated[Actor, Depends(require(frozenset({Role.OWNER})))]
CityOrAdmin = Annotated[Actor, Depends(require(frozenset({Role.CITY, Role.ADMIN})))]
SlotReader = Annotated[Actor, Depends(require(frozenset({Role.OWNER, Role.OPERATOR, Role.CITY, Role.ADMIN})))]
