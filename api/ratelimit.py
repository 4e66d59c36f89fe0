"""The rate limits (core/ratelimit.py) in front of the routes: 429 `rate_limited` with `Retry-After`."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import token_subject
from api.errors import error_body


class RateLimit:
    """Plain ASGI middleware in front of the routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # every path is limited, /health and /metrics too: a probe is far below a limit
            await self.app(scope, receive, send)
            return
        state = scope["app"].state.maeul
        bearer = Headers(scope=scope).get("authorization", "")
        account = token_subject(bearer.removeprefix("Bearer ").strip(), state.token_keys) if bearer else None
        client = scope.get("client")
        wait = await state.rate_limits.wait_s(address=client[0] if client else "unknown", account=account)
        if wait is None:
            await self.app(scope, receive, send)
            return
        who = "this account" if account else "this address"
        body = error_body("rate_limited", f"too many requests from {who}; retry in {wait} s", retry_after_s=wait)
        response = JSONResponse(body, status_code=429, headers={"Retry-After": str(wait)})
        await response(scope, receive, send)
