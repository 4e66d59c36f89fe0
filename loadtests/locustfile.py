"""maeul's users under load, for locust. `make loadtest` (loadtests/run.py) runs them against `maeul serve` on the
Sangsalmi demo data; by hand:

    PYTHONPATH=. uv run locust -f loadtests/locustfile.py --host http://127.0.0.1:8000 Resident Owner Operator City

Two kinds of users:
- the product's people, with think time: `Resident` (search, book, pay, check in and out, cancel, nearby rides),
  `Owner` (statements, bookings on their slots, one-off sharing windows), `Operator` (bookings, fleet, revenue),
  `City` (MDS, GBFS, revenue);
- one-request users without think time, for throughput ratios in one run: `Bare` (a bare ASGI endpoint, the
  baseline, loadtests/bare.py), `Health`, `Search` and `Booking` (bookings from a pool of free slot intervals found
  before the run, so every attempt is a real booking with its payment hold and ledger entries).

Accounts sign in once before the run starts (`init`), so the password hash is not what is measured.
"""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import gevent
import requests
from locust import FastHttpUser, between, constant, events, task
from locust.env import Environment

from core.settings import Settings
from sim.pilot import CENTRE, DEMO_DOMAIN, DEMO_PASSWORD
from sim.sangsalmi import offset

RESIDENTS = [f"resident@{DEMO_DOMAIN}"] + [f"resident{i:02d}@{DEMO_DOMAIN}" for i in range(1, 11)]
STAFF = {"owner": f"owner@{DEMO_DOMAIN}", "operator": f"operator@{DEMO_DOMAIN}", "city": f"city@{DEMO_DOMAIN}"}
TOP_UPS = 5  # x 1,000,000 KRW per resident: enough for every booking of a run
SEED = 2019
SEOUL = ZoneInfo("Asia/Seoul")  # the demo's MAEUL_LOCAL_TIMEZONE


class Accounts:
    """Bearer headers of the demo accounts, filled before the run; the pool of bookable offers."""

    residents: list[dict[str, str]] = []
    staff: dict[str, dict[str, str]] = {}
    owner_id = ""
    offers: list[tuple[str, str, str]] = []  # (slot id, start, end), each free when the run starts


def _sign_in(host: str, email: str) -> dict[str, str]:
    response = requests.post(f"{host}/auth/token", data={"username": email, "password": DEMO_PASSWORD}, timeout=30)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _upcoming_hour(days: int, hour_seoul: int) -> datetime:
    """`hour_seoul` o'clock Seoul time, `days` days from today."""
    return datetime.now(SEOUL).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        days=days, hours=hour_seoul
    )


def _near_centre(rng: random.Random, metres: float) -> tuple[float, float]:
    """(lon, lat) of a random point up to `metres` east-west and north-south of the village centre."""
    return offset(*CENTRE, east_m=rng.uniform(-metres, metres), north_m=rng.uniform(-metres, metres))


def _collect_offers(host: str, headers: dict[str, str]) -> list[tuple[str, str, str]]:
    """Free (slot, interval) pairs for the next weeks: two-hour intervals that never overlap on one slot."""
    offers: list[tuple[str, str, str]] = []
    for days in range(1, 11):
        for hour in (8, 10, 12, 14, 16, 18):
            start, end = _upcoming_hour(days, hour), _upcoming_hour(days, hour + 2)
            params: dict[str, str | float] = {
                "lat": CENTRE[1],
                "lon": CENTRE[0],
                "start": _iso(start),
                "end": _iso(end),
            }
            response = requests.get(
                f"{host}/slots/search", params={**params, "max_walk_m": 3000, "limit": 100}, headers=headers, timeout=30
            )
            response.raise_for_status()
            offers += [(m["slot"]["id"], _iso(start), _iso(end)) for m in response.json()["items"]]
    random.Random(SEED).shuffle(offers)
    return offers


