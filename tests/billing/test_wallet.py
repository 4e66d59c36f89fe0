"""Money on real PostgreSQL: exact splits, the wallet cycle, the journal's invariants, refusals that write nothing."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from accounts.models import Account, Role
from api.state import AppState
from billing import journal
from billing.errors import InsufficientFunds, InvalidAmount, RefundTooLarge
from billing.models import JournalPosting, PaymentHold
from billing.splits import BASIS, split
from billing.wallet import Wallet, payout
from core.settings import Settings
from ledger import log as ledger
from sim.payment_gateway import pay
from tests.conftest import NOW
from tests.factories import PASSWORD, auth, make_account, paid_top_up

shares = (
    st.lists(st.integers(0, 100), min_size=1, max_size=5)
    .filter(lambda xs: sum(xs) > 0)
    .map(lambda xs: {f"p{i}": x for i, x in enumerate(xs)})
)


def to_basis(weights: dict[str, int]) -> dict[str, int]:
    total = sum(weights.values())
    parts = split(
        BASIS,
        {k: v * BASIS // total for k, v in weights.items()}
        | {"rest": BASIS - sum(v * BASIS // total for v in weights.values())},
    )
    return {k: v for k, v in parts.items()}


@given(amount=st.integers(-(10**9), 10**9), weights=shares)
def test_splits_are_exact(amount: int, weights: dict[str, int]):
    basis = to_basis(weights)
    parts = split(amount, basis)
    assert sum(parts.values()) == amount
    for party, part in parts.items():
        exact = amount * basis[party] / BASIS
        assert abs(part - exact) < 1


def test_split_refuses_bad_shares():
    with pytest.raises(ValueError):
        split(100, {"a": 5000, "b": 4000})


SHARES = {"owner:o": 6000, journal.ENTERPRISE: 2500, journal.CITY: 1000, journal.PLATFORM: 500}


async def test_wallet_cycle(session: AsyncSession):
    driver = await make_account(session, wallet_krw=0)
    wallet = Wallet()
    assert await wallet.top_up(session, account_id=driver.id, amount=10_000, now=NOW) == 10_000
    hold = await wallet.hold(
        session, driver_id=driver.id, amount=6_000, booking_id=None, expires_at=NOW + timedelta(days=1), now=NOW
    )
    assert await journal.balance(session, journal.wallet(driver.id)) == 4_000
    parts = await wallet.capture(session, hold_id=hold.id, amount=4_001, shares=SHARES, now=NOW)
    assert parts == {"owner:o": 2401, "enterprise": 1000, "city": 400, "platform": 200}
    assert await wallet.release(session, hold_id=hold.id, now=NOW) == 1_999
    refunded = await wallet.refund(session, hold_id=hold.id, amount=1_001, shares=SHARES, now=NOW)
    assert sum(refunded.values()) == 1_001
    assert await journal.balance(session, journal.wallet(driver.id)) == 4_000 + 1_999 + 1_001
    assert await journal.balance(session, journal.hold_account(driver.id)) == 0
    with pytest.raises(RefundTooLarge):
        await wallet.refund(session, hold_id=hold.id, amount=3_001, shares=SHARES, now=NOW)
    kinds = [
        (await ledger.entry(session, r.leaf_index)).kind for r in await ledger.receipts_for(session, f"hold:{hold.id}")
    ]
    assert kinds == ["payment.hold", "payment.capture", "payment.release", "payment.refund"]
    await payout(session, account="owner:o", amount=1_000, now=NOW)
    with pytest.raises(InsufficientFunds):
        await payout(session, account="owner:o", amount=10_000, now=NOW)


async def test_refusals_write_nothing(session: AsyncSession):
    driver = await make_account(session, wallet_krw=0)
    wallet = Wallet()
    await wallet.top_up(session, account_id=driver.id, amount=5_000, now=NOW)
    postings = await session.scalar(select(func.count()).select_from(JournalPosting))
    with pytest.raises(InsufficientFunds) as refused:
        await wallet.hold(session, driver_id=driver.id, amount=5_001, booking_id=None, expires_at=NOW, now=NOW)
    assert refused.value.extra["available_krw"] == 5_000
    for bad in (0, -5):
        with pytest.raises(InvalidAmount):
            await wallet.top_up(session, account_id=driver.id, amount=bad, now=NOW)
    assert await session.scalar(select(func.count()).select_from(JournalPosting)) == postings
    assert (
        await session.scalar(select(func.count()).select_from(PaymentHold).where(PaymentHold.driver_id == driver.id))
        == 0
    )


async def test_the_database_refuses_unbalanced_or_overdrawn_journals(session: AsyncSession):
    driver = await make_account(session, wallet_krw=0)
    await Wallet().top_up(session, account_id=driver.id, amount=50, now=NOW)
    tx = uuid.uuid4()
    await session.execute(text("INSERT INTO journal_transactions VALUES (:id, 'forged', 'x', now())"), {"id": tx})
    with pytest.raises(DBAPIError, match="does not balance"):
        async with session.begin_nested():
            await session.execute(
                text(
                    "INSERT INTO journal_postings (transaction_id, account, amount_krw, created_at) "
                    "VALUES (:id, 'gateway', -100, now()), (:id, :wallet, 99, now())"
                ),
                {"id": tx, "wallet": journal.wallet(driver.id)},
            )
            await session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
    with pytest.raises(DBAPIError, match="no_overdraft"):
        async with session.begin_nested():
            await session.execute(
                text(
                    "INSERT INTO journal_postings (transaction_id, account, amount_krw, created_at) "
                    "VALUES (:id, :wallet, -100, now()), (:id, 'gateway', 100, now())"  # 50 in the wallet
                ),
                {"id": tx, "wallet": journal.wallet(driver.id)},
            )
    with pytest.raises(DBAPIError, match="append-only"):
        async with session.begin_nested():
            await session.execute(
                text("UPDATE journal_postings SET amount_krw = 1 WHERE account = :wallet"),
                {"wallet": journal.wallet(driver.id)},
            )


async def test_random_operations_keep_the_books(session: AsyncSession):
    """Whatever happens, every balance equals the sum of its postings, all balances add up to zero, and nothing
    was refunded beyond what was captured."""
    rng = random.Random(11)
    wallet = Wallet()
    drivers = [await make_account(session) for _ in range(3)]
    holds: list[uuid.UUID] = []
    for _ in range(120):
        driver = rng.choice(drivers)
        operation = rng.choice(["top_up", "hold", "capture", "release", "refund", "payout"])
        try:
            async with session.begin_nested():
                if operation == "top_up":
                    await wallet.top_up(session, account_id=driver.id, amount=rng.randint(1, 20_000), now=NOW)
                elif operation == "hold":
                    hold = await wallet.hold(
                        session,
                        driver_id=driver.id,
                        amount=rng.randint(1, 15_000),
                        booking_id=None,
                        expires_at=NOW + timedelta(days=1),
                        now=NOW,
                    )
                    holds.append(hold.id)
                elif holds and operation == "capture":
                    await wallet.capture(
                        session, hold_id=rng.choice(holds), amount=rng.randint(0, 9_000), shares=SHARES, now=NOW
                    )
                elif holds and operation == "release":
                    await wallet.release(session, hold_id=rng.choice(holds), now=NOW)
                elif holds and operation == "refund":
                    await wallet.refund(
                        session, hold_id=rng.choice(holds), amount=rng.randint(1, 5_000), shares=SHARES, now=NOW
                    )
                elif operation == "payout":
                    await payout(session, account=rng.choice(list(SHARES)), amount=rng.randint(1, 3_000), now=NOW)
        except (InsufficientFunds, RefundTooLarge, InvalidAmount):
            pass
    balances = await journal.balances(session)
    for account, value in balances.items():
        assert value == await journal.posted_total(session, account), account
    assert sum(balances.values()) == 0
    assert all(value >= 0 for account, value in balances.items() if account != journal.GATEWAY)
    for hold in (await session.execute(select(PaymentHold).where(PaymentHold.id.in_(holds)))).scalars():
        assert hold.refunded_krw <= hold.captured_krw <= hold.amount_krw


async def test_concurrent_top_up_retries_open_one_order_and_confirms_credit_once(
    live_server: str, engine: AsyncEngine, settings: Settings
):
    async with AsyncSession(engine) as session:
        driver = await make_account(session, wallet_krw=0)
        await session.commit()
        email = await session.scalar(select(Account.email).where(Account.id == driver.id))
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        token = (await client.post("/auth/token", data={"username": email, "password": PASSWORD})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}", "Idempotency-Key": str(uuid.uuid4())}
        responses = await asyncio.gather(
            *(client.post("/wallet/top-ups", json={"amount_krw": 7_000}, headers=headers) for _ in range(15))
        )
        assert {r.status_code for r in responses} == {201}
        assert len({r.json()["id"] for r in responses}) == 1  # one order
        assert (await client.get("/wallet", headers=headers)).json()["balance_krw"] == 0  # nothing paid yet
        key = await pay(settings.payment_gateway()[0], responses[0].json())
        confirms = await asyncio.gather(  # the app confirms the payment five times at once: credited once
            *(
                client.post(
                    f"/wallet/top-ups/{responses[0].json()['id']}/confirm",
                    json={"payment_key": key, "amount_krw": 7_000},
                    headers=headers,
                )
                for _ in range(5)
            )
        )
        assert {c.status_code for c in confirms} == {200}, [c.text for c in confirms]
        assert {c.json()["status"] for c in confirms} == {"confirmed"}
        assert (await client.get("/wallet", headers=headers)).json()["balance_krw"] == 7_000
        too_little = await client.post(
            "/wallet/top-ups", json={"amount_krw": 0}, headers={**headers, "Idempotency-Key": "x"}
        )
        assert too_little.status_code == 422


async def test_wallet_through_http(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, settings: Settings
):
    driver = await make_account(session, wallet_krw=0)
    topped = await paid_top_up(client, settings, auth(state, driver), 12_000)
    assert topped.status_code == 200 and topped.json()["status"] == "confirmed"
    assert (await client.get("/wallet", headers=auth(state, driver))).json()["balance_krw"] == 12_000
    staff = await make_account(session, role=Role.OPERATOR)
    refused = await client.post(
        "/settlement/payouts", json={"account": "enterprise", "amount_krw": 10**9}, headers=auth(state, staff)
    )
    assert refused.status_code == 402 and refused.json()["error"] == "insufficient_funds"
    bad = await client.post(
        "/settlement/payouts", json={"account": "wallet:x", "amount_krw": 1}, headers=auth(state, staff)
    )
    assert bad.status_code == 422
