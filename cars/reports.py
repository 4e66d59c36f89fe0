"""Condition reports of a car's pick-up and return, handled by the village enterprise."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from cars.errors import (
    CarBookingNotFound,
)
from cars.models import (
    ConditionReport,
)


async def handle_report(session: AsyncSession, *, actor: Actor, report_id: uuid.UUID, now: datetime) -> ConditionReport:
    report = await session.get(ConditionReport, report_id, with_for_update=True)
    if report is None:
        raise CarBookingNotFound(f"condition report {report_id} not found")
    report.handled_at, report.handled_by = now, actor.id
    await session.flush()
    return report
