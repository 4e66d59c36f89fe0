"""Open data: GBFS v3.0 feeds (public) and MDS 2.0 Provider API payloads (for the city). Built from the same rows.

No rider identity appears anywhere: GBFS vehicles carry a public id that rotates after every trip, MDS carries
device and trip ids only.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import Tariff
from billing.pricing import day_type
from geo.spatial import latitude, longitude
from mobility.models import (
    Geofence,
    GeofenceKind,
    TelemetryPoint,
    Trip,
    TripStatus,
    Vehicle,
    VehicleEvent,
    VehicleType,
)
from mobility.repository import effective
from mobility.states import VehicleState

GBFS_VERSION = "3.0"
SYSTEM_ID = "maeul-sangsalmi"
FEEDS = (
    "system_information",
    "vehicle_types",
    "vehicle_status",
    "geofencing_zones",
    "system_pricing_plans",
)
CACHE = "maeul:gbfs:"
# Vehicles in the public right of way that GBFS publishes (not on a trip, not removed, not lost).
PUBLISHED = (VehicleState.AVAILABLE, VehicleState.RESERVED, VehicleState.NON_OPERATIONAL)


def _text(en: str, ko: str | None = None) -> list[dict[str, str]]:
    texts = [{"text": en, "language": "en"}]
    if ko:
        texts.append({"text": ko, "language": "ko"})
    return texts


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def envelope(data: dict[str, Any], *, now: datetime, ttl: int) -> dict[str, Any]:
    return {"last_updated": _rfc3339(now), "ttl": ttl, "version": GBFS_VERSION, "data": data}


async def system_information(session: AsyncSession, *, now: datetime, timezone: str) -> dict[str, Any]:
    return {
        "system_id": SYSTEM_ID,
        "languages": ["en", "ko"],
        "name": _text("maeul shared mobility, Sangsalmi village", "상살미마을 공유 모빌리티"),
        "operator": _text("Sangsalmi People's Centre (village enterprise)", "상살미 사람들 (마을기업)"),
        "opening_hours": "24/7",
        "feed_contact_email": "open-data@maeul.example",
        "timezone": timezone,
    }


def _plan_id(type_code: str) -> str:
    return f"ride-{type_code}"


async def vehicle_types(session: AsyncSession, *, now: datetime, timezone: str) -> dict[str, Any]:
    rows = (await session.execute(select(VehicleType).order_by(VehicleType.code))).scalars()
    return {
        "vehicle_types": [
            {
                "vehicle_type_id": t.code,
                "form_factor": t.form_factor,
                "propulsion_type": t.propulsion,
                "max_range_meters": t.max_range_m,
                "max_permitted_speed": t.max_speed_kmh,
                "name": _text(t.name),
                "default_pricing_plan_id": _plan_id(t.code),
                "pricing_plan_ids": [_plan_id(t.code)],
            }
            for t in rows
        ]
    }


async def vehicle_status(session: AsyncSession, *, now: datetime, timezone: str) -> dict[str, Any]:
    rows = await session.execute(
        select(
            Vehicle.public_id,
            Vehicle.type_code,
            Vehicle.state,
            Vehicle.battery_pct,
            Vehicle.last_fix_at,
            Vehicle.created_at,
            longitude(Vehicle.location),
            latitude(Vehicle.location),
            VehicleType.max_range_m,
        )
        .join(VehicleType, VehicleType.code == Vehicle.type_code)
        .where(Vehicle.state.in_(PUBLISHED), Vehicle.location.is_not(None))
        .order_by(Vehicle.public_id)
    )
    return {
        "vehicles": [
            {
                "vehicle_id": str(public_id),
                "lat": round(float(lat), 6),
                "lon": round(float(lon), 6),
                "is_reserved": state == VehicleState.RESERVED,
                "is_disabled": state == VehicleState.NON_OPERATIONAL,
                "vehicle_type_id": type_code,
                "last_reported": _rfc3339(last_fix or created),
                "current_range_meters": max_range * battery // 100,
                "current_fuel_percent": round(battery / 100, 2),
                "pricing_plan_id": _plan_id(type_code),
            }
            for public_id, type_code, state, battery, last_fix, created, lon, lat, max_range in rows
        ]
    }


async def geofencing_zones(session: AsyncSession, *, now: datetime, timezone: str) -> dict[str, Any]:
    codes = list((await session.execute(select(VehicleType.code).order_by(VehicleType.code))).scalars())
    rows = await session.execute(
        select(
            Geofence.name,
            Geofence.kind,
            Geofence.vehicle_types,
            Geofence.max_speed_kmh,
            func.ST_AsGeoJSON(Geofence.area, 6),
            Geofence.effective_from,
            Geofence.effective_to,
        )
        .where(Geofence.kind != GeofenceKind.SERVICE_AREA, effective(now))
        .order_by(Geofence.kind, Geofence.name)
    )
    features = []
    for name, kind, types, max_speed, geometry, start, end in rows:
        rule: dict[str, Any] = {
            "vehicle_type_ids": list(types) or codes,
            "ride_start_allowed": kind not in (GeofenceKind.NO_RIDING, GeofenceKind.NO_PARKING),
            "ride_end_allowed": kind not in (GeofenceKind.NO_RIDING, GeofenceKind.NO_PARKING),
            "ride_through_allowed": kind != GeofenceKind.NO_RIDING,
        }
        if max_speed is not None:
            rule["maximum_speed_kph"] = max_speed
        properties: dict[str, Any] = {"name": _text(name), "start": _rfc3339(start), "rules": [rule]}
        if end is not None:
            properties["end"] = _rfc3339(end)
        features.append({"type": "Feature", "geometry": json.loads(geometry), "properties": properties})
    parking_needed = list(
        (await session.execute(select(VehicleType.code).where(VehicleType.requires_parking_area))).scalars()
    )
    global_rules = [
        {
            "vehicle_type_ids": codes,
            "ride_start_allowed": True,
            "ride_end_allowed": not parking_needed,
            "ride_through_allowed": True,
        }
    ]
    return {"geofencing_zones": {"type": "FeatureCollection", "features": features}, "global_rules": global_rules}


async def system_pricing_plans(session: AsyncSession, *, now: datetime, timezone: str) -> dict[str, Any]:
    """One plan per vehicle type: the unlock fee and the per-minute price of the band in force now in the zone with
    the most vehicles of the type (prices differ by zone and band; the app's quote is exact)."""
    local = now.astimezone(ZoneInfo(timezone))
    minute = local.hour * 60 + local.minute
    kind = day_type(local.date(), ())
    plans = []
    for vehicle_type in (await session.execute(select(VehicleType).order_by(VehicleType.code))).scalars():
        rate = await session.scalar(
            select(Tariff.unit_price_krw * 60 / Tariff.unit_minutes)
            .where(
                Tariff.slot_kind == vehicle_type.code,
                Tariff.day_type == kind,
                Tariff.start_minute <= minute,
                Tariff.end_minute > minute,
            )
            .order_by(Tariff.unit_price_krw)
            .limit(1)
        )
        if rate is None:
            continue
        per_minute = float(rate) / 60
        plans.append(
            {
                "plan_id": _plan_id(vehicle_type.code),
                "name": _text(f"{vehicle_type.name}: pay as you ride"),
                "currency": "KRW",
                "price": float(vehicle_type.unlock_fee_krw),
                "is_taxable": False,
                "description": _text(
                    f"{vehicle_type.unlock_fee_krw} KRW to unlock, then {per_minute:g} KRW a minute "
                    "(prices vary by zone and time of day; capped by the city)"
                ),
                "per_min_pricing": [{"start": 0, "rate": per_minute, "interval": 1}],
            }
        )
    return {"plans": plans}


BUILDERS = {
    "system_information": system_information,
    "vehicle_types": vehicle_types,
    "vehicle_status": vehicle_status,
    "geofencing_zones": geofencing_zones,
    "system_pricing_plans": system_pricing_plans,
}


def discovery(base_url: str, *, now: datetime, ttl: int) -> dict[str, Any]:
    feeds = [{"name": "gbfs", "url": f"{base_url}/gbfs/gbfs.json"}]
    feeds += [{"name": name, "url": f"{base_url}/gbfs/{name}.json"} for name in FEEDS]
    return envelope({"feeds": feeds}, now=now, ttl=ttl)


async def _store(redis: Redis, name: str, document: dict[str, Any], *, now: datetime) -> str:
    """Keep the feed's text and, beside it, when it was built (read without parsing the feed)."""
    text = json.dumps(document, separators=(",", ":"))
    await redis.set(CACHE + name, f"{now.timestamp()}\n{text}", ex=120)
    return text


async def refresh(session: AsyncSession, redis: Redis, *, now: datetime, ttl: int, timezone: str) -> None:
    """Rebuild every feed and store it in Redis (the worker does this every few seconds)."""
    for name, build in BUILDERS.items():
        await _store(redis, name, envelope(await build(session, now=now, timezone=timezone), now=now, ttl=ttl), now=now)


async def feed(
    session: AsyncSession, redis: Redis, name: str, *, now: datetime, ttl: int, timezone: str, max_age_s: int = 60
) -> str:
    """A feed's JSON text from the cache, rebuilt here if the worker has not refreshed it within `max_age_s`."""
    cached = await redis.get(CACHE + name)
    if cached is not None:
        built, text = cached.split("\n", 1)
        age = now.timestamp() - float(built)
        if -1 <= age <= max_age_s:
            return str(text)
    document = envelope(await BUILDERS[name](session, now=now, timezone=timezone), now=now, ttl=ttl)
    return await _store(redis, name, document, now=now)


# ------------------------------------------------------------------ MDS 2.0 Provider API

MDS_VERSION = "2.0.0"


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _gps(lon: float | None, lat: float | None) -> dict[str, float] | None:
    return None if lon is None or lat is None else {"lat": round(lat, 7), "lng": round(lon, 7)}


async def mds_vehicles(
    session: AsyncSession, *, limit: int, offset: int, device_id: uuid.UUID | None = None
) -> list[dict[str, Any]]:
    """Vehicles as MDS; `device_id`: that one only."""
    query = select(Vehicle, VehicleType).join(VehicleType, VehicleType.code == Vehicle.type_code)
    if device_id is not None:
        query = query.where(Vehicle.id == device_id)
    rows = await session.execute(query.order_by(Vehicle.id).limit(limit).offset(offset))
    return [
        {
            "device_id": str(v.id),
            "provider_id": str(v.provider_id),
            "vehicle_id": v.label,
            "vehicle_type": t.form_factor,  # MDS and GBFS share these names
            "propulsion_types": ["electric" if t.propulsion == "electric" else "electric_assist"],
            "maximum_speed": t.max_speed_kmh,
        }
        for v, t in rows
    ]


def mds_event(event: VehicleEvent, provider_id: uuid.UUID) -> dict[str, Any]:
    document: dict[str, Any] = {
        "device_id": str(event.vehicle_id),
        "provider_id": str(provider_id),
        "event_id": str(event.id),
        "vehicle_state": event.state,
        "event_types": list(event.event_types),
        "timestamp": ms(event.at),
        "publication_time": ms(event.recorded_at),
    }
    location = _gps(event.lon, event.lat)
    if location is not None:
        document["location"] = location
    if event.battery_pct is not None:
        document["battery_percent"] = event.battery_pct
    if event.trip_id is not None:
        document["trip_ids"] = [str(event.trip_id)]
    return document


async def mds_events(
    session: AsyncSession, *, start: datetime, end: datetime, limit: int, offset: int
) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(VehicleEvent, Vehicle.provider_id)
        .join(Vehicle, Vehicle.id == VehicleEvent.vehicle_id)
        .where(VehicleEvent.at >= start, VehicleEvent.at < end, VehicleEvent.lon.is_not(None))
        .order_by(VehicleEvent.at, VehicleEvent.seq)
        .limit(limit)
        .offset(offset)
    )
    return [mds_event(event, provider_id) for event, provider_id in rows]


