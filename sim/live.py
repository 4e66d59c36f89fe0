"""The demo's village: `maeul demo` plays the simulated Sangsalmi (the `maeul` scenario, the calibrated demand) of the
last day through the services on the demo's own database, so a newcomer sees the KPIs and the dashboards move.

Its clock starts a day before the wall clock (a demo started just after midnight has yesterday to show, not an empty
today) and runs `speedup` times faster until it has caught up with it (at 60, an hour of the village a minute), then
keeps pace with it: nothing it books lies in the future. Its cameras upload every simulated minute. Where it got to is
kept in Redis, so a demo started again goes on from there instead of booking the same hours twice.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock, FixedClock, SystemClock
from core.db import make_engine, make_sessionmaker
from core.errors import DomainError
from core.logging import configure_logging
from core.redis import make_redis
from core.settings import Settings
from parking.policy import BookingPolicy
from sim import calibration
from sim.runner import devices, service_market, week_of
from sim.sangsalmi import SEOUL, Assumptions
from sim.scenarios import Seen, play

log = structlog.get_logger("maeul.sim")
REACHED = "maeul:demo-simulation:reached"
CAUGHT_UP = "maeul:demo-simulation:caught-up"  # set once the village keeps the wall clock's pace


class CatchUp:
    """Simulated time from `start`, `speedup` times the wall clock's pace, never ahead of the real clock."""

    def __init__(
        self, start: datetime, *, speedup: float, real: Clock, caught_up: Callable[[datetime], Awaitable[None]]
    ) -> None:
        self.start, self.speedup, self.real, self.on_caught_up = start, speedup, real, caught_up
        self.began = time.monotonic()
        self.caught_up = False
        self.reached = start  # the step last waited for

    async def wait_for(self, at: datetime) -> None:
        """Until simulated time reaches `at`: when the sped-up clock has got there, and the real clock too (the first
        wait for the real clock is when the village has caught up: `caught_up` is awaited then)."""
        self.reached = at
        sped_up = (at - self.start).total_seconds() / self.speedup - (time.monotonic() - self.began)
        real = (at - self.real.now()).total_seconds()
        if real > 0 and not self.caught_up:
            self.caught_up = True
            await self.on_caught_up(self.real.now())
        if max(sped_up, real) > 0:
            await asyncio.sleep(max(sped_up, real))


async def resume_mark(redis: Redis) -> datetime | None:
    """Where an earlier run of the village got to, if one did (the client decodes: the mark is text)."""
    mark = await redis.get(REACHED)
    return datetime.fromisoformat(mark) if mark else None


async def _mark(redis: Redis, key: str, at: datetime) -> None:
    """A mark of the village in Redis (kept two days: an older one is of no use to a village playing the last day)."""
    await redis.set(key, at.isoformat(), ex=2 * 24 * 3600)


async def play_until_tonight(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], redis: Redis, *, real: Clock
) -> dict[str, Any]:
    """Play from a day ago, or from where an earlier run got to if that is later, until the end of today (local
    time); returns what was served."""
    assumptions = Assumptions.load()
    yesterday = real.now().astimezone(SEOUL).date() - timedelta(days=1)
    week = week_of(assumptions, calibration.load(), seed=yesterday.toordinal(), days=2, first_day=yesterday)
    reached = await resume_mark(redis)
    await redis.delete(CAUGHT_UP)  # until this run has caught up
    a_day_ago = real.now() - timedelta(days=1)
    start = max(a_day_ago, reached) if reached is not None else a_day_ago

    async def caught_up(now: datetime) -> None:
        await _mark(redis, CAUGHT_UP, now)
        log.info("demo village: caught up with the wall clock; from now on at its pace", at=now.isoformat())

    pace = CatchUp(start, speedup=settings.demo_simulation_speedup, real=real, caught_up=caught_up)
    clock = FixedClock(start)
    policy = BookingPolicy.from_settings(settings)
    async with sessions() as session:
        device = await devices(session, assumptions, plate_key=settings.plate_key(), now=real.now())
        market = await service_market(session, settings, assumptions, smart=True, policy=policy, funded_at=real.now())
        await session.commit()

        async def upload(now: datetime, seen: Seen) -> None:
            max_age = timedelta(hours=settings.device_event_max_age_hours)
            refused = await device.post(session, seen, now=real.now(), max_age=max_age)
            await _mark(redis, REACHED, now)
            log.info("demo village", at=now.isoformat(), entered=len(seen.entries), refused=refused)

        try:
            tally, _ = await play(
                week,
                market,
                set_clock=clock.set,
                upload=upload,
                pace=pace.wait_for,
                skip_before=start,
                upload_every=timedelta(minutes=1),
            )
        except DomainError:
            # the step that failed (say, an hour the operator left unpriced) is passed over when the day is tried
            # again: one bad step must not stall the village for good
            await _mark(redis, REACHED, pace.reached + timedelta(seconds=1))
            raise
    return {
        "from": start.isoformat(),
        "until": week.end.isoformat(),
        "needs": sum(tally.needs),
        "served": sum(tally.served),
    }


async def supervise(
    settings: Settings,
    *,
    target: Callable[[Settings], None] | None = None,
    restart_after_s: float = 5.0,
) -> None:
    """Run the village in a process of its own until cancelled; when it dies, say so in the log and start it again
    (after `restart_after_s`, doubling up to five minutes while it keeps dying): a dead village must never leave the
    dashboards stale with nothing said."""
    context = multiprocessing.get_context("spawn")
    deaths = 0
    while True:
        process = context.Process(target=target or main, args=(settings,), name="maeul-demo-village", daemon=True)
        process.start()
        started = time.monotonic()
        try:
            await asyncio.to_thread(process.join)  # a thread waits for the process; the event loop does not
        finally:
            if process.is_alive():  # cancelled: the demo is stopping
                process.terminate()
                process.join(timeout=10)
        deaths = 0 if time.monotonic() - started > 600 else deaths + 1  # it had run for a while: a fresh failure
        delay = min(300.0, restart_after_s * 2 ** (deaths - 1)) if deaths else restart_after_s
        log.error("demo village: its process died; starting it again", exitcode=process.exitcode, in_s=delay)
        await asyncio.sleep(delay)


def main(settings: Settings) -> None:
    """A process of its own for the demo's village (`maeul demo` starts it beside the API): its bookings and its
    matching never wait on, nor hold up, the API's event loop."""
    configure_logging(json=settings.env == "production")
    asyncio.run(run_forever(settings, real=SystemClock()))


async def run_forever(settings: Settings, *, real: Clock) -> None:
    """Day after day, until cancelled (`maeul demo` runs it beside the API and the worker); a failure is logged and
    the day tried again a minute later."""
    engine = make_engine(settings)
    redis = make_redis(settings)
    try:
        while True:
            try:
                played = await play_until_tonight(settings, make_sessionmaker(engine), redis, real=real)
                log.info("demo village: played until midnight", **played)
            except (OSError, SQLAlchemyError, RedisError, DomainError):
                log.exception("demo village: the simulated day failed; trying again in a minute")
                await asyncio.sleep(60)
    finally:
        await redis.aclose()
        await engine.dispose()
