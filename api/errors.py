"""The one place where errors become HTTP: a table from domain error class to status code, and handlers that
answer every error as `{"error": <code>, "detail": ..., **context}`."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from accounts.errors import InvalidCredentials, TooManyAttempts
from billing.errors import InsufficientFunds
from core.errors import Conflict, DomainError, Forbidden, IdempotencyKeyReused, InvalidInput, NotFound

log = structlog.get_logger("maeul.api")


class NotAuthenticated(DomainError):
    code = "not_authenticated"


STATUS: dict[type[DomainError], int] = {
    NotAuthenticated: 401,
    InvalidCredentials: 401,
    InsufficientFunds: 402,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,  # and its subclasses: slot_unavailable, sharing_conflicts_with_bookings, email_taken, ...
    IdempotencyKeyReused: 422,
    InvalidInput: 422,
    TooManyAttempts: 429,
}


def status_for(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_body(code: str, detail: object, **context: object) -> dict[str, object]:
    body: dict[str, object] = jsonable_encoder({"error": code, "detail": detail, **context})
    return body


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    status = status_for(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(error, TooManyAttempts):
        headers = {"Retry-After": str(error.extra.get("retry_after_s", 60))}
    return JSONResponse(error_body(error.code, error.detail, **error.extra), status_code=status, headers=headers)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in error.errors()
    ]
    return JSONResponse(error_body("invalid_request", problems), status_code=422)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 413: "payload_too_large"}


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = _HTTP_CODES.get(error.status_code, f"http_{error.status_code}")
    return JSONResponse(
        error_body(code, error.detail), status_code=error.status_code, headers=getattr(error, "headers", None)
    )


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error", path=request.url.path, method=request.method)
    return JSONResponse(error_body("internal_error", "an unexpected error occurred"), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
