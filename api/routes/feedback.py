"""Residents' feedback: the satisfaction survey after a booking or a ride (the pilot's satisfaction KPI)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.auth import Driver, Monitor
from api.deps import NowDep, SessionDep
from api.routes.vehicles import Limit, Offset
from api.schemas import ErrorOut, Instant, Page, SurveyIn, SurveyOut, page
from feedback import repository, service
from feedback.models import SurveyResponse, SurveySubject

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
        404: {"model": ErrorOut, "description": "survey_subject_not_found: no booking or ride of yours"},
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