@events.init.add_listener  # type: ignore[untyped-decorator]
def _prepare(environment: Environment, **_: Any) -> None:
    """Before the clock starts: sign in, fill the wallets, find free slot intervals for `Booking`."""
    host = environment.host
    try:
        if host is not None and environment.user_classes != [Bare]:
            _sign_in_and_top_up(host)
            if Booking in environment.user_classes:
                Accounts.offers = _collect_offers(host, Accounts.residents[0])
                print(f"{len(Accounts.offers)} free slot intervals to book")
    except requests.RequestException as error:
        raise SystemExit(f"cannot prepare the load test against {host}: {error}") from error
    finally:
        # gevent's loop caches its clock: after seconds of imports and preparation, `--run-time` would be counted
        # from the stale time and end the run early (a 3 s run stopped after 20 ms)
        gevent.get_hub().loop.update_now()


def _sign_in_and_top_up(host: str) -> None:
    Accounts.residents = [_sign_in(host, email) for email in RESIDENTS]
    Accounts.staff = {role: _sign_in(host, email) for role, email in STAFF.items()}
    Accounts.owner_id = requests.get(f"{host}/me", headers=Accounts.staff["owner"], timeout=30).json()["id"]
    gateway, _ = Settings().payment_gateway()
    for headers in Accounts.residents:
        for _ in range(TOP_UPS):
            _top_up(host, gateway, headers, 1_000_000)


def _top_up(host: str, gateway: str, headers: dict[str, str], amount: int) -> None:
    """As the app tops up: open the order, pay it in the (demo) gateway's window, confirm the payment."""
    order = requests.post(f"{host}/wallet/top-ups", json={"amount_krw": amount}, headers=headers, timeout=30)
    order.raise_for_status()
    paid = requests.post(
        f"{gateway}/v1/demo/payments", json={"orderId": order.json()["order_id"], "amount": amount}, timeout=30
    )
    paid.raise_for_status()
    confirmed = requests.post(
        f"{host}/wallet/top-ups/{order.json()['id']}/confirm",
        json={"payment_key": paid.json()["paymentKey"], "amount_krw": amount},
        headers=headers,
        timeout=30,
    )
    confirmed.raise_for_status()


_resident_turn = itertools.count()


def _search_params(rng: random.Random) -> dict[str, Any]:
    """A destination near the village centre, 1-3 hours starting 08:00-17:00 on one of the next 14 days."""
    lon, lat = _near_centre(rng, 400)
    start = _upcoming_hour(rng.randrange(1, 15), rng.randrange(8, 18))
    end = start + timedelta(hours=rng.choice([1, 2, 3]))
    return {"lat": round(lat, 6), "lon": round(lon, 6), "start": _iso(start), "end": _iso(end)}


class _Signed(FastHttpUser):
    abstract = True

    def on_start(self) -> None:
        turn = next(_resident_turn)
        self.rng = random.Random(SEED + turn)
        self.resident = Accounts.residents[turn % len(Accounts.residents)]

    def search(self) -> None:
        self.client.get("/slots/search", params=_search_params(self.rng), headers=self.resident, name="/slots/search")


# ---------------------------------------------------------------- one-request users: throughput ratios


class Bare(FastHttpUser):
    """The baseline: a bare ASGI endpoint served like the API (same server, workers and client)."""

    wait_time = constant(0)

    @task
    def bare(self) -> None:
        self.client.get("/bare")


class Health(FastHttpUser):
    wait_time = constant(0)

    @task
    def health(self) -> None:
        self.client.get("/health")


class Search(_Signed):
    wait_time = constant(0)
    tasks = [_Signed.search]


class Booking(_Signed):
    """Books free intervals from the pool, one booking (hold, journal and ledger entries) per request."""

    wait_time = constant(0)

    @task
    def book(self) -> None:
        if not Accounts.offers:
            self.environment.runner.quit()
            return
        slot_id, start, end = Accounts.offers.pop()
        body = {"slot_id": slot_id, "start": start, "end": end, "vehicle_plate": "12가3456"}
        self.client.post("/bookings", json=body, headers=self.resident)


# ---------------------------------------------------------------- the product's people


