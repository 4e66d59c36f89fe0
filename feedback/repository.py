"""Survey queries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.models import SurveyResponse, SurveySubject
from mobility.models import Trip
from parking.models import Booking


async def subject_status(
    session: AsyncSession, subject: SurveySubject, subject_id: uuid.UUID, *, respondent_id: uuid.UUID
) -> str | None:
    """The booking's or ride's status when it is the respondent's (they drove or rode), else None."""
    if subject == SurveySubject.BOOKING:
        return await session.scalar(
            select(Booking.status).where(Booking.id == subject_id, Booking.driver_id == respondent_id)
        )
    return await session.scalar(select(Trip.status).where(Trip.id == subject_id, Trip.rider_id == respondent_id))


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
