"""Survey and complaint queries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.models import Complaint, ComplaintCategory, ComplaintReply, ComplaintState, SurveyResponse, SurveySubject
from mobility.models import Trip
from parking.models import Booking


async def subject_status(
    session: AsyncSession, subject: SurveySubject, subject_id: uuid.UUID, *, account_id: uuid.UUID
) -> str | None:
    """The booking's or ride's status when it is the account's (they drove or rode), else None."""
    if subject == SurveySubject.BOOKING:
        return await session.scalar(
            select(Booking.status).where(Booking.id == subject_id, Booking.driver_id == account_id)
        )
    return await session.scalar(select(Trip.status).where(Trip.id == subject_id, Trip.rider_id == account_id))


async def answer_to(session: AsyncSession, subject: SurveySubject, subject_id: uuid.UUID) -> SurveyResponse | None:
    return await session.scalar(
        select(SurveyResponse).where(SurveyResponse.subject == subject, SurveyResponse.subject_id == subject_id)
    )


async def responses(
    session: AsyncSession, *, start: datetime | None, end: datetime | None, limit: int, offset: int
) -> Sequence[SurveyResponse]:
    query = select(SurveyResponse).order_by(SurveyResponse.answered_at.desc(), SurveyResponse.id)
    if start is not None:
        query = query.where(SurveyResponse.answered_at >= start)
    if end is not None:
        query = query.where(SurveyResponse.answered_at < end)
    return (await session.scalars(query.limit(limit).offset(offset))).all()


async def scores_by_local_day(
    session: AsyncSession, *, first: date, last: date, timezone: str
) -> list[tuple[date, uuid.UUID, int]]:
    """(local day answered, respondent, score) of every answer in [first, last]."""
    day = func.date(func.timezone(timezone, SurveyResponse.answered_at))
    rows = await session.execute(
        select(day, SurveyResponse.respondent_id, SurveyResponse.score).where(day.between(first, last))
    )
    return [(d, respondent, score) for d, respondent, score in rows]


async def complaints(
    session: AsyncSession,
    *,
    filed_by: uuid.UUID | None,
    states: Sequence[ComplaintState],
    category: ComplaintCategory | None,
    assignee_id: uuid.UUID | None,
    overdue_at: datetime | None,
    limit: int,
    offset: int,
) -> Sequence[Complaint]:
    """The queue: unresolved first, the soonest resolution due first; then resolved ones, the latest first.
    `overdue_at`: only unresolved complaints past a due time at that instant."""
    query = select(Complaint)
    if filed_by is not None:
        query = query.where(Complaint.filed_by == filed_by)
    if states:
        query = query.where(Complaint.state.in_(states))
    if category is not None:
        query = query.where(Complaint.category == category)
    if assignee_id is not None:
        query = query.where(Complaint.assignee_id == assignee_id)
    if overdue_at is not None:
        query = query.where(
            Complaint.state != ComplaintState.RESOLVED,
            or_(
                Complaint.resolution_due_at < overdue_at,
                and_(Complaint.first_response_at.is_(None), Complaint.response_due_at < overdue_at),
            ),
        )
    resolved = Complaint.state == ComplaintState.RESOLVED
    query = query.order_by(resolved, Complaint.resolution_due_at, Complaint.resolved_at.desc(), Complaint.id)
    return (await session.scalars(query.limit(limit).offset(offset))).all()


async def replies(session: AsyncSession, complaint_id: uuid.UUID) -> Sequence[ComplaintReply]:
    query = select(ComplaintReply).where(ComplaintReply.complaint_id == complaint_id)
    return (await session.scalars(query.order_by(ComplaintReply.seq))).all()


async def complaint_counts(
    session: AsyncSession, *, start: datetime, end: datetime
) -> list[tuple[ComplaintCategory, int, int, int]]:
    """Per category, complaints filed in [start, end): (category, filed, distinct filers, resolved late or still
    open past due at `end`)."""
    late = or_(
        Complaint.resolved_at > Complaint.resolution_due_at,
        and_(Complaint.resolved_at.is_(None), Complaint.resolution_due_at < end),
    )
    rows = await session.execute(
        select(
            Complaint.category,
            func.count(),
            func.count(func.distinct(Complaint.filed_by)),
            func.count().filter(late),
        )
        .where(Complaint.filed_at >= start, Complaint.filed_at < end)
        .group_by(Complaint.category)
    )
    return [(ComplaintCategory(category), filed, people, overdue) for category, filed, people, overdue in rows]
