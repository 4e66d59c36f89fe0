"""Background jobs of the ledger, run by arq on Redis: publish signed tree heads, anchor them on the chain."""

from __future__ import annotations

from typing import Any

import structlog
from arq import cron
from arq.connections import RedisSettings

from core.clock import SystemClock
from core.db import make_engine, make_sessionmaker
from core.redis import redis_url
from core.settings import Settings, get_settings
from ledger import anchoring
from ledger import log as ledger
from ledger.chain import Chain
from ledger.signing import signer_for

log = structlog.get_logger("maeul.worker")


async def startup(ctx: dict[str, Any]) -> None:
    settings = ctx.get("settings") or get_settings()
    engine = make_engine(settings)
    private_key = settings.chain_private_key.get_secret_value() if settings.chain_private_key else None
    ctx.update(
        settings=settings,
        engine=engine,
        sessionmaker=make_sessionmaker(engine),
        signer=signer_for(settings),
        chain=Chain.connect(settings.chain_url, private_key=private_key),
        clock=ctx.get("clock") or SystemClock(),
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["chain"].close()
    await ctx["engine"].dispose()


async def publish_tree_head(ctx: dict[str, Any]) -> int | None:
    settings: Settings = ctx["settings"]
    async with ctx["sessionmaker"]() as session:
        head = await ledger.publish_tree_head(
            session,
            signer=ctx["signer"],
            now=ctx["clock"].now(),
            every_entries=settings.ledger_tree_head_every_entries,
            every_seconds=settings.ledger_tree_head_every_seconds,
        )
        await session.commit()
    if head is not None:
        log.info("tree head published", size=head.size, root=head.root.hex())
    return head.size if head else None


async def anchor_tree_heads(ctx: dict[str, Any]) -> int | None:
    settings: Settings = ctx["settings"]
    async with ctx["sessionmaker"]() as session:
        anchor = await anchoring.anchor_pending(
            session, ctx["chain"], now=ctx["clock"].now(), max_backoff_s=settings.anchor_max_backoff_seconds
        )
        await session.commit()
    if anchor is not None:
        log.info("tree head anchored", size=anchor.tree_size, tx=anchor.tx_hash, block=anchor.block_number)
    return anchor.tree_size if anchor else None


EVERY_SECOND = set(range(60))


def worker_settings(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of `arq.Worker` for the ledger jobs."""
    return {
        "functions": [publish_tree_head, anchor_tree_heads],
        "cron_jobs": [
            cron(publish_tree_head, second=EVERY_SECOND, run_at_startup=True, unique=True),
            cron(anchor_tree_heads, second=EVERY_SECOND, run_at_startup=True, unique=True),
        ],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": RedisSettings.from_dsn(redis_url(settings)),
        "ctx": {"settings": settings},
        "handle_signals": False,
    }
