from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.deps import NowDep, SessionDep, StateDep
from api.errors import error_body
from core.metrics import ScrapeCollector
from core.migrate import current_heads
from ledger import anchoring

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness of the API, PostgreSQL and Redis")
async def health(state: StateDep, session: SessionDep) -> JSONResponse:
    """200 when the database (at the latest migration) and Redis answer; 503 naming what is down otherwise."""
    checks: dict[str, str] = {}
    try:
        version = await session.scalar(text("SELECT version_num FROM alembic_version"))
        checks["database"] = "ok" if version in current_heads() else f"migration {version} is not the latest"
    except SQLAlchemyError as error:
        checks["database"] = f"down: {type(error).__name__}"
    try:
        checks["redis"] = "ok" if await state.redis.ping() else "down"
    except RedisError as error:
        checks["redis"] = f"down: {type(error).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", **checks}, status_code=200 if healthy else 503)


LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, state: StateDep, session: SessionDep, now: NowDep) -> Response:
    """Prometheus metrics of this API process (docs/operations.md): with `MAEUL_METRICS_TOKEN` set, for the bearer of
    that token; without it, for clients on this machine only. Anyone else gets 404, as if there were none."""
    token = state.settings.metrics_token
    if token is not None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        allowed = hmac.compare_digest(given.encode(), token.get_secret_value().encode())
    else:
        allowed = request.client is not None and request.client.host in LOOPBACK
    if not allowed:
        return JSONResponse(error_body("not_found", "no such path"), status_code=404)
    lag = await anchoring.status(session, now=now)
    scrape = CollectorRegistry()
    scrape.register(
        ScrapeCollector(
            state.engine,
            entries_not_anchored=lag.entries_not_anchored,
            seconds_not_anchored=lag.seconds_not_anchored,
        )
    )
    return Response(generate_latest(REGISTRY) + generate_latest(scrape), media_type=CONTENT_TYPE_LATEST)