async def mds_status(
    session: AsyncSession, *, limit: int, offset: int, device_id: uuid.UUID | None = None
) -> list[dict[str, Any]]:
    """Each vehicle's last event (and last telemetry position), as MDS vehicle status; `device_id`: that one only."""
    located = select(VehicleEvent.vehicle_id, func.max(VehicleEvent.seq).label("seq")).where(
        VehicleEvent.lon.is_not(None)
    )
    if device_id is not None:
        located = located.where(VehicleEvent.vehicle_id == device_id)
    last = located.group_by(VehicleEvent.vehicle_id).subquery()
    rows = await session.execute(
        select(VehicleEvent, Vehicle.provider_id)
        .join(last, last.c.seq == VehicleEvent.seq)
        .join(Vehicle, Vehicle.id == VehicleEvent.vehicle_id)
        .order_by(VehicleEvent.vehicle_id)
        .limit(limit)
        .offset(offset)
    )
    out = []
    for event, provider_id in rows:
        last_event = mds_event(event, provider_id)
        telemetry = {
            "device_id": last_event["device_id"],
            "provider_id": last_event["provider_id"],
            "telemetry_id": str(uuid.uuid5(event.id, "telemetry")),
            "timestamp": last_event["timestamp"],
            "location": last_event["location"],
            "trip_ids": last_event.get("trip_ids"),
            "journey_id": None,
        }
        out.append(
            {
                "device_id": last_event["device_id"],
                "provider_id": last_event["provider_id"],
                "last_event": last_event,
                "last_telemetry": telemetry,
            }
        )
    return out


