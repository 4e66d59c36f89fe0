"""Money of bookings: price and hold when booked, charge and settle when it ends. Services flush, never commit.

Knows nothing of bookings' rules; the parking service calls it with what it needs, in the same transaction as the
booking's change, so a change, its money movements and its ledger entries commit together.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing import journal
from billing.charges import ChargeLine, ChargePolicy
from billing.errors import InvalidAmount
from billing.models import PaymentHold, PriceMultiplier, PublicHoliday, SettlementRule, Tariff, ZonePriceCap
from billing.pricing import Band, Caps, DayType, NoTariff, Quote, quote
from billing.wallet import Wallet
from core.errors import Conflict
from core.settings import Settings

HOLD_GRACE = timedelta(days=2)  # a hold outlives its booking's end by this much


class PriceUnavailable(Conflict):
    code = "price_unavailable"


def charge_policy(settings: Settings) -> ChargePolicy:
    return ChargePolicy(
        cancellation_free_before=timedelta(minutes=settings.cancellation_free_minutes),
        cancellation_fee_bp=settings.cancellation_fee_bp,
        no_show_fee_bp=settings.no_show_fee_bp,
        overstay_surcharge_bp=settings.overstay_surcharge_bp,
    )


@dataclass(frozen=True, slots=True)
class Place:
    """What pricing and settlement need to know of a slot."""

    zone_id: uuid.UUID
    slot_kind: str
    owner_id: uuid.UUID
    lot_id: uuid.UUID | None


async def price(session: AsyncSession, *, place: Place, start: datetime, end: datetime, timezone: str) -> Quote:
    tariffs = (
        await session.execute(
            select(Tariff).where(Tariff.zone_id == place.zone_id, Tariff.slot_kind == place.slot_kind)
        )
    ).scalars()
    bands = [Band(DayType(t.day_type), t.start_minute, t.end_minute, t.unit_minutes, t.unit_price_krw) for t in tariffs]
    cap = await session.get(ZonePriceCap, place.zone_id)
    holidays: list[date] = list(
        (
            await session.execute(
                select(PublicHoliday.day).where(
                    PublicHoliday.day >= (start - timedelta(days=1)).date(), PublicHoliday.day <= end.date()
                )
            )
        ).scalars()
    )
    hourly = select(PriceMultiplier.hour, PriceMultiplier.multiplier_permille).where(
        PriceMultiplier.zone_id == place.zone_id
    )
    multipliers = {int(hour): int(permille) for hour, permille in await session.execute(hourly)}
    try:
        return quote(
            start,
            end,
            timezone=timezone,
            bands=bands,
            holidays=holidays,
            caps=Caps(cap.min_krw_per_hour, cap.max_krw_per_hour) if cap else None,
            multipliers=multipliers,
        )
    except NoTariff as error:
        raise PriceUnavailable(f"this slot has no price for that time: {error}") from error


def quote_lines(q: Quote) -> list[dict[str, Any]]:
    return [
        {
            "from": line.start.isoformat(),
            "to": line.end.isoformat(),
            "band": line.band,
            "units": line.units,
            "unit_minutes": line.unit_minutes,
            "unit_price_krw": line.unit_price_krw,
            "amount_krw": line.amount_krw,
        }
        for line in q.lines
    ]


async def hold_for_booking(
    session: AsyncSession, *, booking_id: uuid.UUID, driver_id: uuid.UUID, amount: int, end: datetime, now: datetime
) -> PaymentHold | None:
    """Hold the quoted amount on the driver's wallet (nothing to hold for a free slot)."""
    if amount == 0:
        return None
    return await Wallet().hold(
        session, driver_id=driver_id, amount=amount, booking_id=booking_id, expires_at=end + HOLD_GRACE, now=now
    )


async def shares_for(session: AsyncSession, place: Place) -> dict[str, int]:
    """The settlement rule of the slot's lot contract, else of its kind, as journal accounts -> basis points."""
    rules = (
        await session.execute(
            select(SettlementRule).where(
                SettlementRule.slot_kind == place.slot_kind,
                (SettlementRule.lot_id == place.lot_id) | SettlementRule.lot_id.is_(None),
            )
        )
    ).scalars()
    rule = sorted(rules, key=lambda r: r.lot_id is None)[0]
    shares = {
        journal.owner(place.owner_id): rule.owner_bp,
        journal.ENTERPRISE: rule.enterprise_bp,
        journal.CITY: rule.city_bp,
        journal.PLATFORM: rule.platform_bp,
    }
    return {account: bp for account, bp in shares.items() if bp}


async def settle(
    session: AsyncSession, *, booking_id: uuid.UUID, lines: list[ChargeLine], place: Place, now: datetime
) -> int:
    """Capture the charges from the booking's hold (beyond it, from the wallet), split them between the parties,
    release the rest. Returns the KRW charged."""
    total = sum(line.amount_krw for line in lines)
    if total < 0:
        raise InvalidAmount("charges cannot be negative")
    hold = await session.scalar(select(PaymentHold).where(PaymentHold.booking_id == booking_id))
    wallet = Wallet()
    if hold is None:
        if total:
            raise InvalidAmount("nothing was held for this booking; it cannot be charged")
        return 0
    if total:
        await wallet.capture(session, hold_id=hold.id, amount=total, shares=await shares_for(session, place), now=now)
    await wallet.release(session, hold_id=hold.id, now=now)
    return total
