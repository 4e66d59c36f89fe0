"""Happiness cars (행복카): a micro-EV contracted by a primary user, who has it in their guaranteed weekly windows,
and shared with other residents in its idle time; bookings and their trips, condition reports, rebooking offers
after a late return, and carpools."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSON, TSTZRANGE, ExcludeConstraint, Range
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CreatedAtMixin, IdMixin
from core.enums import check_in


class ContractStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class CarContract(IdMixin, CreatedAtMixin, Base):
    """The primary user's contract for one car: its home slot (held for the car by a parking booking for the whole
    contract, so nobody else is ever booked into it), the monthly fee, and the credit per hour the primary user
    earns for each hour of their own windows they release for others (the rule, as data)."""

    __tablename__ = "car_contracts"
    __table_args__ = (
        CheckConstraint(check_in("status", ContractStatus), name="status"),
        CheckConstraint("monthly_fee_krw >= 0 AND release_credit_krw_per_hour >= 0", name="money"),
        CheckConstraint("ends_at > starts_at", name="period"),
        Index("uq_car_contracts_active_car", "car_id", unique=True, postgresql_where=text("status = 'active'")),
    )

    car_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vehicles.id"))
    primary_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    home_slot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("slots.id"))
    home_booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"))
    monthly_fee_krw: Mapped[int] = mapped_column(Integer)
    release_credit_krw_per_hour: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[ContractStatus] = mapped_column(String(16))


class GuaranteedWindow(IdMixin, Base):
    """A weekly window (Seoul time) in which the car is the primary user's; `end_minute` > 1440 runs overnight."""

    __tablename__ = "car_windows"
    __table_args__ = (
        CheckConstraint("start_minute >= 0 AND start_minute < 1440", name="start"),
        CheckConstraint("end_minute > start_minute AND end_minute <= start_minute + 1440", name="end"),
    )

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("car_contracts.id", ondelete="CASCADE"), index=True)
    weekdays: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger))
    start_minute: Mapped[int] = mapped_column(SmallInteger)
    end_minute: Mapped[int] = mapped_column(SmallInteger)


class ExceptionKind(StrEnum):
    EXTRA = "extra"  # a one-off window of the primary user's, beyond the weekly ones
    RELEASED = "released"  # part of the primary user's own windows given to the shared pool for a day


class WindowException(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "car_window_exceptions"
    __table_args__ = (CheckConstraint(check_in("kind", ExceptionKind), name="kind"),)

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("car_contracts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ExceptionKind] = mapped_column(String(16))
    period: Mapped[Range[datetime]] = mapped_column(TSTZRANGE)
    credit_krw: Mapped[int] = mapped_column(Integer, default=0)  # a release's credit to the primary user


class CarInvoice(IdMixin, CreatedAtMixin, Base):
    """The monthly invoice of a contract: the fee less the month's release credits, charged to the primary user."""

    __tablename__ = "car_invoices"
    __table_args__ = (
        UniqueConstraint("contract_id", "month", name="uq_car_invoices_contract_month"),
        CheckConstraint("fee_krw >= 0 AND credit_krw >= 0 AND amount_krw >= 0", name="money"),
    )

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("car_contracts.id"))
    month: Mapped[str] = mapped_column(String(7))
    fee_krw: Mapped[int] = mapped_column(Integer)
    credit_krw: Mapped[int] = mapped_column(Integer)
    amount_krw: Mapped[int] = mapped_column(Integer)


class CarBookingStatus(StrEnum):
    RESERVED = "reserved"
    ACTIVE = "active"  # picked up: the car is out
    COMPLETED = "completed"  # returned
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


HOLDING = (CarBookingStatus.RESERVED, CarBookingStatus.ACTIVE)


class CarBooking(IdMixin, CreatedAtMixin, Base):
    """A booking of a happiness car for [start, end). `blocked` adds the buffer after it (charging, cleaning), and
    PostgreSQL refuses two holding bookings of one car whose blocked times overlap."""

    __tablename__ = "car_bookings"
    __table_args__ = (
        CheckConstraint(check_in("status", CarBookingStatus), name="status"),
        CheckConstraint("lower(blocked) = lower(period) AND upper(blocked) >= upper(period)", name="blocked"),
        ExcludeConstraint(
            ("car_id", "="),
            ("blocked", "&&"),
            name="no_double_car_booking",
            using="gist",
            where=text("status IN ('reserved', 'active')"),
        ),
        Index("ix_car_bookings_car_start", "car_id", text("lower(period)")),
    )

    car_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vehicles.id"))
    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("car_contracts.id"), index=True)
    driver_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    period: Mapped[Range[datetime]] = mapped_column(TSTZRANGE)
    blocked: Mapped[Range[datetime]] = mapped_column(TSTZRANGE)
    status: Mapped[CarBookingStatus] = mapped_column(String(16))
    primary_time: Mapped[bool] = mapped_column(Boolean, default=False)  # inside the primary user's own windows
    quote_krw: Mapped[int] = mapped_column(BigInteger)
    quote_lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    hold_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_holds.id"))
    trip_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("trips.id"))
    picked_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    odometer_start_m: Mapped[int | None] = mapped_column(BigInteger)
    odometer_end_m: Mapped[int | None] = mapped_column(BigInteger)
    battery_start_pct: Mapped[int | None] = mapped_column(SmallInteger)
    battery_end_pct: Mapped[int | None] = mapped_column(SmallInteger)
    charged_krw: Mapped[int | None] = mapped_column(BigInteger)
    charge_lines: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class Stage(StrEnum):
    PICK_UP = "pick_up"
    RETURN = "return"


