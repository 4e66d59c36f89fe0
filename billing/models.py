from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Integer, String, text
from sqlalchemy.dialects.postgresql import JSON, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CreatedAtMixin, IdMixin
from core.enums import check_in


class JournalTransaction(IdMixin, Base):
    """One money movement: its postings add up to zero (checked by PostgreSQL at commit). Append-only."""

    __tablename__ = "journal_transactions"

    kind: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class JournalPosting(Base):
    """An amount on one journal account. Accounts: wallet:<id>, hold:<id>, owner:<id>, enterprise, city, platform,
    gateway (money from and to outside). A positive amount raises the account's balance."""

    __tablename__ = "journal_postings"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    transaction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journal_transactions.id"), index=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    amount_krw: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AccountBalance(Base):
    """Running balance per journal account, kept by a trigger on postings; wallets and holds never go negative."""

    __tablename__ = "journal_balances"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    balance_krw: Mapped[int] = mapped_column(BigInteger)


class PaymentHold(IdMixin, CreatedAtMixin, Base):
    """Money held on a driver's wallet for a booking, then captured (charged), released, or refunded."""

    __tablename__ = "payment_holds"
    __table_args__ = (
        CheckConstraint("amount_krw > 0", name="amount"),
        CheckConstraint("captured_krw >= 0 AND released_krw >= 0 AND refunded_krw >= 0", name="non_negative"),
        CheckConstraint("captured_krw + released_krw <= amount_krw", name="within_hold"),
        CheckConstraint("refunded_krw <= captured_krw", name="refund_within_capture"),
    )

    driver_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    booking_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    amount_krw: Mapped[int] = mapped_column(BigInteger)
    captured_krw: Mapped[int] = mapped_column(BigInteger, default=0)
    released_krw: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_krw: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TopUpStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"  # the gateway confirmed the payment: the wallet was credited
    FAILED = "failed"  # the gateway refused it
    CANCELLED = "cancelled"  # the driver gave up


class TopUp(IdMixin, CreatedAtMixin, Base):
    """A wallet top-up: an order (its id is the gateway's order id) that credits the wallet only when the payment
    gateway confirms its payment. `pending` -> `confirmed` (credited once), `failed` (refused by the gateway) or
    `cancelled` (the customer gave up)."""

    __tablename__ = "top_ups"
    __table_args__ = (
        CheckConstraint("amount_krw > 0", name="amount"),
        CheckConstraint(check_in("status", TopUpStatus), name="status"),
        CheckConstraint("(status = 'confirmed') = (payment_key IS NOT NULL AND confirmed_at IS NOT NULL)", name="paid"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount_krw: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[TopUpStatus] = mapped_column(String(16), default=TopUpStatus.PENDING)
    payment_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    method: Mapped[str | None] = mapped_column(String(40))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(String(300))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SettlementRule(IdMixin, Base):
    """How a captured payment is split, per slot kind, optionally per lot (a lot's contract), in basis points."""

    __tablename__ = "settlement_rules"
    __table_args__ = (
        CheckConstraint("owner_bp + enterprise_bp + city_bp + platform_bp = 10000", name="whole"),
        CheckConstraint("owner_bp >= 0 AND enterprise_bp >= 0 AND city_bp >= 0 AND platform_bp >= 0", name="shares"),
    )

    slot_kind: Mapped[str] = mapped_column(String(24))
    lot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lots.id"))
    owner_bp: Mapped[int] = mapped_column(Integer)
    enterprise_bp: Mapped[int] = mapped_column(Integer)
    city_bp: Mapped[int] = mapped_column(Integer)
    platform_bp: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(300))


class Tariff(IdMixin, Base):
    """Price of a time band of the local day, per zone, product and day type. The product (`slot_kind`) is a slot
    kind for parking or a vehicle type code for rides (priced per minute). Bands of one zone, kind and day type
    never overlap (exclusion constraint)."""

    __tablename__ = "tariffs"
    __table_args__ = (
        CheckConstraint("day_type IN ('weekday', 'weekend', 'holiday')", name="day_type"),
        CheckConstraint("start_minute >= 0 AND start_minute < end_minute AND end_minute <= 1440", name="band"),
        CheckConstraint("unit_minutes IN (1, 10, 15, 30, 60)", name="unit"),
        CheckConstraint("unit_price_krw >= 0", name="price"),
        ExcludeConstraint(
            ("zone_id", "="),
            ("slot_kind", "="),
            ("day_type", "="),
            (text("int4range(start_minute, end_minute)"), "&&"),
            name="tariff_bands_do_not_overlap",
            using="gist",
        ),
    )

    zone_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("zones.id"), index=True)
    slot_kind: Mapped[str] = mapped_column(String(24))
    day_type: Mapped[str] = mapped_column(String(16))
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)
    unit_minutes: Mapped[int] = mapped_column(Integer)
    unit_price_krw: Mapped[int] = mapped_column(Integer)


class ZonePriceCap(Base):
    """The city's minimum and maximum price per hour in a zone."""

    __tablename__ = "zone_price_caps"
    __table_args__ = (CheckConstraint("0 <= min_krw_per_hour AND min_krw_per_hour <= max_krw_per_hour", name="caps"),)

    zone_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("zones.id"), primary_key=True)
    min_krw_per_hour: Mapped[int] = mapped_column(Integer)
    max_krw_per_hour: Mapped[int] = mapped_column(Integer)


class PublicHoliday(Base):
    __tablename__ = "public_holidays"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class PriceMultiplier(Base):
    """Dynamic pricing: the multiplier of a zone's prices in one hour of the local day, from occupancy."""

    __tablename__ = "price_multipliers"
    __table_args__ = (
        CheckConstraint("hour >= 0 AND hour < 24", name="hour"),
        CheckConstraint("multiplier_permille > 0", name="multiplier"),
        CheckConstraint("occupancy_permille >= 0 AND occupancy_permille <= 1000", name="occupancy"),
    )

    zone_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("zones.id"), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    occupancy_permille: Mapped[int] = mapped_column(Integer)
    multiplier_permille: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MileageRule(IdMixin, Base):
    """A rule earning mileage, as data. `condition` keys: zone_code_in, zone_code_not_in, slot_kind_in (a slot kind or
    a vehicle type), min_minutes, within_minutes_of_parking (rides started that soon after a parking check-out).
    Points: `points` per qualifying event plus `points_per_1000_krw` of what was charged."""

    __tablename__ = "mileage_rules"
    __table_args__ = (CheckConstraint("points >= 0 AND points_per_1000_krw >= 0 AND valid_days > 0", name="points"),)

    code: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(300))
    event: Mapped[str] = mapped_column(String(32))  # booking_completed
    condition: Mapped[dict[str, Any]] = mapped_column(JSON)
    points: Mapped[int] = mapped_column(Integer)
    points_per_1000_krw: Mapped[int] = mapped_column(Integer)
    valid_days: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True)


class MileageEntry(IdMixin, Base):
    """Points earned (positive, with an expiry and what is left of them) or redeemed (negative)."""

    __tablename__ = "mileage_entries"
    __table_args__ = (
        CheckConstraint("points <> 0", name="points"),
        CheckConstraint("remaining >= 0 AND (points < 0 OR remaining <= points)", name="remaining"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    points: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
