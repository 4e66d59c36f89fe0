"""Queries of the mobility domain: the only place that builds its SQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, any_, func, literal, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from geo.spatial import geography_point, geometry_point, latitude, longitude
from mobility.errors import VehicleNotFound
from mobility.models import Geofence, GeofenceKind, Provider, Trip, Vehicle, VehicleType
from mobility.states import VehicleState
from mobility.telemetry import Bounds, Fix
from parking.models import Slot


@dataclass(frozen=True, slots=True)
class GeofenceView:
    id: uuid.UUID
    name: str
    kind: str
    vehicle_types: list[str]
    max_speed_kmh: int | None
    area: dict[str, Any]  # GeoJSON MultiPolygon
    effective_from: datetime
    effective_to: datetime | None


@dataclass(frozen=True, slots=True)
class AreaHit:
    id: uuid.UUID
    name: str
    distance_m: float


def effective(at: datetime) -> Any:
    return and_(Geofence.effective_from <= at, or_(Geofence.effective_to.is_(None), Geofence.effective_to > at))


def applies_to(type_code: str) -> Any:
    return or_(func.cardinality(Geofence.vehicle_types) == 0, literal(type_code) == any_(Geofence.vehicle_types))


def _geofence_columns() -> Select[Any]:
    return select(
        Geofence.id,
        Geofence.name,
        Geofence.kind,
        Geofence.vehicle_types,
        Geofence.max_speed_kmh,
        func.ST_AsGeoJSON(Geofence.area),
        Geofence.effective_from,
        Geofence.effective_to,
    )


def _view(row: Any) -> GeofenceView:
    return GeofenceView(
        id=row[0],
        name=row[1],
        kind=row[2],
        vehicle_types=list(row[3]),
        max_speed_kmh=row[4],
        area=json.loads(row[5]),
        effective_from=row[6],
        effective_to=row[7],
    )


async def geofences(
    session: AsyncSession, *, at: datetime | None, kind: str | None, limit: int, offset: int
) -> list[GeofenceView]:
    query = _geofence_columns().order_by(Geofence.kind, Geofence.name, Geofence.id).limit(limit).offset(offset)
    if at is not None:
        query = query.where(effective(at))
    if kind is not None:
        query = query.where(Geofence.kind == kind)
    return [_view(row) for row in await session.execute(query)]


async def geofence(session: AsyncSession, geofence_id: uuid.UUID) -> GeofenceView | None:
    row = (await session.execute(_geofence_columns().where(Geofence.id == geofence_id))).first()
    return _view(row) if row is not None else None


async def areas_at(
    session: AsyncSession, *, kind: GeofenceKind, type_code: str, lon: float, lat: float, at: datetime
) -> list[Geofence]:
    """Effective geofences of `kind` for the vehicle type that cover the point."""
    query = select(Geofence).where(
        Geofence.kind == kind,
        effective(at),
        applies_to(type_code),
        func.ST_Covers(Geofence.area, geometry_point(lon, lat)),
    )
    return list((await session.execute(query)).scalars())


@dataclass(frozen=True, slots=True)
class PointInArea:
    index: int  # of the point in the given sequence
    geofence_id: uuid.UUID
    name: str
    kind: str
    max_speed_kmh: int | None


_MOVE_AND_LOCATE = text(
    """
    WITH moved AS (
        UPDATE vehicles
           SET location = CAST(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS geography),
               last_fix_at = :at,
               battery_pct = COALESCE(CAST(:battery_pct AS smallint), battery_pct)
         WHERE id = :vehicle_id
    )
    SELECT p.i, g.id, g.name, g.kind, g.max_speed_kmh
    FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[]), CAST(:ats AS timestamptz[])) WITH ORDINALITY
         AS p(lon, lat, at, i)
    JOIN geofences g
      ON (g.kind = ANY(CAST(:kinds AS text[]))
          OR (g.kind = ANY(CAST(:last_kinds AS text[])) AND p.i = cardinality(CAST(:lons AS float8[]))))
     AND g.effective_from <= p.at AND (g.effective_to IS NULL OR g.effective_to > p.at)
     AND (cardinality(g.vehicle_types) = 0 OR :type_code = ANY(g.vehicle_types))
     AND ST_Covers(g.area, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326))
    ORDER BY p.i
    """
)


async def move_and_locate(
    session: AsyncSession, vehicle: Vehicle, fixes: Sequence[Fix], *, kinds: list[str], last_kinds: list[str]
) -> list[PointInArea]:
    """Move the vehicle to the last of its accepted `fixes` (and their latest battery reading), and tell which
    fixes lie in effective geofences of `kinds` for its type, and whether the last lies in any of `last_kinds`
    (where the vehicle is now): one statement, as telemetry batches arrive often and each round trip counts."""
    latest = fixes[-1]
    battery = next((f.battery_pct for f in reversed(fixes) if f.battery_pct is not None), None)
    rows = await session.execute(
        _MOVE_AND_LOCATE,
        {
            "vehicle_id": vehicle.id,
            "lon": latest.lon,
            "lat": latest.lat,
            "at": latest.at,
            "battery_pct": battery,
            "lons": [f.lon for f in fixes],
            "lats": [f.lat for f in fixes],
            "ats": [f.at for f in fixes],
            "kinds": kinds,
            "last_kinds": last_kinds,
            "type_code": vehicle.type_code,
        },
    )
    hits = [PointInArea(int(r[0]) - 1, r[1], r[2], r[3], r[4]) for r in rows]
    # the row is written: the loaded object learns the new values without a second UPDATE at the next flush
    set_committed_value(vehicle, "last_fix_at", latest.at)
    if battery is not None:
        set_committed_value(vehicle, "battery_pct", battery)
    session.expire(vehicle, ["location"])
    return hits


TELEMETRY_COLUMNS = ("vehicle_id", "trip_id", *Fix._fields)  # the telemetry table's, a row per fix


async def append_telemetry(
    session: AsyncSession, *, vehicle_id: uuid.UUID, trip_id: uuid.UUID | None, fixes: Sequence[Fix]
) -> None:
    """The fixes into the day-partitioned history with COPY, inside the session's transaction."""
    connection = await (await session.connection()).get_raw_connection()
    driver = connection.driver_connection
    assert driver is not None
    await driver.copy_records_to_table(
        "telemetry",
        records=[(vehicle_id, trip_id, *fix) for fix in fixes],
        columns=TELEMETRY_COLUMNS,
    )


