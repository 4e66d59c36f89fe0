"""What every domain's HTTP models share: the strict base, the error body, pages, places, times and months as the
contract writes them."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

T = TypeVar("T")


def _not_a_bool(value: Any) -> Any:
    """pydantic reads JSON `false` as 0.0 for a float: a coordinate of `false` is a client's bug, refused (422)."""
    if isinstance(value, bool):
        raise ValueError("give a number, not true or false")
    return value


# the validator after the Field: before it, FastAPI's query parameters document the bounds as `ge`/`le`, not as
# JSON Schema's minimum/maximum (schemathesis then sends 6e16 as a valid longitude)
Longitude = Annotated[
    float, Field(ge=-180, le=180, description="WGS84 longitude, degrees east"), BeforeValidator(_not_a_bool)
]


# unambiguous (each digit can be matched one way only), so a long string of digits costs linear time: the former
# `\d+\.?\d*` backtracked quadratically, and a 64 KB date-time held a worker for minutes
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
MAX_TIME_TEXT = 64  # the longest date-time or date the contract takes ("2026-11-23T09:00:00.123456+09:00" is 32)


def _iso_only(value: Any) -> Any:
    """pydantic takes a number for a datetime (Unix seconds); the contract says ISO 8601, and only that is taken."""
    if isinstance(value, str) and len(value) > MAX_TIME_TEXT:
        raise ValueError(f"a date-time is at most {MAX_TIME_TEXT} characters")
    if isinstance(value, str) and ":" in value:  # the usual case, never a number: no pattern to match
        return value
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("give an ISO 8601 date-time with an offset, e.g. 2026-11-23T09:00:00+09:00")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_only)]


def _iso_date_only(value: Any) -> Any:
    """pydantic takes a number for a date (Unix seconds: 0 is 1970-01-01); the contract says YYYY-MM-DD."""
    if isinstance(value, str) and len(value) > MAX_TIME_TEXT:
        raise ValueError(f"a date is at most {MAX_TIME_TEXT} characters")
    if isinstance(value, str) and "-" in value:
        return value
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("give a date as YYYY-MM-DD")
    return value


LocalDate = Annotated[date, BeforeValidator(_iso_date_only)]
# YYYY-MM and YYYY-MM-DDTHH of this century: month 9999-12 ended in year 10000, an OverflowError (a 500)
MONTH = r"^20\d{2}-(0[1-9]|1[0-2])$"
HOUR = r"^20\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3])$"
Latitude = Annotated[
    float, Field(ge=-90, le=90, description="WGS84 latitude, degrees north"), BeforeValidator(_not_a_bool)
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description="where: body, query, path or header, then the field path")
    msg: str
    type: str = Field(description="pydantic's error type, e.g. missing, greater_than_equal")


class ErrorOut(BaseModel):
    """Every error response. Some carry more context beside `detail`: `conflicts`, `retry_after_s`, ..."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="stable machine-readable code", examples=["slot_unavailable"])
    detail: str | list[FieldProblem] = Field(
        description="a human-readable explanation, or the field problems of an `invalid_request`",
        examples=["the slot is already booked for part of this interval"],
    )


class Page(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last page")


def page(items: list[Any], *, limit: int, offset: int) -> dict[str, Any]:
    """Build a page from `limit + 1` fetched items (the extra one only tells that a next page exists)."""
    more = len(items) > limit
    return {"items": items[:limit], "limit": limit, "offset": offset, "next_offset": offset + limit if more else None}


class Location(Strict):
    lon: Longitude
    lat: Latitude
