"""Running a creating call under an optional `Idempotency-Key` header, and committing its unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from core.idempotency import KEY, claim, remember

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="A unique string of printable ASCII without spaces (e.g. a UUID). A retry with the same key "
        "returns the first result instead of doing the work again; the same key with a different body is refused "
        "with 422.",
        pattern=KEY.pattern,
    ),
]


async def create_once(
    session: AsyncSession,
    *,
    actor: Actor,
    key: str | None,
    operation: str,
    payload: BaseModel,
    work: Callable[[], Awaitable[BaseModel]],
    status_code: int = 201,
) -> JSONResponse:
    """Do `work` and commit; with a key, store its response in the same transaction and replay it on retries."""
    body: Any
    if key is not None:
        stored = await claim(
            session, account_id=actor.id, key=key, operation=operation, payload=payload.model_dump(mode="json")
        )
        if stored is not None:
            return JSONResponse(stored.body, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"})
    body = jsonable_encoder(await work())
    if key is not None:
        await remember(session, account_id=actor.id, key=key, status_code=status_code, body=body)
    await session.commit()
    return JSONResponse(body, status_code=status_code)
