"""What a booking costs in the end: charge lines, each saying what it is for. Pure; integer KRW."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from billing.splits import BASIS


@dataclass(frozen=True, slots=True)
class ChargePolicy:
    cancellation_free_before: timedelta  # cancelling at least this long before start is free
    cancellation_fee_bp: int  # of the quote, later than that
    no_show_fee_bp: int  # of the quote
    overstay_surcharge_bp: int  # on top of the price of the time overstayed


@dataclass(frozen=True, slots=True)
class ChargeLine:
    kind: str  # booked_time | overstay_time | overstay_surcharge | cancellation_fee | no_show_fee
    description: str
    amount_krw: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _part(amount: int, basis_points: int) -> int:
    return (amount * basis_points + BASIS // 2) // BASIS


def completion(quote_krw: int, *, overstay_krw: int, policy: ChargePolicy) -> list[ChargeLine]:
    """Check-out: the booked time as quoted (leaving early is not refunded); time beyond the booking at the tariff,
    plus the overstay surcharge."""
    lines = [ChargeLine("booked_time", "booked time at the locked quote", quote_krw)]
    if overstay_krw:
        lines.append(ChargeLine("overstay_time", "time parked beyond the booking, at the tariff", overstay_krw))
        surcharge = _part(overstay_krw, policy.overstay_surcharge_bp)
        lines.append(
            ChargeLine("overstay_surcharge", f"overstay surcharge {policy.overstay_surcharge_bp / 100:g}%", surcharge)
        )
    return lines


def cancellation(quote_krw: int, *, start: datetime, now: datetime, policy: ChargePolicy) -> list[ChargeLine]:
    if start - now >= policy.cancellation_free_before:
        return []
    fee = _part(quote_krw, policy.cancellation_fee_bp)
    hours = policy.cancellation_free_before.total_seconds() / 3600
    return [
        ChargeLine(
            "cancellation_fee",
            f"cancelled less than {hours:g} h before start: {policy.cancellation_fee_bp / 100:g}% of the quote",
            fee,
        )
    ]


def no_show(quote_krw: int, *, policy: ChargePolicy) -> list[ChargeLine]:
    fee = _part(quote_krw, policy.no_show_fee_bp)
    return [ChargeLine("no_show_fee", f"not checked in: {policy.no_show_fee_bp / 100:g}% of the quote", fee)]
