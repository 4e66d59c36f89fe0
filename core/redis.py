"""Redis client construction."""

from __future__ import annotations

from redis.asyncio import Redis

from core.settings import Settings


def redis_url(settings: Settings) -> str:
    if settings.redis_url is not None:
        return settings.redis_url
    return f"redis://127.0.0.1:{settings.redis_port}/0"


def make_redis(settings: Settings) -> Redis:
    client: Redis = Redis.from_url(redis_url(settings), decode_responses=True)
    return client
