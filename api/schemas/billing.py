"""Money's HTTP models: the wallet, top-ups, payouts, mileage, statements, tariffs, caps and refunds."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import Strict
from billing.pricing import DayType
from billing.wallet import MAX_TOP_UP_KRW
from parking.models import SlotKind
from parking.policy import END_CLOCK, START_CLOCK

# a party of the journal: a slot owner, the village enterprise, the city or the platform
PARTY = re.compile(r"^(owner:[0-9a-f-]{36}|enterprise|city|platform)$")


class TopUpIn(Strict):
    amount_krw: int = Field(gt=0, le=MAX_TOP_UP_KRW)


class TopUpConfirmIn(Strict):
    payment_key: str = Field(
        min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$", description="what the payment window handed the app"
    )
    amount_krw: int = Field(gt=0, le=MAX_TOP_UP_KRW, description="the amount paid: must be the order's")


class TopUpOut(BaseModel):
    """A top-up order. Pay `amount_krw` for order `order_id` in the gateway's payment window, then confirm the
    `paymentKey` it hands back: the wallet is credited when the gateway confirms the payment."""

    id: str
    order_id: str = Field(description="the order id to pay at the gateway (the top-up's id)")
    order_name: str
    amount_krw: int
    status: Literal["pending", "confirmed", "failed", "cancelled"]
    method: str | None = Field(description="how it was paid, as the gateway says (once confirmed)")
    failure_code: str | None = Field(description="the gateway's code when it refused the payment")
    failure_message: str | None
    created_at: datetime
    confirmed_at: datetime | None
    closed_at: datetime | None


class HoldOut(BaseModel):
    id: str
    booking_id: str | None
    amount_krw: int
    captured_krw: int
    released_krw: int
    refunded_krw: int


class WalletOut(BaseModel):
    balance_krw: int = Field(description="spendable")
    held_krw: int = Field(description="reserved for bookings")
    owed_krw: int = Field(
        description="owed from trips the wallet could not cover: nothing new can be booked until a top-up settles it"
    )
    holds: list[HoldOut]


class ReceivableOut(BaseModel):
    account_id: str
    owed_krw: int


class PayoutIn(Strict):
    account: str = Field(pattern=PARTY.pattern, description="owner:<account id>, enterprise, city or platform")
    amount_krw: int = Field(gt=0)


class MileageEntryOut(BaseModel):
    points: int
    remaining: int
    reason: str
    reference: str
    expires_at: datetime | None
    created_at: datetime


class MileageOut(BaseModel):
    balance_points: int = Field(description="points that can be redeemed now (1 point = 1 KRW)")
    entries: list[MileageEntryOut]


class RedeemIn(Strict):
    points: int = Field(gt=0)


class StatementLineOut(BaseModel):
    at: datetime
    transaction_id: str
    kind: str
    reference: str
    description: str = Field(
        description="what it was for: the booking (slot code, local period, charge kinds) or the ride (vehicle, period)"
    )
    amount_krw: int
    balance_krw: int


class StatementOut(BaseModel):
    account: str
    month: str
    opening_krw: int
    lines: list[StatementLineOut]
    closing_krw: int


class BandIO(Strict):
    day_type: DayType
    start: str = Field(pattern=START_CLOCK, examples=["09:00"], description="local HH:MM")
    end: str = Field(pattern=END_CLOCK, examples=["18:00"], description="local HH:MM, after start; 24:00 is midnight")
    unit_minutes: Literal[1, 10, 15, 30, 60] = Field(description="the charging unit (rides: 1, per minute)")
    unit_price_krw: int = Field(ge=0, le=100_000)


class TariffIn(Strict):
    slot_kind: SlotKind
    bands: list[BandIO] = Field(max_length=100)


class TariffOut(BaseModel):
    slot_kind: str
    bands: list[BandIO]


class CapsIO(Strict):
    min_krw_per_hour: int = Field(ge=0, le=1_000_000)
    max_krw_per_hour: int = Field(ge=0, le=1_000_000)


class RefundIn(Strict):
    amount_krw: int = Field(gt=0)
    reason: str = Field(min_length=3, max_length=300)
