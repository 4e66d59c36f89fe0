from __future__ import annotations

from core.errors import Conflict, NotFound


class SurveySubjectNotFound(NotFound):
    """No booking or ride of this id is the respondent's."""

    code = "survey_subject_not_found"


class SurveyNotOpen(Conflict):
    """The booking or ride has not ended yet (or was cancelled): there is nothing to rate."""

    code = "survey_not_open"


class SurveyAlreadyAnswered(Conflict):
    code = "survey_already_answered"
