"""The rider's flow through the mobile app: nearby vehicles, reserve, unlock, ride, end and pay."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

import mobility.reservations
import mobility.rides
from api.auth import Anyone, Driver
from api.deps import Limit, NowDep, Offset, SessionDep, StateDep
from api.idempotency import IdempotencyKeyHeader, create_once
from api.routes.vehicles import commit_and_sync
from api.schemas.common import ErrorOut, Location, Longitude, Page, page
from api.schemas.mobility import NearbyVehicleOut, ReservationOut, TripOut, VehicleRef
from api.schemas.parking import ReceiptOut
from ledger import log as ledger
from mobility import live, repository
from mobility.models import Trip

router = APIRouter(prefix="/rides", tags=["rides"])

RIDE_ERRORS: dict[int | str, dict[str, Any]] = {
    402: {"model": ErrorOut, "description": "insufficient_funds: top up the wallet"},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut, "description": "vehicle_unavailable, rider_already_riding, price_unavailable"},
    422: {"model": ErrorOut},
}


@router.get("/nearby", response_model=list[NearbyVehicleOut], summary="Available vehicles near a point")
async def nearby(
    actor: Anyone,
    state: StateDep,
    session: SessionDep,
    lon: Annotated[Longitude, Query()],
    lat: Annotated[
        float, Query(ge=-live.GEO_MAX_LAT, le=live.GEO_MAX_LAT, description="WGS84 latitude, degrees north")
    ],
    radius_m: Annotated[int, Query(ge=10, le=3000, description="search radius, straight-line metres")] = 500,
    type_code: Annotated[list[str] | None, Query(description="only these vehicle types")] = None,
    trip_m: Annotated[int | None, Query(ge=1, le=100_000, description="only vehicles whose range covers it")] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[NearbyVehicleOut]:
    """Nearest first, from the live index (Redis GEO), each re-checked against the database: available now, with
    enough battery to ride and, with `trip_m`, enough range for the trip."""
    types = await state.type_codes.get(session)
    wanted = sorted(types) if type_code is None else [code for code in type_code if code in types]
    hits = await live.near(state.redis, type_codes=wanted, lon=lon, lat=lat, radius_m=radius_m, count=limit * 3)
    rows = await repository.rentable(session, [vehicle_id for vehicle_id, _ in hits])
    found = []
    for vehicle_id, metres in hits:
        vehicle = rows.get(vehicle_id)
        if vehicle is None or vehicle.battery_pct < state.fleet.battery_low_pct:
            continue
        if trip_m is not None and vehicle.range_m < trip_m:
            continue
        found.append(
            NearbyVehicleOut(
                id=vehicle.id,
                label=vehicle.label,
                type_code=vehicle.type_code,
                battery_pct=vehicle.battery_pct,
                range_m=vehicle.range_m,
                location=Location(lon=vehicle.lon, lat=vehicle.lat),
                walk_m=int(round(metres * state.fleet.walk_detour_factor)),
            )
        )
    return found[:limit]


@router.post(
    "/reservations",
    response_model=ReservationOut,
    status_code=201,
    responses=RIDE_ERRORS,
    summary="Reserve a vehicle for a few minutes, free",
)
async def reserve(body: VehicleRef, actor: Driver, state: StateDep, session: SessionDep, now: NowDep) -> ReservationOut:
    """The vehicle is held for `MAEUL_RIDE_RESERVATION_MINUTES`, then becomes available again by itself. One
    reservation (or ride) per rider at a time."""
    vehicle = await mobility.reservations.reserve(
        session, rider=actor, vehicle_id=body.vehicle_id, rules=state.fleet, now=now
    )
    assert vehicle.reserved_until is not None
    out = ReservationOut(vehicle_id=vehicle.id, label=vehicle.label, reserved_until=vehicle.reserved_until)
    await commit_and_sync(state, session, [vehicle.id])
    return out


@router.delete(
    "/reservations/{vehicle_id:uuid}", status_code=204, responses=RIDE_ERRORS, summary="Cancel a reservation"
)
async def cancel_reservation(
    vehicle_id: uuid.UUID, actor: Anyone, state: StateDep, session: SessionDep, now: NowDep
) -> None:
    """The rider (or staff) gives the vehicle back; it is available again at once."""
    await mobility.reservations.cancel_reservation(session, rider=actor, vehicle_id=vehicle_id, now=now)
    await commit_and_sync(state, session, [vehicle_id])


async def trip_out(session: AsyncSession, trip: Trip, *, detail: bool) -> TripOut:
    route = receipts = None
    if detail:
        route = await repository.trip_route(session, trip.id)
        receipts = [ReceiptOut.of(r) for r in await ledger.receipts_for(session, f"trip:{trip.id}")]
    return TripOut(
        id=trip.id,
        vehicle_id=trip.vehicle_id,
        type_code=trip.type_code,
        status=trip.status,
        started_at=trip.started_at,
        ended_at=trip.ended_at,
        start=Location(lon=trip.start_lon, lat=trip.start_lat),
        end=Location(lon=trip.end_lon, lat=trip.end_lat)
        if trip.end_lon is not None and trip.end_lat is not None
        else None,
        distance_m=trip.distance_m,
        duration_s=int((trip.ended_at - trip.started_at).total_seconds()) if trip.ended_at else None,
        fare_krw=trip.fare_krw,
        fare_lines=trip.fare_lines,
        route=route,
        receipts=receipts,
    )


@router.post("", response_model=TripOut, status_code=201, responses=RIDE_ERRORS, summary="Unlock: start a ride")
async def unlock(
    body: VehicleRef,
    actor: Driver,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> TripOut:
    """Starts a trip on an available vehicle (or the one the rider reserved) and holds the estimated fare
    (`MAEUL_RIDE_HOLD_MINUTES` of riding) on the wallet. Two riders racing for one vehicle: one trip, one 409. Send
    an `Idempotency-Key`: a retried unlock never opens a second trip."""

    async def work() -> TripOut:
        trip = await mobility.rides.unlock(session, rider=actor, vehicle_id=body.vehicle_id, rules=state.fleet, now=now)
        return await trip_out(session, trip, detail=True)

    response = await create_once(
        session, actor=actor, key=idempotency_key, operation="POST /rides", payload=body, work=work
    )
    await live.sync_committed(state.redis, session, [body.vehicle_id])
    return response  # type: ignore[return-value]


@router.get("", response_model=Page[TripOut], summary="List rides")
async def list_rides(actor: Anyone, session: SessionDep, limit: Limit = 50, offset: Offset = 0) -> dict[str, object]:
    """Riders see their own rides; village enterprise staff and admins see all. Newest first."""
    rider = None if actor.is_operator else actor.id
    rows = await repository.trips(session, rider_id=rider, limit=limit + 1, offset=offset)
    return page([await trip_out(session, t, detail=False) for t in rows], limit=limit, offset=offset)


@router.get("/{trip_id:uuid}", response_model=TripOut, responses={404: {"model": ErrorOut}}, summary="One ride")
async def get_ride(trip_id: uuid.UUID, actor: Anyone, session: SessionDep) -> TripOut:
    """The ride with its route, fare lines and ledger receipts; for anyone but its rider and staff it does not
    exist (404)."""
    trip = await mobility.rides.trip_for(session, actor=actor, trip_id=trip_id)
    return await trip_out(session, trip, detail=True)


@router.post(
    "/{trip_id:uuid}/end",
    response_model=TripOut,
    responses={
        403: {"model": ErrorOut, "description": "force is for staff"},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut, "description": "ride_end_not_allowed_here (names the nearest parking area)"},
    },
    summary="End a ride and pay",
)
async def end_ride(
    trip_id: uuid.UUID,
    actor: Anyone,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    force: Annotated[bool, Query(description="staff only: end outside the rules, with the forced-end fee")] = False,
) -> TripOut:
    """Ends where the vehicle is (its last telemetry). Inside a no-parking area, or outside every parking area for
    types that need one, the end is refused with the nearest allowed area and its walking distance. The fare
    (unlock fee + per-minute tariff by zone and band, within the city's caps) is captured, split between provider,
    village enterprise, city and platform, and the trip is written to the ledger in the same transaction."""
    trip = await mobility.rides.end_ride(session, actor=actor, trip_id=trip_id, force=force, rules=state.fleet, now=now)
    await commit_and_sync(state, session, [trip.vehicle_id])
    return await trip_out(session, trip, detail=True)
