"""The FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import contract, docs, errors, pages
from api.middleware import AccessLog, BodyLimit, SecurityHeaders
from api.ratelimit import RateLimit
from api.routes import (
    auth,
    bookings,
    cars,
    city,
    feedback,
    feeds,
    geofences,
    health,
    ledger,
    matching,
    notifications,
    places,
    pricing,
    rebalancing,
    rides,
    shuttle,
    slots,
    staff,
    tasks,
    valet,
    vehicles,
    wallet,
)
from api.state import AppState, build_state, close_state
from core.logging import configure_logging
from core.pools import warm
from core.redis import claim
from core.settings import Settings, get_settings

DESCRIPTION = """
Backend of maeul, the shared-parking and micro-mobility service of Sangsalmi village (Bucheon).

* **Residents and visiting drivers**: `GET /slots/search`, then `POST /bookings` (send an `Idempotency-Key`),
  check in and out.
* **Slot owners**: register private slots, publish weekly sharing windows, extra windows and blackouts, see
  bookings on their slots (without driver identity).
* **Village enterprise (operator)**: registers lots and slots, manages entrusted slots, sees all bookings.
* **City**: read-only monitoring of zones, lots, slots and bookings.

Sign in with `POST /auth/token` (OAuth2 password flow; the **Authorize** button below) and send
`Authorization: Bearer <token>`. The dashboards (`/pages`) sign in at `/pages/sign-in` instead, which sets the
`maeul_session` cookie (HttpOnly, SameSite=Strict): every operation also takes that cookie in place of the header,
and a change made with it (not GET) must send `X-CSRF-Token` equal to the `maeul_csrf` cookie (403 `csrf_failed`
otherwise). Every error is `{"error": <code>, "detail": ...}` with a stable code.
"""


def freeze_start_up_objects() -> None:
    """What is alive once the server has started (modules, settings, pools: some 350,000 objects) lives as long as
    the process. `gc.freeze()` puts it out of the cyclic collector's sight: measured in bench_mobility, each full
    collection under telemetry load walked all of it (~200 ms), about 1 ms per 500-point batch on average."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None, *, state: AppState | None = None) -> FastAPI:
    """Build the app. Without `state` the lifespan builds one from settings and closes it at shutdown."""
    settings = settings or (state.settings if state else get_settings())
    configure_logging(json=settings.env == "production")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state is not None:
            app.state.maeul = state
            yield
            return
        app.state.maeul = build_state(settings)
        try:
            await claim(app.state.maeul.redis, settings)  # one Redis database per deployment, or no start
            warm(app.state.maeul.solver_pool)
            freeze_start_up_objects()
            yield
        finally:
            await close_state(app.state.maeul)

    app = FastAPI(
        title="maeul",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    if state is not None:
        app.state.maeul = state
    errors.install(app)
    contract.install(app)
    docs.install(app)
    pages.install(app)
    for module in (
        health,
        auth,
        places,
        pricing,
        slots,
        bookings,
        matching,
        wallet,
        ledger,
        vehicles,
        geofences,
        rides,
        staff,
        tasks,
        rebalancing,
        valet,
        shuttle,
        city,
        feedback,
        notifications,
    ):
        app.include_router(module.router)
    app.include_router(cars.router)
    app.include_router(cars.carpool_router)
    app.include_router(feeds.gbfs)
    app.include_router(feeds.mds)

    # outermost last: the access log sees every answer, security headers go on all of them, CORS answers
    # preflights before the limits count
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RateLimit)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["Retry-After", "X-Request-ID", "Idempotent-Replayed"],
        )
    tiles = urlsplit(settings.map_tile_url) if settings.map_tile_url else None
    tile_origin = f"{tiles.scheme}://{tiles.netloc.replace('{s}', '*')}" if tiles else None
    app.add_middleware(SecurityHeaders, hsts_seconds=settings.hsts(), tile_origin=tile_origin)
    app.add_middleware(AccessLog)
    return app
