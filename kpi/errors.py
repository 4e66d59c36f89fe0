from __future__ import annotations

from core.errors import Forbidden, NotFound


class CameraNotFound(NotFound):
    code = "camera_not_found"


class WaterGaugeNotFound(NotFound):
    code = "water_gauge_not_found"


class WrongCameraPurpose(Forbidden):
    """An entrance camera posting violations, or an enforcement camera posting entries."""

    code = "wrong_camera_purpose"
