"""Notifications: the outbox read as an inbox (flood warnings for drivers, fire-lane and flood alerts for the
operators)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.auth import Anyone
from api.deps import Limit, Offset, SessionDep
from api.schemas.city import NotificationOut
from api.schemas.common import Page, page
from core import outbox

router = APIRouter(tags=["notifications"])


@router.get("/notifications", response_model=Page[NotificationOut], summary="Your notifications")
async def notifications(
    actor: Anyone,
    session: SessionDep,
    kind: Annotated[str | None, Query(max_length=40, description="e.g. flood_alert, fire_lane_alert")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Newest first: what was sent to you (a flood warning about your booking), and, for the village enterprise's
    operators, the alerts sent to them (a blocked fire lane, a flooding lot). `delivered_at` is when the delivery
    channel (SMS, push; the log by default) took it."""
    found = await outbox.sent_to(
        session,
        audiences=outbox.audiences_of(actor.id, operator=actor.is_operator),
        kind=kind,
        limit=limit + 1,
        offset=offset,
    )
    return page([NotificationOut.of(n) for n in found], limit=limit, offset=offset)
