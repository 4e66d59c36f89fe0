"""Idempotency keys are kept for a day, then the worker forgets them (they were kept forever)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import idempotency
from core.idempotency import IdempotencyKey
from tests.conftest import NOW
from tests.factories import make_account


async def test_keys_older_than_a_day_are_pruned(session: AsyncSession):
    account = await make_account(session)
    for key, age in (("fresh", timedelta(hours=23)), ("old", timedelta(hours=25))):
        session.add(
            IdempotencyKey(
                account_id=account.id, key=key, operation="POST /bookings", fingerprint="f" * 64, created_at=NOW - age
            )
        )
    await session.flush()
    assert await idempotency.prune(session, now=NOW) >= 1
    left = await session.scalars(select(IdempotencyKey.key).where(IdempotencyKey.account_id == account.id))
    assert list(left) == ["fresh"]
    assert (
        await session.scalar(
            select(func.count()).select_from(IdempotencyKey).where(IdempotencyKey.created_at < NOW - idempotency.KEPT)
        )
        == 0
    )
