"""Monthly statements per party and revenue reports: what the journal says, never recomputed elsewhere."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import JournalPosting


@dataclass(frozen=True, slots=True)
class StatementLine:
    at: datetime
    transaction_id: str
    kind: str
    reference: str
    description: str  # what the money was for: booking (slot, local period, charge kinds) or ride
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
    rows = await session.execute(_LINES, {"account": account, "start": start, "end": end})
    zone = ZoneInfo(timezone)
    running, lines = opening, []
    for at, transaction_id, kind, reference, amount, booking, trip in rows:
        running += amount
        what = _describe(kind, reference, _json(booking), _json(trip), zone)
        lines.append(StatementLine(at, str(transaction_id), kind, reference, what, int(amount), running))
    return Statement(account, f"{month.year:04d}-{month.month:02d}", opening, tuple(lines), running)


# what a hold was for: the booking (slot, period, charge lines) or the ride (vehicle, period)
_LINES = text(
    """
    SELECT p.created_at, t.id, t.kind, t.reference, p.amount_krw,
           CASE WHEN b.id IS NOT NULL THEN json_build_object(
               'slot', s.code, 'start', lower(b.period), 'end', upper(b.period), 'charges', b.charge_lines) END,
           CASE WHEN r.id IS NOT NULL THEN json_build_object(
               'vehicle', v.label, 'type', r.type_code, 'start', r.started_at, 'end', r.ended_at) END
    FROM journal_postings p
    JOIN journal_transactions t ON t.id = p.transaction_id
    LEFT JOIN payment_holds h ON t.reference = 'hold:' || h.id::text
    LEFT JOIN bookings b ON b.id = h.booking_id
    LEFT JOIN slots s ON s.id = b.slot_id
    LEFT JOIN trips r ON r.hold_id = h.id
    LEFT JOIN vehicles v ON v.id = r.vehicle_id
    WHERE p.account = :account AND p.created_at >= :start AND p.created_at < :end
    ORDER BY p.created_at, p.id
    """
)


def _json(value: str | dict[str, Any] | None) -> dict[str, Any] | None:
    return json.loads(value) if isinstance(value, str) else value


def _local(value: str | None, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else "..."


def _describe(
    kind: str, reference: str, booking: dict[str, Any] | None, trip: dict[str, Any] | None, zone: ZoneInfo
) -> str:
    """A line a person can read: what the money was for, in local time."""
    if booking is not None:
        charges = ", ".join(line["kind"] for line in booking["charges"] or [])
        period = f"{_local(booking['start'], zone)} to {_local(booking['end'], zone)[-5:]}"
        return f"{kind}: parking at slot {booking['slot']}, {period}" + (f" ({charges})" if charges else "")
    if trip is not None:
        period = f"{_local(trip['start'], zone)} to {_local(trip['end'], zone)[-5:]}"
        return f"{kind}: {trip['type']} ride on {trip['vehicle']}, {period}"
    return f"{kind}: {reference}"


def to_csv(document: Statement) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["account", "month", "at", "transaction_id", "kind", "reference", "description", "amount_krw", "balance_krw"]
    )
    writer.writerow([document.account, document.month, "", "", "opening", "", "", "", document.opening_krw])
    for line in document.lines:
        writer.writerow(
            [
                document.account,
                document.month,
                line.at.isoformat(),
                line.transaction_id,
                line.kind,
                line.reference,
                line.description,
                line.amount_krw,
                line.balance_krw,
            ]
        )
    writer.writerow([document.account, document.month, "", "", "closing", "", "", "", document.closing_krw])
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
