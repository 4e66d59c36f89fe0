"""The satisfaction survey through HTTP against real PostgreSQL: who may rate what and when, once, and the city's
monthly satisfaction KPI from the answers (suppressed under k people)."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.state import AppState
from core.clock import FixedClock
from parking.policy import WeeklyWindow
from tests.conftest import NOW
from tests.factories import auth, booking_body, error_of, make_account, make_slot, make_zone

EVERY_DAY = [WeeklyWindow.parse(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "06:00", "23:00")]


async def test_residents_rate_their_ended_bookings_once_and_the_city_reads_the_monthly_score(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    await make_zone(session)
    slot = await make_slot(session, windows=EVERY_DAY, now=NOW)
    residents = [await make_account(session, role=Role.RESIDENT) for _ in range(5)]
    operator_account = await make_account(session, role=Role.OPERATOR)
    city_account = await make_account(session, role=Role.CITY)
    await session.commit()
    bookings = []
    for n, resident in enumerate(residents):  # one hour each, in turn
        start = NOW.replace(hour=9) + timedelta(hours=n)
        body = booking_body(slot, start, start + timedelta(hours=1), plate=f"1{n}가1234")
        made = await client.post("/bookings", json=body, headers=auth(state, resident))
        assert made.status_code == 201, made.text
        bookings.append(made.json()["id"])
    first = bookings[0]

    def alice() -> dict[str, str]:  # a fresh token: the clock moves on by hours
        return auth(state, residents[0])

    rating = {"subject": "booking", "subject_id": first, "score": 4, "comment": "easy to find"}

    # not before the stay has ended
    early = await client.post("/surveys", json=rating, headers=alice())
    assert early.status_code == 409 and error_of(early) == "survey_not_open" and early.json()["status"] == "reserved"
    for n, (resident, booking) in enumerate(zip(residents, bookings, strict=True)):
        clock.set(NOW.replace(hour=9) + timedelta(hours=n, minutes=5))
        assert (await client.post(f"/bookings/{booking}/check-in", headers=auth(state, resident))).status_code == 200
        clock.set(NOW.replace(hour=9) + timedelta(hours=n, minutes=50))
        assert (await client.post(f"/bookings/{booking}/check-out", headers=auth(state, resident))).status_code == 200

    operator, city = auth(state, operator_account), auth(state, city_account)  # tokens of the clock's time now

    # only one's own booking or ride, a score from 1 to 5, once
    others = await client.post("/surveys", json=rating, headers=auth(state, residents[1]))
    assert others.status_code == 404 and error_of(others) == "subject_not_found"
    unknown = await client.post("/surveys", json=rating | {"subject": "ride"}, headers=alice())
    assert unknown.status_code == 404
    for bad in ({"score": 6}, {"score": 0}, {"score": "4 stars"}, {"subject": "trip"}, {"comment": "x" * 2001}):
        refused = await client.post("/surveys", json=rating | bad, headers=alice())
        assert refused.status_code == 422, (bad, refused.text)
    answered = await client.post("/surveys", json=rating, headers=alice())
    assert answered.status_code == 201, answered.text
    assert answered.json()["score"] == 4
    assert datetime.fromisoformat(answered.json()["answered_at"]) == clock.now()
    again = await client.post("/surveys", json=rating | {"score": 1}, headers=alice())
    assert again.status_code == 409 and error_of(again) == "survey_already_answered"
    assert (await client.post("/surveys", json=rating, headers=operator)).status_code == 403  # residents rate

    month = {"month": NOW.strftime("%Y-%m")}

    async def satisfaction() -> dict[str, object]:
        answer = await client.get("/kpi/monthly", params=month, headers=city)
        assert answer.status_code == 200, answer.text
        (row,) = [row for row in answer.json()["kpis"] if row["kpi"] == "satisfaction"]
        return row  # type: ignore[no-any-return]

    # four people answered: fewer than k, suppressed
    for resident, booking, score in zip(residents[1:4], bookings[1:4], (5, 3, 2), strict=True):
        body = {"subject": "booking", "subject_id": booking, "score": score}
        assert (await client.post("/surveys", json=body, headers=auth(state, resident))).status_code == 201
    row = await satisfaction()
    assert row["weekday"] is None and row["weekday_days"] == 1
    assert row["published"] == {"weekday": {"before": 44.3, "after": 54.8}, "weekend": {"before": 44.3, "after": 54.8}}
    # the fifth: published, the mean of 4, 5, 3, 2, 5 = 3.8 on the 100-point scale: (3.8 - 1) x 25 = 70
    body = {"subject": "booking", "subject_id": bookings[4], "score": 5}
    assert (await client.post("/surveys", json=body, headers=auth(state, residents[4]))).status_code == 201
    row = await satisfaction()
    assert row["weekday"] == 70.0 and row["weekend"] is None and row["weekend_days"] == 0

    # the village enterprise reads the comments, never who wrote them
    listed = await client.get("/surveys", headers=operator)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert len(items) == 5 and {item["comment"] for item in items} == {"easy to find", None}
    assert all("respondent_id" not in item for item in items)
    assert (await client.get("/surveys", headers=alice())).status_code == 403
    assert (await client.get("/surveys", headers=city)).status_code == 200
    later = {"start": (clock.now() + timedelta(seconds=1)).isoformat()}
    assert (await client.get("/surveys", params=later, headers=operator)).json()["items"] == []
    since = {"start": clock.now().isoformat()}
    assert len((await client.get("/surveys", params=since, headers=operator)).json()["items"]) == 5
