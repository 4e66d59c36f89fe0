"""Plain ASGI middleware (no BaseHTTPMiddleware: its task group and streams per request cost more than most
endpoints)."""

from __future__ import annotations

import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core import metrics

log = structlog.get_logger("maeul.api")

MAX_REQUEST_ID = 128


class AccessLog:
    """One log line per request with its status and duration; the request id (the caller's `X-Request-ID`, or a
    new one) is bound to every log line of the request and echoed in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == b"x-request-id"), b"")
        request_id = given.decode("latin-1")[:MAX_REQUEST_ID] or uuid.uuid4().hex
        started = time.perf_counter()
        status = 500

        async def respond(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, respond)
            finally:
                seconds = time.perf_counter() - started
                route = scope.get("route")  # set by the router: the template, so ids do not explode the labels
                template = getattr(route, "path_format", None) or getattr(route, "path", None) or "<unmatched>"
                metrics.HTTP_SECONDS.labels(scope["method"], template, str(status)).observe(seconds)
                ms = round(seconds * 1000, 1)
                log.info("request", method=scope["method"], path=scope["path"], status=status, ms=ms)
