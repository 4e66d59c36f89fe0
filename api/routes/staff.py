"""The village enterprise's field staff: accounts with skills, shifts (planned, clocked in and out), positions from
the staff app, earnings and monthly pay statements. Operators manage everyone; a staff member sees themself."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from api.auth import Crew, FieldStaff, Operator
from api.deps import Limit, NowDep, Offset, SessionDep, StateDep
from api.routes.tasks import replan_after
from api.schemas.common import ErrorOut, Location, Page, page
from api.schemas.ops import (
    ClockInOut,
    EarningsOut,
    PayIn,
    PayStatementOut,
    ShiftIn,
    ShiftOut,
    StaffIn,
    StaffOut,
    StaffPatch,
)
from api.schemas.parking import ReceiptOut
from core.errors import InvalidInput
from ledger import log as ledger
from ops import repository, service
from ops.errors import StaffNotFound
from ops.models import PayStatement, Shift, StaffMember

router = APIRouter(tags=["staff"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}
SHIFT_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut},
    409: {"model": ErrorOut, "description": "not_on_shift, tasks_under_way, shift_overlaps"},
}


def _self_or_operator(actor: Actor, staff_id: uuid.UUID) -> None:
    """A staff member sees only their own records: anyone else's do not exist for them (404)."""
    if not actor.is_operator and actor.id != staff_id:
        raise StaffNotFound(f"staff member {staff_id} not found")


async def staff_out(session: AsyncSession, members: list[StaffMember]) -> list[StaffOut]:
    ids = [member.account_id for member in members]
    names = await service.names_of(session, ids)
    shifts = await repository.open_shifts(session, ids)
    positions = await repository.positions_of(session, ids)
    counts = await repository.open_task_counts(session, ids)
    out = []
    for member in members:
        shift, where = shifts.get(member.account_id), positions.get(member.account_id)
        out.append(
            StaffOut(
                id=member.account_id,
                display_name=names.get(member.account_id, ""),
                skills=member.skills,
                hourly_wage_krw=member.hourly_wage_krw,
                on_shift=shift is not None,
                shift_end=shift.planned_end if shift is not None else None,
                position=Location(lon=where[0], lat=where[1]) if where is not None else None,
                position_at=where[2] if where is not None else None,
                open_tasks=counts.get(member.account_id, 0),
            )
        )
    return out


def shift_out(shift: Shift) -> ShiftOut:
    return ShiftOut.model_validate(shift, from_attributes=True)


@router.post(
    "/staff",
    response_model=StaffOut,
    status_code=201,
    responses={409: {"model": ErrorOut, "description": "email_taken"}},
    summary="Register a staff member",
)
async def register(body: StaffIn, actor: Operator, session: SessionDep) -> StaffOut:
    """Creates the account (role `staff`, signs in like everyone) with its skills and hourly wage."""
    member = await service.register_staff(
        session,
        email=str(body.email),
        password=body.password,
        display_name=body.display_name,
        skills=body.skills,
        hourly_wage_krw=body.hourly_wage_krw,
    )
    [out] = await staff_out(session, [member])
    await session.commit()
    return out


