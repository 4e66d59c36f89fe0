"""The background worker (arq on Redis): every job of every domain, and what they share (built at start-up)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import httpx
import structlog
from arq import cron
from arq.connections import RedisSettings

from accounts import service as accounts
from billing.dynamic import reprice
from cars import photos, rebooking
from cars.rules import CarRules
from core import idempotency, outbox, storage
from core.clock import SystemClock
from core.db import make_engine, make_sessionmaker
from core.mail import channel_for
from core.metrics import observed_job
from core.pools import solver_pool
from core.redis import claim, make_redis, redis_url
from core.settings import Settings, get_settings
from ledger.chain import Chain
from ledger.jobs import anchor_tree_heads, publish_tree_head
from ledger.signing import signer_for
from mobility import feeds, live
from mobility.ingest import mark_silent, prepare_telemetry
from mobility.park_and_ride import follow_bookings
from mobility.reservations import expire_reservations
from mobility.rules import FleetRules
from ops import crew, shuttle, valet
from parking.allocation import Solving, run_batch
from parking.policy import BookingPolicy
from sim.fleet import FleetSimulator

log = structlog.get_logger("maeul.worker")
EVERY_SECOND = set(range(60))


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    ctx["cache"] = make_redis(settings)  # decoded client (arq keeps ctx["redis"] for its own pool)
    await claim(ctx["cache"], settings)  # one Redis database per deployment: its job queue is this worker's alone
    engine = make_engine(settings)
    private_key = settings.chain_private_key.get_secret_value() if settings.chain_private_key else None
    ctx.update(
        settings=settings,
        engine=engine,
        sessionmaker=make_sessionmaker(engine),
        signer=signer_for(settings),
        chain=Chain.connect(settings.chain_endpoint(), private_key=private_key),
        photos=storage.configured(settings),
        notifications=channel_for(settings),
        clock=ctx.get("clock") or SystemClock(),
        pool=solver_pool(),
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    """Close what start-up opened: all of it, or what it had opened when it stopped (arq shuts down either way)."""
    if "chain" in ctx:
        await ctx["chain"].close()
    if "cache" in ctx:
        await ctx["cache"].aclose()
    if "simulator_http" in ctx:
        await ctx["simulator_http"].aclose()
    if "engine" in ctx:
        await ctx["engine"].dispose()
    if "pool" in ctx:
        ctx["pool"].shutdown(wait=False, cancel_futures=True)


async def match_batch(ctx: dict[str, Any]) -> dict[str, Any]:
    """Match every pending request for parking later (on a schedule, and on demand from POST /matching/runs)."""
    settings: Settings = ctx["settings"]
    solving = Solving.from_settings(settings, pool=ctx["pool"])
    async with ctx["sessionmaker"]() as session:
        report = await run_batch(
            session, policy=BookingPolicy.from_settings(settings), solving=solving, now=ctx["clock"].now()
        )
        await session.commit()
    outcome = asdict(report)
    if report.considered or report.expired:
        log.info("batch matched", **outcome)
    return outcome


async def reprice_zones(ctx: dict[str, Any]) -> int:
    """Dynamic pricing: recompute every zone's hourly price multipliers from occupancy."""
    settings: Settings = ctx["settings"]
    async with ctx["sessionmaker"]() as session:
        written = await reprice(session, now=ctx["clock"].now(), timezone=settings.local_timezone)
        await session.commit()
    return written


async def fleet_upkeep(ctx: dict[str, Any]) -> dict[str, int]:
    """Free expired reservations, let park-and-ride legs follow bookings that ended by the clock, mark silent
    vehicles non_contactable or missing, rebuild the live index."""
    settings: Settings = ctx["settings"]
    now = ctx["clock"].now()
    rules = FleetRules.from_settings(settings)
    async with ctx["sessionmaker"]() as session:
        expired = await expire_reservations(session, now=now)
        held = await follow_bookings(session, rules=rules, policy=BookingPolicy.from_settings(settings), now=now)
        silent = await mark_silent(session, rules=rules, now=now)
        await session.commit()
        placed = await live.rebuild(ctx["cache"], session)
    return {"reservations_expired": expired, "last_legs_held": len(held), **silent, "live_vehicles": placed}


