"""Every mapped model, imported in one place so the metadata is complete (Alembic, tests)."""

from accounts.models import Account, RevokedToken
from billing.models import (
    AccountBalance,
    JournalPosting,
    JournalTransaction,
    MileageEntry,
    MileageRule,
    PaymentHold,
    PriceMultiplier,
    PublicHoliday,
    SettlementRule,
    Tariff,
    ZonePriceCap,
)
from core.db import Base
from core.idempotency import IdempotencyKey
from core.outbox import Notification
from feedback.models import Complaint, ComplaintReply, SurveyResponse
from geo.models import Zone
from kpi.models import Camera, EntranceEvent, Violation, WaterGauge, WaterLevel
from ledger.models import Anchor, AnchorJob, ChainDeployment, LedgerEntry, LedgerHead, LedgerNode, TreeHead
from mobility.models import (
    ComplianceEvent,
    Geofence,
    Provider,
    RideFareCap,
    TelemetryPoint,
    Trip,
    Vehicle,
    VehicleEvent,
    VehicleType,
)
from ops.models import PayStatement, Shift, StaffMember, Task
from parking.models import Booking, Lot, MatchRequest, SharingException, SharingRule, Slot

__all__ = [
    "Complaint",
    "ComplaintReply",
    "SurveyResponse",
    "Camera",
    "EntranceEvent",
    "Violation",
    "WaterGauge",
    "WaterLevel",
    "Notification",
    "PayStatement",
    "Shift",
    "StaffMember",
    "Task",
    "ComplianceEvent",
    "Geofence",
    "Provider",
    "RideFareCap",
    "TelemetryPoint",
    "Trip",
    "Vehicle",
    "VehicleEvent",
    "VehicleType",
    "AccountBalance",
    "JournalPosting",
    "JournalTransaction",
    "PaymentHold",
    "PriceMultiplier",
    "PublicHoliday",
    "Tariff",
    "ZonePriceCap",
    "SettlementRule",
    "Anchor",
    "AnchorJob",
    "ChainDeployment",
    "LedgerEntry",
    "MileageEntry",
    "MileageRule",
    "LedgerHead",
    "LedgerNode",
    "TreeHead",
    "Account",
    "RevokedToken",
    "Base",
    "Booking",
    "IdempotencyKey",
    "Lot",
    "MatchRequest",
    "SharingException",
    "SharingRule",
    "Slot",
    "Zone",
]
