"""Hypothesis on real PostgreSQL: whatever sequence of payments happens, journal transactions sum to zero, balances
equal the sum of their postings, nothing is overdrawn, and refunds never exceed captures."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from billing import journal
from billing.errors import InsufficientFunds, InvalidAmount, RefundTooLarge
from billing.models import AccountBalance, JournalPosting, PaymentHold
from billing.wallet import Wallet, payout
from tests.conftest import NOW
from tests.factories import make_account

SHARES = {"owner:p": 6000, journal.ENTERPRISE: 2500, journal.CITY: 1000, journal.PLATFORM: 500}
operations = st.lists(
    st.tuples(
        st.sampled_from(["top_up", "hold", "capture", "release", "refund", "payout"]),
        st.integers(0, 2),  # which driver
        st.integers(0, 30_000),  # amount
        st.integers(0, 10),  # which hold
    ),
    min_size=1,
    max_size=25,
)


async def _run(url: str, steps: list[tuple[str, int, int, int]]) -> None:
    engine = create_async_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
            drivers = [await make_account(session, wallet_krw=0) for _ in range(3)]
            accounts = [a for d in drivers for a in (journal.wallet(d.id), journal.hold_account(d.id))] + list(SHARES)
            wallet, holds = Wallet(), []
            for operation, who, amount, pick in steps:
                driver = drivers[who]
                try:
                    async with session.begin_nested():
                        if operation == "top_up":
                            await wallet.top_up(session, account_id=driver.id, amount=amount, now=NOW)
                        elif operation == "hold":
                            hold = await wallet.hold(
                                session,
                                driver_id=driver.id,
                                amount=amount,
                                booking_id=None,
                                expires_at=NOW + timedelta(days=1),
                                now=NOW,
                            )
                            holds.append(hold.id)
                        elif operation == "payout":
                            await payout(session, account=list(SHARES)[pick % 4], amount=amount, now=NOW)
                        elif holds:
                            hold_id = holds[pick % len(holds)]
                            if operation == "capture":
                                await wallet.capture(session, hold_id=hold_id, amount=amount, shares=SHARES, now=NOW)
                            elif operation == "release":
                                await wallet.release(session, hold_id=hold_id, now=NOW)
                            else:
                                await wallet.refund(session, hold_id=hold_id, amount=amount, shares=SHARES, now=NOW)
                except (InsufficientFunds, RefundTooLarge, InvalidAmount):
                    pass
            await session.flush()
            per_transaction = await session.execute(
                select(JournalPosting.transaction_id, func.sum(JournalPosting.amount_krw))
                .group_by(JournalPosting.transaction_id)
                .having(func.sum(JournalPosting.amount_krw) != 0)
            )
            assert per_transaction.all() == [], "a journal transaction does not sum to zero"
            for account in accounts:
                assert await journal.balance(session, account) == await journal.posted_total(session, account)
                assert await journal.balance(session, account) >= 0
            total = await session.scalar(select(func.coalesce(func.sum(AccountBalance.balance_krw), 0)))
            assert total == 0  # money is never made or lost: every balance together is zero
            for hold in (await session.execute(select(PaymentHold).where(PaymentHold.id.in_(holds)))).scalars():
                assert 0 <= hold.refunded_krw <= hold.captured_krw <= hold.amount_krw
                assert hold.captured_krw + hold.released_krw <= hold.amount_krw
            await session.close()
            await transaction.rollback()
    finally:
        await engine.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
def test_the_books_always_balance(database: str, steps: list[tuple[str, int, int, int]]):
    asyncio.run(_run(database, steps))
