"""/metrics, scraped as Prometheus would: request latency by route template and status, the database pool,
ledger appends, anchoring lag, solver times and worker job outcomes."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.app import create_app
from api.state import AppState
from core.metrics import observed_job
from parking.policy import WeeklyWindow
from tests.conftest import NOW
from tests.factories import auth, booking_body, make_account, make_slot, make_zone


async def _scrape(client: httpx.AsyncClient) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def _value(samples: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str, **labels: str) -> float:
    return sum(v for k, v in samples.get(name, {}).items() if set(labels.items()) <= set(k))


async def test_metrics_follow_requests_bookings_and_the_ledger(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState
):
    await make_zone(session)
    owner = await make_account(session, role=Role.OWNER)
    weekdays = [WeeklyWindow.parse(["mon", "tue", "wed", "thu", "fri"], "09:00", "18:00")]
    slot_id = await make_slot(session, owner=owner, windows=weekdays, now=NOW)
    driver = await make_account(session, role=Role.RESIDENT)
    before = await _scrape(client)

    body = booking_body(slot_id, NOW.replace(hour=10), NOW.replace(hour=12))
    assert (await client.post("/bookings", json=body, headers=auth(state, driver))).status_code == 201
    missing = await client.get(f"/bookings/{slot_id}", headers=auth(state, driver))
    assert missing.status_code == 404
    after = await _scrape(client)

    booked = dict(method="POST", route="/bookings", status="201")
    assert _value(after, "maeul_http_request_duration_seconds_count", **booked) == (
        _value(before, "maeul_http_request_duration_seconds_count", **booked) + 1
    )
    # labelled by the route's template, never by the id in the path
    template = dict(method="GET", route="/bookings/{booking_id}", status="404")
    assert _value(after, "maeul_http_request_duration_seconds_count", **template) >= 1
    assert not any(str(slot_id) in dict(k).get("route", "") for k in after["maeul_http_request_duration_seconds_count"])
    # the booking's payment hold and booking entries went to the ledger
    entries = "maeul_ledger_entries_appended_total"
    assert _value(after, entries) - _value(before, entries) >= 1
    assert _value(after, "maeul_ledger_append_seconds_count") > _value(before, "maeul_ledger_append_seconds_count")
    assert "maeul_anchoring_lag_entries" in after and "maeul_anchoring_lag_seconds" in after
    assert _value(after, "maeul_db_pool_connections", state="size") == state.settings.db_pool_size


async def test_worker_jobs_are_counted_by_outcome(client: httpx.AsyncClient):
    async def tidy(ctx: dict[str, object]) -> int:
        return 3

    async def broken(ctx: dict[str, object]) -> int:
        raise RuntimeError("chain down")

    before = await _scrape(client)
    assert await observed_job(tidy)({}) == 3
    with pytest.raises(RuntimeError):
        await observed_job(broken)({})
    after = await _scrape(client)
    for job, outcome in (("tidy", "ok"), ("broken", "failed")):
        counted = _value(after, "maeul_worker_jobs_total", job=job, outcome=outcome)
        assert counted == _value(before, "maeul_worker_jobs_total", job=job, outcome=outcome) + 1
    assert observed_job(tidy).__name__ == "tidy"  # arq schedules jobs by name


async def test_metrics_answer_only_this_machine_or_the_bearer_of_the_token(state: AppState):
    """/metrics ran queries for anyone on the internet: now a client elsewhere gets 404, as if there were none."""

    async def scrape(app_state: AppState, client: tuple[str, int], headers: dict[str, str] | None = None) -> int:
        transport = httpx.ASGITransport(app=create_app(app_state.settings, state=app_state), client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://maeul.test") as http:
            return (await http.get("/metrics", headers=headers)).status_code

    outside = ("203.0.113.9", 40000)
    assert await scrape(state, ("127.0.0.1", 40000)) == 200
    assert await scrape(state, outside) == 404
    guarded = replace(
        state, settings=state.settings.model_copy(update={"metrics_token": SecretStr("scrape-me-please")})
    )
    assert await scrape(guarded, outside) == 404
    assert await scrape(guarded, outside, {"Authorization": "Bearer wrong"}) == 404
    assert await scrape(guarded, outside, {"Authorization": "Bearer scrape-me-please"}) == 200
