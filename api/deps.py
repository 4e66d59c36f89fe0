"""Request-scoped dependencies: state, session (one unit of work), clock. Each is `async def` though none waits:
FastAPI runs a plain `def` dependency in a worker thread, a hop per request that cost ~0.3 ms (bench_mobility)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from api.state import AppState


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.maeul
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    """One session per request. Routes commit once at the end; anything else is rolled back on close."""
    async with state.sessionmaker() as session:
        try:
            yield session
        except Exception:
            await session.rollback()  # nothing of a failed request is written, even if it flushed
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_now(state: StateDep) -> datetime:
    return state.clock.now()


NowDep = Annotated[datetime, Depends(get_now)]

# a page of a listing (`page()` in api/schemas/common.py fetches limit + 1 to tell whether there is a next one)
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
