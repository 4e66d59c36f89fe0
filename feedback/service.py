"""Residents' feedback.

The satisfaction survey: a resident rates a booking or a ride once it has ended (1 to 5, and a comment).

Complaints: a resident files one (a category, free text, optionally the booking or ride it is about); it waits in the
village enterprise's queue with two SLA times set when filed (a first answer within `response_hours`, a resolution
within `resolution_hours`). States: `open` -> `in_progress` (an operator assigns it, or takes it) -> `resolved` (with
a reply saying how); an operator may resolve an open complaint at once, or take a resolved one up again; its filer may
reopen a resolved one (back to `open`, counted in `reopened`). Any other move is 409 `invalid_complaint_transition`.
The first reply from the village enterprise is the first response the SLA measures.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.models import Account, Role
from core.errors import InvalidInput
from feedback import repository
from feedback.errors import (
    ComplaintNotFound,
    InvalidComplaintTransition,
    SubjectNotFound,
    SurveyAlreadyAnswered,
    SurveyNotOpen,
)
from feedback.models import (
    Complaint,
    ComplaintCategory,
    ComplaintReply,
    ComplaintState,
    SurveyResponse,
    SurveySubject,
)
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
    status = await repository.subject_status(session, subject, subject_id, account_id=respondent_id)
    if status is None:
        raise SubjectNotFound(f"no {subject} {subject_id} of yours")
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


# ---------------------------------------------------------------- complaints

HANDLERS = (Role.OPERATOR, Role.STAFF, Role.ADMIN)  # who a complaint may be assigned to
# (from, to) -> who may make the move: "operator" (operators and admins) or "filer"
MOVES: dict[tuple[ComplaintState, ComplaintState], str] = {
    (ComplaintState.OPEN, ComplaintState.IN_PROGRESS): "operator",
    (ComplaintState.OPEN, ComplaintState.RESOLVED): "operator",
    (ComplaintState.IN_PROGRESS, ComplaintState.RESOLVED): "operator",
    (ComplaintState.RESOLVED, ComplaintState.IN_PROGRESS): "operator",
    (ComplaintState.RESOLVED, ComplaintState.OPEN): "filer",
}


@dataclass(frozen=True, slots=True)
class ComplaintSla:
    response: timedelta  # a first answer from the village enterprise within this
    resolution: timedelta  # resolved within this


async def file_complaint(
    session: AsyncSession,
    *,
    filer: Actor,
    category: ComplaintCategory,
    text: str,
    subject: SurveySubject | None,
    subject_id: uuid.UUID | None,
    sla: ComplaintSla,
    now: datetime,
) -> Complaint:
    """A complaint in the queue, about one of the filer's own bookings or rides when it names one (404 otherwise)."""
    if (subject is None) != (subject_id is None):
        raise InvalidInput("give both subject and subject_id, or neither", extra={"field": "subject_id"})
    if subject is not None and subject_id is not None:
        if await repository.subject_status(session, subject, subject_id, account_id=filer.id) is None:
            raise SubjectNotFound(f"no {subject} {subject_id} of yours")
    complaint = Complaint(
        id=uuid.uuid4(),
        filed_by=filer.id,
        category=category,
        text=text,
        subject=subject,
        subject_id=subject_id,
        state=ComplaintState.OPEN,
        filed_at=now,
        response_due_at=now + sla.response,
        resolution_due_at=now + sla.resolution,
        state_changed_at=now,
        reopened=0,
    )
    session.add(complaint)
    await session.flush()
    return complaint


async def complaint(session: AsyncSession, *, actor: Actor, complaint_id: uuid.UUID, lock: bool = False) -> Complaint:
    """The complaint, when the caller may read it: its filer, the village enterprise's operators, the staff member it
    is assigned to (404 for anyone else)."""
    found = await session.get(Complaint, complaint_id, with_for_update=lock)
    if found is None or not (_handles(found, actor) or found.filed_by == actor.id):
        raise ComplaintNotFound(f"complaint {complaint_id} not found")
    return found


def _handles(found: Complaint, actor: Actor) -> bool:
    """Operators and admins handle every complaint; a staff member the ones assigned to them."""
    return actor.is_operator or actor.role == Role.STAFF and found.assignee_id == actor.id


def _may(found: Complaint, actor: Actor, who: str | None) -> bool:
    return who == "operator" and _handles(found, actor) or who == "filer" and found.filed_by == actor.id


async def complaints(
    session: AsyncSession,
    *,
    actor: Actor,
    states: Sequence[ComplaintState],
    category: ComplaintCategory | None,
    assignee_id: uuid.UUID | None,
    overdue: bool,
    limit: int,
    offset: int,
    now: datetime,
) -> Sequence[Complaint]:
    """The village enterprise's queue (a staff member's: those assigned to them); a resident's own complaints."""
    staff = actor.role == Role.STAFF
    return await repository.complaints(
        session,
        filed_by=None if actor.is_operator or staff else actor.id,
        states=states,
        category=category,
        assignee_id=actor.id if staff else assignee_id,
        overdue_at=now if overdue else None,
        limit=limit,
        offset=offset,
    )


