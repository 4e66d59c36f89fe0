from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CreatedAtMixin, IdMixin
from core.enums import check_in


class Role(StrEnum):
    """Who an account is. Owners can also book (a permit-holding resident who shares a slot drives too)."""

    RESIDENT = "resident"
    OWNER = "owner"
    OPERATOR = "operator"  # village enterprise staff
    CITY = "city"  # read-only monitoring
    ADMIN = "admin"


class Account(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint(check_in("role", Role), name="role"),)

    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