async def car_upkeep(ctx: dict[str, Any]) -> int:
    """Happiness cars still out after their booking's end that threaten the next booking: open its rebooking offer
    and an operator task (once each)."""
    async with ctx["sessionmaker"]() as session:
        opened = await rebooking.check_late(
            session, rules=CarRules.from_settings(ctx["settings"]), now=ctx["clock"].now()
        )
        await session.commit()
    return opened


async def refresh_gbfs(ctx: dict[str, Any]) -> None:
    """Rebuild the GBFS feeds into their cache (served feeds are never older than 60 s)."""
    settings: Settings = ctx["settings"]
    async with ctx["sessionmaker"]() as session:
        await feeds.refresh(
            session,
            ctx["cache"],
            now=ctx["clock"].now(),
            ttl=settings.gbfs_ttl_seconds,
            timezone=settings.local_timezone,
        )


async def telemetry_partitions(ctx: dict[str, Any]) -> None:
    """Create tomorrow's telemetry partitions ahead; drop those past retention."""
    settings: Settings = ctx["settings"]
    async with ctx["sessionmaker"]() as session:
        await prepare_telemetry(session, now=ctx["clock"].now(), retention_days=settings.telemetry_retention_days)
        await session.commit()


async def prune_revoked_tokens(ctx: dict[str, Any]) -> int:
    """Forget sign-outs of tokens that have expired anyway."""
    async with ctx["sessionmaker"]() as session:
        pruned = await accounts.prune_revoked_tokens(session, now=ctx["clock"].now())
        await session.commit()
    return pruned


async def prune_photos(ctx: dict[str, Any]) -> int:
    """Remove condition-report photos no report names a day after their upload (cars.photos), from storage too."""
    async with ctx["sessionmaker"]() as session:
        removed = await photos.prune(session, ctx["photos"], now=ctx["clock"].now())
        await session.commit()
    return removed


async def prune_idempotency_keys(ctx: dict[str, Any]) -> int:
    """Forget idempotency keys older than a day (core.idempotency.KEPT)."""
    async with ctx["sessionmaker"]() as session:
        pruned = await idempotency.prune(session, now=ctx["clock"].now())
        await session.commit()
    return pruned


async def deliver_notifications(ctx: dict[str, Any]) -> int:
    """Send the outbox's pending notifications (fire-lane alerts, password-reset codes, ...): e-mail over SMTP when
    `MAEUL_SMTP_HOST` is set and the notification has an address, else the log."""
    async with ctx["sessionmaker"]() as session:
        delivered = await outbox.deliver_pending(session, ctx["notifications"], now=ctx["clock"].now())
        await session.commit()
    return delivered


SIMULATION_TICK_S = 10


async def simulate_fleet(ctx: dict[str, Any]) -> int:
    """Demo only (`MAEUL_DEMO_SIMULATED_RIDES` > 0): ride a few vehicles around, posting their telemetry to the API."""
    settings: Settings = ctx["settings"]
    if "simulator" not in ctx:
        ctx["simulator"] = FleetSimulator(
            rides=settings.demo_simulated_rides,
            api_url=f"http://{settings.api_host}:{settings.api_port}",
            tick_s=SIMULATION_TICK_S,
        )
        ctx["simulator_http"] = httpx.AsyncClient(timeout=5)
    async with ctx["sessionmaker"]() as session:
        posted: int = await ctx["simulator"].tick(
            session, ctx["simulator_http"], rules=FleetRules.from_settings(settings), now=ctx["clock"].now()
        )
    return posted


async def replan_valets(ctx: dict[str, Any]) -> dict[str, int]:
    """Re-optimise the valets' day: every open valet task over the valets on shift (tasks under way stay put)."""
    async with ctx["sessionmaker"]() as session:
        planned = await valet.plan(
            session, rules=valet.ValetRules.from_settings(ctx["settings"]), pool=ctx["pool"], now=ctx["clock"].now()
        )
        await session.commit()
    outcome = {
        "valets": len(planned.routes),
        "planned": len({stop.job_id for route in planned.routes for stop in route}),
        "unassigned": len(planned.unserved),
    }
    if outcome["planned"] or outcome["unassigned"]:
        log.info("valets re-planned", **outcome)
    return outcome


