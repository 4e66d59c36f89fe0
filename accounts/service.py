"""Accounts: registration and password authentication (argon2 through pwdlib)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

from pwdlib import PasswordHash
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.errors import AccountNotFound, EmailTaken, InvalidCredentials, SignInUnavailable, TooManyAttempts
from accounts.models import Account, RevokedToken, Role
from core.redis import count_in_window

T = TypeVar("T")
_hasher = PasswordHash.recommended()
# Verified against when the email is unknown, so both paths cost one argon2 verification (no timing oracle).
_UNKNOWN_ACCOUNT_HASH = _hasher.hash("maeul-unknown-account")


# argon2 takes about 170 ms of CPU a verification: never on the event loop. Two threads (argon2-cffi releases the GIL
# while it hashes) bound the CPU sign-in can take, and a sign-in waits for one of them before it touches the database
# (a hundred waiting sign-ins holding a hundred connections would starve every other request); beyond `MAX_WAITING`
# waiting, sign-in answers 503 at once.
HASHING_THREADS = 2
_HASHING = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="argon2")
MAX_WAITING = 64
_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()
_waiting = 0
MAX_EMAIL = 320  # RFC 3696's longest address
MAX_PASSWORD = 1024


def hash_password(password: str) -> str:
    """For scripts and bulk demo data; a request uses `hash_in_pool`."""
    return _hasher.hash(password)


@contextlib.asynccontextmanager
async def _hashing_turn() -> AsyncIterator[None]:
    """Wait for one of the hashing threads (or refuse at once when too many wait already)."""
    global _waiting
    loop = asyncio.get_running_loop()
    turns = _turns.setdefault(loop, asyncio.Semaphore(HASHING_THREADS))
    if _waiting >= MAX_WAITING:
        raise SignInUnavailable("too many sign-ins at once; nothing was checked, try again in a moment")
    _waiting += 1
    try:
        async with turns:
            yield
    finally:
        _waiting -= 1


async def _hashed(work: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, work)


async def hash_in_pool(password: str) -> str:
    async with _hashing_turn():
        return await _hashed(lambda: _hasher.hash(password))


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def create_account(
    session: AsyncSession,
    *,
    email: str,
    password: str | None = None,
    password_hash: str | None = None,
    display_name: str,
    role: Role,
) -> Account:
    """Create an account; pass `password_hash` to reuse a hash computed once (bulk demo data)."""
    if (password is None) == (password_hash is None):
        raise ValueError("give exactly one of password and password_hash")
    account = Account(
        id=uuid.uuid4(),
        email=normalize_email(email),
        display_name=display_name.strip(),
        role=role,
        password_hash=password_hash or await hash_in_pool(password or ""),
        is_active=True,
    )
    try:
        async with session.begin_nested():
            session.add(account)
            await session.flush()
    except IntegrityError as error:
        raise EmailTaken(f"an account with email {account.email} already exists") from error
    return account


async def get_account(session: AsyncSession, account_id: uuid.UUID) -> Account:
    account = await session.get(Account, account_id)
    if account is None or not account.is_active:
        raise AccountNotFound(f"account {account_id} not found")
    return account


async def active_role(
    session: AsyncSession, account_id: uuid.UUID, token_id: uuid.UUID, issued_at: datetime
) -> Role | None:
    """The role of an active account whose token was not signed out, alone or with all the account's tokens (None
    otherwise). Every signed-in request asks, so it is one indexed query."""
    revoked = select(RevokedToken.jti).where(RevokedToken.jti == token_id).exists()
    role = await session.scalar(
        select(Account.role).where(
            Account.id == account_id,
            Account.is_active,
            ~revoked,
            or_(Account.signed_out_before.is_(None), Account.signed_out_before <= issued_at),
        )
    )
    return Role(role) if role is not None else None


async def sign_out_everywhere(session: AsyncSession, *, account_id: uuid.UUID, now: datetime) -> None:
    """Every token of the account issued before now is refused from now on (tokens carry their issue time to the
    microsecond; the caller also revokes the token it came with, which may have been issued at this very instant)."""
    account = await get_account(session, account_id)
    account.signed_out_before = now
    await session.flush()


async def change_password(
    session: AsyncSession, *, account_id: uuid.UUID, current: str, new: str, now: datetime
) -> None:
    """A new password, given the current one; every token of the account is signed out (sign in again)."""
    account = await get_account(session, account_id)
    if len(current) > MAX_PASSWORD:
        raise InvalidCredentials("the current password is wrong")
    async with _hashing_turn():
        valid = await _hashed(lambda: _hasher.verify(current, account.password_hash))
    if not valid:
        raise InvalidCredentials("the current password is wrong")
    account.password_hash = await hash_in_pool(new)
    await sign_out_everywhere(session, account_id=account_id, now=now)


async def set_active(session: AsyncSession, *, account_id: uuid.UUID, active: bool) -> Account:
    """An admin disables an account (its tokens are refused at once, it cannot sign in) or enables it again."""
    account = await session.get(Account, account_id)  # a disabled one too: `get_account` knows active ones only
    if account is None:
        raise AccountNotFound(f"account {account_id} not found")
    account.is_active = active
    await session.flush()
    return account


async def revoke_token(
    session: AsyncSession, *, account_id: uuid.UUID, token_id: uuid.UUID, expires_at: datetime, now: datetime
) -> None:
    """Sign out one access token: refused from now on (signing out twice is harmless)."""
    await session.execute(
        insert(RevokedToken)
        .values(jti=token_id, account_id=account_id, expires_at=expires_at, revoked_at=now)
        .on_conflict_do_nothing()
    )


async def prune_revoked_tokens(session: AsyncSession, *, now: datetime) -> int:
    """Forget revocations of tokens that have expired anyway."""
    pruned = await session.scalars(
        delete(RevokedToken).where(RevokedToken.expires_at <= now).returning(RevokedToken.jti)
    )
    return len(pruned.all())


def _failures_key(email: str) -> str:
    """Hashed: whatever a client sends as a username never becomes a Redis key as it is."""
    return f"maeul:login-failures:{hashlib.sha256(email.encode()).hexdigest()}"


async def authenticate(
    session: AsyncSession, redis: Redis, *, email: str, password: str, max_failures: int, lockout_seconds: int
) -> Account:
    """Check a password. After `max_failures` failures for one email within `lockout_seconds`, refuse all tries
    for that email until the window passes (counted in Redis, so it holds across API processes). Without Redis the
    counter cannot be kept, so sign-in fails closed (`sign_in_unavailable`) rather than allow unlimited guesses."""
    try:
        return await _check_password(
            session, redis, email=email, password=password, max_failures=max_failures, lockout_seconds=lockout_seconds
        )
    except RedisError as error:
        raise SignInUnavailable(
            "sign-in is unavailable for a moment: its attempt counter cannot be reached; nothing was checked, "
            "try again shortly"
        ) from error


async def _check_password(
    session: AsyncSession, redis: Redis, *, email: str, password: str, max_failures: int, lockout_seconds: int
) -> Account:
    if len(email) > MAX_EMAIL or len(password) > MAX_PASSWORD:
        raise InvalidCredentials("wrong email or password")  # no account has one that long: nothing to check
    email = normalize_email(email)
    key = _failures_key(email)
    # the attempt is counted before the password is checked, in one atomic step: concurrent guesses each get their
    # own number, and only the first `max_failures` of a window are ever checked
    attempt, ttl = await count_in_window(redis, key, lockout_seconds)
    if attempt > max_failures:
        retry_after = max(ttl, 1)
        raise TooManyAttempts(
            f"too many failed sign-ins for {email}; try again in {retry_after} s",
            extra={"retry_after_s": retry_after},
        )
    async with _hashing_turn():
        account = (await session.execute(select(Account).where(Account.email == email))).scalar_one_or_none()
        stored = account.password_hash if account else _UNKNOWN_ACCOUNT_HASH
        valid = await _hashed(lambda: _hasher.verify(password, stored))
    if account is None or not valid or not account.is_active:
        raise InvalidCredentials("wrong email or password")  # the attempt stays counted
    await redis.delete(key)
    return account
