"""The one place where errors become HTTP: a table from domain error class to status code, and handlers that
answer every error as `{"error": <code>, "detail": ..., **context}`. Under `/mds/` (the MDS 2.0 Provider API) the
body also carries MDS's `error_description` and `error_details`, and a request that fails validation is MDS's 400,
not 422."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from accounts.errors import InvalidCredentials, TooManyAttempts
from billing.errors import InsufficientFunds
from billing.gateway import PaymentRefused
from core.errors import Conflict, DomainError, Forbidden, IdempotencyKeyReused, InvalidInput, NotFound, Unavailable

log = structlog.get_logger("maeul.api")


class NotAuthenticated(DomainError):
    code = "not_authenticated"


class MdsVersionUnsupported(DomainError):
    """An MDS request whose `Accept` header admits no version maeul serves (MDS: 406)."""

    code = "unsupported_version"


class CsrfFailed(Forbidden):
    """A change authenticated by the dashboards' session cookie without the matching CSRF token."""

    code = "csrf_failed"


STATUS: dict[type[DomainError], int] = {
    NotAuthenticated: 401,
    InvalidCredentials: 401,
    InsufficientFunds: 402,
    PaymentRefused: 402,
    Forbidden: 403,
    NotFound: 404,
    MdsVersionUnsupported: 406,
    Conflict: 409,  # and its subclasses: slot_unavailable, sharing_conflicts_with_bookings, email_taken, ...
    IdempotencyKeyReused: 422,
    InvalidInput: 422,
    TooManyAttempts: 429,
    Unavailable: 503,  # and sign_in_unavailable
}


def status_for_class(error: type[DomainError]) -> int:
    for cls in error.__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


# the codes of errors raised by the framework or the backing services, not by the domain
FRAMEWORK_CODES = {
    400: "malformed_body",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}
RETRY_AFTER_S = 5


MDS_PREFIX = "/mds/"


def error_body(code: str, detail: object, **context: object) -> dict[str, object]:
    body: dict[str, object] = jsonable_encoder({"error": code, "detail": detail, **context})
    return body


def _answer(
    request: Request,
    status: int,
    code: str,
    detail: object,
    headers: dict[str, str] | None = None,
    context: dict[str, object] | None = None,
) -> JSONResponse:
    """The error response; `context`: an error's own fields beside `detail` (any names, `status` included)."""
    body = error_body(code, detail, **(context or {}))
    if request.url.path.startswith(MDS_PREFIX):
        if isinstance(detail, list):  # field problems
            details = [f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in detail] or ["invalid request"]
            body |= {"error_description": "a parameter is missing or invalid", "error_details": details}
        else:
            body |= {"error_description": str(detail), "error_details": [str(detail)]}
        status = 400 if status == 422 else status
    return JSONResponse(body, status_code=status, headers=headers)


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    status = status_for_class(type(error))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(error, TooManyAttempts):
        headers = {"Retry-After": str(error.extra.get("retry_after_s", 60))}
    if status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_S)}
    return _answer(request, status, error.code, error.detail, headers, error.extra)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in error.errors()
    ]
    return _answer(request, 422, "invalid_request", problems)


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods of every route whose path (with its converters: ids are UUIDs) matches, for the `Allow` header
    of a 405."""
    if not hasattr(app.state, "route_methods"):
        app.state.route_methods = [
            (compile_path(route.path)[0], frozenset(route.methods or ()))
            for route in iter_route_contexts(app.routes)
            if route.path is not None
        ]
    return sorted({method for regex, methods in app.state.route_methods if regex.match(path) for method in methods})


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    status, detail, headers = error.status_code, error.detail, getattr(error, "headers", None)
    if status == 400:  # FastAPI's answer to a body it cannot decode at all (not UTF-8, a broken form)
        detail = "the request body could not be read: send UTF-8 JSON (or the form the operation documents)"
    elif status == 404 and detail == "Not Found":
        detail = f"no operation at {request.url.path} (ids in paths are UUIDs; see /docs)"
    elif status == 405:
        allow = allowed_methods(request.app, request.url.path)
        headers = {"Allow": ", ".join(allow)}
        detail = f"{request.method} is not allowed here; allowed: {', '.join(allow)}"
    return _answer(request, status, FRAMEWORK_CODES.get(status, "internal_error"), detail, headers)


# SQLSTATE classes and codes that mean "the server cannot serve now", not "this request is wrong": connection
# exceptions (08), shutting down or starting (57P01-57P03), too many connections (53300)
UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


# SQLSTATEs of text PostgreSQL cannot store, whichever field or parameter carried it: the NUL character (22021),
# a \u0000 escape inside JSON (22P05). The request is wrong, not the server (schemathesis sent a NUL in a name)
UNSTORABLE_TEXT_SQLSTATES = ("22021", "22P05")


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DBAPIError)
    sqlstate = str(getattr(error.orig, "sqlstate", None) or "")
    if sqlstate in UNSTORABLE_TEXT_SQLSTATES:
        detail = "text may not contain the NUL character (U+0000); nothing was changed"
        return JSONResponse(error_body("invalid_request", detail), status_code=422)
    if (
        error.connection_invalidated
        or isinstance(error, OperationalError | InterfaceError)
        or sqlstate.startswith(UNAVAILABLE_SQLSTATES)
    ):
        return await _unavailable(request, error)
    return await _unexpected(request, error)


async def _unavailable(request: Request, error: Exception) -> JSONResponse:
    """PostgreSQL or Redis could not be reached (restarting, network, pool exhausted): the request's transaction
    did not commit; the client may retry (with the same Idempotency-Key for a create)."""
    log.warning("backing service unavailable", path=request.url.path, error=repr(error))
    return JSONResponse(
        error_body("service_unavailable", "a backing service is unavailable; nothing was changed, retry shortly"),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error", path=request.url.path, method=request.method)
    return JSONResponse(error_body("internal_error", "an unexpected error occurred"), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    for unavailable in (PoolTimeout, OSError, RedisConnectionError, RedisTimeoutError):
        app.add_exception_handler(unavailable, _unavailable)
    app.add_exception_handler(Exception, _unexpected)
