"""Every input is bounded before it is parsed: each request body model, each field given 64 KB of adversarial text
(digits then a letter, the shape that made a date-time validator backtrack for minutes), is refused quickly; and over
HTTP, without credentials, the device endpoints answer 422 at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, get_args

import httpx
import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.app import create_app
from api.schemas.common import Strict
from api.state import AppState
from tests.factories import auth, make_account

ADVERSARIAL = ["1" * 65_536 + "x", "1" * 32_768 + "." + "1" * 32_767 + "x", "a" * 65_536, "2026-11-23T" + "9" * 65_536]
# generous: the defect took 1.4 s at 8 KB and minutes at 64 KB; a bounded validator takes microseconds
LIMIT_S = 0.05


def _request_models() -> dict[str, type[BaseModel]]:
    """Every request body model: the API's models that refuse unknown fields (`Strict`), once the app is built."""
    create_app()
    found: dict[str, type[BaseModel]] = {}
    todo = list(Strict.__subclasses__())
    while todo:
        model = todo.pop()
        found[model.__name__] = model
        todo.extend(model.__subclasses__())
    return found


MODELS = _request_models()


def test_the_walk_finds_the_request_models():
    assert {"BookingIn", "TelemetryIn"} <= set(MODELS) and len(MODELS) > 30


def _payloads(model: type[BaseModel], depth: int = 0) -> Iterator[tuple[str, dict[str, Any]]]:
    """One payload per field and adversarial text; a field holding models (or lists of them) gets theirs nested."""
    for field, info in model.model_fields.items():
        nested = [a for a in (info.annotation, *get_args(info.annotation)) if isinstance(a, type)]
        inner = [a for a in nested if issubclass(a, BaseModel)]
        for text in ADVERSARIAL:
            yield field, {field: text}
        if inner and depth < 3:
            for where, sub in _payloads(inner[0], depth + 1):
                yield f"{field}.{where}", {field: [sub]}
                yield f"{field}.{where}", {field: sub}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_field_refuses_64_kb_of_adversarial_text_quickly(name: str):
    model = MODELS[name]
    for field, payload in _payloads(model):
        started = time.perf_counter()
        try:
            model.model_validate(payload)
        except ValidationError:
            pass
        elapsed = time.perf_counter() - started
        assert elapsed < LIMIT_S, (name, field, f"{elapsed:.3f} s")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/telemetry", {"points": [{"at": "1" * 65_536 + "x", "lon": 126.78, "lat": 37.52}]}),
        ("/water-gauges/readings", {"readings": [{"at": "1" * 65_536 + "x", "level_cm": 3}]}),
        ("/cameras/entries", {"events": [{"event_id": "e-1", "at": "1" * 65_536 + "x", "plate": "12가3456"}]}),
    ],
)
async def test_device_endpoints_refuse_a_huge_time_without_credentials_at_once(
    client: httpx.AsyncClient, path: str, body: dict[str, Any]
):
    started = time.perf_counter()
    response = await client.post(path, json=body)
    assert time.perf_counter() - started < 2, "the body's validation ran for seconds"
    assert response.status_code in (401, 422), response.text


@pytest.mark.parametrize(
    "path", ["/kpi/monthly?month=9999-12", "/mds/reports/9999-12.csv", "/kpi/monthly?month=1000-01"]
)
async def test_a_month_out_of_range_is_422_not_a_dropped_connection(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, path: str
):
    """`month=9999-12` ended in year 10000: an OverflowError, and uvicorn dropped the connection. (Under /mds/ a
    request that fails validation is MDS's 400.)"""
    city = await make_account(session, role=Role.CITY)
    response = await client.get(path, headers=auth(state, city))
    assert response.status_code == (400 if path.startswith("/mds/") else 422), response.text
    assert response.json()["error"] == "invalid_request"
