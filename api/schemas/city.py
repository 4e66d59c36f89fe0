"""HTTP models of the city's data: cameras, water gauges, entries and sightings, violations, KPIs, surveys,
complaints, notifications."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import Instant, Latitude, Longitude, Strict
from core.outbox import Notification

PlateText = Annotated[str, Field(min_length=2, max_length=20, description="vehicle plate; stored only as a keyed hash")]
EventId = Annotated[str, Field(min_length=1, max_length=64, description="the camera's own id for the event")]


DeviceIdText = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]


class CameraIn(Strict):
    device_id: DeviceIdText
    name: str = Field(min_length=1, max_length=120)
    purpose: Literal["entrance", "enforcement"]
    lon: Longitude
    lat: Latitude


class DeviceOut(BaseModel):
    id: uuid.UUID
    device_id: str
    name: str
    key_active: bool = Field(description="false once the key is revoked")
    key_rotated_at: datetime | None


class CameraOut(DeviceOut):
    purpose: str


class CameraKeyOut(CameraOut):
    device_key: str = Field(description="shown once, stored hashed; the camera sends it as X-Device-Key")


class WaterGaugeIn(Strict):
    device_id: DeviceIdText
    name: str = Field(min_length=1, max_length=120)
    lot_id: uuid.UUID = Field(description="the riverside lot the gauge watches")
    threshold_cm: int = Field(ge=1, le=10_000, description="a level at or over this floods the lot")
    lon: Longitude
    lat: Latitude


class WaterGaugeOut(DeviceOut):
    lot_id: uuid.UUID
    threshold_cm: int
    level_cm: int | None = Field(description="the latest reading (null before the first)")
    level_at: datetime | None
    flooding_since: datetime | None = Field(description="null while the lot is not flooding")


class WaterGaugeKeyOut(WaterGaugeOut):
    device_key: str = Field(description="shown once, stored hashed; the gauge sends it as X-Device-Key")


class WaterLevelIn(Strict):
    at: Instant
    level_cm: int = Field(ge=-1000, le=10_000, description="water level over the gauge's zero, centimetres")


class WaterLevelsIn(Strict):
    readings: list[WaterLevelIn] = Field(min_length=1, max_length=1000)


class RejectedReading(BaseModel):
    index: int = Field(description="position of the reading in the posted batch")
    reason: Literal["duplicate", "future", "stale"]


class WaterLevelsOut(BaseModel):
    accepted: int
    rejected: int
    rejections: list[RejectedReading]
    flooding: bool = Field(description="the lot's state after this batch")
    warned: int = Field(description="drivers warned by this batch (their bookings hold a slot of the lot)")


class EntryIn(Strict):
    event_id: EventId
    at: Instant
    plate: PlateText


class EntriesIn(Strict):
    events: list[EntryIn] = Field(min_length=1, max_length=1000)


class SightingIn(Strict):
    event_id: EventId
    at: Instant
    plate: PlateText
    kind: Literal["no_parking", "fire_lane", "crosswalk", "resident_slot_misuse"]
    lon: Longitude | None = Field(default=None, description="where the vehicle stands; default: at the camera")
    lat: Latitude | None = None


class SightingsIn(Strict):
    events: list[SightingIn] = Field(min_length=1, max_length=1000)


class RejectedEvent(BaseModel):
    index: int = Field(description="position of the event in the posted batch")
    reason: Literal["duplicate", "future", "stale", "invalid_plate"]


class BatchOut(BaseModel):
    accepted: int
    rejected: int
    rejections: list[RejectedEvent]
    alerts: int = Field(description="fire-lane alerts queued for the operators")


class ViolationIn(Strict):
    kind: Literal["no_parking", "fire_lane", "crosswalk", "resident_slot_misuse"]
    plate: PlateText
    lon: Longitude
    lat: Latitude
    at: Instant | None = Field(default=None, description="when it was seen; default: now")
    note: str = Field(default="", max_length=500)


class ViolationOut(BaseModel):
    id: uuid.UUID
    at: datetime
    kind: str
    source: str = Field(description="cctv, officer, resident or operator")
    lon: float
    lat: float
    note: str


class KpiDayOut(BaseModel):
    day: str = Field(description="local date, YYYY-MM-DD")
    day_type: Literal["weekday", "weekend"] = Field(description="weekend: Saturdays, Sundays and public holidays")
    entering_vehicles: float | None
    illegal_parking: float | None
    supply_ratio: float | None
    shared_slots_open: float | None
    shared_slots_supplied: float | None
    jobs: float | None = Field(description="staff hours over an 8-hour day")
    revenue_owners: float | None = Field(description="KRW the slot owners earned (captures less refunds)")
    revenue_providers: float | None = Field(description="KRW the partner fleet companies earned")
    revenue_enterprise: float | None = Field(description="KRW the village enterprise earned")
    revenue_city: float | None = Field(description="KRW the city earned")
    revenue_platform: float | None = Field(description="KRW the platform earned")
    vehicles_deployed: float | None = Field(description="shared vehicles in any state but removed during the day")
    vehicles_active: float | None = Field(description="shared vehicles ridden at least once")
    trips: float | None = Field(description="shared-vehicle trips started")
    trips_per_vehicle: float | None = Field(description="trips over deployed vehicles (null with none deployed)")
    idle_share: float | None = Field(description="deployed vehicles nobody rode, over deployed vehicles")
    suppressed: list[str] = Field(description="cells built from fewer than k people: their values are null")


class ZoneHoursOut(BaseModel):
    zone_id: uuid.UUID
    code: str
    name: str
    open_slots: list[float] = Field(description="per local hour 0-23: slots open to sharing, time-weighted")
    occupancy: list[float | None] = Field(
        description="per local hour: slot time booked over slot time open (0-1); null when nothing was open or the "
        "cell was suppressed"
    )
    suppressed: list[int] = Field(description="hours whose occupancy came from fewer than k drivers")


class KpiHourlyOut(BaseModel):
    day: str = Field(description="local date, YYYY-MM-DD")
    min_people: int = Field(description="k: cells from fewer people are suppressed")
    supply_ratio: list[float] = Field(
        description="per local hour 0-23: (pre-existing legal spaces + slots open to sharing, time-weighted) / "
        "registered vehicles"
    )
    zones: list[ZoneHoursOut]
    fleet: list[dict[str, int]] = Field(
        description="per local hour 0-23: shared vehicles in each MDS state at the start of the hour"
    )


class KpiSummaryOut(BaseModel):
    kpi: str
    weekday: float | None = Field(description="mean over the month's weekdays whose cell is published")
    weekend: float | None
    weekday_days: int
    weekend_days: int
    published: dict[str, dict[str, float]] = Field(
        description="the pilot's published values beside: weekday/weekend -> before/after"
    )


class KpiMonthOut(BaseModel):
    month: str
    min_people: int = Field(description="k: cells from fewer people are suppressed")
    kpis: list[KpiSummaryOut]
    days: list[KpiDayOut]


class SurveyIn(Strict):
    subject: Literal["booking", "ride"] = Field(description="what is rated: a parking booking or a shared-vehicle ride")
    subject_id: uuid.UUID = Field(description="the booking's or the ride's id; it must be yours and have ended")
    score: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy)")
    comment: str | None = Field(default=None, max_length=2000)


class SurveyOut(BaseModel):
    id: uuid.UUID
    subject: str
    subject_id: uuid.UUID
    score: int
    comment: str | None
    answered_at: datetime


class ComplaintIn(Strict):
    category: Literal["service_quality", "digital_skills", "billing", "noise", "other"]
    text: str = Field(min_length=1, max_length=4000, description="what happened, in the resident's words")
    subject: Literal["booking", "ride"] | None = Field(default=None, description="what it is about, if anything")
    subject_id: uuid.UUID | None = Field(default=None, description="with `subject`: the booking's or ride's id (yours)")


class ComplaintReplyIn(Strict):
    text: str = Field(min_length=1, max_length=4000)


class ComplaintAssignIn(Strict):
    assignee_id: uuid.UUID = Field(description="an operator's or a field staff member's account")


class ComplaintStateIn(Strict):
    state: Literal["open", "in_progress", "resolved"]
    note: str | None = Field(
        default=None, min_length=1, max_length=4000, description="why: required to resolve or reopen; kept as a reply"
    )


class ComplaintReplyOut(BaseModel):
    id: uuid.UUID
    from_operator: bool = Field(description="true: the village enterprise wrote it; false: the resident")
    text: str
    at: datetime


class ComplaintOut(BaseModel):
    id: uuid.UUID
    category: str
    text: str
    subject: str | None
    subject_id: uuid.UUID | None
    state: str = Field(description="open, in_progress or resolved")
    filed_by: uuid.UUID
    assignee_id: uuid.UUID | None
    filed_at: datetime
    response_due_at: datetime = Field(description="SLA: a first answer from the village enterprise is due then")
    resolution_due_at: datetime = Field(description="SLA: resolution is due then")
    first_response_at: datetime | None
    resolved_at: datetime | None
    state_changed_at: datetime
    reopened: int = Field(description="times its filer reopened it")
    response_overdue: bool = Field(description="the first answer came, or is still missing, after its due time")
    resolution_overdue: bool = Field(description="resolved, or still unresolved, after its due time")
    replies: list[ComplaintReplyOut] | None = Field(description="oldest first (null in listings)")


class ComplaintCountOut(BaseModel):
    category: str
    filed: int | None = Field(description="null when fewer than k people filed them")
    share: float | None = Field(description="of all complaints filed in the period (null with `filed`)")
    resolved_late: int | None = Field(description="resolved after their due time, or still open past it")


class ComplaintSummaryOut(BaseModel):
    start: datetime
    end: datetime
    filed: int
    min_people: int = Field(description="k: categories with fewer filers are suppressed")
    categories: list[ComplaintCountOut]


class NotificationOut(BaseModel):
    id: uuid.UUID
    kind: str = Field(description="flood_alert, flood_clear, fire_lane_alert, ...")
    subject: str
    body: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None = Field(description="when the delivery channel took it; null while pending")

    @classmethod
    def of(cls, notification: Notification) -> NotificationOut:
        return cls(
            id=notification.id,
            kind=notification.kind,
            subject=notification.subject,
            body=notification.shown(),
            created_at=notification.created_at,
            delivered_at=notification.delivered_at,
        )
