"""Condition-report photos: who may upload how many, and what is removed. Drivers and the village enterprise's crew
upload (not the city); each account at most `per_day` photos a day (429 `photo_quota_exceeded` beyond, counted in
Redis); every upload is on record, and a photo no condition report names a day after its last upload is removed from
storage and the record (an hourly job), so uploads cannot fill the disk or the bucket."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import any_, delete, exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.errors import TooManyAttempts
from cars.models import ConditionReport, PhotoUpload
from core.redis import count_in_window
from core.storage import Storage

KEPT_UNREFERENCED = timedelta(days=1)


class PhotoQuotaExceeded(TooManyAttempts):
    code = "photo_quota_exceeded"


async def take_turn(redis: Redis, *, account_id: uuid.UUID, per_day: int, now: datetime) -> None:
    """Count an upload of the account today (UTC); refuse beyond `per_day`, before anything is stored."""
    key = f"maeul:photo-uploads:{account_id}:{now.date().isoformat()}"
    taken, _ = await count_in_window(redis, key, 2 * 24 * 3600)  # the day's key, kept past its day
    if taken > per_day:
        tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
        retry_after = max(int((tomorrow - now).total_seconds()), 1)
        raise PhotoQuotaExceeded(
            f"at most {per_day} photos a day per account; try again tomorrow", extra={"retry_after_s": retry_after}
        )


async def record(session: AsyncSession, *, key: str, account_id: uuid.UUID, size: int, now: datetime) -> None:
    """On record (uploaded again: its day starts again, so a photo about to be named is not removed meanwhile)."""
    statement = insert(PhotoUpload).values(key=key, account_id=account_id, size_bytes=size, created_at=now)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[PhotoUpload.key], set_={"created_at": statement.excluded.created_at}
        )
    )


async def prune(session: AsyncSession, storage: Storage, *, now: datetime, batch: int = 500) -> int:
    """Remove photos no condition report names, uploaded more than a day ago; how many."""
    named = exists().where(PhotoUpload.key == any_(ConditionReport.photos))
    stale = await session.scalars(
        select(PhotoUpload.key)
        .where(PhotoUpload.created_at < now - KEPT_UNREFERENCED, ~named)
        .order_by(PhotoUpload.created_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    keys = list(stale)
    for key in keys:
        await storage.delete(key)
    if keys:
        await session.execute(delete(PhotoUpload).where(PhotoUpload.key.in_(keys)))
    return len(keys)
