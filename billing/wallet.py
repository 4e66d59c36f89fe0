"""The prepaid wallet on the journal: holds, captures with their splits, releases, refunds, payouts.

Money enters a wallet only as a payment the gateway has confirmed (`billing/top_ups.py` over `billing/gateway.py`);
no request of a resident credits a wallet by itself.

Money owed: a ride, stay or car trip always ends. What its final charge asks beyond the hold comes from the wallet,
and what the wallet cannot cover becomes a receivable (`owed:<account>`, below zero by what is owed) in the same
balanced journal transaction. An account that owes money can hold nothing new (402 `money_owed`) until a top-up
settles the debt: every top-up pays what is owed first.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing import journal
from billing.errors import HoldNotFound, InvalidAmount, MoneyOwed, RefundTooLarge
from billing.models import AccountBalance, PaymentHold
from billing.splits import split
from ledger.log import Receipt

MAX_TOP_UP_KRW = 1_000_000


def _positive(amount: int, what: str) -> None:
    if amount <= 0:
        raise InvalidAmount(f"{what} must be a positive number of KRW", extra={"amount_krw": amount})


def check_top_up(amount: int) -> None:
    """A top-up is a positive number of KRW up to `MAX_TOP_UP_KRW` (an order for one, and the credit it becomes)."""
    _positive(amount, "a top-up")
    if amount > MAX_TOP_UP_KRW:
        raise InvalidAmount(f"a top-up may be at most {MAX_TOP_UP_KRW:,} KRW", extra={"amount_krw": amount})


async def _hold(session: AsyncSession, hold_id: uuid.UUID) -> PaymentHold:
    found = await session.get(PaymentHold, hold_id, with_for_update=True, populate_existing=True)
    if found is None:
        raise HoldNotFound(f"payment hold {hold_id} not found")
    return found


class Wallet:
    """The built-in prepaid wallet."""

    async def top_up(
        self, session: AsyncSession, *, account_id: uuid.UUID, amount: int, now: datetime, reference: str | None = None
    ) -> int:
        """Credit the wallet with money paid in from outside: a confirmed gateway payment (`billing.top_ups`, its
        reference `top_up:<id>`), or the demo data's opening balances. Money owed is paid first, in the same
        transaction (from the top-up and what the wallet already holds)."""
        check_top_up(amount)
        settled = 0
        if await owed_krw(session, account_id):
            owed = -await journal.locked_balance(session, journal.owed(account_id))
            in_wallet = await journal.locked_balance(session, journal.wallet(account_id))
            settled = min(owed, amount + max(in_wallet, 0))
        await journal.post(
            session,
            kind="top_up",
            reference=reference or f"account:{account_id}",
            postings={
                journal.GATEWAY: -amount,
                journal.wallet(account_id): amount - settled,
                journal.owed(account_id): settled,
            },
            now=now,
        )
        return await journal.balance(session, journal.wallet(account_id))

    async def can_hold(self, session: AsyncSession, *, driver_id: uuid.UUID, amount: int) -> None:
        """Refuse (402 `insufficient_funds`) a hold the wallet could not make, before work that would be done for
        nothing (a solver run); the wallet's balance row stays locked to the transaction's end, so the hold that
        follows finds the money still there."""
        _positive(amount, "a hold")
        if owed := await owed_krw(session, driver_id):
            raise MoneyOwed(
                f"{owed:,} KRW is owed from an earlier trip: a top-up settles it first", extra={"owed_krw": owed}
            )
        await journal.require(session, journal.wallet(driver_id), amount, what="not enough money in the wallet")

    async def hold(
        self,
        session: AsyncSession,
        *,
        driver_id: uuid.UUID,
        amount: int,
        booking_id: uuid.UUID | None,
        expires_at: datetime,
        now: datetime,
    ) -> PaymentHold:
        await self.can_hold(session, driver_id=driver_id, amount=amount)
        hold = PaymentHold(
            driver_id=driver_id,
            booking_id=booking_id,
            amount_krw=amount,
            captured_krw=0,
            released_krw=0,
            refunded_krw=0,
            expires_at=expires_at,
        )
        session.add(hold)
        await session.flush()
        await journal.post(
            session,
            kind="hold",
            reference=f"hold:{hold.id}",
            postings={journal.wallet(driver_id): -amount, journal.hold_account(driver_id): amount},
            now=now,
        )
        return hold

    async def capture(
        self, session: AsyncSession, *, hold_id: uuid.UUID, amount: int, shares: Mapping[str, int], now: datetime
    ) -> dict[str, int]:
        """Charge `amount` from the hold, splitting it by `shares` (account -> basis points). Beyond what is held,
        the rest comes from the wallet (e.g. an overstay), and what the wallet cannot cover is owed: a capture never
        fails for want of money, so a trip always ends. Returns the split."""
        hold = await _hold(session, hold_id)
        if amount < 0:
            raise InvalidAmount("a capture cannot be negative")
        remaining = hold.amount_krw - hold.captured_krw - hold.released_krw
        from_hold = min(amount, remaining)
        extra = amount - from_hold
        in_wallet = await journal.locked_balance(session, journal.wallet(hold.driver_id)) if extra else 0
        from_wallet = min(extra, max(in_wallet, 0))
        owed = extra - from_wallet
        parts = split(amount, shares)
        postings: dict[str, int] = {
            journal.hold_account(hold.driver_id): -from_hold,
            journal.wallet(hold.driver_id): -from_wallet,
            journal.owed(hold.driver_id): -owed,
        }
        for account, part in parts.items():
            postings[account] = postings.get(account, 0) + part
        hold.captured_krw += amount
        hold.amount_krw += extra  # what was taken beyond the hold counts as held and captured at once
        await journal.post(session, kind="capture", reference=f"hold:{hold.id}", postings=postings, now=now)
        await session.flush()
        return parts

    async def release(self, session: AsyncSession, *, hold_id: uuid.UUID, now: datetime) -> int:
        """Give back whatever is still held; returns the KRW released."""
        hold = await _hold(session, hold_id)
        remaining = hold.amount_krw - hold.captured_krw - hold.released_krw
        if remaining:
            hold.released_krw += remaining
            await journal.post(
                session,
                kind="release",
                reference=f"hold:{hold.id}",
                postings={journal.hold_account(hold.driver_id): -remaining, journal.wallet(hold.driver_id): remaining},
                now=now,
            )
            await session.flush()
        return remaining

    async def refund(
        self, session: AsyncSession, *, hold_id: uuid.UUID, amount: int, shares: Mapping[str, int], now: datetime
    ) -> dict[str, int]:
        """Return captured money to the wallet, taken back from the parties in the capture's proportions."""
        _positive(amount, "a refund")
        hold = await _hold(session, hold_id)
        refundable = hold.captured_krw - hold.refunded_krw
        if amount > refundable:
            raise RefundTooLarge(
                f"at most {refundable:,} KRW of this payment can be refunded",
                extra={"refundable_krw": refundable, "asked_krw": amount},
            )
        parts = split(amount, shares)
        for account, part in parts.items():
            await journal.require(session, account, part, what=f"{account} no longer holds the money to refund")
        hold.refunded_krw += amount
        postings = {account: -part for account, part in parts.items()}
        postings[journal.wallet(hold.driver_id)] = amount
        await journal.post(session, kind="refund", reference=f"hold:{hold.id}", postings=postings, now=now)
        await session.flush()
        return parts


