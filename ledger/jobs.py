"""Background jobs of the ledger (run by the arq worker, `jobs`): publish signed tree heads, anchor them."""

from __future__ import annotations

import contextlib
from typing import Any

import structlog
from redis.exceptions import LockError

from core.settings import Settings
from ledger import anchoring
from ledger import log as ledger
from ledger.chain import CHAIN_TIMEOUT_S

log = structlog.get_logger("maeul.worker")


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


ANCHORING_LOCK = "maeul:anchoring"


async def anchor_tree_heads(ctx: dict[str, Any]) -> int | None:
    """Anchor the due tree head. One run at a time across every worker (a Redis lock): the job is scheduled every
    second, and while the chain is slow or silent each run can wait out its timeout; the others return at once
    instead of piling up and filling the worker's job slots. The chain's own back-off is the anchor job's
    `next_attempt_at`."""
    settings: Settings = ctx["settings"]
    lock = ctx["cache"].lock(ANCHORING_LOCK, timeout=4 * CHAIN_TIMEOUT_S)
    if not await lock.acquire(blocking=False):
        log.debug("anchoring: another run is at it")
        return None
    try:
        async with ctx["sessionmaker"]() as session:
            anchor = await anchoring.anchor_pending(
                session, ctx["chain"], now=ctx["clock"].now(), max_backoff_s=settings.anchor_max_backoff_seconds
            )
            await session.commit()
    finally:
        with contextlib.suppress(LockError):  # held past its timeout: released already
            await lock.release()
    if anchor is not None:
        log.info("tree head anchored", size=anchor.tree_size, tx=anchor.tx_hash, block=anchor.block_number)
    return anchor.tree_size if anchor else None
