from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CreatedAtMixin, IdMixin


class Zone(IdMixin, CreatedAtMixin, Base):
    """An area the city manages as one unit (pricing, caps, KPIs). WGS84 polygon."""

    __tablename__ = "zones"

    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    area: Mapped[object] = mapped_column(Geometry("POLYGON", srid=4326, spatial_index=True))