async def payout(session: AsyncSession, *, account: str, amount: int, now: datetime) -> Receipt:
    """Pay a party (an owner, the village enterprise, the city) out of its balance to the outside world."""
    _positive(amount, "a payout")
    await journal.require(session, account, amount, what=f"{account} has not earned that much")
    return await journal.post(
        session, kind="payout", reference=account, postings={account: -amount, journal.GATEWAY: amount}, now=now
    )


async def owed_krw(session: AsyncSession, account_id: uuid.UUID) -> int:
    """What the account owes from trips its wallet could not cover (0 when nothing)."""
    return -await journal.balance(session, journal.owed(account_id))


async def receivables(session: AsyncSession, *, limit: int, offset: int) -> list[tuple[uuid.UUID, int]]:
    """Accounts that owe money and how much, most first; `limit + 1` rows (the extra one tells a next page exists)."""
    rows = await session.execute(
        select(AccountBalance.account, AccountBalance.balance_krw)
        .where(AccountBalance.account.like("owed:%"), AccountBalance.balance_krw < 0)
        .order_by(AccountBalance.balance_krw, AccountBalance.account)
        .limit(limit + 1)
        .offset(offset)
    )
    return [(uuid.UUID(account.removeprefix("owed:")), -int(balance)) for account, balance in rows]


async def holds_of(session: AsyncSession, driver_id: uuid.UUID) -> list[PaymentHold]:
    rows = await session.execute(
        select(PaymentHold).where(PaymentHold.driver_id == driver_id).order_by(PaymentHold.created_at.desc())
    )
    return list(rows.scalars())
