"""Idempotency keys for creating calls, stored in the same transaction as the work they protect.

The first request with a key inserts the row; a concurrent retry blocks on the primary key until the first
commits (then replays its stored response) or rolls back (then it does the work itself). So a retry can never
create a second booking, and a failed attempt leaves no key behind. A key is kept for `KEPT` (the worker prunes older
ones): a client retries within seconds or minutes, and a day later the same key is a new request.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String, delete, func, select, update
from sqlalchemy.dialects.postgresql import JSON, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.errors import IdempotencyKeyReused, InvalidInput


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    operation: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[Any | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: Any


KEY = re.compile(r"^[!-~]{1,255}$")  # printable ASCII, no spaces: a UUID fits


def fingerprint(operation: str, payload: Any) -> str:
    canonical = json.dumps({"operation": operation, "payload": payload}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(
    session: AsyncSession, *, account_id: uuid.UUID, key: str, operation: str, payload: Any
) -> StoredResponse | None:
    """Claim `key` for this request, or return the response stored by the request that claimed it first."""
    if not KEY.match(key):
        raise InvalidInput("Idempotency-Key must be 1 to 255 printable ASCII characters without spaces")
    digest = fingerprint(operation, payload)
    inserted = await session.execute(
        insert(IdempotencyKey)
        .values(account_id=account_id, key=key, operation=operation, fingerprint=digest)
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    )
    if inserted.scalar_one_or_none() is not None:
        return None
    stored = (
        await session.execute(
            select(IdempotencyKey).where(IdempotencyKey.account_id == account_id, IdempotencyKey.key == key)
        )
    ).scalar_one()
    if stored.fingerprint != digest:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different request; use a new key for a new request",
            extra={"operation": stored.operation},
        )
    if stored.status_code is None or stored.response is None:
        raise IdempotencyKeyReused("a request with this Idempotency-Key is still being processed")
    return StoredResponse(stored.status_code, stored.response)


async def remember(session: AsyncSession, *, account_id: uuid.UUID, key: str, status_code: int, body: Any) -> None:
    """Store the response of the claimed request; committed together with the work it describes."""
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.account_id == account_id, IdempotencyKey.key == key)
        .values(status_code=status_code, response=body)
    )


KEPT = timedelta(hours=24)


async def prune(session: AsyncSession, *, now: datetime) -> int:
    """Forget keys older than `KEPT`; how many."""
    pruned = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < now - KEPT).returning(IdempotencyKey.key)
    )
    return len(pruned.all())
