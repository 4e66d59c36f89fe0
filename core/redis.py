"""Redis client construction, and the rule of one Redis database per deployment."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.engine import make_url

from core.db import database_url
from core.settings import Settings

CLAIM_KEY = "maeul:database"  # the address of the maeul database this Redis database serves


class RedisServesAnother(RuntimeError):
    """This Redis database already serves another maeul database."""


def redis_url(settings: Settings) -> str:
    if settings.redis_url is not None:
        return settings.redis_url
    return f"redis://127.0.0.1:{settings.redis_port}/0"


def redis_database(settings: Settings, number: int) -> str:
    """The URL of database `number` on the Redis server the settings point at (the local one by default): another
    deployment on the same server needs a database of its own (`claim`)."""
    return urlunsplit(urlsplit(redis_url(settings))._replace(path=f"/{number}"))


def make_redis(settings: Settings) -> Redis:
    # a Redis that stops answering (packets dropped, not refused) must not hang requests: every call gives up after
    # `redis_timeout_s`, and what needs Redis degrades as documented
    client: Redis = Redis.from_url(
        redis_url(settings),
        decode_responses=True,
        socket_connect_timeout=settings.redis_timeout_s,
        socket_timeout=settings.redis_timeout_s,
    )
    return client


def deployment(settings: Settings) -> str:
    """The maeul database's address (host, port, name; never credentials)."""
    url = make_url(database_url(settings))
    return f"{url.host}:{url.port}/{url.database}"


async def claim(redis: Redis, settings: Settings) -> None:
    """Hold this Redis database for this deployment, or refuse to start. The worker's job queue, the live fleet
    index and the feeds' cache live in it: two deployments on one would share them, and each worker would run the
    other's scheduled jobs against its own database. The first process to start writes its database's address;
    a process of another database gets `RedisServesAnother`, saying what to do."""
    mine = deployment(settings)
    for attempt in range(6):  # a process starting beside others may wait past the 1 s timeout for its first answer
        try:
            await redis.ping()
            break
        except (RedisTimeoutError, RedisConnectionError):
            if attempt == 5:
                raise
            await asyncio.sleep(0.25 * 2**attempt)
    while not await redis.set(CLAIM_KEY, mine, nx=True):
        theirs = await redis.get(CLAIM_KEY)
        if theirs == mine:
            return
        if theirs is not None:
            where = make_url(redis_url(settings)).render_as_string(hide_password=True)
            raise RedisServesAnother(
                f"the Redis database {where} serves the maeul database {theirs}, not {mine}: give each deployment "
                f"a Redis database of its own (MAEUL_REDIS_URL=redis://host:port/<another number>), or, if {theirs} "
                f"is gone for good, free this one (`redis-cli -n <number> del {CLAIM_KEY}`)"
            )


async def count_in_window(redis: Redis, key: str, window_s: int) -> tuple[int, int]:
    """Count one more event under `key`, in a window of `window_s` from the first one (in one atomic step: concurrent
    callers each get their own number); the count so far and the seconds the window has left."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, window_s, nx=True)
        pipe.ttl(key)
        count, _, ttl = await pipe.execute()
    return int(count), int(ttl)
