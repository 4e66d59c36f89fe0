"""HTTP models of the village enterprise's staff: shifts, earnings, tasks, plans, valets, crews, pick-up rides."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, StrictBool

from api.schemas.accounts import RegisterIn
from api.schemas.common import MONTH, Instant, Location, Strict
from api.schemas.parking import ReceiptOut
from ops.models import Skill
from parking.models import SlotSize


class StaffIn(RegisterIn):
    skills: list[Skill] = Field(min_length=1, description="valet: driving licence; crew: van; driver: passenger van")
    hourly_wage_krw: int = Field(ge=0, le=1_000_000)


class StaffPatch(Strict):
    skills: list[Skill] | None = Field(default=None, min_length=1)
    hourly_wage_krw: int | None = Field(default=None, ge=0, le=1_000_000)


class StaffOut(BaseModel):
    id: uuid.UUID
    display_name: str
    skills: list[str]
    hourly_wage_krw: int
    on_shift: bool = Field(description="clocked in now")
    shift_end: datetime | None = Field(description="planned end of the shift clocked in on")
    position: Location | None = Field(description="last position reported by the staff app")
    position_at: datetime | None
    open_tasks: int = Field(description="tasks assigned, on the way or arrived")


class ShiftIn(Strict):
    start: Instant
    end: Instant


class ShiftOut(BaseModel):
    id: uuid.UUID
    staff_id: uuid.UUID
    planned_start: datetime
    planned_end: datetime
    clocked_in_at: datetime | None
    clocked_out_at: datetime | None


class ClockInOut(BaseModel):
    shift: ShiftOut
    released_task_ids: list[uuid.UUID] = Field(
        default_factory=list, description="clock-out: tasks only planned for this person, handed to the next plan"
    )


class EarningsOut(BaseModel):
    staff_id: uuid.UUID
    month: str
    minutes_worked: int
    tasks_done: int
    hourly_wage_krw: int
    amount_krw: int = Field(description="minutes worked x hourly wage / 60, rounded down")


class PayIn(Strict):
    month: str = Field(pattern=MONTH, description="a finished month, Seoul time", examples=["2026-10"])


class PayStatementOut(BaseModel):
    id: uuid.UUID
    staff_id: uuid.UUID
    month: str
    minutes_worked: int
    tasks_done: int
    hourly_wage_krw: int
    amount_krw: int
    paid_at: datetime
    receipts: list[ReceiptOut] = Field(description="ledger receipt of the payment (none for a zero amount)")


class StaffOnTheWay(BaseModel):
    display_name: str | None
    position: Location | None
    position_at: datetime | None


class TaskOut(BaseModel):
    id: uuid.UUID
    kind: str
    state: str = Field(description="unassigned, assigned, en_route, arrived, done, failed or cancelled")
    staff_id: uuid.UUID | None
    pinned: bool = Field(description="assigned by hand: re-plans keep it with its staff member")
    origin: Location
    destination: Location | None
    origin_from: datetime | None
    origin_by: datetime | None
    destination_from: datetime | None
    destination_by: datetime | None
    sequence: int | None = Field(description="position in its staff member's route")
    eta_origin: datetime | None = Field(description="planned (live while on the way) arrival at the origin")
    eta_destination: datetime | None
    booking_id: uuid.UUID | None
    vehicle_plate: str | None
    vehicle_id: uuid.UUID | None = Field(description="the fleet vehicle a crew task moves or swaps")
    geofence_id: uuid.UUID | None = Field(description="the parking area a rebalanced vehicle is taken to")
    leg_of: uuid.UUID | None = Field(description="a second leg's first task (a ride's drop-off: its pickup)")
    passengers: int | None = Field(description="a pick-up ride's party")
    fee_krw: int | None = Field(description="what the requester was finally charged")
    failure_reason: str | None
    created_at: datetime
    state_changed_at: datetime
    assigned_at: datetime | None
    en_route_at: datetime | None
    arrived_at: datetime | None
    done_at: datetime | None
    failed_at: datetime | None
    cancelled_at: datetime | None
    staff: StaffOnTheWay | None = Field(default=None, description="who is coming and where they are (one task)")
    receipts: list[ReceiptOut] | None = Field(default=None, description="ledger receipts of the task (one task)")


class TaskMoveIn(Strict):
    state: Literal["en_route", "arrived", "done", "failed"]
    reason: str | None = Field(default=None, min_length=1, max_length=500, description="required for failed")


class AssignIn(Strict):
    staff_id: uuid.UUID


class PlanOut(BaseModel):
    staff_on_shift: int = Field(description="valets, or van drivers, on shift")
    planned: int = Field(description="open requests in someone's route")
    unassigned_task_ids: list[uuid.UUID] = Field(description="requests no one on shift can do in their windows")
    solve_ms: int


class AreaTargetOut(BaseModel):
    geofence_id: uuid.UUID
    name: str
    vehicle_type: str
    target: int = Field(description="vehicles wanted there for the hour the tours end in (trip history rule)")
    supply: int = Field(description="available, charged vehicles inside the area now")
    shortfall: int = Field(description="target - supply when positive, else 0")


class TargetsOut(BaseModel):
    hour: int = Field(description="the Seoul hour the targets are for")
    areas: list[AreaTargetOut]


class CrewPlanOut(BaseModel):
    crew_planned: int = Field(description="crew members on shift given a new tour")
    crew_on_tour: int = Field(description="crew members who keep the tour they have started")
    tasks: list[TaskOut] = Field(description="the new tours' tasks, per crew member in order")
    unmet_before: int = Field(description="units of the areas' targets unmet now")
    unmet_after: int = Field(description="units unmet once the tours are done")
    flat_before: int = Field(description="flat vehicles (non-operational, battery low) now")
    flat_after: int
    crew_hours: float
    solve_ms: int


class ValetParkingIn(Strict):
    home: Location = Field(description="where the valet takes the car")
    vehicle_plate: str = Field(min_length=2, max_length=20, examples=["12가3456"])
    pickup_from: Instant
    pickup_by: Instant
    park_until: Instant = Field(description="end of the parking booking")
    needs_ev: StrictBool = False
    vehicle_size: SlotSize = SlotSize.REGULAR


class Window(Strict):
    start: Instant
    end: Instant


class RideIn(Strict):
    origin: Location = Field(description="where the van picks the riders up")
    destination: Location = Field(description="where it drops them off")
    passengers: int = Field(default=1, ge=1, le=40, description="riders in the party (at most the van's seats)")
    pickup: Window | None = Field(default=None, description="be picked up within this window")
    dropoff: Window | None = Field(
        default=None, description="or arrive within this window; neither: picked up within MAEUL_SHUTTLE_WAIT_MINUTES"
    )


class RideOut(BaseModel):
    id: uuid.UUID = Field(description="the ride (its pickup task's id)")
    state: str = Field(description="the pickup's state until the rider is on board, then the drop-off's")
    passengers: int
    fare_krw: int = Field(description="held until the drop-off, then charged (or the cancellation fee charged)")
    pickup: TaskOut = Field(description="eta_origin: the planned pickup time; staff: the van driver on the way")
    dropoff: TaskOut = Field(description="eta_origin: the planned drop-off time")


class ValetReturnIn(Strict):
    booking_id: uuid.UUID = Field(description="the checked-in booking whose car comes back")
    home: Location = Field(description="where the valet brings the car")
    deliver_from: Instant
    deliver_by: Instant
