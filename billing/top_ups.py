"""Wallet top-ups: the driver opens an order, pays it in the gateway's payment window, and the service confirms the
payment with the gateway; the wallet is credited once, on the gateway's confirmation, never on the driver's word.

`pending` -> `confirmed` (credited; a repeated confirm of the same payment answers the same, crediting nothing),
`failed` (the gateway refused: nothing charged, nothing credited) or `cancelled` (the driver gave up). A gateway that
does not answer leaves the order pending: the confirm may be sent again (the gateway's idempotency key is the order
id, and a payment it has already processed is looked up, so a crash between its answer and our commit loses nothing).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.errors import InvalidAmount
from billing.gateway import PaymentGateway, PaymentRefused
from billing.models import TopUp, TopUpStatus
from billing.wallet import Wallet, check_top_up
from core.errors import Conflict, NotFound

MAX_PENDING = 10  # open orders of one account in a day: an order is cheap to make, the table is not endless


class TopUpNotFound(NotFound):
    code = "top_up_not_found"


class TopUpClosed(Conflict):
    code = "top_up_closed"


class TooManyPendingTopUps(Conflict):
    code = "too_many_pending_top_ups"


async def open_order(session: AsyncSession, *, account_id: uuid.UUID, amount: int, now: datetime) -> TopUp:
    check_top_up(amount)
    pending = await session.scalar(
        select(func.count())
        .select_from(TopUp)
        .where(
            TopUp.account_id == account_id,
            TopUp.status == TopUpStatus.PENDING,
            TopUp.created_at > now - timedelta(days=1),
        )
    )
    if (pending or 0) >= MAX_PENDING:
        raise TooManyPendingTopUps(
            f"{MAX_PENDING} top-ups are waiting for their payment: confirm or cancel one first",
            extra={"pending": pending},
        )
    top_up = TopUp(account_id=account_id, amount_krw=amount, status=TopUpStatus.PENDING, created_at=now)
    session.add(top_up)
    await session.flush()
    return top_up


async def own(session: AsyncSession, *, account_id: uuid.UUID, top_up_id: uuid.UUID, lock: bool = False) -> TopUp:
    """The account's top-up (another account's is not found, like one that does not exist)."""
    found = await session.get(TopUp, top_up_id, with_for_update=lock, populate_existing=lock)
    if found is None or found.account_id != account_id:
        raise TopUpNotFound(f"top-up {top_up_id} not found")
    return found


async def confirm(
    session: AsyncSession,
    gateway: PaymentGateway,
    *,
    account_id: uuid.UUID,
    top_up_id: uuid.UUID,
    payment_key: str,
    amount: int,
    now: datetime,
) -> TopUp:
    """Confirm the order's payment with the gateway and credit the wallet; a refusal is recorded on the order (status
    `failed`) and returned, for the caller to commit before it answers."""
    top_up = await own(session, account_id=account_id, top_up_id=top_up_id, lock=True)  # one confirm at a time
    if top_up.status == TopUpStatus.CONFIRMED and top_up.payment_key == payment_key:
        return top_up
    if top_up.status != TopUpStatus.PENDING:
        raise TopUpClosed(f"the top-up is {top_up.status}", extra={"status": top_up.status})
    if amount != top_up.amount_krw:
        raise InvalidAmount(
            "the amount paid is not the order's: nothing was confirmed",
            extra={"amount_krw": amount, "order_amount_krw": top_up.amount_krw},
        )
    try:
        paid = await gateway.confirm(payment_key=payment_key, order_id=str(top_up.id), amount=top_up.amount_krw)
    except PaymentRefused as refused:
        top_up.status, top_up.closed_at = TopUpStatus.FAILED, now
        top_up.failure_code = str(refused.extra.get("gateway_code", "REFUSED"))[:64]
        top_up.failure_message = refused.detail[:300]
        return top_up
    await Wallet().top_up(session, account_id=account_id, amount=paid.amount, now=now, reference=f"top_up:{top_up.id}")
    top_up.status, top_up.payment_key, top_up.method = TopUpStatus.CONFIRMED, paid.payment_key, paid.method[:40]
    top_up.confirmed_at = top_up.closed_at = now
    return top_up


async def cancel(session: AsyncSession, *, account_id: uuid.UUID, top_up_id: uuid.UUID, now: datetime) -> TopUp:
    """The driver gave up on paying: the order closes (again: the same answer)."""
    top_up = await own(session, account_id=account_id, top_up_id=top_up_id, lock=True)
    if top_up.status == TopUpStatus.CANCELLED:
        return top_up
    if top_up.status != TopUpStatus.PENDING:
        raise TopUpClosed(f"the top-up is {top_up.status}", extra={"status": top_up.status})
    top_up.status, top_up.closed_at = TopUpStatus.CANCELLED, now
    return top_up


async def of_account(session: AsyncSession, account_id: uuid.UUID, *, limit: int, offset: int) -> list[TopUp]:
    """Newest first; `limit + 1` rows (the extra one tells a next page exists)."""
    found = await session.scalars(
        select(TopUp)
        .where(TopUp.account_id == account_id)
        .order_by(TopUp.created_at.desc(), TopUp.id)
        .limit(limit + 1)
        .offset(offset)
    )
    return list(found)
