"""Rate limits per signed-in account and per client address: the `limits` library, fixed windows counted in Redis
(on the API's own connection pool). When Redis cannot be reached the limits are not enforced (logged): parking and
rides go on, and counting resumes by itself when Redis is back."""

from __future__ import annotations

import math
import time

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter
from redis.asyncio import ConnectionPool

from core.redis import redis_url
from core.settings import Settings

log = structlog.get_logger("maeul.ratelimit")
SKIP_AFTER_FAILURE_S = 5.0  # a Redis that failed is not asked again for this long: one slow call, not one a request


class RateLimits:
    def __init__(self, settings: Settings, pool: ConnectionPool) -> None:
        self.storage = RedisStorage(
            f"async+{redis_url(settings)}",
            implementation="redispy",
            key_prefix="maeul:rate",
            connection_pool=pool,  # type: ignore[arg-type]  # documented; passed on to redis-py, typed too narrowly
        )
        self.limiter = FixedWindowRateLimiter(self.storage)
        self.per_account: RateLimitItem = parse(settings.rate_limit_per_account)
        self.per_address: RateLimitItem = parse(settings.rate_limit_per_address)
        self.skip_until = 0.0

    async def wait_s(self, *, address: str, account: str | None) -> int | None:
        """Seconds to wait when a limit is spent (the request is not counted further), None when allowed."""
        if time.monotonic() < self.skip_until:
            return None
        checks = [(self.per_address, "address", address)]
        if account is not None:
            checks.append((self.per_account, "account", account))
        try:
            for item, kind, who in checks:
                if not await self.limiter.hit(item, kind, who):
                    reset = (await self.limiter.get_window_stats(item, kind, who)).reset_time
                    return max(1, math.ceil(reset - time.time()))
        except Exception as error:  # any storage failure: serve rather than refuse everyone
            self.skip_until = time.monotonic() + SKIP_AFTER_FAILURE_S
            log.warning("rate limits not enforced: their Redis is unavailable", error=repr(error))
        return None