async def replan_crews(ctx: dict[str, Any]) -> dict[str, int]:
    """New rebalancing and battery-swap tours for the crew on shift who are not on one."""
    async with ctx["sessionmaker"]() as session:
        planned = await crew.plan(
            session, rules=crew.CrewRules.from_settings(ctx["settings"]), pool=ctx["pool"], now=ctx["clock"].now()
        )
        await session.commit()
    outcome = {"crew": planned.crew_planned, "tasks": len(planned.tasks), "unmet_after": planned.score.unmet_units}
    if planned.tasks:
        log.info("crew tours planned", **outcome)
    return outcome


async def reoptimise_shuttles(ctx: dict[str, Any]) -> dict[str, int]:
    """Re-optimise the pick-up ride vans' routes from the routes in force (stops under way stay put)."""
    async with ctx["sessionmaker"]() as session:
        planned = await shuttle.reoptimise(
            session,
            rules=shuttle.ShuttleRules.from_settings(ctx["settings"]),
            pool=ctx["pool"],
            now=ctx["clock"].now(),
        )
        await session.commit()
    outcome = {"drivers": planned.drivers_on_shift, "planned": planned.planned, "unassigned": len(planned.unserved)}
    if planned.planned or planned.unserved:
        log.info("shuttle routes re-optimised", **outcome)
    return outcome


JOBS = [
    publish_tree_head,
    anchor_tree_heads,
    match_batch,
    reprice_zones,
    fleet_upkeep,
    car_upkeep,
    refresh_gbfs,
    telemetry_partitions,
    prune_revoked_tokens,
    prune_photos,
    deliver_notifications,
    simulate_fleet,
    replan_valets,
    replan_crews,
    reoptimise_shuttles,
]


def worker_settings(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of `arq.Worker`."""
    every = settings.matching_batch_every_seconds
    return {
        "functions": [observed_job(job) for job in JOBS],
        "cron_jobs": [
            cron(observed_job(publish_tree_head), second=EVERY_SECOND, run_at_startup=True, unique=True),
            cron(observed_job(anchor_tree_heads), second=EVERY_SECOND, run_at_startup=True, unique=True),
            cron(
                observed_job(match_batch), second=set(range(0, 60, min(every, 60))) if every < 60 else {0}, unique=True
            ),
            cron(
                observed_job(reprice_zones), minute=set(range(0, 60, 5)), second={30}, run_at_startup=True, unique=True
            ),
            cron(observed_job(fleet_upkeep), second={15, 45}, run_at_startup=True, unique=True),
            cron(observed_job(car_upkeep), second={25}, run_at_startup=True, unique=True),
            cron(observed_job(refresh_gbfs), second=set(range(0, 60, 10)), run_at_startup=True, unique=True),
            cron(observed_job(telemetry_partitions), minute={5}, second={0}, run_at_startup=True, unique=True),
            cron(observed_job(prune_revoked_tokens), minute={35}, second={0}, unique=True),
            cron(observed_job(prune_photos), minute={45}, second={0}, unique=True),
            cron(observed_job(prune_idempotency_keys), minute={37}, second={0}, unique=True),
            cron(observed_job(deliver_notifications), second=set(range(0, 60, 5)), unique=True),
            cron(observed_job(replan_valets), minute=set(range(0, 60, 5)), second={20}, unique=True),
            cron(observed_job(replan_crews), minute={10, 40}, second={40}, unique=True),
            cron(observed_job(reoptimise_shuttles), minute=set(range(2, 60, 5)), second={50}, unique=True),
        ]
        + (
            [cron(observed_job(simulate_fleet), second=set(range(0, 60, SIMULATION_TICK_S)), unique=True)]
            if settings.demo_simulated_rides
            else []
        ),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": RedisSettings.from_dsn(redis_url(settings)),
        "ctx": {"settings": settings},
        "handle_signals": False,
    }
