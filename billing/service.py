"""Money of bookings: price and hold when booked, charge and settle when it ends. Services flush, never commit.

Knows nothing of bookings' rules; the parking service calls it with what it needs, in the same transaction as the
booking's change, so a change, its money movements and its ledger entries commit together.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from billing import journal
from billing.charges import ChargeLine, ChargePolicy
from billing.errors import InvalidAmount, PriceUnavailable, RefundTooLarge
from billing.models import PaymentHold, PriceMultiplier, PublicHoliday, SettlementRule, Tariff, ZonePriceCap
from billing.pricing import Band, Caps, DayType, NoTariff, PriceBook, Quote
from billing.wallet import Wallet
from core.errors import InvalidInput
from core.settings import Settings

HOLD_GRACE = timedelta(days=7)  # a hold outlives its booking's end by this much (covers long overstays)


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


async def price_book(session: AsyncSession, zone_ids: Iterable[uuid.UUID], start: datetime, end: datetime) -> PriceBook:
    """Load what quoting stays within [start, end) in these zones needs, in four queries."""
    zones = set(zone_ids)
    bands: dict[tuple[Hashable, str], list[Band]] = {}
    for t in (await session.execute(select(Tariff).where(Tariff.zone_id.in_(zones)))).scalars():
        bands.setdefault((t.zone_id, t.slot_kind), []).append(
            Band(DayType(t.day_type), t.start_minute, t.end_minute, t.unit_minutes, t.unit_price_krw)
        )
    caps: dict[Hashable, Caps] = {
        c.zone_id: Caps(c.min_krw_per_hour, c.max_krw_per_hour)
        for c in (await session.execute(select(ZonePriceCap).where(ZonePriceCap.zone_id.in_(zones)))).scalars()
    }
    multipliers: dict[Hashable, dict[int, int]] = {}
    hourly = select(PriceMultiplier.zone_id, PriceMultiplier.hour, PriceMultiplier.multiplier_permille).where(
        PriceMultiplier.zone_id.in_(zones)
    )
    for zone_id, hour, permille in await session.execute(hourly):
        multipliers.setdefault(zone_id, {})[int(hour)] = int(permille)
    holidays = select(PublicHoliday.day).where(
        PublicHoliday.day >= (start - timedelta(days=1)).date(), PublicHoliday.day <= end.date()
    )
    return PriceBook(
        bands={key: tuple(value) for key, value in bands.items()},
        caps=caps,
        multipliers=multipliers,
        holidays=tuple((await session.execute(holidays)).scalars()),
    )


async def price(session: AsyncSession, *, place: Place, start: datetime, end: datetime, timezone: str) -> Quote:
    book = await price_book(session, [place.zone_id], start, end)
    try:
        return book.quote(place.zone_id, place.slot_kind, start, end, timezone=timezone)
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


@dataclass(frozen=True, slots=True)
class BandSpec:
    day_type: DayType
    start_minute: int
    end_minute: int
    unit_minutes: int
    unit_price_krw: int


async def replace_tariffs(
    session: AsyncSession, *, zone_id: uuid.UUID, slot_kind: str, bands: list[BandSpec]
) -> list[Tariff]:
    """Replace a zone's tariff for one slot kind. Overlapping bands are refused (exclusion constraint)."""
    await session.execute(delete(Tariff).where(Tariff.zone_id == zone_id, Tariff.slot_kind == slot_kind))
    rows = [
        Tariff(
            zone_id=zone_id,
            slot_kind=slot_kind,
            day_type=b.day_type,
            start_minute=b.start_minute,
            end_minute=b.end_minute,
            unit_minutes=b.unit_minutes,
            unit_price_krw=b.unit_price_krw,
        )
        for b in bands
    ]
    try:
        async with session.begin_nested():
            session.add_all(rows)
            await session.flush()
    except IntegrityError as error:
        raise InvalidInput("tariff bands of one day type must not overlap") from error
    return rows


async def set_caps(session: AsyncSession, *, zone_id: uuid.UUID, low: int, high: int) -> ZonePriceCap:
    cap = await session.get(ZonePriceCap, zone_id)
    if cap is None:
        cap = ZonePriceCap(zone_id=zone_id, min_krw_per_hour=low, max_krw_per_hour=high)
        session.add(cap)
    else:
        cap.min_krw_per_hour, cap.max_krw_per_hour = low, high
    await session.flush()
    return cap


async def tariffs_of(session: AsyncSession, zone_id: uuid.UUID) -> list[Tariff]:
    rows = await session.execute(
        select(Tariff).where(Tariff.zone_id == zone_id).order_by(Tariff.slot_kind, Tariff.day_type, Tariff.start_minute)
    )
    return list(rows.scalars())


async def refund_booking(
    session: AsyncSession, *, booking_id: uuid.UUID, amount: int, place: Place, now: datetime
) -> dict[str, int]:
    """Give a driver money back for a booking (complaint handling), taken back from the parties pro rata."""
    hold = await session.scalar(select(PaymentHold).where(PaymentHold.booking_id == booking_id))
    if hold is None:
        raise RefundTooLarge("nothing was paid for this booking: there is nothing to refund")
    return await Wallet().refund(
        session, hold_id=hold.id, amount=amount, shares=await shares_for(session, place), now=now
    )
