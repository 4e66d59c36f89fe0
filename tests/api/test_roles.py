"""Every endpoint with every role: who is let through (anything but 401/403) and who is refused (403)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.models import Account, Role
from api.app import create_app
from api.deps import get_session
from api.state import AppState, build_state, close_state
from core.clock import FixedClock
from core.settings import Settings
from tests.conftest import NOW
from tests.factories import auth, make_account

R, OW, OP, S, C, A = Role.RESIDENT, Role.OWNER, Role.OPERATOR, Role.STAFF, Role.CITY, Role.ADMIN
EVERYONE = {R, OW, OP, S, C, A}
PUBLIC = None
DEVICE: set[Role] = set()  # devices sign with their own key: no account token opens it

# The access table, written independently of the code: who may call what.
ALLOWED: dict[tuple[str, str], set[Role] | None] = {
    ("GET", "/health"): PUBLIC,
    ("POST", "/auth/token"): PUBLIC,
    ("POST", "/auth/register"): PUBLIC,
    ("POST", "/auth/sign-out"): EVERYONE,
    ("POST", "/auth/sign-out-everywhere"): EVERYONE,
    ("POST", "/auth/password-reset"): PUBLIC,
    ("POST", "/auth/password-reset/confirm"): PUBLIC,
    ("GET", "/me"): EVERYONE,
    ("POST", "/me/password"): EVERYONE,
    ("POST", "/admin/accounts"): {A},
    ("POST", "/admin/accounts/{account_id}/disable"): {A},
    ("POST", "/admin/accounts/{account_id}/enable"): {A},
    ("GET", "/zones"): EVERYONE,
    ("GET", "/zones/{zone_id}/tariffs"): EVERYONE,
    ("PUT", "/zones/{zone_id}/tariffs"): {OP, A},
    ("PUT", "/zones/{zone_id}/price-caps"): {C, A},
    ("POST", "/bookings/{booking_id}/refund"): {OP, A},
    ("GET", "/lots"): EVERYONE,
    ("POST", "/lots"): {OP, A},
    ("GET", "/slots/search"): EVERYONE,
    ("GET", "/slots"): {OW, OP, C, A},
    ("POST", "/slots"): {OW, OP, A},
    ("GET", "/slots/{slot_id}"): EVERYONE,
    ("PATCH", "/slots/{slot_id}"): {OW, OP, A},
    ("GET", "/slots/{slot_id}/sharing"): {OW, OP, C, A},
    ("PUT", "/slots/{slot_id}/sharing/weekly"): {OW, OP, A},
    ("POST", "/slots/{slot_id}/sharing/exceptions"): {OW, OP, A},
    ("DELETE", "/slots/{slot_id}/sharing/exceptions/{exception_id}"): {OW, OP, A},
    ("GET", "/slots/{slot_id}/availability"): EVERYONE,
    ("POST", "/bookings"): {R, OW},
    ("GET", "/bookings"): EVERYONE,
    ("GET", "/bookings/on-my-slots"): {OW},
    ("GET", "/bookings/{booking_id}"): EVERYONE,
    ("POST", "/bookings/{booking_id}/cancel"): EVERYONE,
    ("POST", "/bookings/{booking_id}/check-in"): EVERYONE,
    ("POST", "/bookings/{booking_id}/check-out"): EVERYONE,
    ("POST", "/matching/instant"): {R, OW},
    ("POST", "/matching/requests"): {R, OW},
    ("GET", "/matching/requests"): EVERYONE,
    ("GET", "/matching/requests/{request_id}"): EVERYONE,
    ("POST", "/matching/requests/{request_id}/cancel"): EVERYONE,
    ("POST", "/matching/runs"): {OP, A},
    ("GET", "/wallet"): {R, OW},
    ("POST", "/wallet/top-ups"): {R, OW},
    ("GET", "/wallet/top-ups"): {R, OW},
    ("GET", "/wallet/top-ups/{top_up_id}"): {R, OW},
    ("POST", "/wallet/top-ups/{top_up_id}/confirm"): {R, OW},
    ("POST", "/wallet/top-ups/{top_up_id}/cancel"): {R, OW},
    ("GET", "/mileage"): {R, OW},
    ("POST", "/mileage/redemptions"): {R, OW},
    ("GET", "/settlement/balances"): {OP, C, A},
    ("POST", "/settlement/payouts"): {OP, A},
    ("GET", "/settlement/receivables"): {OP, A},
    ("GET", "/settlement/statements"): EVERYONE,
    ("GET", "/settlement/revenue"): {OP, C, A},
    ("GET", "/ledger/public-key"): PUBLIC,
    ("GET", "/ledger/tree-heads/latest"): PUBLIC,
    ("GET", "/ledger/tree-heads/{size}"): PUBLIC,
    ("GET", "/ledger/entries/{leaf_index}"): PUBLIC,
    ("GET", "/ledger/proofs/inclusion"): PUBLIC,
    ("GET", "/ledger/proofs/consistency"): PUBLIC,
    ("GET", "/ledger/anchoring"): PUBLIC,
    ("GET", "/vehicle-types"): EVERYONE,
    ("GET", "/providers"): {OP, C, A},
    ("POST", "/vehicles"): {OP, A},
    ("POST", "/vehicles/import"): {OP, A},
    ("GET", "/vehicles"): {OP, C, A},
    ("GET", "/vehicles/{vehicle_id}"): {OP, C, A},
    ("GET", "/vehicles/{vehicle_id}/events"): {OP, C, A},
    ("POST", "/vehicles/{vehicle_id}/deploy"): {OP, A},
    ("POST", "/vehicles/{vehicle_id}/actions/{action}"): {OP, A},
    ("POST", "/vehicles/{vehicle_id}/device-key"): {OP, A},
    ("DELETE", "/vehicles/{vehicle_id}/device-key"): {OP, A},
    ("POST", "/telemetry"): DEVICE,
    ("GET", "/geofences"): PUBLIC,
    ("GET", "/geofences/{geofence_id}"): PUBLIC,
    ("POST", "/geofences"): {OP, A},
    ("POST", "/geofences/import"): {OP, A},
    ("POST", "/geofences/{geofence_id}/end"): {OP, A},
    ("GET", "/rides/nearby"): EVERYONE,
    ("POST", "/rides/reservations"): {R, OW},
    ("DELETE", "/rides/reservations/{vehicle_id}"): EVERYONE,
    ("POST", "/rides"): {R, OW},
    ("GET", "/rides"): EVERYONE,
    ("GET", "/rides/{trip_id}"): EVERYONE,
    ("POST", "/rides/{trip_id}/end"): EVERYONE,
    ("GET", "/gbfs/gbfs.json"): PUBLIC,
    ("GET", "/gbfs/{feed}.json"): PUBLIC,
    ("GET", "/mds/vehicles"): {C, A},
    ("GET", "/mds/vehicles/status"): {C, A},
    ("GET", "/mds/vehicles/{device_id}"): {C, A},
    ("GET", "/mds/vehicles/status/{device_id}"): {C, A},
    ("GET", "/mds/trips"): {C, A},
    ("GET", "/mds/telemetry"): {C, A},
    ("GET", "/mds/events/historical"): {C, A},
    ("GET", "/mds/events/recent"): {C, A},
    ("GET", "/mds/reports/{month}.csv"): {C, A},
    ("POST", "/staff"): {OP, A},
    ("GET", "/staff"): {OP, A},
    ("GET", "/staff/{staff_id}"): {S, OP, A},
    ("PATCH", "/staff/{staff_id}"): {OP, A},
    ("POST", "/staff/{staff_id}/shifts"): {OP, A},
    ("GET", "/staff/{staff_id}/shifts"): {S, OP, A},
    ("DELETE", "/shifts/{shift_id}"): {OP, A},
    ("POST", "/staff/me/clock-in"): {S},
    ("POST", "/staff/me/clock-out"): {S},
    ("PUT", "/staff/me/position"): {S},
    ("GET", "/staff/{staff_id}/earnings"): {S, OP, A},
    ("POST", "/staff/{staff_id}/pay-statements"): {OP, A},
    ("GET", "/staff/{staff_id}/pay-statements"): {S, OP, A},
    ("GET", "/tasks"): {S, OP, A},
    ("GET", "/tasks/{task_id}"): EVERYONE,
    ("POST", "/tasks/{task_id}/state"): {S, OP, A},
    ("POST", "/tasks/{task_id}/assign"): {OP, A},
    ("POST", "/valet/plan"): {OP, A},
    ("GET", "/rebalancing/targets"): {OP, C, A},
    ("POST", "/rebalancing/plan"): {OP, A},
    ("POST", "/valet/parking"): {R, OW},
    ("POST", "/valet/returns"): {R, OW},
    ("GET", "/valet/requests"): EVERYONE,
    ("DELETE", "/valet/requests/{task_id}"): EVERYONE,
    ("POST", "/shuttle/rides"): {R, OW},
    ("GET", "/shuttle/rides"): EVERYONE,
    ("GET", "/shuttle/rides/{ride_id}"): EVERYONE,
    ("DELETE", "/shuttle/rides/{ride_id}"): EVERYONE,
    ("POST", "/shuttle/plan"): {OP, A},
    ("POST", "/cameras"): {C, A},
    ("GET", "/cameras"): {OP, C, A},
    ("POST", "/cameras/{camera_id}/key"): {C, A},
    ("DELETE", "/cameras/{camera_id}/key"): {C, A},
    ("POST", "/cameras/entries"): DEVICE,
    ("POST", "/cameras/violations"): DEVICE,
    ("POST", "/violations"): EVERYONE,
    ("GET", "/violations"): {OP, C, A},
    ("GET", "/kpi/daily"): {OP, C, A},
    ("GET", "/kpi/monthly"): {OP, C, A},
    ("GET", "/kpi/hourly"): {OP, C, A},
    ("POST", "/surveys"): {R, OW},
    ("GET", "/surveys"): {OP, C, A},
    ("GET", "/notifications"): EVERYONE,
    ("POST", "/complaints"): {R, OW},
    ("GET", "/complaints"): {R, OW, OP, S, A},
    ("GET", "/complaints/summary"): {OP, C, A},
    ("GET", "/complaints/{complaint_id}"): {R, OW, OP, S, A},
    ("POST", "/complaints/{complaint_id}/replies"): {R, OW, OP, S, A},
    ("POST", "/complaints/{complaint_id}/assign"): {OP, A},
    ("POST", "/complaints/{complaint_id}/state"): {R, OW, OP, S, A},
    ("POST", "/bookings/assisted"): {OP, A},
    ("POST", "/water-gauges"): {C, A},
    ("GET", "/water-gauges"): {OP, C, A},
    ("POST", "/water-gauges/{gauge_id}/key"): {C, A},
    ("DELETE", "/water-gauges/{gauge_id}/key"): {C, A},
    ("POST", "/water-gauges/readings"): DEVICE,
    ("POST", "/cars/contracts"): {OP, A},
    ("GET", "/cars/contracts"): EVERYONE,
    ("GET", "/cars/contracts/{contract_id}"): EVERYONE,
    ("PUT", "/cars/contracts/{contract_id}/windows"): EVERYONE,
    ("POST", "/cars/contracts/{contract_id}/extra-windows"): EVERYONE,
    ("POST", "/cars/contracts/{contract_id}/releases"): EVERYONE,
    ("POST", "/cars/contracts/{contract_id}/invoices"): {OP, A},
    ("POST", "/cars/contracts/{contract_id}/end"): {OP, A},
    ("GET", "/cars/search"): EVERYONE,
    ("POST", "/cars/bookings"): {R, OW},
    ("GET", "/cars/bookings"): EVERYONE,
    ("GET", "/cars/bookings/{booking_id}"): EVERYONE,
    ("POST", "/cars/bookings/{booking_id}/cancel"): EVERYONE,
    ("POST", "/cars/bookings/{booking_id}/pick-up"): EVERYONE,
    ("POST", "/cars/bookings/{booking_id}/return"): EVERYONE,
    ("POST", "/cars/photos"): {R, OW, S, OP, A},
    ("GET", "/cars/photos/{key}"): {OP, A},
    ("GET", "/cars/condition-reports"): {OP, A},
    ("POST", "/cars/condition-reports/{report_id}/handled"): {OP, A},
    ("GET", "/cars/offers"): EVERYONE,
    ("POST", "/cars/offers/{offer_id}/accept"): EVERYONE,
    ("POST", "/cars/offers/{offer_id}/refund"): EVERYONE,
    ("POST", "/carpools"): {R, OW},
    ("GET", "/carpools"): EVERYONE,
    ("GET", "/carpools/{carpool_id}"): EVERYONE,
    ("POST", "/carpools/{carpool_id}/seats"): {R, OW},
    ("DELETE", "/carpools/{carpool_id}/seats/mine"): {R, OW},
    ("POST", "/carpools/{carpool_id}/seats/{seat_id}/accept"): {R, OW},
    ("POST", "/carpools/{carpool_id}/seats/{seat_id}/decline"): {R, OW},
    ("POST", "/carpools/{carpool_id}/cancel"): EVERYONE,
    ("POST", "/carpools/{carpool_id}/complete"): {R, OW},
    ("POST", "/carpools/{carpool_id}/ratings"): {R, OW},
}


def test_every_endpoint_is_in_the_access_table_and_documented(settings: Settings):
    paths = create_app(settings).openapi()["paths"]
    documented = [(method.upper(), path) for path, operations in paths.items() for method in operations]
    assert sorted(documented) == sorted(ALLOWED)
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert operation.get("summary"), (method, path)


def _url(path: str) -> str:
    return (
        path.replace("{slot_id}", str(uuid.uuid4()))
        .replace("{booking_id}", str(uuid.uuid4()))
        .replace("{exception_id}", str(uuid.uuid4()))
        .replace("{request_id}", str(uuid.uuid4()))
        .replace("{zone_id}", str(uuid.uuid4()))
        .replace("{size}", "1")
        .replace("{leaf_index}", "0")
        .replace("{vehicle_id}", str(uuid.uuid4()))
        .replace("{geofence_id}", str(uuid.uuid4()))
        .replace("{trip_id}", str(uuid.uuid4()))
        .replace("{ride_id}", str(uuid.uuid4()))
        .replace("{action}", "retire")
        .replace("{feed}", "vehicle_types")
        .replace("{month}", "2026-11")
        .replace("{staff_id}", str(uuid.uuid4()))
        .replace("{shift_id}", str(uuid.uuid4()))
        .replace("{task_id}", str(uuid.uuid4()))
        .replace("{camera_id}", str(uuid.uuid4()))
        .replace("{complaint_id}", str(uuid.uuid4()))
        .replace("{gauge_id}", str(uuid.uuid4()))
        .replace("{contract_id}", str(uuid.uuid4()))
        .replace("{report_id}", str(uuid.uuid4()))
        .replace("{offer_id}", str(uuid.uuid4()))
        .replace("{carpool_id}", str(uuid.uuid4()))
        .replace("{seat_id}", str(uuid.uuid4()))
        .replace("{key}", "0" * 64 + ".jpg")
        .replace("{account_id}", str(uuid.uuid4()))
    )


@dataclass
class Roles:
    """One app, one state and one account of each role for the whole module (172 cases built all three each)."""

    state: AppState
    app: FastAPI
    accounts: dict[Role, Actor]
    session: AsyncSession | None = None  # the running case's (rolled back after it)


@pytest.fixture(scope="module")
async def roles(settings: Settings, database: str) -> AsyncIterator[Roles]:
    state = build_state(settings, clock=FixedClock(NOW), database_url=database)
    async with AsyncSession(state.engine, expire_on_commit=False) as setup:
        accounts = {role: await make_account(setup, role=role, wallet_krw=0) for role in Role}
        await setup.commit()
    shared = Roles(state, create_app(state.settings, state=state), accounts)

    async def case_session() -> AsyncIterator[AsyncSession]:
        assert shared.session is not None
        await shared.session.commit()  # a savepoint inside the case's transaction, as in tests.conftest
        try:
            yield shared.session
        except Exception:
            await shared.session.rollback()
            raise

    shared.app.dependency_overrides[get_session] = case_session
    yield shared
    async with AsyncSession(state.engine) as cleanup:
        ids = [actor.id for actor in accounts.values()]
        await cleanup.execute(delete(Account).where(Account.id.in_(ids)))
        await cleanup.commit()
    await close_state(state)


@pytest.mark.parametrize(("method", "path"), sorted(ALLOWED))
async def test_roles(roles: Roles, session: AsyncSession, method: str, path: str):
    roles.session = session
    transport = httpx.ASGITransport(app=roles.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://maeul.test") as client:
        await _check(client, roles, method, path)


async def _check(client: httpx.AsyncClient, roles: Roles, method: str, path: str) -> None:
    allowed = ALLOWED[(method, path)]
    anonymous = await client.request(method, _url(path), json={})
    if allowed is PUBLIC:
        assert anonymous.status_code not in (401, 403), anonymous.text
        return
    if allowed is DEVICE:
        for role, account in roles.accounts.items():
            response = await client.request(method, _url(path), json={}, headers=auth(roles.state, account))
            assert response.status_code in (401, 422), (role, response.text)
        return
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "not_authenticated"
    for role, account in roles.accounts.items():
        response = await client.request(method, _url(path), json={}, headers=auth(roles.state, account))
        if role in allowed:
            assert response.status_code not in (401, 403), (role, response.text)
            assert response.status_code < 500, (role, response.text)
        else:
            assert response.status_code == 403, (role, response.status_code, response.text)
            assert response.json()["error"] == "forbidden"