class ConditionReport(IdMixin, CreatedAtMixin, Base):
    """What the driver found at pick-up or left at return: a checklist, a note, photos (storage keys). One with a
    failed item, or a note, waits in the operators' queue until handled."""

    __tablename__ = "car_condition_reports"
    __table_args__ = (
        CheckConstraint(check_in("stage", Stage), name="stage"),
        UniqueConstraint("booking_id", "stage", name="uq_car_condition_reports_booking_stage"),
        Index("ix_car_condition_reports_queue", "needs_attention", "handled_at"),
    )

    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("car_bookings.id"))
    stage: Mapped[Stage] = mapped_column(String(16))
    reporter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"))
    checklist: Mapped[dict[str, bool]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(2000), default="")
    photos: Mapped[list[str]] = mapped_column(ARRAY(String(200)))
    needs_attention: Mapped[bool] = mapped_column(Boolean)
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handled_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"))


class OfferStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"  # moved to the other car
    REFUNDED = "refunded"  # cancelled, everything released
    CLOSED = "closed"  # the late car came back in time after all, or the booking went on as it was


class RebookingOffer(IdMixin, CreatedAtMixin, Base):
    """A late car threatens the next booking of it: its driver is offered another car (when one is free for the
    whole booking) or a full refund, and an operator task is opened."""

    __tablename__ = "car_rebooking_offers"
    __table_args__ = (
        CheckConstraint(check_in("status", OfferStatus), name="status"),
        UniqueConstraint("booking_id", name="uq_car_rebooking_offers_booking"),
    )

    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("car_bookings.id"))  # the threatened booking
    late_booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("car_bookings.id"))
    alternative_car_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("vehicles.id"))
    task_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tasks.id"))
    status: Mapped[OfferStatus] = mapped_column(String(16))
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CarpoolStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"  # the riders paid their shares
    CANCELLED = "cancelled"  # everyone released


class Carpool(IdMixin, CreatedAtMixin, Base):
    """Seats a driver offers on a trip of their car (a booking of theirs); the cost shared by the documented rule."""

    __tablename__ = "carpools"
    __table_args__ = (
        CheckConstraint(check_in("status", CarpoolStatus), name="status"),
        CheckConstraint("seats BETWEEN 1 AND 6 AND cost_krw >= 0", name="numbers"),
        CheckConstraint("depart_until > depart_from", name="window"),
    )

    driver_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("car_bookings.id"))
    origin: Mapped[Any] = mapped_column(Geography("POINT", srid=4326, spatial_index=False))
    destination: Mapped[Any] = mapped_column(Geography("POINT", srid=4326, spatial_index=False))
    depart_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    depart_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seats: Mapped[int] = mapped_column(SmallInteger)
    cost_krw: Mapped[int] = mapped_column(Integer)  # the trip's cost the driver shares
    status: Mapped[CarpoolStatus] = mapped_column(String(16))
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SeatStatus(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"  # by the rider, or with the carpool
    RIDDEN = "ridden"  # the carpool completed: the share was paid


class CarpoolSeat(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "carpool_seats"
    __table_args__ = (
        CheckConstraint(check_in("status", SeatStatus), name="status"),
        UniqueConstraint("carpool_id", "rider_id", name="uq_carpool_seats_rider"),
    )

    carpool_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carpools.id"), index=True)
    rider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    status: Mapped[SeatStatus] = mapped_column(String(16))
    hold_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_holds.id"))
    share_krw: Mapped[int | None] = mapped_column(Integer)
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CarpoolRating(IdMixin, CreatedAtMixin, Base):
    """One rating from one participant of a completed carpool to another (the driver rates riders, riders the
    driver), once."""

    __tablename__ = "carpool_ratings"
    __table_args__ = (
        CheckConstraint("score BETWEEN 1 AND 5", name="score"),
        CheckConstraint("rater_id <> rated_id", name="not_oneself"),
        UniqueConstraint("carpool_id", "rater_id", "rated_id", name="uq_carpool_ratings_once"),
    )

    carpool_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carpools.id"), index=True)
    rater_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"))
    rated_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    score: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(String(500))


class PhotoUpload(Base):
    """A condition-report photo in storage (its content-addressed key): who uploaded it and when it was last uploaded.
    One no condition report names a day after its upload is removed, from storage too (`cars/photos.py`)."""

    __tablename__ = "photo_uploads"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
