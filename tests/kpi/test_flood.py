"""The flood warning of the riverside lot through HTTP against real PostgreSQL: a gauge's readings (screened, stored
once), the lot flooding at its threshold and warning exactly the drivers whose bookings hold a slot there now or soon
(through the outbox), not again while it stays high, clear again below the margin."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.state import AppState
from core.clock import FixedClock
from core.outbox import LogChannel, Notification, deliver_pending
from parking.models import SlotKind
from tests.conftest import NOW
from tests.factories import (
    auth,
    booking_body,
    device_headers,
    error_of,
    make_account,
    make_slot,
    make_zone,
    near_centre,
)


async def _notifications(session: AsyncSession) -> list[Notification]:
    return list(await session.scalars(select(Notification).order_by(Notification.created_at, Notification.subject)))


async def test_a_rising_river_warns_the_drivers_booked_in_the_riverside_lot(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    await make_zone(session)
    riverside = await make_slot(session, kind=SlotKind.PUBLIC_LOT, east_m=300, now=NOW)
    lot_id = (await client.get(f"/slots/{riverside}", headers=auth(state, await make_account(session)))).json()[
        "lot_id"
    ]
    second = await make_slot(session, kind=SlotKind.PUBLIC_LOT, lot_id=lot_id, east_m=310, now=NOW)
    elsewhere = await make_slot(session, kind=SlotKind.PUBLIC_LOT, east_m=-300, now=NOW)
    parked, coming, later, away, cancelled = [await make_account(session) for _ in range(5)]
    city = await make_account(session, role=Role.CITY)
    await session.commit()

    async def book(driver, slot, start_h: float, end_h: float) -> str:  # type: ignore[no-untyped-def]
        start = NOW + timedelta(hours=start_h)
        made = await client.post(
            "/bookings", json=booking_body(slot, start, NOW + timedelta(hours=end_h)), headers=auth(state, driver)
        )
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    now_booking = await book(parked, riverside, 0.5, 5)
    await book(coming, second, 6, 8)  # within the 12-hour lookahead
    await book(later, second, 20, 22)  # beyond it
    await book(away, elsewhere, 1, 3)  # another lot
    gone = await book(cancelled, riverside, 7, 9)
    assert (await client.post(f"/bookings/{gone}/cancel", headers=auth(state, cancelled))).status_code == 200
    clock.set(NOW + timedelta(minutes=40))
    assert (await client.post(f"/bookings/{now_booking}/check-in", headers=auth(state, parked))).status_code == 200

    # the city registers the gauge; it posts with its own key
    gauge = {"device_id": "gauge-river-1", "name": "Gyeongin stream, public lot", "lot_id": lot_id, "threshold_cm": 250}
    nowhere = await client.post(
        "/water-gauges",
        json=gauge | {"lot_id": "00000000-0000-4000-8000-000000000000"} | near_centre(),
        headers=auth(state, city),
    )
    assert nowhere.status_code == 404 and error_of(nowhere) == "lot_not_found"
    made = await client.post("/water-gauges", json=gauge | near_centre(300), headers=auth(state, city))
    assert made.status_code == 201, made.text
    taken = await client.post("/water-gauges", json=gauge | near_centre(300), headers=auth(state, city))
    assert taken.status_code == 422
    device = device_headers("gauge-river-1", made.json()["device_key"])
    now = clock.now()

    def reading(minutes_ago: float, level: int) -> dict[str, object]:
        return {"at": (now - timedelta(minutes=minutes_ago)).isoformat(), "level_cm": level}

    wrong = await client.post(
        "/water-gauges/readings", json={"readings": [reading(0, 1)]}, headers=device_headers("gauge-river-1", "nope")
    )
    assert wrong.status_code == 401 and error_of(wrong) == "device_not_authenticated"
    # below the threshold: stored, nobody warned; bad readings rejected one by one
    batch = [reading(20, 180), reading(10, 200), reading(10, 999), reading(-5, 300), reading(60 * 80, 100)]
    posted = await client.post("/water-gauges/readings", json={"readings": batch}, headers=device)
    assert posted.status_code == 200, posted.text
    assert posted.json() | {"rejections": None} == {
        "accepted": 2,
        "rejected": 3,
        "rejections": None,
        "flooding": False,
        "warned": 0,
    }
    assert [(r["index"], r["reason"]) for r in posted.json()["rejections"]] == [
        (2, "duplicate"),
        (3, "future"),
        (4, "stale"),
    ]
    again = await client.post("/water-gauges/readings", json={"readings": batch[:2]}, headers=device)
    assert again.json()["accepted"] == 0 and again.json()["rejected"] == 2  # a batch sent again is harmless
    assert await _notifications(session) == []

    # it reaches the threshold: the two drivers holding a slot of the lot now or within 12 h are warned, once each
    clock.set(now + timedelta(minutes=5))
    flood = await client.post("/water-gauges/readings", json={"readings": [reading(-4, 255)]}, headers=device)
    assert flood.json()["flooding"] and flood.json()["warned"] == 2
    notes = await _notifications(session)
    warned = {n.audience: n for n in notes if n.audience.startswith("account:")}
    assert set(warned) == {f"account:{parked.id}", f"account:{coming.id}"}
    assert warned[f"account:{parked.id}"].body["booking_id"] == now_booking
    assert warned[f"account:{parked.id}"].body["level_cm"] == 255
    assert [n.audience for n in notes if not n.audience.startswith("account:")] == ["operator"]
    listed = (await client.get("/water-gauges", headers=auth(state, city))).json()["items"]
    assert listed[0]["level_cm"] == 255 and listed[0]["flooding_since"] is not None
    assert "device_key" not in listed[0]

    # still high, or hovering just under the threshold: no second warning
    clock.set(now + timedelta(minutes=15))
    high = await client.post(
        "/water-gauges/readings", json={"readings": [reading(-10, 270), reading(-14, 245)]}, headers=device
    )
    assert high.json()["flooding"] and high.json()["warned"] == 0
    assert len(await _notifications(session)) == 3
    # an old reading arriving late does not move the level back
    late = await client.post("/water-gauges/readings", json={"readings": [reading(30, 100)]}, headers=device)
    assert late.json()["accepted"] == 1 and late.json()["flooding"]
    # below the threshold minus the 10 cm margin: clear, the operators hear it
    clock.set(now + timedelta(minutes=30))
    clear = await client.post("/water-gauges/readings", json={"readings": [reading(-29, 230)]}, headers=device)
    assert not clear.json()["flooding"]
    kinds = [n.kind for n in await _notifications(session)]
    assert kinds.count("flood_alert") == 3 and kinds.count("flood_clear") == 1
    # the outbox delivers every one of them
    assert await deliver_pending(session, LogChannel(), now=clock.now()) == 4

    # the key is the city's to rotate and revoke
    gauge_id = made.json()["id"]
    rotated = await client.post(f"/water-gauges/{gauge_id}/key", headers=auth(state, city))
    assert rotated.status_code == 200
    assert (
        await client.post("/water-gauges/readings", json={"readings": [reading(-29, 1)]}, headers=device)
    ).status_code == 401
    assert (await client.delete(f"/water-gauges/{gauge_id}/key", headers=auth(state, city))).status_code == 204
    fresh = device_headers("gauge-river-1", rotated.json()["device_key"])
    assert (
        await client.post("/water-gauges/readings", json={"readings": [reading(-29, 1)]}, headers=fresh)
    ).status_code == 401
