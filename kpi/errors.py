from __future__ import annotations

from accounts.errors import InvalidCredentials
from core.errors import Forbidden, NotFound


class CameraNotFound(NotFound):
    code = "camera_not_found"


class ViolationNotFound(NotFound):
    code = "violation_not_found"


class CameraNotAuthenticated(InvalidCredentials):
    code = "camera_not_authenticated"


class WrongCameraPurpose(Forbidden):
    """An entrance camera posting violations, or an enforcement camera posting entries."""

    code = "wrong_camera_purpose"
