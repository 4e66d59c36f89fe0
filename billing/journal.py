"""The double-entry journal: every money movement is one transaction whose postings add up to zero.

PostgreSQL holds the rules: a deferred constraint trigger refuses a transaction that does not balance at commit,
a trigger keeps running balances, and wallets, holds and parties' accounts never go below zero. Every transaction
also appends its entry to the public ledger in the same database transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing.errors import InsufficientFunds
from billing.models import AccountBalance, JournalPosting, JournalTransaction
from ledger import log as ledger
from ledger import pseudonyms

ENTERPRISE, CITY, PLATFORM, GATEWAY = "enterprise", "city", "platform", "gateway"


def wallet(account_id: object) -> str:
    return f"wallet:{account_id}"


def hold_account(account_id: object) -> str:
    return f"hold:{account_id}"


def owner(account_id: object) -> str:
    return f"owner:{account_id}"


def owed(account_id: object) -> str:
    """What a driver owes (a receivable): below zero by the amount owed, the only personal account that may be."""
    return f"owed:{account_id}"


async def post(
    session: AsyncSession, *, kind: str, reference: str, postings: Mapping[str, int], now: datetime
) -> ledger.Receipt:
    """Record one balanced money movement and its ledger entry; the ledger receipt."""
    amounts = {account: amount for account, amount in postings.items() if amount != 0}
    if sum(amounts.values()) != 0:
        raise ValueError(f"postings of {kind} do not balance: {amounts}")
    transaction = JournalTransaction(kind=kind, reference=reference, created_at=now)
    session.add(transaction)
    await session.flush()
    await session.execute(
        insert(JournalPosting),
        [
            {"transaction_id": transaction.id, "account": a, "amount_krw": v, "created_at": now}
            for a, v in amounts.items()
        ],
    )
    # the public entry names wallets and parties by pseudonym only (ledger/pseudonyms.py)
    subject, shown = await pseudonyms.public(session, reference, amounts)
    [receipt] = await ledger.append(
        session,
        ledger.Record(
            kind=f"payment.{kind}",
            subject=subject,
            at=now,
            body={"transaction_id": transaction.id, "postings": dict(sorted(shown.items()))},
        ),
    )
    return receipt


async def balance(session: AsyncSession, account: str) -> int:
    found = await session.scalar(select(AccountBalance.balance_krw).where(AccountBalance.account == account))
    return int(found or 0)


async def locked_balance(session: AsyncSession, account: str) -> int:
    """The balance, locking the account's row for this transaction (so two payments cannot both spend it)."""
    await session.execute(pg_insert(AccountBalance).values(account=account, balance_krw=0).on_conflict_do_nothing())
    found = await session.scalar(
        select(AccountBalance.balance_krw).where(AccountBalance.account == account).with_for_update()
    )
    return int(found or 0)


async def require(session: AsyncSession, account: str, amount: int, *, what: str) -> None:
    available = await locked_balance(session, account)
    if available < amount:
        raise InsufficientFunds(
            f"{what}: {amount:,} KRW needed, {available:,} KRW available",
            extra={"needed_krw": amount, "available_krw": available, "account": account},
        )


async def balances(session: AsyncSession, accounts: list[str] | None = None) -> dict[str, int]:
    query = select(AccountBalance.account, AccountBalance.balance_krw).order_by(AccountBalance.account)
    if accounts is not None:
        query = query.where(AccountBalance.account.in_(accounts))
    return {account: int(value) for account, value in await session.execute(query)}


async def posted_total(session: AsyncSession, account: str) -> int:
    """The sum of an account's postings: must always equal its running balance."""
    return int(
        await session.scalar(
            select(func.coalesce(func.sum(JournalPosting.amount_krw), 0)).where(JournalPosting.account == account)
        )
        or 0
    )
