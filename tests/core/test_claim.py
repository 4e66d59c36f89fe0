"""One Redis database per deployment: the first process of a deployment claims it; a process of another maeul
database is refused, told what to do, and never shown a password."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from core.redis import CLAIM_KEY, RedisServesAnother, claim
from core.settings import Settings


async def test_a_redis_database_serves_one_deployment(settings: Settings, redis: Redis) -> None:
    await claim(redis, settings)
    await claim(redis, settings)  # the same deployment again: another worker, a restart
    mine = await redis.get(CLAIM_KEY)
    other = settings.model_copy(update={"database_url": "postgresql+asyncpg://u:secret@db.example:5432/elsewhere"})
    with pytest.raises(RedisServesAnother) as refused:
        await claim(redis, other)
    message = str(refused.value)
    assert f"serves the maeul database {mine}, not db.example:5432/elsewhere" in message
    assert "MAEUL_REDIS_URL" in message and "secret" not in message
    assert await redis.get(CLAIM_KEY) == mine  # nothing taken over
    await redis.delete(CLAIM_KEY)  # freed, as the message says
    await claim(redis, other)
    assert await redis.get(CLAIM_KEY) == "db.example:5432/elsewhere"
