"""Plain ASGI middleware (no BaseHTTPMiddleware: its task group and streams per request cost more than most
endpoints)."""

from __future__ import annotations

import time
import uuid

import structlog
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
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
        request_id = Headers(scope=scope).get("x-request-id", "")[:MAX_REQUEST_ID] or uuid.uuid4().hex
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


# Every response: no MIME sniffing, never framed, no referrer leaks; the CSP runs scripts from the project's files only
# (no inline script anywhere: the docs pages' generated inline scripts are allowed by their hashes, `api/docs.py`,
# which sets its own CSP), ReDoc its blob worker, the dashboards draw the base map's tiles (their origin, when set).
CSP_HEADER = b"content-security-policy"
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
CSP = (
    "default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https://cdn.redoc.ly{tiles}; worker-src 'self' blob:; frame-ancestors 'none'"
)


def csp(*, tile_origin: str | None = None, script_hashes: tuple[str, ...] = ()) -> str:
    """The policy; `script_hashes` (base64 SHA-256) allow a page's own inline scripts, and nothing else inline."""
    scripts = "".join(f" 'sha256-{digest}'" for digest in script_hashes)
    return CSP.format(tiles=f" {tile_origin}" if tile_origin else "", scripts=scripts)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts_seconds: int, tile_origin: str | None = None) -> None:
        self.app = app
        self.headers = [*SECURITY_HEADERS, (CSP_HEADER, csp(tile_origin=tile_origin).encode())]
        if hsts_seconds:
            self.headers.append((b"strict-transport-security", f"max-age={hsts_seconds}".encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = message.get("headers", [])
                has_csp = any(name.lower() == CSP_HEADER for name, _ in own)  # a page's own (the docs pages)
                message["headers"] = [*own, *(h for h in self.headers if not (has_csp and h[0] == CSP_HEADER))]
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """Request bodies over `max_bytes` get 413 `payload_too_large` (our error model; Starlette's own limit answers
    in plain text): at once when Content-Length says so, else as soon as the streamed body passes the limit."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise HTTPException(413, self._detail())  # answered by the API's error handler
            return message

        await self.app(scope, counted, send)

    def _detail(self) -> str:
        return f"the request body is larger than {self.max_bytes:,} bytes"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(error_body("payload_too_large", self._detail()), status_code=413)
        await response(scope, receive, send)
