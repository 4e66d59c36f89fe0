"""Notifications through an outbox: written in the same transaction as what caused them (never sent for a change
that rolled back, never lost for one that committed), delivered afterwards by the worker through a channel.

The channel is pluggable (`Channel`); the default writes each notification to the structured log, which is what a
pilot without an SMS or push contract has. A notification is delivered at least once: a channel that fails leaves it
pending with the error, and the next round tries again."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

import structlog
from sqlalchemy import DateTime, Integer, String, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CreatedAtMixin, IdMixin

log = structlog.get_logger("maeul.notify")
OPERATORS = "operator"  # the audience of alerts for the village enterprise's operators
SECRET = "secret"  # a body field delivered once (a password-reset code): never logged or shown, erased once delivered


class Notification(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "notifications"

    kind: Mapped[str] = mapped_column(String(40))  # fire_lane_alert, flood_alert, ...
    audience: Mapped[str] = mapped_column(String(80))  # a role ("operator") or "account:<id>"
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))

    def shown(self) -> dict[str, Any]:
        """The body as a log or the inbox may show it: without its secret."""
        return {key: value for key, value in self.body.items() if key != SECRET}


class Channel(Protocol):
    async def send(self, notification: Notification) -> None: ...


class LogChannel:
    """Delivers by writing the notification to the log (the default channel); a secret is not written."""

    async def send(self, notification: Notification) -> None:
        log.warning(
            "notification",
            kind=notification.kind,
            audience=notification.audience,
            subject=notification.subject,
            notification_id=str(notification.id),
            **notification.shown(),
        )


def notify(
    session: AsyncSession, *, kind: str, audience: str, subject: str, body: dict[str, Any], now: datetime
) -> Notification:
    """Queue a notification in the caller's transaction."""
    notification = Notification(id=uuid.uuid4(), kind=kind, audience=audience, subject=subject, body=body)
    notification.created_at = now
    session.add(notification)
    return notification


def audiences_of(account_id: object, *, operator: bool) -> list[str]:
    """What an account reads: what was sent to it, and what was sent to the operators when it is one of them."""
    return [f"account:{account_id}", *([OPERATORS] if operator else [])]


async def sent_to(
    session: AsyncSession, *, audiences: list[str], kind: str | None, limit: int, offset: int
) -> list[Notification]:
    """Notifications for any of `audiences`, newest first (delivered or not: the outbox is also the inbox)."""
    query = select(Notification).where(Notification.audience.in_(audiences))
    if kind is not None:
        query = query.where(Notification.kind == kind)
    query = query.order_by(Notification.created_at.desc(), Notification.id).limit(limit).offset(offset)
    return list(await session.scalars(query))


async def deliver_pending(session: AsyncSession, channel: Channel, *, now: datetime, batch: int = 100) -> int:
    """Send what is pending, oldest first (rows locked, skipped by a concurrent round); the number delivered."""
    pending = await session.scalars(
        select(Notification)
        .where(Notification.delivered_at.is_(None))
        .order_by(Notification.created_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    delivered = 0
    for notification in pending:
        notification.attempts += 1
        try:
            await channel.send(notification)
        except Exception as error:  # any channel failure: keep it pending, say why, try again next round
            notification.last_error = repr(error)[:500]
            continue
        notification.delivered_at = now
        notification.last_error = None
        if SECRET in notification.body:  # out: the outbox (also the inbox) keeps no copy
            notification.body = notification.shown()
        delivered += 1
    await session.flush()
    return delivered
