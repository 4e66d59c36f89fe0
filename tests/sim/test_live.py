"""The demo's live village: a second start resumes where the first got to (the mark read back from Redis is text), it
says once when it has caught up with the wall clock, and a village process that dies is started again, with a log line
saying so."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from redis.asyncio import Redis

from core.clock import FixedClock
from core.settings import Settings
from sim import live
from tests.sim.dying_village import dies_at_once


async def test_a_second_start_resumes_from_the_mark_in_redis(redis: Redis):
    assert await live.resume_mark(redis) is None
    at = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
    await redis.set(live.REACHED, at.isoformat())
    assert await live.resume_mark(redis) == at


async def test_the_village_says_once_when_it_has_caught_up_with_the_wall_clock():
    real = FixedClock(datetime(2026, 12, 7, 12, tzinfo=UTC))
    told: list[datetime] = []

    async def caught_up(now: datetime) -> None:
        told.append(now)

    pace = live.CatchUp(real.now() - timedelta(hours=2), speedup=3_600_000, real=real, caught_up=caught_up)
    await pace.wait_for(real.now() - timedelta(hours=1))  # still behind the wall clock
    assert told == [] and not pace.caught_up
    await pace.wait_for(real.now() + timedelta(milliseconds=5))  # the wall clock holds it back: caught up
    await pace.wait_for(real.now() + timedelta(milliseconds=5))
    assert told == [real.now()] and pace.caught_up


async def test_a_village_process_that_dies_is_started_again_and_reported(settings: Settings, tmp_path: Path):
    starts = tmp_path / "starts"
    os.environ["MAEUL_TEST_VILLAGE_STARTS"] = str(starts)
    try:
        with structlog.testing.capture_logs() as logs:
            supervising = asyncio.create_task(live.supervise(settings, target=dies_at_once, restart_after_s=0.1))
            for _ in range(300):
                await asyncio.sleep(0.1)
                if starts.exists() and len(starts.read_text().splitlines()) >= 3:
                    break
            supervising.cancel()
            try:
                await supervising
            except asyncio.CancelledError:
                pass
    finally:
        del os.environ["MAEUL_TEST_VILLAGE_STARTS"]
    assert len(starts.read_text().splitlines()) >= 3
    died = [entry for entry in logs if entry["event"] == "demo village: its process died; starting it again"]
    assert died and died[0]["exitcode"] == 3 and died[0]["log_level"] == "error"
