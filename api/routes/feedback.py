"""Residents' feedback: the satisfaction survey after a booking or a ride (the pilot's satisfaction KPI), and
complaints in the village enterprise's queue."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from accounts.actor import Actor
from accounts.models import Role
from api.auth import DRIVERS, OPERATORS, Driver, Monitor, Operator, require
from api.deps import Limit, NowDep, Offset, SessionDep, StateDep
from api.idempotency import IdempotencyKeyHeader, create_once
from api.schemas.city import (
    ComplaintAssignIn,
    ComplaintCountOut,
    ComplaintIn,
    ComplaintOut,
    ComplaintReplyIn,
    ComplaintReplyOut,
    ComplaintStateIn,
    ComplaintSummaryOut,
    SurveyIn,
    SurveyOut,
)
from api.schemas.common import MONTH, ErrorOut, Instant, Page, page
from api.state import AppState
from billing.statements import month_bounds
from feedback import repository, service
from feedback.models import Complaint, ComplaintCategory, ComplaintReply, ComplaintState, SurveyResponse, SurveySubject

router = APIRouter(tags=["feedback"])


def _out(response: SurveyResponse) -> SurveyOut:
    return SurveyOut(
        id=response.id,
        subject=response.subject,
        subject_id=response.subject_id,
        score=response.score,
        comment=response.comment,
        answered_at=response.answered_at,
    )


@router.post(
    "/surveys",
    status_code=201,
    response_model=SurveyOut,
    responses={
        404: {"model": ErrorOut, "description": "subject_not_found: no booking or ride of yours"},
        409: {"model": ErrorOut, "description": "survey_not_open (not ended yet), survey_already_answered"},
    },
    summary="Rate a booking or a ride",
)
async def answer_survey(body: SurveyIn, actor: Driver, session: SessionDep, now: NowDep) -> SurveyOut:
    """The in-app survey: once a booking is completed (checked out) or a ride has ended, its driver or rider gives
    a score from 1 to 5 and, if they like, a comment; once per booking or ride. The month's answers make the
    city's satisfaction KPI (`GET /kpi/monthly`, on the pilot's 100-point scale)."""
    response = await service.answer(
        session,
        respondent_id=actor.id,
        subject=SurveySubject(body.subject),
        subject_id=body.subject_id,
        score=body.score,
        comment=body.comment,
        now=now,
    )
    out = _out(response)
    await session.commit()
    return out


@router.get("/surveys", response_model=Page[SurveyOut], summary="The survey's answers")
async def list_surveys(
    actor: Monitor,
    session: SessionDep,
    start: Annotated[Instant | None, Query(description="answered from this time on")] = None,
    end: Annotated[Instant | None, Query(description="answered before this time")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Newest first, for the village enterprise and the city to read the comments; never who answered."""
    found = await repository.responses(session, start=start, end=end, limit=limit + 1, offset=offset)
    return page([_out(r) for r in found], limit=limit, offset=offset)


# ---------------------------------------------------------------- complaints

# filers, the village enterprise's operators, and staff members (the complaints assigned to them)
ComplaintParty = Annotated[Actor, Depends(require(DRIVERS | OPERATORS | {Role.STAFF}))]
ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "complaint_not_found"}}
TRANSITION: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "invalid_complaint_transition (with `state`)"}
}


def _sla(state: AppState) -> service.ComplaintSla:
    settings = state.settings
    return service.ComplaintSla(
        response=timedelta(hours=settings.complaint_response_hours),
        resolution=timedelta(hours=settings.complaint_resolution_hours),
    )


def _complaint_out(
    complaint: Complaint, *, now: datetime, replies: Sequence[ComplaintReply] | None = None
) -> ComplaintOut:
    return ComplaintOut(
        id=complaint.id,
        category=complaint.category,
        text=complaint.text,
        subject=complaint.subject,
        subject_id=complaint.subject_id,
        state=complaint.state,
        filed_by=complaint.filed_by,
        assignee_id=complaint.assignee_id,
        filed_at=complaint.filed_at,
        response_due_at=complaint.response_due_at,
        resolution_due_at=complaint.resolution_due_at,
        first_response_at=complaint.first_response_at,
        resolved_at=complaint.resolved_at,
        state_changed_at=complaint.state_changed_at,
        reopened=complaint.reopened,
        response_overdue=(complaint.first_response_at or now) > complaint.response_due_at,
        resolution_overdue=(complaint.resolved_at or now) > complaint.resolution_due_at,
        replies=None if replies is None else [_reply_out(r) for r in replies],
    )


def _reply_out(reply: ComplaintReply) -> ComplaintReplyOut:
    return ComplaintReplyOut(id=reply.id, from_operator=reply.from_operator, text=reply.text, at=reply.at)


async def _detail(session: SessionDep, complaint: Complaint, now: datetime) -> ComplaintOut:
    return _complaint_out(complaint, now=now, replies=await repository.replies(session, complaint.id))


