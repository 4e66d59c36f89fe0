"""Residents' feedback: the in-app satisfaction survey after a booking or a ride (the pilot's satisfaction KPI)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, SmallInteger, String, UniqueConstraint
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
