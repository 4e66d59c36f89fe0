from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import JSON, TSTZRANGE, ExcludeConstraint, Range
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CreatedAtMixin, IdMixin
from core.enums import check_in


class SlotKind(StrEnum):
    PUBLIC_LOT = "public_lot"  # 공영
    PRIVATE_LOT = "private_lot"  # 민영
    RESIDENT_PRIORITY = "resident_priority"  # 거주자 우선주차면
    PRIVATE_INDIVIDUAL = "private_individual"  # 개인 사유지 주차면


LOT_KINDS = frozenset({SlotKind.PUBLIC_LOT, SlotKind.PRIVATE_LOT})


class SlotSize(StrEnum):
    COMPACT = "compact"
    REGULAR = "regular"
    LARGE = "large"


class ExceptionKind(StrEnum):
    EXTRA = "extra"  # one-off availability on top of the weekly windows
    BLACKOUT = "blackout"  # the owner needs the slot back


class BookingStatus(StrEnum):
    RESERVED = "reserved"
    ACTIVE = "active"
    OVERSTAYED = "overstayed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


HOLDING_STATUSES = (BookingStatus.RESERVED, BookingStatus.ACTIVE, BookingStatus.OVERSTAYED)
HOLDING_SQL = "status IN ('reserved', 'active', 'overstayed')"


class Lot(IdMixin, CreatedAtMixin, Base):
    """A parking lot grouping slots; public lots may be entrusted to the village enterprise (operator)."""

    __tablename__ = "lots"
    __table_args__ = (CheckConstraint("kind IN ('public_lot', 'private_lot')", name="kind"),)

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[SlotKind] = mapped_column(String(24))
    zone_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("zones.id"))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    operator_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    location: Mapped[object] = mapped_column(Geography("POINT", srid=4326, spatial_index=True))


class Slot(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "slots"
    __table_args__ = (
        CheckConstraint(check_in("kind", SlotKind), name="kind"),
        CheckConstraint(check_in("size", SlotSize), name="size"),
        CheckConstraint("(lot_id IS NOT NULL) = (kind IN ('public_lot', 'private_lot'))", name="lot_matches_kind"),
    )

    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[SlotKind] = mapped_column(String(24))
    lot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lots.id"), index=True)
    zone_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("zones.id"), index=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    operator_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    location: Mapped[object] = mapped_column(Geography("POINT", srid=4326, spatial_index=True))
    ev_charger: Mapped[bool] = mapped_column(default=False)
    accessible: Mapped[bool] = mapped_column(default=False)
    size: Mapped[SlotSize] = mapped_column(String(16), default=SlotSize.REGULAR)
    active: Mapped[bool] = mapped_column(default=True)


class SharingRule(IdMixin, CreatedAtMixin, Base):
    """A weekly recurring window in local time (Asia/Seoul).

    Minutes count from local midnight of the window's start day: `end_minute` may pass 1440 for a window that
    runs overnight (19:00-08:00 is 1140..1920).
    """

    __tablename__ = "sharing_rules"
    __table_args__ = (
        CheckConstraint("start_minute >= 0 AND start_minute < 1440", name="start_minute"),
        CheckConstraint("end_minute > start_minute AND end_minute <= start_minute + 1440", name="end_minute"),
        CheckConstraint("cardinality(weekdays) > 0 AND weekdays <@ ARRAY[1,2,3,4,5,6,7]::smallint[]", name="weekdays"),
    )

    slot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("slots.id", ondelete="CASCADE"), index=True)
    weekdays: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger))  # ISO: 1 = Monday .. 7 = Sunday
    start_minute: Mapped[int] = mapped_column(SmallInteger)
    end_minute: Mapped[int] = mapped_column(SmallInteger)


class SharingException(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "sharing_exceptions"
    __table_args__ = (
        CheckConstraint(check_in("kind", ExceptionKind), name="kind"),
        CheckConstraint("NOT isempty(period) AND NOT lower_inf(period) AND NOT upper_inf(period)", name="period"),
        Index("ix_sharing_exceptions_slot_period", "slot_id", "period", postgresql_using="gist"),
    )

    slot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("slots.id", ondelete="CASCADE"))
    kind: Mapped[ExceptionKind] = mapped_column(String(16))
    period: Mapped[Range[datetime]] = mapped_column(TSTZRANGE)
    note: Mapped[str] = mapped_column(String(500), default="")


class Booking(IdMixin, CreatedAtMixin, Base):
    """A driver's hold on a slot for [start, end). PostgreSQL forbids two holding bookings overlapping on a slot."""

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint(check_in("status", BookingStatus), name="status"),
        CheckConstraint(
            "NOT isempty(period) AND NOT lower_inf(period) AND NOT upper_inf(period)"
            " AND lower_inc(period) AND NOT upper_inc(period)",
            name="period",
        ),
        ExcludeConstraint(
            ("slot_id", "="),
            ("period", "&&"),
            name="no_double_booking",
            using="gist",
            where=text(HOLDING_SQL),
        ),
        Index("ix_bookings_status_start", "status", text("lower(period)")),
    )

    slot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("slots.id"), index=True)
    driver_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    period: Mapped[Range[datetime]] = mapped_column(TSTZRANGE)
    status: Mapped[BookingStatus] = mapped_column(String(16), default=BookingStatus.RESERVED)
    vehicle_plate: Mapped[str] = mapped_column(String(16))
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    quote_krw: Mapped[int | None] = mapped_column(BigInteger)  # locked when booked
    quote_lines: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    charged_krw: Mapped[int | None] = mapped_column(BigInteger)  # what was finally charged
    charge_lines: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    assisted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"))  # an operator booked it for them


class MatchStatus(StrEnum):
    PENDING = "pending"  # waiting for the next batch run (also after losing a race: re-matched, not dropped)
    MATCHED = "matched"  # a booking was made
    EXPIRED = "expired"  # its start passed without a slot
    CANCELLED = "cancelled"
    REFUSED = "refused"  # the booking could not be made for a reason of the driver's (funds): see its explanation


class MatchRequest(IdMixin, CreatedAtMixin, Base):
    """A driver's request for parking later, matched by the batch worker."""

    __tablename__ = "match_requests"
    __table_args__ = (
        CheckConstraint(check_in("status", MatchStatus), name="status"),
        CheckConstraint(check_in("vehicle_size", SlotSize), name="vehicle_size"),
        CheckConstraint("max_walk_m > 0", name="max_walk_m"),
        CheckConstraint(
            "NOT isempty(period) AND NOT lower_inf(period) AND NOT upper_inf(period)"
            " AND lower_inc(period) AND NOT upper_inc(period)",
            name="period",
        ),
        Index("ix_match_requests_status_start", "status", text("lower(period)")),
    )

    driver_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    destination: Mapped[object] = mapped_column(Geography("POINT", srid=4326, spatial_index=False))
    period: Mapped[Range[datetime]] = mapped_column(TSTZRANGE)
    max_walk_m: Mapped[int] = mapped_column()
    needs_ev: Mapped[bool] = mapped_column(default=False)
    needs_accessible: Mapped[bool] = mapped_column(default=False)
    vehicle_size: Mapped[SlotSize] = mapped_column(String(16), default=SlotSize.REGULAR)
    vehicle_plate: Mapped[str] = mapped_column(String(16))
    status: Mapped[MatchStatus] = mapped_column(String(16), default=MatchStatus.PENDING)
    booking_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bookings.id"))
    attempts: Mapped[int] = mapped_column(default=0)
    explanation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
