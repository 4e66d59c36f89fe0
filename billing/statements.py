"""Monthly statements per party and revenue reports: what the journal says, never recomputed elsewhere."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import JournalPosting, JournalTransaction


@dataclass(frozen=True, slots=True)
class StatementLine:
    at: datetime
    transaction_id: str
    kind: str
    reference: str
    amount_krw: int
    balance_krw: int


@dataclass(frozen=True, slots=True)
class Statement:
    account: str
    month: str  # YYYY-MM, local time
    opening_krw: int
    lines: tuple[StatementLine, ...]
    closing_krw: int


def month_bounds(month: date, timezone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    start = datetime(month.year, month.month, 1, tzinfo=zone)
    end = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=zone)
    return start, end


async def statement(session: AsyncSession, *, account: str, month: date, timezone: str) -> Statement:
    start, end = month_bounds(month, timezone)
    opening = int(
        await session.scalar(
            select(func.coalesce(func.sum(JournalPosting.amount_krw), 0)).where(
                JournalPosting.account == account, JournalPosting.created_at < start
            )
        )
        or 0
    )
    rows = await session.execute(
        select(
            JournalPosting.created_at,
            JournalTransaction.id,
            JournalTransaction.kind,
            JournalTransaction.reference,
            JournalPosting.amount_krw,
        )
        .join(JournalTransaction, JournalTransaction.id == JournalPosting.transaction_id)
        .where(JournalPosting.account == account, JournalPosting.created_at >= start, JournalPosting.created_at < end)
        .order_by(JournalPosting.created_at, JournalPosting.id)
    )
    running, lines = opening, []
    for at, transaction_id, kind, reference, amount in rows:
        running += amount
        lines.append(StatementLine(at, str(transaction_id), kind, reference, int(amount), running))
    return Statement(account, f"{month.year:04d}-{month.month:02d}", opening, tuple(lines), running)


def to_csv(document: Statement) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["account", "month", "at", "transaction_id", "kind", "reference", "amount_krw", "balance_krw"])
    writer.writerow([document.account, document.month, "", "", "opening", "", "", document.opening_krw])
    for line in document.lines:
        writer.writerow(
            [
                document.account,
                document.month,
                line.at.isoformat(),
                line.transaction_id,
                line.kind,
                line.reference,
                line.amount_krw,
                line.balance_krw,
            ]
        )
    writer.writerow([document.account, document.month, "", "", "closing", "", "", document.closing_krw])
    return out.getvalue()


_REVENUE = text(
    """
    SELECT CASE WHEN p.account LIKE 'owner:%' THEN 'owners' ELSE p.account END AS party,
           z.code AS zone, s.kind AS slot_kind, sum(p.amount_krw) AS amount_krw, count(DISTINCT b.id) AS bookings
    FROM journal_postings p
    JOIN journal_transactions t ON t.id = p.transaction_id AND t.kind IN ('capture', 'refund')
    JOIN payment_holds h ON t.reference = 'hold:' || h.id::text
    JOIN bookings b ON b.id = h.booking_id
    JOIN slots s ON s.id = b.slot_id
    JOIN zones z ON z.id = s.zone_id
    WHERE p.created_at >= :start AND p.created_at < :end
      AND (p.account LIKE 'owner:%' OR p.account IN ('enterprise', 'city', 'platform'))
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    """
)


async def revenue(session: AsyncSession, *, start: datetime, end: datetime) -> list[dict[str, object]]:
    """Net revenue (captures minus refunds) by party, zone and slot kind over [start, end)."""
    rows = await session.execute(_REVENUE, {"start": start, "end": end})
    return [
        {"party": party, "zone": zone, "slot_kind": kind, "amount_krw": int(amount), "bookings": int(bookings)}
        for party, zone, kind, amount, bookings in rows
    ]