class Resident(_Signed):
    weight = 10
    wait_time = between(0.5, 2)

    @task(6)
    def find_a_slot(self) -> None:
        self.search()

    @task(2)
    def nearby_rides(self) -> None:
        lon, lat = _near_centre(self.rng, 400)
        self.client.get("/rides/nearby", params={"lat": lat, "lon": lon}, headers=self.resident, name="/rides/nearby")

    @task(1)
    def wallet(self) -> None:
        self.client.get("/wallet", headers=self.resident)

    @task(1)
    def my_bookings(self) -> None:
        self.client.get("/bookings", headers=self.resident)

    def _book(self, start: datetime, hours: int) -> str | None:
        """Search, then book one of the offers; None when there was none or another driver was faster."""
        lon, lat = _near_centre(self.rng, 300)
        interval = {"start": _iso(start), "end": _iso(start + timedelta(hours=hours))}
        found = self.client.get(
            "/slots/search", params={"lat": lat, "lon": lon, **interval}, headers=self.resident, name="/slots/search"
        )
        items = found.json()["items"] if found.status_code == 200 else []
        if not items:
            return None
        body = {"slot_id": self.rng.choice(items)["slot"]["id"], **interval, "vehicle_plate": "34나5678"}
        headers = {**self.resident, "Idempotency-Key": str(uuid.uuid4())}
        with self.client.post("/bookings", json=body, headers=headers, catch_response=True) as booked:
            if booked.status_code == 409:  # another driver took that slot first: an answer, not a failure
                booked.success()
                return None
            return str(booked.json()["id"]) if booked.status_code == 201 else None

    @task(1)
    def park_now(self) -> None:
        """Book from now, check in, check out: the hold is captured, split and written to the ledger."""
        booking = self._book(datetime.now(UTC) + timedelta(minutes=2), hours=1)
        if booking is not None:
            self.client.post(f"/bookings/{booking}/check-in", headers=self.resident, name="/bookings/{id}/check-in")
            self.client.post(f"/bookings/{booking}/check-out", headers=self.resident, name="/bookings/{id}/check-out")

    @task(1)
    def book_and_cancel(self) -> None:
        booking = self._book(_upcoming_hour(self.rng.randrange(2, 20), self.rng.randrange(8, 18)), hours=2)
        if booking is not None:
            self.client.post(f"/bookings/{booking}/cancel", headers=self.resident, name="/bookings/{id}/cancel")


def _this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


class Owner(_Signed):
    weight = 2
    wait_time = between(1, 3)

    @task(2)
    def statement(self) -> None:
        params = {"account": f"owner:{Accounts.owner_id}", "month": _this_month()}
        self.client.get("/settlement/statements", params=params, headers=Accounts.staff["owner"])

    @task(2)
    def bookings_on_my_slots(self) -> None:
        self.client.get("/bookings/on-my-slots", headers=Accounts.staff["owner"])

    @task(1)
    def share_an_evening(self) -> None:
        """Publish a one-off extra window on one of the owner's slots, then take it back."""
        headers = Accounts.staff["owner"]
        slots = self.client.get("/slots", headers=headers).json()["items"]
        if not slots:
            return
        slot = self.rng.choice(slots)["id"]
        start = _upcoming_hour(self.rng.randrange(1, 30), 19)
        body = {"kind": "extra", "start": _iso(start), "end": _iso(start + timedelta(hours=3)), "note": "load test"}
        added = self.client.post(
            f"/slots/{slot}/sharing/exceptions", json=body, headers=headers, name="/slots/{id}/sharing/exceptions"
        )
        if added.status_code == 201:
            self.client.delete(
                f"/slots/{slot}/sharing/exceptions/{added.json()['id']}",
                headers=headers,
                name="/slots/{id}/sharing/exceptions/{id}",
            )


class Operator(_Signed):
    weight = 1
    wait_time = between(1, 3)

    @task
    def bookings(self) -> None:
        self.client.get("/bookings", params={"limit": 50}, headers=Accounts.staff["operator"])

    @task
    def fleet(self) -> None:
        self.client.get("/vehicles", params={"limit": 50}, headers=Accounts.staff["operator"])


class City(_Signed):
    weight = 1
    wait_time = between(1, 3)

    @task
    def mds_status(self) -> None:
        self.client.get("/mds/vehicles/status", headers=Accounts.staff["city"])

    @task
    def gbfs(self) -> None:
        self.client.get("/gbfs/vehicle_status.json")

    @task
    def revenue(self) -> None:
        start = _upcoming_hour(-30, 0)
        params = {"start": _iso(start), "end": _iso(start + timedelta(days=31))}
        self.client.get("/settlement/revenue", params=params, headers=Accounts.staff["city"])
