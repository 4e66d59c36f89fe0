from __future__ import annotations

from core.errors import Conflict, NotFound


class SubjectNotFound(NotFound):
    """No booking or ride of this id is the caller's (what a survey answer or a complaint is about)."""

    code = "subject_not_found"


class SurveyNotOpen(Conflict):
    """The booking or ride has not ended yet (or was cancelled): there is nothing to rate."""

    code = "survey_not_open"


class SurveyAlreadyAnswered(Conflict):
    code = "survey_already_answered"


class ComplaintNotFound(NotFound):
    """No complaint of this id, or not one the caller may read (a resident reads only their own)."""

    code = "complaint_not_found"


class InvalidComplaintTransition(Conflict):
    code = "invalid_complaint_transition"
