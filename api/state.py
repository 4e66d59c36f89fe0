"""Typed application state, built once in the lifespan (or by tests) and read by dependencies."""

from __future__ import annotations

import hashlib
from concurrent.futures import Executor
from dataclasses import dataclass

from arq.connections import ArqRedis
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from billing.gateway import PaymentGateway, gateway_for
from core.clock import Clock, SystemClock
from core.db import make_engine, make_sessionmaker
from core.pools import solver_pool
from core.ratelimit import RateLimits
from core.redis import make_redis
from core.settings import Settings
from core.storage import Storage, configured
from ledger.signing import Signer, signer_for
from mobility.rules import FleetRules
from mobility.vehicles import TypeCodes
from ops.crew import CrewRules
from ops.shuttle import ShuttleRules
from ops.valet import ValetRules
from parking.allocation import Solving
from parking.policy import BookingPolicy


def key_id(secret: str) -> str:
    """A JWT signing key's id (in each token's header): which secret to verify with, during a rotation."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class TokenKeys:
    """The secret that signs new tokens, and every secret still accepted, by key id."""

    current: str
    accepted: dict[str, str]

    @classmethod
    def of(cls, current: str, retired: list[str]) -> TokenKeys:
        return cls(current=current, accepted={key_id(secret): secret for secret in [current, *retired]})


@dataclass(slots=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis
    clock: Clock
    policy: BookingPolicy
    fleet: FleetRules
    valet: ValetRules
    crew: CrewRules
    shuttle: ShuttleRules
    type_codes: TypeCodes
    token_keys: TokenKeys
    rate_limits: RateLimits
    signer: Signer
    solver_pool: Executor
    photos: Storage  # condition-report photos: a local directory, or an S3-compatible bucket
    payments: PaymentGateway  # confirms top-ups (billing/gateway.py)
    jobs: ArqRedis | None = None  # arq queue, opened on first use

    def matching(self) -> Solving:
        """How parking's matching solver runs for a request: in the solver pool, with the configured limits."""
        return Solving.from_settings(self.settings, pool=self.solver_pool)


def build_state(settings: Settings, *, clock: Clock | None = None, database_url: str | None = None) -> AppState:
    engine = make_engine(settings, url=database_url)
    redis = make_redis(settings)
    return AppState(
        settings=settings,
        engine=engine,
        sessionmaker=make_sessionmaker(engine),
        redis=redis,
        rate_limits=RateLimits(settings, redis.connection_pool),
        clock=clock or SystemClock(),
        policy=BookingPolicy.from_settings(settings),
        fleet=FleetRules.from_settings(settings),
        valet=ValetRules.from_settings(settings),
        crew=CrewRules.from_settings(settings),
        shuttle=ShuttleRules.from_settings(settings),
        type_codes=TypeCodes(),
        solver_pool=solver_pool(),
        token_keys=TokenKeys.of(
            settings.signing_secret(), [secret.get_secret_value() for secret in settings.jwt_retired_secrets]
        ),
        signer=signer_for(settings),
        payments=gateway_for(settings),
        photos=configured(settings),
    )


async def close_state(state: AppState) -> None:
    if state.jobs is not None:
        await state.jobs.aclose()
    state.solver_pool.shutdown(wait=False, cancel_futures=True)
    await state.payments.aclose()
    await state.redis.aclose()
    await state.engine.dispose()
