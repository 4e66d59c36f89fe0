from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CreatedAtMixin, IdMixin
from core.enums import check_in


class Role(StrEnum):
    """Who an account is. Owners can also book (a permit-holding resident who shares a slot drives too)."""

    RESIDENT = "resident"
    OWNER = "owner"
    OPERATOR = "operator"  # the village enterprise's office: slots, fleet, staff and their plans
    STAFF = "staff"  # the village enterprise's field staff: valets, crews, van drivers (ops.StaffMember)
    CITY = "city"  # read-only monitoring
    ADMIN = "admin"


class Account(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint(check_in("role", Role), name="role"),)

    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)  # False: disabled by an admin, every token refused
    signed_out_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # older tokens are refused


class RevokedToken(Base):
    """An access token signed out before it expired; kept until then (the worker prunes the rest)."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PasswordReset(IdMixin, CreatedAtMixin, Base):
    """A one-time password-reset token sent by e-mail; only its SHA-256 is kept (a copy of this table resets no
    password). Used once, within its lifetime; a new request or a reset ends the account's earlier ones."""

    __tablename__ = "password_resets"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
