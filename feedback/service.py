"""The satisfaction survey: a resident rates a booking or a ride once it has ended (1 to 5, and a comment)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from feedback import repository
from feedback.errors import SurveyAlreadyAnswered, SurveyNotOpen, SurveySubjectNotFound
from feedback.models import SurveyResponse, SurveySubject
from mobility.models import TripStatus
from parking.models import BookingStatus

# what can be rated: a stay that took place, a ride that ended
RATEABLE = {SurveySubject.BOOKING: BookingStatus.COMPLETED, SurveySubject.RIDE: TripStatus.COMPLETED}


async def answer(
    session: AsyncSession,
    *,
    respondent_id: uuid.UUID,
    subject: SurveySubject,
    subject_id: uuid.UUID,
    score: int,
    comment: str | None,
    now: datetime,
) -> SurveyResponse:
    """Record the answer; once per booking or ride (409 with the answer's time after that)."""
    status = await repository.subject_status(session, subject, subject_id, respondent_id=respondent_id)
    if status is None:
        raise SurveySubjectNotFound(f"no {subject} {subject_id} of yours")
    if status != RATEABLE[subject]:
        raise SurveyNotOpen(
            f"the {subject} is {status}: it can be rated once it is {RATEABLE[subject]}", extra={"status": status}
        )
    earlier = await repository.answer_to(session, subject, subject_id)
    if earlier is not None:
        raise _answered(earlier)
    response = SurveyResponse(
        respondent_id=respondent_id,
        subject=subject,
        subject_id=subject_id,
        score=score,
        comment=comment,
        answered_at=now,
    )
    try:
        async with session.begin_nested():  # two answers racing: the unique key keeps one
            session.add(response)
            await session.flush()
    except IntegrityError:
        raced = await repository.answer_to(session, subject, subject_id)
        assert raced is not None
        raise _answered(raced) from None
    return response


def _answered(earlier: SurveyResponse) -> SurveyAlreadyAnswered:
    return SurveyAlreadyAnswered(
        f"this {earlier.subject} was rated at {earlier.answered_at.isoformat()}",
        extra={"answered_at": earlier.answered_at.isoformat()},
    )
