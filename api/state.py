"""Typed application state, built once in the lifespan (or by tests) and read by dependencies."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

from arq.connections import ArqRedis
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import Clock, SystemClock
from core.db import make_engine, make_sessionmaker
from core.pools import solver_pool
from core.redis import make_redis
from core.settings import Settings
from ledger.signing import Signer, signer_for
from mobility.service import FleetRules, TypeCodes
from parking.policy import BookingPolicy


@dataclass(slots=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis
    clock: Clock
    policy: BookingPolicy
    fleet: FleetRules
    type_codes: TypeCodes
    signing_secret: str
    signer: Signer
    solver_pool: Executor
    jobs: ArqRedis | None = None  # arq queue, opened on first use


def build_state(settings: Settings, *, clock: Clock | None = None, database_url: str | None = None) -> AppState:
    engine = make_engine(settings, url=database_url)
    return AppState(
        settings=settings,
        engine=engine,
        sessionmaker=make_sessionmaker(engine),
        redis=make_redis(settings),
        clock=clock or SystemClock(),
        policy=BookingPolicy.from_settings(settings),
        fleet=FleetRules.from_settings(settings),
        type_codes=TypeCodes(),
        solver_pool=solver_pool(),
        signing_secret=settings.signing_secret(),
        signer=signer_for(settings),
    )


async def close_state(state: AppState) -> None:
    if state.jobs is not None:
        await state.jobs.aclose()
    state.solver_pool.shutdown(wait=False, cancel_futures=True)
    await state.redis.aclose()
    await state.engine.dispose()
