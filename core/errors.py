"""Domain errors: each has a stable machine-readable code and a human detail, and no HTTP status.

The API maps each class to a status code in one table (`api/errors.py`).
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class InvalidInput(DomainError):
    code = "invalid_input"


class Conflict(DomainError):
    code = "conflict"


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"


class Unavailable(DomainError):
    """Something the operation needs is out of reach for now; nothing was done, the caller may retry."""

    code = "service_unavailable"
