"""Integrated mileage: points earned by rules that are data (`mileage_rules`), redeemable, expiring.

One point is worth one won. Redeeming moves that money from the city's mileage fund into the driver's wallet through
the journal (balanced, on the ledger), where it pays for parking like any other money.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing import journal
from billing.errors import InvalidAmount, NotEnoughMileage
from billing.models import MileageEntry, MileageRule
from ledger import log as ledger

MILEAGE_FUND = "mileage_fund"


@dataclass(frozen=True, slots=True)
class Event:
    """What happened, described by the facts rules may test."""

    kind: str  # booking_completed
    reference: str
    account_id: uuid.UUID
    zone_code: str
    slot_kind: str
    minutes: int
    charged_krw: int
    minutes_after_parking: int | None = None  # rides: minutes since the rider last checked out of a parking booking


def applies(condition: dict[str, Any], event: Event) -> bool:
    """Evaluate a rule's condition; unknown keys never match (a rule the code does not understand earns nothing)."""
    known = {"zone_code_in", "zone_code_not_in", "slot_kind_in", "min_minutes", "within_minutes_of_parking"}
    if set(condition) - known:
        return False
    if "within_minutes_of_parking" in condition and not (
        event.minutes_after_parking is not None
        and 0 <= event.minutes_after_parking <= condition["within_minutes_of_parking"]
    ):
        return False
    return (
        event.zone_code in condition.get("zone_code_in", [event.zone_code])
        and event.zone_code not in condition.get("zone_code_not_in", [])
        and event.slot_kind in condition.get("slot_kind_in", [event.slot_kind])
        and event.minutes >= condition.get("min_minutes", 0)
    )


async def earn(session: AsyncSession, event: Event, *, now: datetime) -> list[MileageEntry]:
    rules = (
        await session.execute(select(MileageRule).where(MileageRule.active, MileageRule.event == event.kind))
    ).scalars()
    earned = []
    for rule in rules:
        if not applies(rule.condition, event):
            continue
        points = rule.points + event.charged_krw * rule.points_per_1000_krw // 1000
        if points <= 0:
            continue
        entry = MileageEntry(
            account_id=event.account_id,
            points=points,
            remaining=points,
            reason=rule.description,
            reference=event.reference,
            expires_at=now + timedelta(days=rule.valid_days),
            created_at=now,
        )
        session.add(entry)
        earned.append(entry)
    if earned:
        await session.flush()
        await ledger.append(
            session,
            *(
                ledger.Record(
                    kind="mileage.earned",
                    subject=event.reference,
                    at=now,
                    body={"entry_id": e.id, "points": e.points, "expires_at": e.expires_at},
                )
                for e in earned
            ),
        )
    return earned


async def balance(session: AsyncSession, account_id: uuid.UUID, *, now: datetime) -> int:
    return int(
        await session.scalar(
            select(func.coalesce(func.sum(MileageEntry.remaining), 0)).where(
                MileageEntry.account_id == account_id, MileageEntry.points > 0, MileageEntry.expires_at > now
            )
        )
        or 0
    )


async def redeem(session: AsyncSession, *, account_id: uuid.UUID, points: int, now: datetime) -> int:
    """Spend points, oldest first, into the wallet; returns the new wallet balance."""
    if points <= 0:
        raise InvalidAmount("redeem a positive number of points")
    usable = list(
        (
            await session.execute(
                select(MileageEntry)
                .where(
                    MileageEntry.account_id == account_id,
                    MileageEntry.points > 0,
                    MileageEntry.remaining > 0,
                    MileageEntry.expires_at > now,
                )
                .order_by(MileageEntry.expires_at, MileageEntry.id)
                .with_for_update()
            )
        ).scalars()
    )
    available = sum(e.remaining for e in usable)
    if points > available:
        raise NotEnoughMileage(f"{available:,} points can be redeemed", extra={"available_points": available})
    left = points
    for entry in usable:
        used = min(entry.remaining, left)
        entry.remaining -= used
        left -= used
        if not left:
            break
    reference = f"mileage:{account_id}"
    session.add(
        MileageEntry(
            account_id=account_id,
            points=-points,
            remaining=0,
            reason="redeemed into the wallet",
            reference=reference,
            expires_at=None,
            created_at=now,
        )
    )
    await session.flush()
    await journal.post(
        session,
        kind="mileage",
        reference=reference,
        postings={MILEAGE_FUND: -points, journal.wallet(account_id): points},
        now=now,
    )
    return await journal.balance(session, journal.wallet(account_id))


async def history(session: AsyncSession, account_id: uuid.UUID) -> list[MileageEntry]:
    rows = await session.execute(
        select(MileageEntry).where(MileageEntry.account_id == account_id).order_by(MileageEntry.created_at.desc())
    )
    return list(rows.scalars())