@router.get("/staff", response_model=Page[StaffOut], summary="The staff board")
async def board(
    actor: Operator,
    session: SessionDep,
    on_shift: Annotated[bool | None, Query(description="only those clocked in (true) or not (false)")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, object]:
    """Everyone with their skills, whether they are on shift, where they last were and how many tasks they hold."""
    members = await repository.staff_page(session, on_shift=on_shift, limit=limit + 1, offset=offset)
    return page(await staff_out(session, members), limit=limit, offset=offset)


@router.get("/staff/{staff_id:uuid}", response_model=StaffOut, responses=NOT_FOUND, summary="One staff member")
async def get_staff(staff_id: uuid.UUID, actor: Crew, session: SessionDep) -> StaffOut:
    _self_or_operator(actor, staff_id)
    [out] = await staff_out(session, [await service.staff_member(session, staff_id)])
    return out


@router.patch("/staff/{staff_id:uuid}", response_model=StaffOut, responses=NOT_FOUND, summary="Change skills or wage")
async def patch_staff(staff_id: uuid.UUID, body: StaffPatch, actor: Operator, session: SessionDep) -> StaffOut:
    """A changed wage applies to pay statements made from now on."""
    member = await service.update_staff(
        session, staff_id=staff_id, skills=body.skills, hourly_wage_krw=body.hourly_wage_krw
    )
    [out] = await staff_out(session, [member])
    await session.commit()
    return out


@router.post(
    "/staff/{staff_id:uuid}/shifts",
    response_model=ShiftOut,
    status_code=201,
    responses=SHIFT_ERRORS,
    summary="Plan a shift",
)
async def plan_shift(staff_id: uuid.UUID, body: ShiftIn, actor: Operator, session: SessionDep) -> ShiftOut:
    """Two shifts of one person never overlap (409 `shift_overlaps`)."""
    if body.end <= body.start:
        raise InvalidInput("a shift must end after it starts")
    if body.end - body.start > service.LONGEST_SHIFT:
        raise InvalidInput(f"a shift lasts at most {service.LONGEST_SHIFT.total_seconds() / 3600:g} hours")
    shift = await service.plan_shift(session, staff_id=staff_id, start=body.start, end=body.end)
    out = shift_out(shift)
    await session.commit()
    return out


@router.get(
    "/staff/{staff_id:uuid}/shifts", response_model=Page[ShiftOut], responses=NOT_FOUND, summary="Shifts of one person"
)
async def list_shifts(
    staff_id: uuid.UUID,
    actor: Crew,
    session: SessionDep,
    now: NowDep,
    past: Annotated[bool, Query(description="also shifts that have ended")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, object]:
    """In planned order; by default those not yet over."""
    _self_or_operator(actor, staff_id)
    await service.staff_member(session, staff_id)
    shifts = await service.shifts_of(
        session, staff_id=staff_id, since=None if past else now, limit=limit + 1, offset=offset
    )
    return page([shift_out(shift) for shift in shifts], limit=limit, offset=offset)


@router.delete("/shifts/{shift_id:uuid}", status_code=204, responses=SHIFT_ERRORS, summary="Cancel a planned shift")
async def cancel_shift(shift_id: uuid.UUID, actor: Operator, session: SessionDep) -> None:
    """Only a shift not yet clocked in."""
    await service.cancel_shift(session, shift_id=shift_id)
    await session.commit()


@router.post("/staff/me/clock-in", response_model=ClockInOut, responses=SHIFT_ERRORS, summary="Clock in")
async def clock_in(body: Location, actor: FieldStaff, state: StateDep, session: SessionDep, now: NowDep) -> ClockInOut:
    """Starts the planned shift that is on now (or starts within 30 minutes), from where the person is. Open valet
    requests are re-planned to include them."""
    shift = await service.clock_in(session, staff_id=actor.id, lon=body.lon, lat=body.lat, now=now)
    out = ClockInOut(shift=shift_out(shift))
    await replan_after(state, session, now=now)
    return out


@router.post("/staff/me/clock-out", response_model=ClockInOut, responses=SHIFT_ERRORS, summary="Clock out")
async def clock_out(actor: FieldStaff, state: StateDep, session: SessionDep, now: NowDep) -> ClockInOut:
    """Refused while a task is under way (409 `tasks_under_way`). Tasks only planned for this person are handed to
    the others on shift by a re-plan; those nobody can do wait, unassigned, on the operators' board."""
    shift, released = await service.clock_out(session, staff_id=actor.id, now=now)
    out = ClockInOut(shift=shift_out(shift), released_task_ids=[task.id for task in released])
    await replan_after(state, session, now=now)
    return out


@router.put("/staff/me/position", status_code=204, responses=NOT_FOUND, summary="Report where I am")
async def report_position(body: Location, actor: FieldStaff, session: SessionDep, now: NowDep) -> None:
    """The staff app reports its position; residents waiting for this person see it, plans start from it."""
    await service.update_position(session, staff_id=actor.id, lon=body.lon, lat=body.lat, now=now)
    await session.commit()


@router.get(
    "/staff/{staff_id:uuid}/earnings",
    response_model=EarningsOut,
    responses=NOT_FOUND,
    summary="Hours worked and tasks done in a month",
)
async def get_earnings(
    staff_id: uuid.UUID,
    actor: Crew,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    month: Annotated[str, Query(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$", description="YYYY-MM, Seoul time")],
) -> EarningsOut:
    """Minutes on clocked shifts inside the month (a shift still open counts up to now) and tasks done."""
    _self_or_operator(actor, staff_id)
    earned = await service.earnings(
        session, staff_id=staff_id, month=month, timezone=state.settings.local_timezone, now=now
    )
    return EarningsOut(
        staff_id=earned.staff_id,
        month=earned.month,
        minutes_worked=earned.minutes_worked,
        tasks_done=earned.tasks_done,
        hourly_wage_krw=earned.hourly_wage_krw,
        amount_krw=earned.amount_krw,
    )


async def statement_out(session: AsyncSession, statement: PayStatement) -> PayStatementOut:
    receipts = await ledger.receipts_for(session, f"pay:{statement.id}")
    return PayStatementOut(
        id=statement.id,
        staff_id=statement.staff_id,
        month=statement.month,
        minutes_worked=statement.minutes_worked,
        tasks_done=statement.tasks_done,
        hourly_wage_krw=statement.hourly_wage_krw,
        amount_krw=statement.amount_krw,
        paid_at=statement.paid_at,
        receipts=[ReceiptOut.of(r) for r in receipts],
    )


@router.post(
    "/staff/{staff_id:uuid}/pay-statements",
    response_model=PayStatementOut,
    status_code=201,
    responses={
        402: {"model": ErrorOut, "description": "insufficient_funds: the village enterprise's balance is too low"},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut, "description": "already_paid"},
    },
    summary="Pay a finished month",
)
async def pay(
    staff_id: uuid.UUID, body: PayIn, actor: Operator, state: StateDep, session: SessionDep, now: NowDep
) -> PayStatementOut:
    """Paid out of the village enterprise's balance through the journal (a ledger entry); once per month."""
    statement = await service.pay(
        session, staff_id=staff_id, month=body.month, timezone=state.settings.local_timezone, now=now
    )
    out = await statement_out(session, statement)
    await session.commit()
    return out


@router.get(
    "/staff/{staff_id:uuid}/pay-statements",
    response_model=Page[PayStatementOut],
    responses=NOT_FOUND,
    summary="Pay statements of one person",
)
async def list_pay_statements(
    staff_id: uuid.UUID, actor: Crew, session: SessionDep, limit: Limit = 50, offset: Offset = 0
) -> dict[str, object]:
    """Newest month first."""
    _self_or_operator(actor, staff_id)
    await service.staff_member(session, staff_id)
    rows = await service.pay_statements(session, staff_id=staff_id, limit=limit + 1, offset=offset)
    return page([await statement_out(session, row) for row in rows], limit=limit, offset=offset)
