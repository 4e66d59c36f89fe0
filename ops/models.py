"""Field staff of the village enterprise, their shifts, and the tasks they are planned to do."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CreatedAtMixin, IdMixin
from core.enums import check_in


class Skill(StrEnum):
    VALET = "valet"  # a driving licence: moves residents' cars between home and a slot
    CREW = "crew"  # a crew van: rebalances vehicles and swaps batteries
    DRIVER = "driver"  # a passenger van: pick-up rides


class TaskKind(StrEnum):
    VALET_PICKUP = "valet_pickup"  # take a resident's car from home and park it in a matched slot
    VALET_RETURN = "valet_return"  # take it from its slot and bring it back home
    REBALANCE_PICKUP = "rebalance_pickup"
    REBALANCE_DROPOFF = "rebalance_dropoff"
    BATTERY_SWAP = "battery_swap"
    RIDE_PICKUP = "ride_pickup"
    RIDE_DROPOFF = "ride_dropoff"
    INSPECTION = "inspection"
    COMPLAINT_FOLLOWUP = "complaint_followup"


class TaskState(StrEnum):
    UNASSIGNED = "unassigned"  # accepted, waiting for a plan to give it to someone (e.g. its staff clocked out)
    ASSIGNED = "assigned"  # in someone's planned route; a re-plan may still move it
    EN_ROUTE = "en_route"  # the staff member is on the way: never moved again
    ARRIVED = "arrived"  # at the origin; for a valet task the car is in the valet's hands
    DONE = "done"
    FAILED = "failed"  # with a reason
    CANCELLED = "cancelled"


SKILL_OF = {
    TaskKind.VALET_PICKUP: Skill.VALET,
    TaskKind.VALET_RETURN: Skill.VALET,
    TaskKind.REBALANCE_PICKUP: Skill.CREW,
    TaskKind.REBALANCE_DROPOFF: Skill.CREW,
    TaskKind.BATTERY_SWAP: Skill.CREW,
    TaskKind.RIDE_PICKUP: Skill.DRIVER,
    TaskKind.RIDE_DROPOFF: Skill.DRIVER,
}


class StaffMember(CreatedAtMixin, Base):
    """An account with role `staff`: what they can do, what they earn per hour, where they last were."""

    __tablename__ = "staff_members"
    __table_args__ = (
        CheckConstraint(f"skills <@ ARRAY[{', '.join(repr(s.value) for s in Skill)}]::varchar[]", name="skills"),
        CheckConstraint("hourly_wage_krw >= 0", name="wage"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    skills: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    hourly_wage_krw: Mapped[int] = mapped_column(Integer)
    position: Mapped[Any | None] = mapped_column(Geography("POINT", srid=4326, spatial_index=False))
    position_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Shift(IdMixin, CreatedAtMixin, Base):
    """A planned shift and when it was actually worked. PostgreSQL refuses two overlapping shifts of one person."""

    __tablename__ = "shifts"
    __table_args__ = (
        CheckConstraint("planned_end > planned_start", name="planned"),
        CheckConstraint("clocked_out_at IS NULL OR clocked_in_at <= clocked_out_at", name="clocked"),
        CheckConstraint("clocked_out_at IS NULL OR clocked_in_at IS NOT NULL", name="clocked_in_first"),
        ExcludeConstraint(
            ("staff_id", "="),
            (text("tstzrange(planned_start, planned_end)"), "&&"),
            name="no_overlapping_shifts",
            using="gist",
        ),
    )

    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_members.account_id"), index=True)
    planned_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    planned_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    clocked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    clocked_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Task(IdMixin, CreatedAtMixin, Base):
    """One piece of field work: from an origin (and to a destination, when something is carried), in time windows,
    planned into a staff member's route with estimated times; every state change is stamped."""

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(check_in("kind", TaskKind), name="kind"),
        CheckConstraint(check_in("state", TaskState), name="state"),
        CheckConstraint(
            "(state = 'unassigned') = (staff_id IS NULL) OR state IN ('done', 'failed', 'cancelled')", name="staff"
        ),
        CheckConstraint("fee_krw IS NULL OR fee_krw >= 0", name="fee"),
        CheckConstraint("passengers IS NULL OR passengers > 0", name="passengers"),
        Index(
            "ix_tasks_open",
            "state",
            postgresql_where=text("state IN ('unassigned', 'assigned', 'en_route', 'arrived')"),
        ),
    )

    kind: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_members.account_id"), index=True)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)  # assigned by hand: re-plans keep its staff
    requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    origin: Mapped[Any] = mapped_column(Geography("POINT", srid=4326, spatial_index=False))
    destination: Mapped[Any | None] = mapped_column(Geography("POINT", srid=4326, spatial_index=False))
    origin_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # windows at the origin
    origin_by: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    destination_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # and at the destination
    destination_by: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sequence: Mapped[int | None] = mapped_column(Integer)  # position in its staff member's route
    eta_origin: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    eta_destination: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    booking_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    vehicle_plate: Mapped[str | None] = mapped_column(String(16))
    vehicle_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("vehicles.id"), index=True)  # a crew task's
    geofence_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("geofences.id"))  # the area it is taken to
    leg_of: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tasks.id"), index=True)  # a second leg's first
    passengers: Mapped[int | None] = mapped_column(Integer)  # a ride's party
    hold_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_holds.id"))
    fee_krw: Mapped[int | None] = mapped_column(BigInteger)  # what the requester was finally charged
    state_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    en_route_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    arrived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failure_reason: Mapped[str | None] = mapped_column(String(500))


class PayStatement(IdMixin, CreatedAtMixin, Base):
    """A staff member's pay for a month (Seoul time): hours worked on clocked shifts and tasks done, paid out of the
    village enterprise's balance through the journal. One per person and month."""

    __tablename__ = "pay_statements"
    __table_args__ = (
        CheckConstraint("minutes_worked >= 0 AND tasks_done >= 0 AND amount_krw >= 0", name="numbers"),
        CheckConstraint("month ~ '^[0-9]{4}-[0-9]{2}$'", name="month"),
        UniqueConstraint("staff_id", "month", name="one_statement_per_month"),
    )

    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_members.account_id"))
    month: Mapped[str] = mapped_column(String(7))
    minutes_worked: Mapped[int] = mapped_column(Integer)
    tasks_done: Mapped[int] = mapped_column(Integer)
    hourly_wage_krw: Mapped[int] = mapped_column(Integer)
    amount_krw: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
