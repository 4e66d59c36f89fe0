"""Password reset by e-mail: a one-time token goes out through the notification outbox (delivered by the worker over
SMTP, `core/mail.py`), and the token with a new password sets it.

Asking never tells whether an account exists (the same answer either way, and the same lookup and counting before
it); at most `MAX_REQUESTS` e-mails an hour go to one address. Only the token's SHA-256 is stored, and the
outbox forgets the token once the e-mail is out. A token works once, within `lifetime`; a new request or a reset ends
the account's earlier tokens, and a reset signs the account out everywhere.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.errors import InvalidResetToken
from accounts.models import Account, PasswordReset
from accounts.service import MAX_EMAIL, hash_in_pool, normalize_email, sign_out_everywhere
from core.outbox import notify
from core.redis import count_in_window

MAX_REQUESTS = 3  # e-mails an hour to one address
KIND = "password_reset"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def request_reset(session: AsyncSession, redis: Redis, *, email: str, lifetime: timedelta, now: datetime) -> None:
    """Queue a reset e-mail when an active account has this address (and it has not had `MAX_REQUESTS` this hour);
    otherwise do nothing, the same way."""
    if len(email) > MAX_EMAIL:
        return
    email = normalize_email(email)
    key = f"maeul:password-resets:{_digest(email)}"
    sent, _ = await count_in_window(redis, key, 3600)
    account = await session.scalar(select(Account).where(Account.email == email, Account.is_active))
    if account is None or sent > MAX_REQUESTS:
        return
    await _end_open_tokens(session, account, now=now)
    token = secrets.token_urlsafe(32)
    expires = now + lifetime
    session.add(PasswordReset(account_id=account.id, token_hash=_digest(token), expires_at=expires, created_at=now))
    minutes = int(lifetime.total_seconds() // 60)
    notify(
        session,
        kind=KIND,
        audience=f"account:{account.id}",
        subject="Reset your maeul password",
        body={
            "email": email,
            "secret": token,  # the outbox erases it once the e-mail is out
            "text": (
                f"Someone (we hope you) asked to reset the password of {email} on maeul.\n\n"
                f"Your reset code, valid for {minutes} minutes and once:\n\n    {{secret}}\n\n"
                "Enter it in the app with your new password (POST /auth/password-reset/confirm). If you did not ask, "
                "ignore this e-mail: your password stays as it is."
            ),
            "expires_at": expires.isoformat(),
        },
        now=now,
    )
    await session.flush()


async def reset_password(session: AsyncSession, *, token: str, new_password: str, now: datetime) -> Account:
    """Set a new password with a valid token (used up, every session of the account signed out)."""
    found = await session.scalar(
        select(PasswordReset).where(PasswordReset.token_hash == _digest(token)).with_for_update()
    )
    if found is None or found.used_at is not None or found.expires_at <= now:
        raise InvalidResetToken("this reset code is unknown, used or expired: ask for a new one")
    account = await session.get(Account, found.account_id)
    if account is None or not account.is_active:
        raise InvalidResetToken("this reset code is unknown, used or expired: ask for a new one")
    account.password_hash = await hash_in_pool(new_password)
    await _end_open_tokens(session, account, now=now)
    await sign_out_everywhere(session, account_id=account.id, now=now)
    return account


async def _end_open_tokens(session: AsyncSession, account: Account, *, now: datetime) -> None:
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.account_id == account.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