async def mds_trips(
    session: AsyncSession, *, start: datetime, end: datetime, limit: int, offset: int
) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Trip)
        .where(Trip.status == TripStatus.COMPLETED, Trip.ended_at >= start, Trip.ended_at < end)
        .order_by(Trip.ended_at, Trip.id)
        .limit(limit)
        .offset(offset)
    )
    trips = []
    for trip in rows.scalars():
        assert trip.ended_at is not None and trip.end_lon is not None and trip.end_lat is not None
        trips.append(
            {
                "provider_id": str(trip.provider_id),
                "device_id": str(trip.vehicle_id),
                "trip_id": str(trip.id),
                "start_time": ms(trip.started_at),
                "end_time": ms(trip.ended_at),
                "start_location": _gps(trip.start_lon, trip.start_lat),
                "end_location": _gps(trip.end_lon, trip.end_lat),
                "duration": int((trip.ended_at - trip.started_at).total_seconds()),
                "distance": trip.distance_m or 0,
                "fare_attributes": {"payment_type": "account", "price": trip.fare_krw or 0, "currency": "KRW"},
            }
        )
    return trips


async def mds_telemetry(
    session: AsyncSession, *, start: datetime, end: datetime, limit: int, offset: int
) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(TelemetryPoint, Vehicle.provider_id)
        .join(Vehicle, Vehicle.id == TelemetryPoint.vehicle_id)
        .where(TelemetryPoint.at >= start, TelemetryPoint.at < end)
        .order_by(TelemetryPoint.at, TelemetryPoint.vehicle_id)
        .limit(limit)
        .offset(offset)
    )
    out = []
    for point, provider_id in rows:
        item: dict[str, Any] = {
            "device_id": str(point.vehicle_id),
            "provider_id": str(provider_id),
            "telemetry_id": str(uuid.uuid5(point.vehicle_id, point.at.isoformat())),
            "timestamp": ms(point.at),
            "location": _gps(point.lon, point.lat),
            "trip_ids": [str(point.trip_id)] if point.trip_id is not None else None,
            "journey_id": None,
        }
        if point.battery_pct is not None:
            item["battery_percent"] = point.battery_pct
        out.append(item)
    return out


