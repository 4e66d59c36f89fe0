"""The city's data through HTTP on real PostGIS: cameras with device keys post entrance counts and CCTV violations
(screened event by event, idempotent, plates only as a keyed hash), people report violations, a blocked fire lane
queues an operator alert that the outbox delivers at least once, and the KPI table counts it all with cells from
fewer than k people suppressed."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.state import AppState
from core import outbox
from core.clock import FixedClock
from kpi.models import EntranceEvent
from parking.policy import WeeklyWindow
from tests.factories import auth, booking_body, error_of, make_account, make_slot, make_zone, near_centre

ASSUMPTIONS_SHA256 = "cc022fbb926be90ed60f4ab1d078cb500fd5604e6d10c82b8cf042bff49e5d41"  # ../shared/sim/


def _device(camera: dict[str, str]) -> dict[str, str]:
    return {"X-Device-Id": camera["device_id"], "X-Device-Key": camera["device_key"]}


async def _camera(client: httpx.AsyncClient, city: dict[str, str], purpose: str, device_id: str) -> dict[str, str]:
    made = await client.post(
        "/cameras", json={"device_id": device_id, "name": device_id, "purpose": purpose, **near_centre()}, headers=city
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


async def test_cameras_post_screened_idempotent_batches_and_plates_stay_hashed(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
) -> None:
    now = clock.now()
    city = auth(state, await make_account(session, role=Role.CITY))
    resident = auth(state, await make_account(session))
    await session.commit()
    denied = await client.post(
        "/cameras", json={"device_id": "x", "name": "x", "purpose": "entrance", **near_centre()}, headers=resident
    )
    assert denied.status_code == 403
    gate = await _camera(client, city, "entrance", "north-gate")
    again = await client.post(
        "/cameras", json={"device_id": "north-gate", "name": "y", "purpose": "entrance", **near_centre()}, headers=city
    )
    assert (again.status_code, error_of(again)) == (422, "invalid_input")

    plates = [f"1{n}가34{n}6" for n in range(6)]
    events = [
        {"event_id": f"e{n}", "at": (now - timedelta(minutes=n)).isoformat(), "plate": p} for n, p in enumerate(plates)
    ]
    events += [
        {"event_id": "e0", "at": now.isoformat(), "plate": plates[0]},  # the same event twice in a batch
        {"event_id": "f", "at": (now + timedelta(hours=1)).isoformat(), "plate": plates[0]},
        {"event_id": "s", "at": (now - timedelta(days=30)).isoformat(), "plate": plates[0]},
        {"event_id": "p", "at": now.isoformat(), "plate": "!!"},
        {"event_id": "e6", "at": now.isoformat(), "plate": plates[1]},  # the same car again: counted once a day
    ]
    posted = await client.post("/cameras/entries", json={"events": events}, headers=_device(gate))
    assert posted.status_code == 200, posted.text
    assert posted.json()["accepted"] == 7
    assert [(r["index"], r["reason"]) for r in posted.json()["rejections"]] == [
        (6, "duplicate"),
        (7, "future"),
        (8, "stale"),
        (9, "invalid_plate"),
    ]
    resent = await client.post("/cameras/entries", json={"events": events[:6]}, headers=_device(gate))
    assert resent.json()["accepted"] == 0 and {r["reason"] for r in resent.json()["rejections"]} == {"duplicate"}
    assert await session.scalar(select(func.count()).select_from(EntranceEvent)) == 7
    stored = list(await session.scalars(select(EntranceEvent.plate_hash)))
    assert len(set(stored)) == 6 and all(len(h) == 64 and "가" not in h for h in stored)
    in_clear = await session.scalar(
        text("SELECT count(*) FROM entrance_events e WHERE e::text LIKE '%' || :plate || '%'"), {"plate": plates[0]}
    )
    assert in_clear == 0

    wrong = await client.post(
        "/cameras/entries", json={"events": events[:1]}, headers=_device(gate | {"device_key": "nope"})
    )
    assert (wrong.status_code, error_of(wrong)) == (401, "device_not_authenticated")
    cctv = await _camera(client, city, "enforcement", "alley-cctv")
    mixed_up = await client.post("/cameras/entries", json={"events": events[:1]}, headers=_device(cctv))
    assert (mixed_up.status_code, error_of(mixed_up)) == (403, "wrong_camera_purpose")
    rotated = await client.post(f"/cameras/{gate['id']}/key", headers=city)
    assert rotated.status_code == 200 and rotated.json()["device_key"] != gate["device_key"]
    old = await client.post("/cameras/entries", json={"events": events[:1]}, headers=_device(gate))
    assert old.status_code == 401
    fresh = await client.post("/cameras/entries", json={"events": events[:1]}, headers=_device(rotated.json()))
    assert fresh.status_code == 200 and fresh.json()["rejections"] == [{"index": 0, "reason": "duplicate"}]
    assert (await client.delete(f"/cameras/{gate['id']}/key", headers=city)).status_code == 204
    revoked = await client.post("/cameras/entries", json={"events": events[:1]}, headers=_device(rotated.json()))
    assert revoked.status_code == 401
    listed = (await client.get("/cameras", headers=city)).json()["items"]
    assert {c["device_id"]: c["key_active"] for c in listed} == {"north-gate": False, "alley-cctv": True}


class _Broken:
    async def send(self, notification: outbox.Notification) -> None:
        raise ConnectionError("SMS gateway down")


async def test_violations_alert_the_operators_and_fill_the_kpi_table_with_small_cells_suppressed(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
) -> None:
    now = clock.now()  # a Monday
    city = auth(state, await make_account(session, role=Role.CITY))
    residents = [await make_account(session) for _ in range(5)]
    await make_zone(session)
    every_day = await make_slot(session, now=now)
    await make_slot(session, now=now, east_m=50, windows=[WeeklyWindow.parse(["sat", "sun"], "00:00", "24:00")])
    await session.commit()
    cctv = await _camera(client, city, "enforcement", "fire-lane-cam")
    sightings = [
        {"event_id": "v1", "at": now.isoformat(), "plate": "11가1111", "kind": "fire_lane"},
        {"event_id": "v2", "at": now.isoformat(), "plate": "22나2222", "kind": "no_parking", **near_centre(100)},
    ]
    seen = await client.post("/cameras/violations", json={"events": sightings}, headers=_device(cctv))
    assert seen.status_code == 200, seen.text
    assert (seen.json()["accepted"], seen.json()["alerts"]) == (2, 1)
    half = await client.post(
        "/cameras/violations",
        json={"events": [sightings[0] | {"event_id": "v3", "lon": 126.78}]},
        headers=_device(cctv),
    )
    assert half.status_code == 422

    reporter = auth(state, residents[0])
    report = {"kind": "crosswalk", "plate": "33다 3333", **near_centre(-200), "note": "on the zebra"}
    made = await client.post("/violations", json=report, headers=reporter | {"Idempotency-Key": "r-1"})
    assert made.status_code == 201, made.text
    assert made.json()["source"] == "resident" and "plate" not in made.json()
    replay = await client.post("/violations", json=report, headers=reporter | {"Idempotency-Key": "r-1"})
    assert replay.json()["id"] == made.json()["id"]
    ahead = report | {"at": (now + timedelta(hours=2)).isoformat()}
    assert error_of(await client.post("/violations", json=ahead, headers=reporter)) == "invalid_input"
    assert error_of(await client.post("/violations", json=report | {"plate": "??"}, headers=reporter)) == (
        "invalid_vehicle_plate"
    )
    officer = await client.post("/violations", json=report | {"plate": "44라4444"}, headers=city)
    assert officer.json()["source"] == "officer"
    board = await client.get("/violations", params={"kind": "crosswalk"}, headers=city)
    assert {v["id"] for v in board.json()["items"]} == {officer.json()["id"], made.json()["id"]}  # both seen now
    assert (await client.get("/violations", headers=reporter)).status_code == 403

    # the fire-lane alert waits in the outbox; a failing channel keeps it, the log channel delivers it
    assert await outbox.deliver_pending(session, _Broken(), now=now) == 0
    pending = (await session.scalars(select(outbox.Notification))).one()
    assert pending.kind == "fire_lane_alert" and pending.attempts == 1 and "SMS gateway" in (pending.last_error or "")
    assert await outbox.deliver_pending(session, outbox.LogChannel(), now=now) == 1
    assert await outbox.deliver_pending(session, outbox.LogChannel(), now=now) == 0
    await session.commit()

    # five drivers book the every-day slot, one hour each
    for n, account in enumerate(residents):
        start = now + timedelta(hours=1 + n)
        body = booking_body(every_day, start, start + timedelta(hours=1), plate=f"5{n}마5555")
        booked = await client.post("/bookings", json=body, headers=auth(state, account))
        assert booked.status_code == 201, booked.text

    day = now.astimezone(ZoneInfo(state.settings.local_timezone)).date().isoformat()
    kpis = await client.get("/kpi/daily", params={"first": day, "last": day}, headers=city)
    assert kpis.status_code == 200, kpis.text
    (today,) = kpis.json()
    k = state.settings.privacy_min_cell
    assert k == 5 and today["day_type"] == "weekday"
    assert today["illegal_parking"] is None and today["suppressed"] == ["illegal_parking"]  # 4 vehicles: fewer than k
    assert today["shared_slots_open"] == 1  # the weekend-only slot is not open on a Monday
    assert today["supply_ratio"] == round((144 + 1) / 388, 4)
    assert today["shared_slots_supplied"] == 1  # one slot, from five drivers: published
    assert today["entering_vehicles"] == 0 and today["jobs"] == 0  # nobody entered, nobody worked: a true zero

    fifth = await client.post("/violations", json=report | {"plate": "55마5555"}, headers=city)
    assert fifth.status_code == 201
    now_five = (await client.get("/kpi/daily", params={"first": day, "last": day}, headers=city)).json()[0]
    assert now_five["illegal_parking"] == 5 and now_five["suppressed"] == []

    as_csv = await client.get("/kpi/daily", params={"first": day, "last": day, "format": "csv"}, headers=city)
    assert as_csv.headers["content-type"].startswith("text/csv")
    (row,) = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert row["illegal_parking"] == "5.0" and row["supply_ratio"] == str(now_five["supply_ratio"])

    month = await client.get("/kpi/monthly", params={"month": now.strftime("%Y-%m")}, headers=city)
    assert month.status_code == 200, month.text
    table = {row["kpi"]: row for row in month.json()["kpis"]}
    assert table["illegal_parking"]["published"]["weekday"] == {"before": 266, "after": 156}
    weekdays = sum(1 for d in month.json()["days"] if d["day_type"] == "weekday")
    assert weekdays == 16 and table["illegal_parking"]["weekday_days"] == 16  # November 2026, up to Monday the 23rd
    assert table["illegal_parking"]["weekday"] == round(5 / 16, 4)  # the earlier days counted nothing: zeros
    assert month.json()["days"][-1]["day"] == day  # days after today are left out
    backwards = await client.get("/kpi/daily", params={"first": day, "last": "2026-01-01"}, headers=city)
    assert backwards.status_code == 422
    too_long = await client.get("/kpi/daily", params={"first": "2026-01-01", "last": day}, headers=city)
    assert too_long.status_code == 422
    assert (await client.get("/kpi/daily", params={"first": day, "last": day}, headers=reporter)).status_code == 403


def test_the_simulator_assumptions_are_the_shared_file_unchanged() -> None:
    copy = Path(__file__).resolve().parents[2] / "sim" / "assumptions.toml"
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == ASSUMPTIONS_SHA256
