"""What the city's KPIs are counted from, beyond bookings, staff and money: the village cameras (entrance counts and
CCTV enforcement) and illegal-parking events from every source; and the water-level gauges by the riverside lots,
whose readings warn the drivers parked there of a flood. Plates are kept only as a keyed hash."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Identity, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CreatedAtMixin, IdMixin
from core.enums import check_in


class CameraPurpose(StrEnum):
    ENTRANCE = "entrance"  # counts vehicles entering the village
    ENFORCEMENT = "enforcement"  # CCTV that reports vehicles standing where parking is illegal


class ViolationKind(StrEnum):
    NO_PARKING = "no_parking"
    FIRE_LANE = "fire_lane"  # alerts the operator at once
    CROSSWALK = "crosswalk"
    RESIDENT_SLOT_MISUSE = "resident_slot_misuse"


class ViolationSource(StrEnum):
    CCTV = "cctv"
    OFFICER = "officer"  # the city's enforcement officers
    RESIDENT = "resident"  # a resident's report through the app
    OPERATOR = "operator"  # the village enterprise's staff


class CityDevice(IdMixin, CreatedAtMixin):
    """A device of the city's in the village that posts to maeul with its own key (`core/device_keys`)."""

    device_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))  # e.g. "north entrance, Samjeong-ro"
    location: Mapped[Any] = mapped_column(Geography("POINT", srid=4326))
    key_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of its key; None: revoked
    key_rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Camera(CityDevice, Base):
    __tablename__ = "cameras"
    __table_args__ = (CheckConstraint(check_in("purpose", CameraPurpose), name="purpose"),)

    purpose: Mapped[CameraPurpose] = mapped_column(String(16))


class WaterGauge(CityDevice, Base):
    """A water-level gauge watching a riverside parking lot: a reading at or over `threshold_cm` floods the lot
    (`flooding`, and the drivers parked or booked there are warned); it is clear again below the threshold minus
    the clearing margin (a setting), so a level hovering at the threshold does not warn again and again."""

    __tablename__ = "water_gauges"
    __table_args__ = (CheckConstraint("threshold_cm > 0", name="threshold"),)

    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id"), index=True)
    threshold_cm: Mapped[int]
    level_cm: Mapped[int | None]  # the latest reading
    level_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    flooding_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # None: not flooding


class WaterLevel(Base):
    """A gauge's reading; one per gauge and time (a batch sent twice is stored once)."""

    __tablename__ = "water_levels"
    __table_args__ = (UniqueConstraint("gauge_id", "at", name="uq_water_levels_gauge_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    gauge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("water_gauges.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    level_cm: Mapped[int]
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EntranceEvent(Base):
    """A vehicle entering the village, seen by an entrance camera. `event_id` is the camera's own id for the event:
    a batch sent twice is stored once."""

    __tablename__ = "entrance_events"
    __table_args__ = (
        UniqueConstraint("camera_id", "event_id", name="uq_entrance_events_camera_event"),
        Index("ix_entrance_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    camera_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cameras.id"))
    event_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    plate_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Violation(IdMixin, CreatedAtMixin, Base):
    """A vehicle seen standing where parking is illegal, from CCTV, an officer, a resident or the operator."""

    __tablename__ = "violations"
    __table_args__ = (
        CheckConstraint(check_in("kind", ViolationKind), name="kind"),
        CheckConstraint(check_in("source", ViolationSource), name="source"),
        CheckConstraint("(source = 'cctv') = (camera_id IS NOT NULL AND event_id IS NOT NULL)", name="camera"),
        UniqueConstraint("camera_id", "event_id", name="uq_violations_camera_event"),
        Index("ix_violations_at", "at"),
        Index("ix_violations_location", "location", postgresql_using="gist"),
    )

    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    location: Mapped[Any] = mapped_column(Geography("POINT", srid=4326, spatial_index=False))
    plate_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[ViolationKind] = mapped_column(String(24))
    source: Mapped[ViolationSource] = mapped_column(String(16))
    camera_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cameras.id"))
    event_id: Mapped[str | None] = mapped_column(String(64))
    reported_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"))
    note: Mapped[str] = mapped_column(String(500), default="")