REPORT_COLUMNS = (
    "provider_id",
    "start_date",
    "duration",
    "special_group_type",
    "geography_id",
    "vehicle_type",
    "trip_count",
    "rider_count",
)


async def mds_report(session: AsyncSession, *, month_start: datetime, month_end: datetime, min_cell: int) -> str:
    """The MDS monthly report (CSV): completed trips and distinct riders per provider, zone (as the geography) and
    vehicle type, for all riders; counts below `min_cell` are suppressed as -1 (riders are never identified)."""
    rows = await session.execute(
        select(
            Trip.provider_id,
            Trip.zone_id,
            VehicleType.form_factor,
            func.count(Trip.id),
            func.count(func.distinct(Trip.rider_id)),
        )
        .join(VehicleType, VehicleType.code == Trip.type_code)
        .where(Trip.status == TripStatus.COMPLETED, Trip.ended_at >= month_start, Trip.ended_at < month_end)
        .group_by(Trip.provider_id, Trip.zone_id, VehicleType.form_factor)
        .order_by(Trip.provider_id, Trip.zone_id, VehicleType.form_factor)
    )
    lines = [",".join(REPORT_COLUMNS)]
    for provider_id, zone_id, vehicle_type, trips, riders in rows:
        shown = [count if count >= min_cell else -1 for count in (trips, riders)]
        lines.append(
            f"{provider_id},{month_start.date().isoformat()},P1M,all_riders,{zone_id},{vehicle_type},{shown[0]},{shown[1]}"
        )
    return "\n".join(lines) + "\n"
