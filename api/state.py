"""Typed application state, built once in the lifespan (or by tests) and read by dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import Clock, SystemClock
from core.db import make_engine, make_sessionmaker
from core.redis import make_redis
from core.settings import Settings
from ledger.signing import Signer, signer_for
from parking.policy import BookingPolicy


@dataclass(slots=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis
    clock: Clock
    policy: BookingPolicy
    signing_secret: str
    signer: Signer


def booking_policy(settings: Settings) -> BookingPolicy:
    return BookingPolicy(
        timezone=settings.local_timezone,
        max_duration=timedelta(hours=settings.max_booking_hours),
        horizon=timedelta(days=settings.booking_horizon_days),
        early_check_in=timedelta(minutes=settings.early_check_in_minutes),
        no_show_grace=timedelta(minutes=settings.no_show_grace_minutes),
        overstay_grace=timedelta(minutes=settings.overstay_grace_minutes),
    )


def build_state(settings: Settings, *, clock: Clock | None = None, database_url: str | None = None) -> AppState:
    engine = make_engine(settings, url=database_url)
    return AppState(
        settings=settings,
        engine=engine,
        sessionmaker=make_sessionmaker(engine),
        redis=make_redis(settings),
        clock=clock or SystemClock(),
        policy=booking_policy(settings),
        signing_secret=settings.signing_secret(),
        signer=signer_for(settings),
    )


async def close_state(state: AppState) -> None:
    await state.redis.aclose()
    await state.engine.dispose()