@router.post(
    "/complaints",
    status_code=201,
    response_model=ComplaintOut,
    responses={404: {"model": ErrorOut, "description": "subject_not_found: no booking or ride of yours"}},
    summary="File a complaint",
)
async def file_complaint(
    body: ComplaintIn,
    actor: Driver,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Any:
    """A complaint to the village enterprise: a category, what happened and, if it is about one, the booking or
    ride (yours). It is answered within `MAEUL_COMPLAINT_RESPONSE_HOURS` (24) and resolved within
    `MAEUL_COMPLAINT_RESOLUTION_HOURS` (72): the due times are in the answer. Send an `Idempotency-Key` so that a
    retry never files twice."""

    async def work() -> ComplaintOut:
        complaint = await service.file_complaint(
            session,
            filer=actor,
            category=ComplaintCategory(body.category),
            text=body.text,
            subject=SurveySubject(body.subject) if body.subject is not None else None,
            subject_id=body.subject_id,
            sla=_sla(state),
            now=now,
        )
        return _complaint_out(complaint, now=now, replies=[])

    return await create_once(
        session, actor=actor, key=idempotency_key, operation="POST /complaints", payload=body, work=work
    )


@router.get("/complaints", response_model=Page[ComplaintOut], summary="The complaints queue, or your complaints")
async def list_complaints(
    actor: ComplaintParty,
    session: SessionDep,
    now: NowDep,
    state: Annotated[list[ComplaintState] | None, Query(description="any of these states")] = None,
    category: ComplaintCategory | None = None,
    assignee_id: Annotated[uuid.UUID | None, Query(description="assigned to this account")] = None,
    overdue: Annotated[bool, Query(description="only unresolved complaints past a due time")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """For the village enterprise's operators, every complaint; for a staff member, those assigned to them; for a
    resident, their own. Unresolved first, the soonest resolution due first, then resolved ones, the latest first."""
    found = await service.complaints(
        session,
        actor=actor,
        states=state or [],
        category=category,
        assignee_id=assignee_id,
        overdue=overdue,
        limit=limit + 1,
        offset=offset,
        now=now,
    )
    return page([_complaint_out(c, now=now) for c in found], limit=limit, offset=offset)


@router.get(
    "/complaints/summary",
    response_model=ComplaintSummaryOut,
    summary="Complaints by category in a month",
)
async def complaint_summary(
    actor: Monitor,
    state: StateDep,
    session: SessionDep,
    month: Annotated[str, Query(pattern=MONTH, description="YYYY-MM, local time")],
) -> ComplaintSummaryOut:
    """How many complaints were filed in the month, by category, and how many were resolved late (or are still
    open past their due time): what the pilot's 64 logged conflicts were (29.7% service quality, 14% digital
    skills). Aggregates only: a category filed by fewer than k people (`MAEUL_PRIVACY_MIN_CELL`) is null."""
    year, number = (int(part) for part in month.split("-"))
    start, end = month_bounds(date(year, number, 1), state.settings.local_timezone)
    total, counts = await service.complaint_summary(
        session, start=start, end=end, min_people=state.settings.privacy_min_cell
    )
    return ComplaintSummaryOut(
        start=start,
        end=end,
        filed=total,
        min_people=state.settings.privacy_min_cell,
        categories=[
            ComplaintCountOut(
                category=count.category,
                filed=count.filed,
                share=round(count.filed / total, 4) if count.filed is not None and total else None,
                resolved_late=count.resolved_late,
            )
            for count in counts
        ],
    )


@router.get("/complaints/{complaint_id:uuid}", response_model=ComplaintOut, responses=ERRORS, summary="A complaint")
async def get_complaint(
    complaint_id: uuid.UUID, actor: ComplaintParty, session: SessionDep, now: NowDep
) -> ComplaintOut:
    """With its replies, oldest first."""
    return await _detail(session, await service.complaint(session, actor=actor, complaint_id=complaint_id), now)


@router.post(
    "/complaints/{complaint_id:uuid}/replies",
    status_code=201,
    response_model=ComplaintOut,
    responses={**ERRORS, **TRANSITION},
    summary="Write on a complaint",
)
async def reply_to_complaint(
    complaint_id: uuid.UUID, body: ComplaintReplyIn, actor: ComplaintParty, session: SessionDep, now: NowDep
) -> ComplaintOut:
    """Its filer or the village enterprise writes; the enterprise's first message is the first response the SLA
    measures. A resolved complaint takes no more messages from its filer (409): reopen it first."""
    await service.reply(session, actor=actor, complaint_id=complaint_id, text=body.text, now=now)
    out = await _detail(session, await service.complaint(session, actor=actor, complaint_id=complaint_id), now)
    await session.commit()
    return out


@router.post(
    "/complaints/{complaint_id:uuid}/assign",
    response_model=ComplaintOut,
    responses={**ERRORS, **TRANSITION},
    summary="Give a complaint to someone",
)
async def assign_complaint(
    complaint_id: uuid.UUID, body: ComplaintAssignIn, actor: Operator, session: SessionDep, now: NowDep
) -> ComplaintOut:
    """To an operator or a field staff member (422 for anyone else); an open complaint is then in progress. A
    resolved one must be taken up again first (409)."""
    complaint = await service.assign(
        session, actor=actor, complaint_id=complaint_id, assignee_id=body.assignee_id, now=now
    )
    out = await _detail(session, complaint, now)
    await session.commit()
    return out


@router.post(
    "/complaints/{complaint_id:uuid}/state",
    response_model=ComplaintOut,
    responses={**ERRORS, **TRANSITION},
    summary="Move a complaint on",
)
async def move_complaint(
    complaint_id: uuid.UUID, body: ComplaintStateIn, actor: ComplaintParty, session: SessionDep, now: NowDep
) -> ComplaintOut:
    """The village enterprise takes a complaint (`in_progress`), resolves it (`resolved`, saying how in `note`) or
    takes a resolved one up again; its filer may reopen a resolved one (`open`, saying why). Any other move is 409
    `invalid_complaint_transition`, listing the moves allowed to the caller."""
    complaint = await service.move(
        session, actor=actor, complaint_id=complaint_id, to=ComplaintState(body.state), note=body.note, now=now
    )
    out = await _detail(session, complaint, now)
    await session.commit()
    return out