async def reply(
    session: AsyncSession, *, actor: Actor, complaint_id: uuid.UUID, text: str, now: datetime
) -> ComplaintReply:
    """A message from the filer or the village enterprise; the enterprise's first one stamps the first response.
    A resolved complaint takes no more messages from its filer: they reopen it first."""
    found = await complaint(session, actor=actor, complaint_id=complaint_id, lock=True)
    if found.state == ComplaintState.RESOLVED and not _handles(found, actor):
        raise InvalidComplaintTransition(
            "this complaint is resolved: reopen it (state open) to write again", extra={"state": found.state}
        )
    message = _message(session, found, actor=actor, text=text, now=now)
    await session.flush()
    return message


async def assign(
    session: AsyncSession, *, actor: Actor, complaint_id: uuid.UUID, assignee_id: uuid.UUID, now: datetime
) -> Complaint:
    """Give the complaint to an operator or a staff member; an open one is then in progress."""
    found = await complaint(session, actor=actor, complaint_id=complaint_id, lock=True)
    if found.state == ComplaintState.RESOLVED:
        raise InvalidComplaintTransition(
            "this complaint is resolved: take it up again (state in_progress) before assigning it",
            extra={"state": found.state},
        )
    assignee = await session.get(Account, assignee_id)
    if assignee is None or assignee.role not in HANDLERS:
        raise InvalidInput(
            "complaints go to the village enterprise's operators and staff",
            extra={"field": "assignee_id", "allowed_roles": sorted(HANDLERS)},
        )
    found.assignee_id = assignee_id
    if found.state == ComplaintState.OPEN:
        _move(found, ComplaintState.IN_PROGRESS, now=now)
    await session.flush()
    return found


async def move(
    session: AsyncSession,
    *,
    actor: Actor,
    complaint_id: uuid.UUID,
    to: ComplaintState,
    note: str | None,
    now: datetime,
) -> Complaint:
    """Change the complaint's state; `note` (required to resolve or reopen) is kept as a reply, so the resident
    reads why."""
    found = await complaint(session, actor=actor, complaint_id=complaint_id, lock=True)
    if not _may(found, actor, MOVES.get((found.state, to))):
        raise InvalidComplaintTransition(
            f"a complaint that is {found.state} cannot be moved to {to} by you",
            extra={"state": found.state, "allowed": _allowed_moves(found, actor)},
        )
    if to in (ComplaintState.RESOLVED, ComplaintState.OPEN) and not note:
        raise InvalidInput(f"say why in `note` to move a complaint to {to}", extra={"field": "note"})
    if note:
        _message(session, found, actor=actor, text=note, now=now)
    if to == ComplaintState.OPEN:
        found.reopened += 1
    if to == ComplaintState.IN_PROGRESS and found.assignee_id is None and actor.role in HANDLERS:
        found.assignee_id = actor.id  # taking it
    _move(found, to, now=now)
    await session.flush()
    return found


def _allowed_moves(found: Complaint, actor: Actor) -> list[str]:
    return sorted(to for (start, to), who in MOVES.items() if start == found.state and _may(found, actor, who))


def _move(found: Complaint, to: ComplaintState, *, now: datetime) -> None:
    found.state, found.state_changed_at = to, now
    found.resolved_at = now if to == ComplaintState.RESOLVED else None


def _message(session: AsyncSession, found: Complaint, *, actor: Actor, text: str, now: datetime) -> ComplaintReply:
    from_operator = actor.id != found.filed_by
    message = ComplaintReply(
        id=uuid.uuid4(), complaint_id=found.id, author_id=actor.id, from_operator=from_operator, text=text, at=now
    )
    if from_operator and found.first_response_at is None:
        found.first_response_at = now
    session.add(message)
    return message


@dataclass(frozen=True, slots=True)
class CategoryCount:
    category: ComplaintCategory
    filed: int | None  # None: suppressed
    resolved_late: int | None


async def complaint_summary(
    session: AsyncSession, *, start: datetime, end: datetime, min_people: int
) -> tuple[int | None, list[CategoryCount]]:
    """Complaints filed in [start, end), in all and by category (zeros included), for the city and the operator. A
    category filed by fewer than k people is suppressed; when only one would be, the smallest other category with
    complaints is too, so that the total does not give it away (and when there is none, the total is suppressed)."""
    rows = await repository.complaint_counts(session, start=start, end=end)
    counts = {category: (filed, late) for category, filed, _, late in rows}
    hidden = {category for category, _, people, _ in rows if people < min_people}
    total: int | None = sum(filed for filed, _ in counts.values())
    if len(hidden) == 1:
        others = sorted((filed, category) for category, (filed, _) in counts.items() if category not in hidden)
        if others:
            hidden.add(others[0][1])
        else:
            total = None
    return total, [
        CategoryCount(category, None, None)
        if category in hidden
        else CategoryCount(category, *counts.get(category, (0, 0)))
        for category in ComplaintCategory
    ]