async def nearest_area(
    session: AsyncSession, *, kind: GeofenceKind, type_code: str, lon: float, lat: float, at: datetime
) -> AreaHit | None:
    """The nearest effective geofence of `kind` for the vehicle type, with its distance in metres."""
    distance = func.ST_Distance(func.geography(Geofence.area), geography_point(lon, lat))
    row = (
        await session.execute(
            select(Geofence.id, Geofence.name, distance)
            .where(Geofence.kind == kind, effective(at), applies_to(type_code))
            .order_by(distance)
            .limit(1)
        )
    ).first()
    return AreaHit(row[0], row[1], float(row[2])) if row is not None else None


@dataclass(slots=True)
class Device:
    """A device's vehicle, locked for its telemetry batch, with what screening the batch needs."""

    vehicle: Vehicle
    last_position: tuple[float, float] | None
    service_bounds: Bounds | None  # of the effective service areas; None: no service area defined


async def device_for_update(session: AsyncSession, *, device_id: str, at: datetime) -> Device | None:
    """The vehicle of this IoT device (row locked), its last position and the service areas' bounding box, in one
    query: telemetry batches arrive often and each round trip counts."""
    extent = (
        select(func.ST_Extent(Geofence.area))
        .where(Geofence.kind == GeofenceKind.SERVICE_AREA, effective(at))
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(
                Vehicle,
                longitude(Vehicle.location),
                latitude(Vehicle.location),
                func.ST_XMin(extent),
                func.ST_YMin(extent),
                func.ST_XMax(extent),
                func.ST_YMax(extent),
            )
            .where(Vehicle.device_id == device_id)
            .with_for_update(of=Vehicle)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        return None
    vehicle, lon, lat, *box = row
    return Device(
        vehicle=vehicle,
        last_position=(float(lon), float(lat)) if lon is not None else None,
        service_bounds=Bounds(*map(float, box)) if box[0] is not None else None,
    )


async def vehicle_for_update(session: AsyncSession, vehicle_id: uuid.UUID) -> Vehicle:
    vehicle = await session.get(Vehicle, vehicle_id, with_for_update=True, populate_existing=True)
    if vehicle is None:
        raise VehicleNotFound(f"vehicle {vehicle_id} not found")
    return vehicle


async def position(session: AsyncSession, vehicle: Vehicle) -> tuple[float, float] | None:
    """The vehicle's last known (lon, lat), read back from the database (the attribute may hold an expression)."""
    return (await positions(session, [vehicle.id])).get(vehicle.id)


async def positions(session: AsyncSession, vehicle_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[float, float]]:
    rows = await session.execute(
        select(Vehicle.id, longitude(Vehicle.location), latitude(Vehicle.location)).where(
            Vehicle.id.in_(vehicle_ids), Vehicle.location.is_not(None)
        )
    )
    return {row[0]: (float(row[1]), float(row[2])) for row in rows}


@dataclass(frozen=True, slots=True)
class Rentable:
    """A vehicle found in the live index, as the database has it now."""

    id: uuid.UUID
    label: str
    type_code: str
    battery_pct: int
    range_m: int  # the type's full range x battery
    lon: float
    lat: float


_RENTABLE = text(
    """
    SELECT v.id, v.label, v.type_code, v.battery_pct, t.max_range_m * v.battery_pct / 100,
           ST_X(v.location::geometry), ST_Y(v.location::geometry)
    FROM vehicles v JOIN vehicle_types t ON t.code = v.type_code
    WHERE v.id = ANY(CAST(:ids AS uuid[])) AND v.state = 'available' AND v.location IS NOT NULL
    """
)


async def rentable(session: AsyncSession, vehicle_ids: list[uuid.UUID]) -> dict[uuid.UUID, Rentable]:
    """Of these vehicles, the ones available now with a known position, with their type's range, in one query
    (plain SQL: it runs on every nearby search, and the ORM's statement building cost more than the query)."""
    rows = await session.execute(_RENTABLE, {"ids": vehicle_ids})
    return {r[0]: Rentable(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows}


async def nearest_rentable(
    session: AsyncSession, *, type_code: str, slot_id: uuid.UUID, radius_m: int, min_battery_pct: int
) -> Vehicle | None:
    """The available vehicle of the type nearest to a parking slot within the radius, locked (skipping vehicles
    another transaction is taking)."""
    slot = select(Slot.location).where(Slot.id == slot_id).scalar_subquery()
    return await session.scalar(
        select(Vehicle)
        .where(
            Vehicle.type_code == type_code,
            Vehicle.state == VehicleState.AVAILABLE,
            Vehicle.battery_pct >= min_battery_pct,
            func.ST_DWithin(Vehicle.location, slot, radius_m),
        )
        .order_by(func.ST_Distance(Vehicle.location, slot))
        .limit(1)
        .with_for_update(skip_locked=True)
    )


_ROUTE = text(
    """
    SELECT ST_AsText(ST_MakeLine(ST_SetSRID(ST_MakePoint(lon, lat), 4326) ORDER BY at)) AS route,
           count(*) AS points
    FROM telemetry WHERE vehicle_id = :vehicle_id AND at >= :start AND at <= :end
    """
)


async def route_of(
    session: AsyncSession, *, vehicle_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[str | None, int]:
    """The WKT line through the vehicle's fixes in [start, end] and its length in metres (0 with < 2 fixes)."""
    row = (await session.execute(_ROUTE, {"vehicle_id": vehicle_id, "start": start, "end": end})).one()
    if row.points < 2:
        return None, 0
    length = await session.scalar(select(func.ST_Length(func.geography(func.ST_GeomFromText(row.route, 4326)))))
    return str(row.route), int(round(float(length or 0)))


def partition_name(day: date) -> str:
    return f"telemetry_p{day:%Y%m%d}"


async def telemetry_partitions(session: AsyncSession) -> list[date]:
    """The days that have a telemetry partition, oldest first."""
    names = await session.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'telemetry' AND c.relname LIKE 'telemetry_p%' "
            "ORDER BY c.relname"
        )
    )
    return [datetime.strptime(name[len("telemetry_p") :], "%Y%m%d").date() for (name,) in names]


async def create_telemetry_partitions(session: AsyncSession, *, first: date, last: date) -> list[date]:
    """Create the daily partitions [first, last] that are missing (UTC days); returns the days created. Fixes of
    such a day already kept in the DEFAULT partition (the worker was down) move into the new partition: it is made
    apart, filled from the default, then attached (attaching checks the default holds none of its range). One caller
    at a time (a transaction-scoped advisory lock): two workers never make the same partition."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('maeul:telemetry-partitions'))"))
    existing = set(await telemetry_partitions(session))
    created = []
    day = first
    while day <= last:
        if day not in existing:
            name, start, end = partition_name(day), f"{day.isoformat()} 00:00+00", f"{day + timedelta(days=1)} 00:00+00"
            await session.execute(
                text(f"CREATE TABLE {name} (LIKE telemetry INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
            )
            await session.execute(
                text(
                    f"WITH moved AS (DELETE FROM telemetry_default WHERE at >= '{start}' AND at < '{end}' RETURNING *) "
                    f"INSERT INTO {name} SELECT * FROM moved"
                )
            )
            await session.execute(
                text(f"ALTER TABLE telemetry ATTACH PARTITION {name} FOR VALUES FROM ('{start}') TO ('{end}')")
            )
            created.append(day)
        day += timedelta(days=1)
    return created


async def drop_telemetry_before(session: AsyncSession, day: date) -> list[date]:
    """Drop whole daily partitions older than `day` (retention), and older fixes the DEFAULT partition kept; returns
    the days dropped."""
    dropped = [d for d in await telemetry_partitions(session) if d < day]
    for old in dropped:
        await session.execute(text(f"DROP TABLE IF EXISTS {partition_name(old)}"))
    await session.execute(text("DELETE FROM telemetry_default WHERE at < :day"), {"day": day})
    return dropped


async def vehicle_types(session: AsyncSession) -> Sequence[VehicleType]:
    return (await session.execute(select(VehicleType).order_by(VehicleType.code))).scalars().all()


async def providers(session: AsyncSession) -> Sequence[Provider]:
    return (await session.execute(select(Provider).order_by(Provider.code))).scalars().all()


async def vehicles(
    session: AsyncSession, *, states: Sequence[VehicleState] | None, type_code: str | None, limit: int, offset: int
) -> list[Vehicle]:
    """Vehicles by label, `limit` of them from `offset`, of any of `states` and of `type_code` when given."""
    query = select(Vehicle).order_by(Vehicle.label).limit(limit).offset(offset)
    if states:
        query = query.where(Vehicle.state.in_(states))
    if type_code:
        query = query.where(Vehicle.type_code == type_code)
    return list((await session.execute(query)).scalars())


async def vehicle(session: AsyncSession, vehicle_id: uuid.UUID) -> Vehicle:
    found = await session.get(Vehicle, vehicle_id)
    if found is None:
        raise VehicleNotFound(f"vehicle {vehicle_id} not found")
    return found


async def trips(session: AsyncSession, *, rider_id: uuid.UUID | None, limit: int, offset: int) -> list[Trip]:
    """Trips newest first, `limit` of them from `offset`; of one rider when `rider_id` is given."""
    query = select(Trip).order_by(Trip.started_at.desc(), Trip.id).limit(limit).offset(offset)
    if rider_id is not None:
        query = query.where(Trip.rider_id == rider_id)
    return list((await session.execute(query)).scalars())


async def trip_route(session: AsyncSession, trip_id: uuid.UUID) -> dict[str, Any] | None:
    """The trip's route as GeoJSON, read back from the row (a geometry set from an SQL expression is expired after
    the flush, so the attribute cannot be read)."""
    geojson = await session.scalar(select(func.ST_AsGeoJSON(Trip.route)).where(Trip.id == trip_id))
    return json.loads(geojson) if geojson else None
