"""Residents' feedback: the in-app satisfaction survey after a booking or a ride (the pilot's satisfaction KPI), and
complaints in the village enterprise's queue."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CreatedAtMixin, IdMixin
from core.enums import check_in


class SurveySubject(StrEnum):
    BOOKING = "booking"  # a parking booking, once completed
    RIDE = "ride"  # a shared e-scooter or e-bike trip, once completed


class SurveyResponse(IdMixin, CreatedAtMixin, Base):
    """One answer: a score from 1 to 5 and an optional comment, once per booking or ride of the respondent."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        CheckConstraint(check_in("subject", SurveySubject), name="subject"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score"),
        UniqueConstraint("subject", "subject_id", name="uq_survey_responses_subject"),
        Index("ix_survey_responses_answered_at", "answered_at"),
    )

    respondent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    subject: Mapped[SurveySubject] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID]
    score: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(String(2000))
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the service's clock (the simulator's)


class ComplaintCategory(StrEnum):
    """The pilot logged 64 conflicts: 29.7% about service quality, 14% about digital skills."""

    SERVICE_QUALITY = "service_quality"
    DIGITAL_SKILLS = "digital_skills"  # could not use the app: the operator may book on the resident's behalf
    BILLING = "billing"
    NOISE = "noise"
    OTHER = "other"


class ComplaintState(StrEnum):
    OPEN = "open"  # filed (or reopened by its filer), waiting for the village enterprise
    IN_PROGRESS = "in_progress"  # someone took it
    RESOLVED = "resolved"


class Complaint(IdMixin, CreatedAtMixin, Base):
    """A resident's complaint in the village enterprise's queue, with its SLA times: a first answer is due
    `response_due_at`, a resolution `resolution_due_at` (both set when filed, from the settings)."""

    __tablename__ = "complaints"
    __table_args__ = (
        CheckConstraint(check_in("category", ComplaintCategory), name="category"),
        CheckConstraint(check_in("state", ComplaintState), name="state"),
        CheckConstraint(check_in("subject", SurveySubject), name="subject"),
        CheckConstraint("(subject IS NULL) = (subject_id IS NULL)", name="subject_given_whole"),
        CheckConstraint("(state = 'resolved') = (resolved_at IS NOT NULL)", name="resolved_stamped"),
        Index("ix_complaints_queue", "state", "resolution_due_at"),
    )

    filed_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    category: Mapped[ComplaintCategory] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(String(4000))
    subject: Mapped[SurveySubject | None] = mapped_column(String(16))  # what it is about, when it is a booking or ride
    subject_id: Mapped[uuid.UUID | None]
    state: Mapped[ComplaintState] = mapped_column(String(16), default=ComplaintState.OPEN)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    response_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolution_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reopened: Mapped[int] = mapped_column(SmallInteger, default=0)


class ComplaintReply(IdMixin, Base):
    """A message on a complaint, from its filer or from the village enterprise; `note` marks a state change's reason."""

    __tablename__ = "complaint_replies"

    seq: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)  # the order written (times may tie)
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"))
    from_operator: Mapped[bool]
    text: Mapped[str] = mapped_column(String(4000))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
