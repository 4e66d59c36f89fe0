"""A carpool through HTTP: a driver with a car booking offers seats, residents ask, the driver accepts, the cost is
shared by the rule through the wallets, ratings both ways, and nobody sees another's identity beyond a display name;
a carpool called off releases everyone."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from api.state import AppState
from billing import journal
from cars.carpools import share
from core.clock import FixedClock
from tests.conftest import NOW
from tests.factories import WALLET_KRW, auth, error_of, make_account, make_fleet, make_happiness_car, near_centre


def test_the_cost_rule():
    assert [share(6000, riders) for riders in (1, 2, 3)] == [3000, 2000, 1500]
    assert share(1000, 2) * 2 + (1000 - share(1000, 2) * 2) == 1000  # the driver carries the rounding
    assert share(0, 3) == 0


async def _booked(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, driver: Actor
) -> tuple[datetime, httpx.Response]:
    """A happiness car (all its time shareable) that `driver` has booked from three hours on, for two hours."""
    fleet_ = await make_fleet(session, now=NOW)
    car = await make_happiness_car(session, fleet_=fleet_, primary=await make_account(session), windows=[], now=NOW)
    await session.commit()
    start = NOW + timedelta(hours=3)
    body = {"car_id": str(car["car_id"]), "start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}
    booking = await client.post("/cars/bookings", json=body, headers=auth(state, driver))
    assert booking.status_code == 201, booking.text
    return start, booking


async def test_a_carpool_shares_the_cost_through_the_wallets(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    driver, ana, ben, cho = [await make_account(session) for _ in range(4)]
    start, booking = await _booked(client, session, state, driver)
    offer = {
        "booking_id": booking.json()["id"],
        "origin": near_centre(),
        "destination": near_centre(3000, 2000),
        "depart_from": start.isoformat(),
        "depart_until": (start + timedelta(minutes=20)).isoformat(),
        "seats": 2,
        "cost_krw": 6000,
    }
    assert (await client.post("/carpools", json=offer, headers=auth(state, ana))).status_code == 404  # not her booking
    too_dear = await client.post("/carpools", json=offer | {"cost_krw": 10**6}, headers=auth(state, driver))
    assert too_dear.status_code == 422
    made = await client.post("/carpools", json=offer, headers=auth(state, driver))
    assert made.status_code == 201, made.text
    url = f"/carpools/{made.json()['id']}"
    assert made.json()["driver"]["display_name"] == "test resident" and "email" not in made.json()["driver"]
    # a resident browsing carpools learns a display name, never who the driver is
    browsing = await client.get(url, headers=auth(state, cho))
    assert browsing.json()["driver"] == {"account_id": None, "display_name": "test resident", "rating": None}

    # three ask, the driver accepts two (the seats), the third is refused a seat
    seats = {}
    for who in (ana, ben, cho):
        asked = await client.post(f"{url}/seats", json={}, headers=auth(state, who))
        assert asked.status_code == 201, asked.text
        [mine] = asked.json()["seats_detail"]  # a rider sees their own seat only
        seats[who.id] = mine["id"]
    assert (await client.post(f"{url}/seats", json={}, headers=auth(state, ana))).status_code == 409  # once
    listing = (await client.get(url, headers=auth(state, driver))).json()
    assert len(listing["seats_detail"]) == 3 and {s["rider"]["display_name"] for s in listing["seats_detail"]} == {
        "test resident"
    }
    assert (await client.post(f"{url}/seats/{seats[ana.id]}/accept", headers=auth(state, ben))).status_code == 403
    for who in (ana, ben):
        accepted = await client.post(f"{url}/seats/{seats[who.id]}/accept", headers=auth(state, driver))
        assert accepted.status_code == 200, accepted.text
        assert await journal.balance(session, journal.wallet(who.id)) == WALLET_KRW - 3000  # cost / 2 held
    full = await client.post(f"{url}/seats/{seats[cho.id]}/accept", headers=auth(state, driver))
    assert full.status_code == 409 and error_of(full) == "carpool_full"

    # the trip is done: each of the two pays 6000 / 3 = 2000 to the driver; the rest is released
    before = await journal.balance(session, journal.wallet(driver.id))
    clock.set(start + timedelta(minutes=40))
    done = await client.post(f"{url}/complete", headers=auth(state, driver))
    assert done.status_code == 200, done.text
    assert {s["share_krw"] for s in done.json()["seats_detail"] if s["status"] == "ridden"} == {2000}
    assert await journal.balance(session, journal.wallet(driver.id)) == before + 4000
    for who in (ana, ben):
        assert await journal.balance(session, journal.wallet(who.id)) == WALLET_KRW - 2000
    assert await journal.balance(session, journal.wallet(cho.id)) == WALLET_KRW

    # ratings: a rider rates the driver, the driver a rider, once each; not someone who did not ride
    rated = await client.post(f"{url}/ratings", json={"rated_id": str(driver.id), "score": 5}, headers=auth(state, ana))
    assert rated.status_code == 201 and rated.json() == {
        "account_id": str(driver.id),
        "display_name": "test resident",
        "rating": 5.0,
    }
    again = await client.post(f"{url}/ratings", json={"rated_id": str(driver.id), "score": 1}, headers=auth(state, ana))
    assert again.status_code == 409
    back = await client.post(f"{url}/ratings", json={"rated_id": str(ana.id), "score": 4}, headers=auth(state, driver))
    assert back.status_code == 201
    stranger = await client.post(
        f"{url}/ratings", json={"rated_id": str(driver.id), "score": 2}, headers=auth(state, cho)
    )
    assert stranger.status_code == 403


async def test_a_carpool_called_off_releases_everyone(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState
):
    driver, ana = [await make_account(session) for _ in range(2)]
    start, booking = await _booked(client, session, state, driver)
    offer = {
        "booking_id": booking.json()["id"],
        "origin": near_centre(),
        "destination": near_centre(1000),
        "depart_from": start.isoformat(),
        "depart_until": (start + timedelta(minutes=20)).isoformat(),
        "seats": 1,
        "cost_krw": 4000,
    }
    made = (await client.post("/carpools", json=offer, headers=auth(state, driver))).json()
    url = f"/carpools/{made['id']}"
    seat = (await client.post(f"{url}/seats", json={}, headers=auth(state, ana))).json()["seats_detail"][0]["id"]
    assert (await client.post(f"{url}/seats/{seat}/accept", headers=auth(state, driver))).status_code == 200
    assert await journal.balance(session, journal.wallet(ana.id)) == WALLET_KRW - 2000
    assert (await client.post(f"{url}/cancel", headers=auth(state, ana))).status_code == 403
    called_off = await client.post(f"{url}/cancel", headers=auth(state, driver))
    assert called_off.status_code == 200 and called_off.json()["status"] == "cancelled"
    assert await journal.balance(session, journal.wallet(ana.id)) == WALLET_KRW
    assert (await client.post(f"{url}/complete", headers=auth(state, driver))).status_code == 409
    assert (await client.get("/carpools", headers=auth(state, ana))).json()["items"] == []
