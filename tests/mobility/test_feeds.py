"""GBFS v3.0 feeds (against the official schemas bundled by gbfs-validator) and MDS 2.0 responses (against the MDS
models vendored in tests/data) from a fleet that has ridden, through HTTP."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.state import AppState
from core.clock import FixedClock
from tests.factories import auth, device_headers, fix, make_account, make_fleet, make_vehicle

MDS_MODELS = Path(__file__).resolve().parent.parent / "data" / "mds-2.0-models"


def gbfs_schema(feed: str) -> dict[str, Any]:
    text = resources.files("gbfs_validator").joinpath(f"data/schemas/v3.0/{feed}.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def _repair(node: Any) -> Any:
    """The upstream models write `contains: [a, b]` where JSON Schema needs `contains: {enum: [a, b]}` (their
    evident meaning: the event types contain one of these); read them so."""
    if isinstance(node, dict):
        return {k: {"enum": v} if k == "contains" and isinstance(v, list) else _repair(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_repair(v) for v in node]
    return node


def _read(path: Path) -> dict[str, Any]:
    return micromobility(_repair(yaml.safe_load(path.read_text()))) | {"$id": path.as_uri()}


def _load(uri: str) -> Resource:  # type: ignore[type-arg]
    """The MDS model at a file URI (YAML), read as JSON Schema 2020-12 (OpenAPI 3.1's dialect)."""
    return Resource.from_contents(_read(Path(uri.removeprefix("file://"))), default_specification=DRAFT202012)


REGISTRY: Registry = Registry(retrieve=_load)  # type: ignore[call-arg]


def micromobility(schema: dict[str, Any]) -> dict[str, Any]:
    """The model for the micromobility mode: MDS picks the mode from the endpoint, so its `oneOf` over modes (which
    several modes' permissive schemas all match) is narrowed to the micromobility branch."""
    if "allOf" not in schema:
        return schema
    narrowed = dict(schema)
    narrowed["allOf"] = [
        {"$ref": next(o["$ref"] for o in part["oneOf"] if "/micromobility/" in o["$ref"])}
        if "oneOf" in part and all("/modes/" in o.get("$ref", "") for o in part["oneOf"])
        else part
        for part in schema.get("allOf", [])
    ]
    return narrowed


def mds_validate(instance: Any, model: str) -> None:
    _validate(instance, _read(MDS_MODELS / model))


def mds_envelope_validate(body: Any, *parts: str) -> None:
    """A response body against the spec's envelope models it names (`response/*.yaml`: version, paging,
    last_updated, ttl), as the Provider API's reference composes them."""
    _validate(body, {"allOf": [{"$ref": (MDS_MODELS / "response" / f"{part}.yaml").as_uri()} for part in parts]})


def _validate(instance: Any, schema: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(schema, registry=REGISTRY, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


@pytest.fixture
async def ridden(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
) -> dict[str, Any]:
    """A fleet of three vehicles, one of which has made a trip ending in the east parking area."""
    now = clock.now()
    fleet = await make_fleet(session, now=now)
    made = [
        await make_vehicle(session, provider_id=fleet["partner"].id, east_m=20 * i, now=now)  # type: ignore[attr-defined]
        for i in range(3)
    ]
    rider = await make_account(session)
    await session.commit()
    vehicle_id, device, key = made[0]
    trip = (await client.post("/rides", json={"vehicle_id": str(vehicle_id)}, headers=auth(state, rider))).json()
    t = clock.now()
    clock.advance(timedelta(minutes=6))
    points = [fix(t + timedelta(minutes=i), east_m=140 * i, battery_pct=70, speed_mps=2.0) for i in range(1, 6)]
    assert (await client.post("/telemetry", json={"points": points}, headers=device_headers(device, key))).json()[
        "accepted"
    ] == 5
    ended = await client.post(f"/rides/{trip['id']}/end", headers=auth(state, rider))
    assert ended.status_code == 200, ended.text
    return {"trip": ended.json(), "vehicles": made, "started": t}


FEEDS = ["system_information", "vehicle_types", "vehicle_status", "geofencing_zones", "system_pricing_plans"]


async def test_every_gbfs_feed_validates_and_hides_internal_ids(client: httpx.AsyncClient, ridden: dict[str, Any]):
    discovery = await client.get("/gbfs/gbfs.json")
    assert discovery.status_code == 200
    jsonschema.validate(discovery.json(), gbfs_schema("gbfs"))
    assert {f["name"] for f in discovery.json()["data"]["feeds"]} == {"gbfs", *FEEDS}
    for feed in FEEDS:
        response = await client.get(f"/gbfs/{feed}.json")
        assert response.status_code == 200, (feed, response.text)
        jsonschema.validate(response.json(), gbfs_schema(feed))
    vehicles = (await client.get("/gbfs/vehicle_status.json")).json()["data"]["vehicles"]
    internal = {str(v[0]) for v in ridden["vehicles"]}
    assert len(vehicles) == 3 and not internal & {v["vehicle_id"] for v in vehicles}
    assert (await client.get("/gbfs/nothing.json")).status_code == 422


async def test_gbfs_public_ids_rotate_after_a_trip(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock, ridden: dict[str, Any]
):
    before = {v["vehicle_id"] for v in (await client.get("/gbfs/vehicle_status.json")).json()["data"]["vehicles"]}
    vehicle_id = ridden["vehicles"][1][0]
    rider = await make_account(session)
    await session.commit()
    trip = (await client.post("/rides", json={"vehicle_id": str(vehicle_id)}, headers=auth(state, rider))).json()
    clock.advance(timedelta(minutes=2))
    assert (await client.post(f"/rides/{trip['id']}/end", headers=auth(state, rider))).status_code == 200
    clock.advance(timedelta(seconds=61))  # past the cache's age limit
    after = {v["vehicle_id"] for v in (await client.get("/gbfs/vehicle_status.json")).json()["data"]["vehicles"]}
    assert len(before - after) == 1 and len(after) == 3


async def test_mds_for_the_city_validates(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock, ridden: dict[str, Any]
):
    end_hour = clock.now().astimezone(UTC).strftime("%Y-%m-%dT%H")  # the ride's end
    clock.advance(timedelta(hours=1))  # history is served for hours that have ended
    city = auth(state, await make_account(session, role=Role.CITY))
    resident = auth(state, await make_account(session))
    await session.commit()
    assert (await client.get("/mds/vehicles", headers=resident)).status_code == 403
    hour = ridden["started"].astimezone(UTC).strftime("%Y-%m-%dT%H")
    checks = [
        ("/mds/vehicles", {}, "vehicles", "vehicle.yaml"),
        ("/mds/vehicles/status", {}, "vehicles_status", "vehicle-status.yaml"),
        ("/mds/trips", {"end_time": end_hour}, "trips", "trip.yaml"),
        ("/mds/telemetry", {"telemetry_time": hour}, "telemetry", "telemetry.yaml"),
        ("/mds/events/historical", {"event_time": hour}, "events", "event.yaml"),
        (
            "/mds/events/recent",
            {
                "start_time": int((clock.now() - timedelta(hours=2)).timestamp() * 1000),
                "end_time": int(clock.now().timestamp() * 1000) + 1,
            },
            "events",
            "event.yaml",
        ),
    ]
    realtime = {"/mds/vehicles", "/mds/vehicles/status"}  # near-realtime: last_updated and ttl are required
    for path, params, key, model in checks:
        response = await client.get(path, params=params, headers=city)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"].startswith("application/vnd.mds+json")
        body = response.json()
        assert body["version"] == "2.0.0" and body[key], (path, body)
        mds_envelope_validate(body, "version", "paging", *(("last_updated", "ttl") if path in realtime else ()))
        for item in body[key]:
            mds_validate(item, model)
        assert "rider" not in json.dumps(body)
    assert (await client.get("/mds/vehicles", headers=city)).json()["last_updated"] == int(
        clock.now().timestamp() * 1000
    )
    device = str(ridden["vehicles"][0][0])
    for path, key, model in (
        (f"/mds/vehicles/{device}", "vehicles", "vehicle.yaml"),
        (f"/mds/vehicles/status/{device}", "vehicles_status", "vehicle-status.yaml"),
    ):
        one = await client.get(path, headers=city)
        assert one.status_code == 200 and one.headers["content-type"].startswith("application/vnd.mds+json")
        mds_envelope_validate(one.json(), "version", "last_updated", "ttl")
        [item] = one.json()[key]
        assert item["device_id"] == device
        mds_validate(item, model)
        unknown = await client.get(path.replace(device, str(uuid.uuid4())), headers=city)
        assert unknown.status_code == 404 and unknown.json()["error"] == "vehicle_not_found"
        assert (await client.get(path.replace(device, "not-a-uuid"), headers=city)).status_code == 400
        assert (await client.get(path, headers=resident)).status_code == 403
    [trip] = (await client.get("/mds/trips", params={"end_time": end_hour}, headers=city)).json()["trips"]
    assert trip["trip_id"] == ridden["trip"]["id"] and trip["distance"] == ridden["trip"]["distance_m"]
    for params in ({"end_time": "2026-13-01T00"}, {}):  # a bad hour, a missing one: MDS's 400 and error body
        bad = await client.get("/mds/trips", params=params, headers=city)
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
        mds_envelope_validate(bad.json(), "error")
    old = await client.get("/mds/events/recent", params={"start_time": 0, "end_time": 1000}, headers=city)
    assert old.status_code == 400 and old.json()["error_details"] == [old.json()["error_description"]]
    mds_envelope_validate(old.json(), "error")
    for path, name in (("/mds/trips", "end_time"), ("/mds/telemetry", "telemetry_time")):  # this hour: not over yet
        unfinished = await client.get(path, params={name: clock.now().strftime("%Y-%m-%dT%H")}, headers=city)
        assert unfinished.status_code == 404 and unfinished.json()["error"] == "hour_not_past"
        mds_envelope_validate(unfinished.json(), "error")
    for accept, served in (
        ("application/vnd.mds+json;version=2.0", True),
        ("application/vnd.mds+json", True),
        ("application/json", True),
        ("*/*", True),
        ("application/vnd.mds+json;version=1.2", False),
        ("text/html", False),
        ("application/vnd.mds+json;version=1.2, application/vnd.mds+json;version=2.0;q=0.5", True),
    ):
        answer = await client.get("/mds/vehicles", headers=city | {"Accept": accept})
        assert answer.status_code == (200 if served else 406), accept
        if not served:
            assert answer.json()["error"] == "unsupported_version"
            mds_envelope_validate(answer.json(), "error")


async def test_mds_monthly_report_suppresses_small_cells(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock, ridden: dict[str, Any]
):
    import re

    city = auth(state, await make_account(session, role=Role.CITY))
    await session.commit()
    month = clock.now().astimezone(UTC).strftime("%Y-%m")
    response = await client.get(f"/mds/reports/{month}.csv", headers=city)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    pattern = yaml.safe_load((MDS_MODELS / "report.yaml").read_text())["pattern"]
    assert re.match(pattern, response.text)
    header, *rows = response.text.strip().splitlines()
    assert len(rows) == 1
    provider, start, duration, group, geography, vehicle_type, trips, riders = rows[0].split(",")
    assert (start, duration, group, vehicle_type) == (f"{month}-01", "P1M", "all_riders", "scooter_standing")
    assert (trips, riders) == ("-1", "-1")  # one trip by one rider: below the privacy threshold of 5
    empty = await client.get("/mds/reports/2001-01.csv", headers=city)
    assert empty.status_code == 200 and empty.text.strip() == header
    assert (await client.get("/mds/reports/2026-13.csv", headers=city)).status_code == 400
