"""Bad input gets a 4xx with {"error", "detail"}, never a 500, and writes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Account, Role
from api.state import AppState
from parking.models import Booking, Slot
from sim.pilot import CENTRE
from tests.conftest import NOW
from tests.factories import auth, booking_body, error_of, make_account, make_slot, make_zone

LON, LAT = CENTRE
START, END = NOW.replace(hour=10), NOW.replace(hour=12)
VALID = {"lat": LAT, "lon": LON, "start": START.isoformat(), "end": END.isoformat()}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"lat": 91}, "invalid_request"),
        ({"lat": -90.5}, "invalid_request"),
        ({"lon": 180.01}, "invalid_request"),
        ({"lat": "nan"}, "invalid_request"),
        ({"lon": "east"}, "invalid_request"),
        ({"end": START.isoformat()}, "invalid_interval"),
        ({"end": (START - timedelta(hours=1)).isoformat()}, "invalid_interval"),
        ({"end": (START + timedelta(hours=73)).isoformat()}, "invalid_interval"),
        ({"start": (NOW - timedelta(hours=1)).isoformat()}, "invalid_interval"),
        (
            {"start": (NOW + timedelta(days=61)).isoformat(), "end": (NOW + timedelta(days=61, hours=1)).isoformat()},
            "invalid_interval",
        ),
        ({"start": "2026-11-23T10:00:00"}, "invalid_request"),  # no offset
        ({"start": "tomorrow"}, "invalid_request"),
        ({"max_walk_m": 0}, "invalid_request"),
        ({"max_walk_m": 100_000}, "invalid_input"),
        ({"size": "huge"}, "invalid_request"),
        ({"limit": 1000}, "invalid_request"),
        ({"offset": -1}, "invalid_request"),
    ],
)
async def test_bad_search(client: httpx.AsyncClient, session: AsyncSession, state: AppState, change, code):
    driver = await make_account(session)
    response = await client.get("/slots/search", params={**VALID, **change}, headers=auth(state, driver))
    assert response.status_code == 422, response.text
    assert error_of(response) == code


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"end": START.isoformat()}, 422, "invalid_interval"),
        ({"start": (NOW - timedelta(days=1)).isoformat()}, 422, "invalid_interval"),
        ({"end": (START + timedelta(days=4)).isoformat()}, 422, "invalid_interval"),
        ({"start": "2026-11-23T10:00"}, 422, "invalid_request"),
        ({"slot_id": "not-a-uuid"}, 422, "invalid_request"),
        ({"slot_id": str(uuid.uuid4())}, 404, "slot_not_found"),
        ({"vehicle_plate": "!!"}, 422, "invalid_vehicle_plate"),
        ({"vehicle_plate": None}, 422, "invalid_request"),
        ({"extra_field": 1}, 422, "invalid_request"),
    ],
)
async def test_bad_booking(client: httpx.AsyncClient, session: AsyncSession, state: AppState, change, status, code):
    await make_zone(session)
    slot = await make_slot(session, now=NOW)
    driver = await make_account(session)
    response = await client.post(
        "/bookings", json={**booking_body(slot, START, END), **change}, headers=auth(state, driver)
    )
    assert response.status_code == status, response.text
    assert error_of(response) == code
    assert await session.scalar(select(func.count()).select_from(Booking).where(Booking.slot_id == slot)) == 0


async def test_malformed_bodies(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    driver = await make_account(session)
    headers = {**auth(state, driver), "content-type": "application/json"}
    for raw in (b"{", b"[]", b"null", b'{"slot_id": ', '{"slot_id": "\u0000"}'.encode(), b"\xff\xfe"):
        response = await client.post("/bookings", content=raw, headers=headers)
        assert response.status_code == 422, (raw, response.text)
        assert error_of(response) == "invalid_request"


async def test_bad_sharing_windows(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    await make_zone(session)
    owner = await make_account(session, role=Role.OWNER)
    slot = await make_slot(session, owner=owner, now=NOW)
    headers = auth(state, owner)
    for window, code in (
        # times out of the documented HH:MM patterns (a start cannot be 24:00) fail validation
        ({"weekdays": ["mon"], "start": "25:00", "end": "18:00"}, "invalid_request"),
        ({"weekdays": ["mon"], "start": "24:00", "end": "18:00"}, "invalid_request"),
        ({"weekdays": ["mon"], "start": "9:00", "end": "18:00"}, "invalid_request"),
        ({"weekdays": ["mon"], "start": "09:00", "end": "24:01"}, "invalid_request"),
        ({"weekdays": ["mon"], "start": "09:00", "end": "09:00"}, None),  # a full 24 hours from 09:00
        ({"weekdays": ["funday"], "start": "09:00", "end": "18:00"}, "invalid_request"),
        ({"weekdays": [], "start": "09:00", "end": "18:00"}, "invalid_request"),
    ):
        response = await client.put(f"/slots/{slot}/sharing/weekly", json={"windows": [window]}, headers=headers)
        if code is None:
            assert response.status_code == 200, response.text
            assert response.json()["weekly"][0]["end"] == "09:00"
        else:
            assert response.status_code == 422, response.text
            assert error_of(response) == code
    backwards = {"kind": "blackout", "start": END.isoformat(), "end": START.isoformat()}
    response = await client.post(f"/slots/{slot}/sharing/exceptions", json=backwards, headers=headers)
    assert response.status_code == 422
    past = {
        "kind": "extra",
        "start": (NOW - timedelta(days=2)).isoformat(),
        "end": (NOW - timedelta(days=1)).isoformat(),
    }
    assert (await client.post(f"/slots/{slot}/sharing/exceptions", json=past, headers=headers)).status_code == 422
    unknown = await client.delete(f"/slots/{slot}/sharing/exceptions/{uuid.uuid4()}", headers=headers)
    assert unknown.status_code == 404 and error_of(unknown) == "sharing_exception_not_found"


async def test_unknown_ids_and_paths(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    operator = await make_account(session, role=Role.OPERATOR)
    headers = auth(state, operator)
    assert error_of(await client.get(f"/slots/{uuid.uuid4()}", headers=headers)) == "slot_not_found"
    assert error_of(await client.get(f"/bookings/{uuid.uuid4()}", headers=headers)) == "booking_not_found"
    # ids in paths are UUIDs: anything else names no operation (and never shadows a fixed path like /slots/search)
    assert error_of(await client.get("/slots/not-a-uuid", headers=headers)) == "not_found"
    missing = await client.get("/no/such/path")
    assert missing.status_code == 404 and error_of(missing) == "not_found"
    wrong_method = await client.delete("/zones", headers=headers)
    assert wrong_method.status_code == 405 and error_of(wrong_method) == "method_not_allowed"
    # Allow lists every method of the path, across the routes that share it
    for path, allowed in [("/bookings", "GET, POST"), ("/rides/reservations", "POST"), ("/slots/search", "GET")]:
        refused = await client.request("PATCH", path, headers=headers)
        assert refused.status_code == 405 and refused.headers["allow"] == allowed, path
    huge = await client.get("/ledger/tree-heads/50618169099121573888")
    assert huge.status_code == 422 and error_of(huge) == "invalid_request"
    broken = await client.post(
        "/bookings", content=b"\xff\xfe{", headers={**headers, "Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and error_of(broken) == "malformed_body"
    window = {"start": END.isoformat(), "end": START.isoformat()}
    assert (await client.get(f"/slots/{uuid.uuid4()}/availability", params=window, headers=headers)).status_code == 422


async def test_bad_slot_registration_writes_nothing(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    await make_zone(session)
    operator = await make_account(session, role=Role.OPERATOR)
    before = await session.scalar(select(func.count()).select_from(Slot))
    for body in (
        {"code": "A", "kind": "private_individual", "location": {"lon": 200, "lat": LAT}},
        {"code": "A b", "kind": "private_individual", "location": {"lon": LON, "lat": LAT}},
        {"code": "A", "kind": "spaceship", "location": {"lon": LON, "lat": LAT}},
        {"code": "A", "kind": "public_lot", "location": {"lon": LON, "lat": LAT}},  # no lot
        {"code": "A", "kind": "public_lot", "lot_id": str(uuid.uuid4()), "location": {"lon": LON, "lat": LAT}},
        {
            "code": "A",
            "kind": "private_individual",
            "location": {"lon": LON, "lat": LAT},
            "owner_id": str(uuid.uuid4()),
        },
    ):
        response = await client.post("/slots", json=body, headers=auth(state, operator))
        assert 400 <= response.status_code < 500, response.text
        assert error_of(response)
    assert await session.scalar(select(func.count()).select_from(Slot)) == before


async def test_text_with_a_nul_character_is_refused_and_nothing_written(
    client: httpx.AsyncClient, session: AsyncSession
):
    """PostgreSQL cannot store U+0000: a name carrying one is a 422 wherever it comes in (schemathesis found a 500
    on POST /staff), not a 500, and the account is not created."""
    body = {"email": "nul.name@example.org", "password": "a long passphrase", "display_name": "Kim\u0000Minji"}
    refused = await client.post("/auth/register", json=body)  # JSON carries it as \u0000
    assert refused.status_code == 422, refused.text
    assert error_of(refused) == "invalid_request" and "U+0000" in refused.json()["detail"]
    assert await session.scalar(select(func.count()).select_from(Account).where(Account.email == body["email"])) == 0
    accepted = await client.post("/auth/register", json={**body, "display_name": "Kim Minji"})
    assert accepted.status_code == 201, accepted.text
