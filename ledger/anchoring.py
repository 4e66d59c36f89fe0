"""Anchoring signed tree heads on the chain, through an outbox the worker drains.

Publishing a tree head queues an `AnchorJob` in the same transaction. The worker anchors the newest pending tree
head (older pending ones are covered by it: consistency proofs link them) and retries failures with exponential
backoff, so a chain that is down or slow never blocks or loses a business transaction; it catches up when the chain
is back. A chain that was reset (no contract code at the known address, or a new genesis) gets a fresh contract and
the latest tree head again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.chain import Chain
from ledger.models import Anchor, AnchorJob, ChainDeployment, LedgerEntry, LedgerHead, TreeHead

log = structlog.get_logger("maeul.anchoring")


async def known_deployment(session: AsyncSession, chain: Chain) -> ChainDeployment | None:
    """The latest contract we deployed on this chain (same chain id and genesis), if any."""
    chain_id, genesis = await chain.identity()
    deployment: ChainDeployment | None = await session.scalar(
        select(ChainDeployment)
        .where(ChainDeployment.chain_id == chain_id, ChainDeployment.genesis_hash == genesis)
        .order_by(ChainDeployment.deployed_at.desc())
        .limit(1)
    )
    return deployment


async def current_deployment(session: AsyncSession, chain: Chain, *, now: datetime) -> ChainDeployment:
    """The contract to anchor to on this chain, deployed (again) when the chain does not have it."""
    known = await known_deployment(session, chain)
    if known is not None and await chain.has_contract(known.contract_address):
        return known
    chain_id, genesis = await chain.identity()
    address = await chain.deploy()
    deployment = ChainDeployment(chain_id=chain_id, genesis_hash=genesis, contract_address=address, deployed_at=now)
    session.add(deployment)
    latest = await session.scalar(select(func.max(TreeHead.size)))
    if latest is not None:  # a new or reset chain: the latest tree head must be anchored there again
        await session.execute(
            update(AnchorJob)
            .where(AnchorJob.tree_size == latest)
            .values(status="pending", next_attempt_at=now, attempts=0)
            .execution_options(synchronize_session=False)
        )
    await session.flush()
    log.info("anchoring contract deployed", chain_id=chain_id, address=address, reset=known is not None)
    return deployment


async def _due_job(session: AsyncSession, now: datetime) -> AnchorJob | None:
    return await session.scalar(
        select(AnchorJob)
        .where(AnchorJob.status == "pending", AnchorJob.next_attempt_at <= now)
        .order_by(AnchorJob.tree_size.desc())
        .limit(1)
        .with_for_update(skip_locked=True)
    )


async def anchor_pending(session: AsyncSession, chain: Chain, *, now: datetime, max_backoff_s: int) -> Anchor | None:
    """Anchor the newest due tree head; None when nothing is due or the chain failed (then retried later).

    With nothing queued it still checks that the chain has kept the contract (a reset chain gets the latest tree
    head again)."""
    job = await _due_job(session, now)
    if job is None:
        if await session.scalar(select(func.count()).select_from(Anchor)) == 0:
            return None
        try:
            await current_deployment(session, chain, now=now)
        except Exception as error:  # noqa: BLE001 - an unreachable chain is retried next run
            log.warning("chain unreachable", error=f"{type(error).__name__}: {error}"[:300])
            return None
        job = await _due_job(session, now)
        if job is None:
            return None
    head = await session.get(TreeHead, job.tree_size)
    assert head is not None
    try:
        deployment = await current_deployment(session, chain, now=now)
        on_chain = await chain.latest(deployment.contract_address)
        if on_chain.size >= head.size and await chain.root_at(deployment.contract_address, head.size) == head.root:
            tx_hash, block = "0x", 0  # already there (an earlier attempt's transaction went through)
        else:
            tx_hash, block = await chain.anchor(deployment.contract_address, head.size, head.root)
    except Exception as error:  # noqa: BLE001 - any failure of the chain is retried, never lost
        job.attempts += 1
        job.next_attempt_at = now + timedelta(seconds=min(2**job.attempts, max_backoff_s))
        job.last_error = f"{type(error).__name__}: {error}"[:1000]
        log.warning(
            "anchoring failed; will retry", tree_size=job.tree_size, attempts=job.attempts, error=job.last_error
        )
        await session.flush()
        return None
    anchor = Anchor(
        deployment_id=deployment.id,
        tree_size=head.size,
        root=head.root,
        tx_hash=tx_hash,
        block_number=block,
        anchored_at=now,
    )
    session.add(anchor)
    job.status, job.last_error = "done", None
    await session.execute(
        update(AnchorJob)
        .where(AnchorJob.status == "pending", AnchorJob.tree_size < head.size)
        .values(status="superseded")
    )
    await session.flush()
    return anchor


@dataclass(frozen=True, slots=True)
class AnchoringStatus:
    log_size: int
    latest_tree_head_size: int
    anchored_size: int
    entries_not_anchored: int
    seconds_not_anchored: float
    chain_id: int | None
    contract_address: str | None
    pending_attempts: int
    last_error: str | None


async def status(session: AsyncSession, *, now: datetime) -> AnchoringStatus:
    """How far anchoring lags behind the log: entries and seconds not yet anchored on the current contract."""
    log_size = int(await session.scalar(select(LedgerHead.size).where(LedgerHead.id == 1)) or 0)
    latest_head = int(await session.scalar(select(func.coalesce(func.max(TreeHead.size), 0))) or 0)
    deployment = await session.scalar(select(ChainDeployment).order_by(ChainDeployment.deployed_at.desc()).limit(1))
    anchored = 0
    if deployment is not None:
        anchored = int(
            await session.scalar(
                select(func.coalesce(func.max(Anchor.tree_size), 0)).where(Anchor.deployment_id == deployment.id)
            )
            or 0
        )
    oldest = await session.scalar(select(LedgerEntry.created_at).where(LedgerEntry.leaf_index == anchored))
    pending = await session.scalar(
        select(AnchorJob).where(AnchorJob.status == "pending").order_by(AnchorJob.tree_size.desc()).limit(1)
    )
    return AnchoringStatus(
        log_size=log_size,
        latest_tree_head_size=latest_head,
        anchored_size=anchored,
        entries_not_anchored=log_size - anchored,
        seconds_not_anchored=max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0,
        chain_id=deployment.chain_id if deployment else None,
        contract_address=deployment.contract_address if deployment else None,
        pending_attempts=pending.attempts if pending else 0,
        last_error=pending.last_error if pending else None,
    )
