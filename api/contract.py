"""The published contract: the OpenAPI document completed with what FastAPI cannot know of by itself.

Every 4xx and 5xx response of every operation is the one shared `ErrorOut` schema, whose `error` lists every code
the API can answer with; each operation documents the statuses the framework adds to it: 400 for a body that is not
JSON, 413 for one too large, 422 for parameters or a body that fail validation, 401 and 403 where a sign-in is
needed, 404 where a path names something, 429 for rate limits, 503 when a backing service is down. The statuses
of its own domain (409 ...) each route declares. The MDS operations (`/mds/...`) answer validation failures with 400
(MDS's status, not 422), an `Accept` naming no version served with 406, and error bodies that also carry MDS's
`error_description` and `error_details` (`MdsErrorOut`).
"""

from __future__ import annotations

import importlib
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api import errors
from core.errors import DomainError

STANDARD = {
    400: "Bad request: the body is not JSON (`malformed_body`); under /mds/, a parameter missing or invalid "
    "(`invalid_request`, `invalid_input`).",
    406: "The `Accept` header admits no MDS version served (`application/vnd.mds+json;version=2.0`).",
    401: "Not signed in, or the credentials are invalid or expired.",
    403: "Signed in, but the caller's role may not do this.",
    404: "Nothing with this id exists for the caller (or the path is unknown).",
    422: "A parameter or the body fails validation (`invalid_request`, with the field problems) or the domain's "
    "rules (`invalid_input`, with an explanation).",
    413: "The body is larger than `MAEUL_MAX_BODY_BYTES` (`payload_too_large`).",
    429: "Too many requests from this account or address (`rate_limited`, `Retry-After`), or too many failed "
    "sign-ins (`too_many_attempts`).",
    503: "A backing service (PostgreSQL or Redis) is unavailable; retry after `Retry-After` seconds.",
}
ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}
MDS_ERROR_REF = {"$ref": "#/components/schemas/MdsErrorOut"}
MDS_ERROR = {
    "allOf": [
        ERROR_REF,
        {
            "type": "object",
            "required": ["error_description", "error_details"],
            "properties": {
                "error_description": {"type": "string", "description": "MDS: a human-readable description"},
                "error_details": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            },
        },
    ],
    "description": "An MDS error (`response/error.yaml`): maeul's error body with MDS's two fields.",
}
FRAMEWORK_SCHEMAS = ("HTTPValidationError", "ValidationError")


# each keeps its errors in errors.py
DOMAINS = ("accounts", "billing", "cars", "feedback", "geo", "kpi", "ledger", "mobility", "ops", "parking")


def _domain_errors() -> list[type[DomainError]]:
    for domain in DOMAINS:
        importlib.import_module(f"{domain}.errors")
    found: list[type[DomainError]] = []
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def error_codes() -> dict[int, list[str]]:
    """Every error code the API can answer with, by status."""
    codes: dict[int, set[str]] = {}
    for cls in _domain_errors():
        codes.setdefault(errors.status_for_class(cls), set()).add(cls.code)
    for status, code in errors.FRAMEWORK_CODES.items():
        codes.setdefault(status, set()).add(code)
    return {status: sorted(found) for status, found in sorted(codes.items())}


def _operation_statuses(operation: dict[str, Any], *, mds: bool) -> set[int]:
    parameters = operation.get("parameters", [])
    statuses = {429, 503} | ({406} if mds else set())
    if "requestBody" in operation:
        statuses |= {400, 413, 422}
    if parameters:
        statuses.add(422)
    if operation.get("security"):
        statuses |= {401, 403}
    if any(p["in"] == "path" for p in parameters):
        statuses.add(404)
    return {400 if mds and status == 422 else status for status in statuses}


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the framework's statuses to every operation and point every error response at the shared schema."""
    codes = error_codes()
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in FRAMEWORK_SCHEMAS:
        components.pop(name, None)
    error = components["ErrorOut"]
    error["properties"]["error"]["enum"] = sorted({code for found in codes.values() for code in found})
    components["MdsErrorOut"] = MDS_ERROR
    for path, item in schema["paths"].items():
        mds = path.startswith(errors.MDS_PREFIX)
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            if mds and "422" in responses:
                responses["400"] = responses.pop("422")
            for status in _operation_statuses(operation, mds=mds):
                responses.setdefault(str(status), {"description": ""})
            for status, response in responses.items():
                if int(status) < 400:
                    continue
                phrase = HTTPStatus(int(status)).phrase
                if response.get("description") in (None, "", phrase, "Validation Error", "Unprocessable Entity"):
                    # no description of its own: the standard one, with every code of the status
                    found = codes.get(int(status), []) + (codes.get(422, []) if mds and status == "400" else [])
                    listed = ", ".join(f"`{code}`" for code in sorted(found))
                    response["description"] = STANDARD.get(int(status), phrase + ".") + f" Codes: {listed}."
                response["content"] = {"application/json": {"schema": MDS_ERROR_REF if mds else ERROR_REF}}
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(
                get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
