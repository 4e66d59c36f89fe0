"""Every SQL query of the parking domain."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy import DateTime, Float, Integer, Select, String, bindparam, exists, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from geo.models import Zone
from geo.spatial import distance_m, latitude, longitude, within_m
from ledger.log import Receipt
from parking.models import (
    HOLDING_STATUSES,
    Booking,
    BookingStatus,
    Lot,
    MatchRequest,
    SharingException,
    SharingRule,
    Slot,
    SlotKind,
    SlotSize,
)
from parking.policy import BookingPolicy


@dataclass(frozen=True, slots=True)
class SlotView:
    id: uuid.UUID
    code: str
    kind: str
    lot_id: uuid.UUID | None
    zone_id: uuid.UUID
    zone_code: str
    owner_id: uuid.UUID
    operator_id: uuid.UUID | None
    lon: float
    lat: float
    ev_charger: bool
    accessible: bool
    size: str
    active: bool


@dataclass(frozen=True, slots=True)
class SlotMatch:
    slot: SlotView
    distance_m: float
    price_krw: int | None = None  # the quote for the searched interval, when priced


@dataclass(frozen=True, slots=True)
class SlotFilters:
    ev_charger: bool | None = None
    accessible: bool | None = None
    size: SlotSize | None = None


@dataclass(frozen=True, slots=True)
class BookingRow:
    booking: Booking
    slot_code: str
    slot_owner_id: uuid.UUID
    receipts: tuple[Receipt, ...] | None = None  # ledger receipts, on single-booking reads and changes


Instant: TypeAlias = datetime | BindParameter[datetime]  # a value, or a parameter bound at execution


def _ts(name: str, value: Instant) -> BindParameter[datetime]:
    if isinstance(value, BindParameter):
        return value
    return bindparam(name, value, type_=DateTime(timezone=True))


def _period(start: Instant, end: Instant) -> ColumnElement[Any]:
    return func.tstzrange(_ts("period_start", start), _ts("period_end", end))


def _slot_columns() -> Select[*tuple[Any, ...]]:
    return select(
        Slot.id,
        Slot.code,
        Slot.kind,
        Slot.lot_id,
        Slot.zone_id,
        Zone.code,
        Slot.owner_id,
        Slot.operator_id,
        longitude(Slot.location),
        latitude(Slot.location),
        Slot.ev_charger,
        Slot.accessible,
        Slot.size,
        Slot.active,
    ).join(Zone, Zone.id == Slot.zone_id)


def _slot_view(row: Sequence[Any]) -> SlotView:
    return SlotView(*row[:14])


def holding_overlap(slot_id: Any, start: Instant, end: Instant) -> ColumnElement[bool]:
    """A holding booking on the slot overlaps [start, end)."""
    return exists().where(
        Booking.slot_id == slot_id,
        Booking.status.in_(HOLDING_STATUSES),
        Booking.period.op("&&")(_period(start, end)),
    )


def windows_cover(
    slot_id: Any, start: Instant, end: Instant, timezone: str | BindParameter[str]
) -> ColumnElement[bool]:
    """The slot's sharing windows cover all of [start, end)."""
    windows = func.slot_windows(slot_id, _ts("period_start", start), _ts("period_end", end), timezone)
    return windows.op("@>")(_period(start, end))


async def slot_view(session: AsyncSession, slot_id: uuid.UUID) -> SlotView | None:
    row = (await session.execute(_slot_columns().where(Slot.id == slot_id))).one_or_none()
    return None if row is None else _slot_view(row)


async def list_slots(session: AsyncSession, *, owner_id: uuid.UUID | None, limit: int, offset: int) -> list[SlotView]:
    query = _slot_columns().order_by(Slot.code).limit(limit).offset(offset)
    if owner_id is not None:
        query = query.where(Slot.owner_id == owner_id)
    return [_slot_view(row) for row in await session.execute(query)]


async def lock_slot(session: AsyncSession, slot_id: uuid.UUID, *, exclusive: bool) -> Slot | None:
    """Lock the slot row for this transaction.

    Bookings take a shared lock (they do not block each other: the exclusion constraint arbitrates them);
    sharing changes take an exclusive lock, so a booking never slips in while windows change under it.
    """
    query = select(Slot).where(Slot.id == slot_id).execution_options(populate_existing=True)
    query = query.with_for_update(key_share=False) if exclusive else query.with_for_update(read=True)
    return (await session.execute(query)).scalar_one_or_none()


@functools.cache
def _free_slots_statement(ev_charger: bool, accessible: bool, size: bool) -> Select[*tuple[Any, ...]]:
    """The search statement for one combination of filters (whether each applies), built once; every value is bound
    when it runs. Building it per search cost about 3 ms of CPU, an eighth of a search (profiled under load)."""
    lon, lat = bindparam("lon", type_=Float, required=True), bindparam("lat", type_=Float, required=True)
    start = bindparam("period_start", type_=DateTime(timezone=True), required=True)
    end = bindparam("period_end", type_=DateTime(timezone=True), required=True)
    distance = distance_m(Slot.location, lon, lat).label("distance_m")
    near = (
        _slot_columns()
        .add_columns(distance)
        .where(Slot.active, within_m(Slot.location, lon, lat, bindparam("radius_m", type_=Float, required=True)))
        .order_by(distance, Slot.id)
        .offset(0)
    )
    if ev_charger:
        near = near.where(Slot.ev_charger == bindparam("ev_charger", required=True))
    if accessible:
        near = near.where(Slot.accessible == bindparam("accessible", required=True))
    if size:
        near = near.where(Slot.size == bindparam("size", type_=Slot.size.type, required=True))
    candidates = near.subquery("near")
    slot_id = candidates.c.id
    timezone = bindparam("timezone", type_=String, required=True)
    return (
        select(candidates)
        .where(windows_cover(slot_id, start, end, timezone), ~holding_overlap(slot_id, start, end))
        .order_by(candidates.c.distance_m, slot_id)
        .limit(bindparam("limit", type_=Integer, required=True))
        .offset(bindparam("offset", type_=Integer, required=True))
    )


def free_slots_query(
    *,
    lon: float,
    lat: float,
    radius_m: float,
    start: datetime,
    end: datetime,
    timezone: str,
    filters: SlotFilters,
    limit: int,
    offset: int,
) -> tuple[Select[*tuple[Any, ...]], dict[str, Any]]:
    """Active slots within `radius_m` of the point, free for all of [start, end), nearest first: the statement and
    its parameters.

    The candidates near the point are sorted first (cheap: the GiST index and a distance each) behind an
    `OFFSET 0` fence, so PostgreSQL checks the sharing windows and bookings (the costly part) only in that order and
    stops once the page is full, instead of for every slot in the radius (21 ms -> 5 ms on the demo data)."""
    chosen: dict[str, Any] = {"ev_charger": filters.ev_charger, "accessible": filters.accessible, "size": filters.size}
    statement = _free_slots_statement(*(value is not None for value in chosen.values()))
    return statement, {name: value for name, value in chosen.items() if value is not None} | {
        "lon": lon,
        "lat": lat,
        "radius_m": radius_m,
        "period_start": start,
        "period_end": end,
        "timezone": timezone,
        "limit": limit,
        "offset": offset,
    }


async def search_free_slots(session: AsyncSession, **criteria: Any) -> list[SlotMatch]:
    """Run `free_slots_query` with the same keyword arguments."""
    statement, params = free_slots_query(**criteria)
    rows = await session.execute(statement, params)
    return [SlotMatch(_slot_view(row), float(row[14])) for row in rows]


async def windows_contain(
    session: AsyncSession, slot_id: uuid.UUID, start: datetime, end: datetime, timezone: str
) -> bool:
    return bool(await session.scalar(select(windows_cover(slot_id, start, end, timezone))))


async def has_holding_overlap(session: AsyncSession, slot_id: uuid.UUID, start: datetime, end: datetime) -> bool:
    return bool(await session.scalar(select(holding_overlap(slot_id, start, end))))


async def free_periods(
    session: AsyncSession, slot_id: uuid.UUID, start: datetime, end: datetime, timezone: str
) -> list[tuple[datetime, datetime]]:
    """Maximal periods inside [start, end) that are in the sharing windows and not held by a booking."""
    booked = (
        select(func.coalesce(func.range_agg(Booking.period), func.tstzmultirange()))
        .where(
            Booking.slot_id == slot_id,
            Booking.status.in_(HOLDING_STATUSES),
            Booking.period.op("&&")(_period(start, end)),
        )
        .scalar_subquery()
    )
    windows = func.slot_windows(slot_id, _ts("period_start", start), _ts("period_end", end), timezone)
    free = windows.op("*")(func.tstzmultirange(_period(start, end))).op("-")(booked)
    part = func.unnest(free).table_valued("value").render_derived()
    rows = await session.execute(select(func.lower(part.c.value), func.upper(part.c.value)))
    return [(row[0], row[1]) for row in rows]


async def sharing_rules(session: AsyncSession, slot_id: uuid.UUID) -> list[SharingRule]:
    query = select(SharingRule).where(SharingRule.slot_id == slot_id).order_by(SharingRule.start_minute)
    return list((await session.execute(query)).scalars())


async def sharing_exceptions(
    session: AsyncSession, slot_id: uuid.UUID, *, ending_after: datetime
) -> list[SharingException]:
    query = (
        select(SharingException)
        .where(SharingException.slot_id == slot_id, func.upper(SharingException.period) > ending_after)
        .order_by(func.lower(SharingException.period))
    )
    return list((await session.execute(query)).scalars())


async def delete_sharing_rules(session: AsyncSession, slot_id: uuid.UUID) -> None:
    for rule in await sharing_rules(session, slot_id):
        await session.delete(rule)
    await session.flush()


async def bookings_outside_windows(
    session: AsyncSession, slot_id: uuid.UUID, *, now: datetime, timezone: str
) -> list[Booking]:
    """Holding bookings of the slot, not yet over, that the current sharing windows no longer cover."""
    lower, upper = func.lower(Booking.period), func.upper(Booking.period)
    windows = func.slot_windows(slot_id, lower, upper, timezone)
    query = (
        select(Booking)
        .where(
            Booking.slot_id == slot_id,
            Booking.status.in_(HOLDING_STATUSES),
            upper > _ts("now", now),
            ~windows.op("@>")(Booking.period),
        )
        .order_by(lower)
    )
    return list((await session.execute(query)).scalars())


async def advance_bookings(
    session: AsyncSession,
    *,
    now: datetime,
    policy: BookingPolicy,
    booking_id: uuid.UUID | None = None,
    slot_id: uuid.UUID | None = None,
) -> list[Booking]:
    """Move bookings along with the clock: a reservation not checked in by start + grace becomes no_show
    (freeing the slot); an active booking still parked at end + grace becomes overstayed.

    Rows another transaction is already changing are skipped (SKIP LOCKED), so concurrent callers never wait on
    or deadlock with each other. Returns the bookings moved.
    """
    moved: list[Booking] = []
    transitions = (
        (BookingStatus.RESERVED, BookingStatus.NO_SHOW, func.lower(Booking.period), policy.no_show_grace),
        (BookingStatus.ACTIVE, BookingStatus.OVERSTAYED, func.upper(Booking.period), policy.overstay_grace),
    )
    for current, target, edge, grace in transitions:
        due = select(Booking.id).where(Booking.status == current, edge <= _ts("due_before", now - grace))
        if booking_id is not None:
            due = due.where(Booking.id == booking_id)
        if slot_id is not None:
            due = due.where(Booking.slot_id == slot_id)
        due_ids = due.with_for_update(skip_locked=True).scalar_subquery()
        result = await session.execute(
            update(Booking)
            .where(Booking.id.in_(due_ids))
            .values(status=target, status_changed_at=_ts("now", now))
            .returning(Booking)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        moved += list(result.scalars())
    return moved


def _booking_rows(query: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    return query.join(Slot, Slot.id == Booking.slot_id).add_columns(Slot.code, Slot.owner_id)


async def booking_row(session: AsyncSession, booking_id: uuid.UUID, *, lock: bool = False) -> BookingRow | None:
    query = _booking_rows(select(Booking)).where(Booking.id == booking_id)
    query = query.execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update(of=Booking)
    row = (await session.execute(query)).one_or_none()
    return None if row is None else BookingRow(row[0], row[1], row[2])


async def list_bookings(
    session: AsyncSession,
    *,
    driver_id: uuid.UUID | None,
    slot_owner_id: uuid.UUID | None,
    slot_id: uuid.UUID | None,
    statuses: Sequence[BookingStatus],
    overlapping: tuple[datetime, datetime] | None,
    limit: int,
    offset: int,
) -> list[BookingRow]:
    query = _booking_rows(select(Booking)).execution_options(populate_existing=True)
    if driver_id is not None:
        query = query.where(Booking.driver_id == driver_id)
    if slot_owner_id is not None:
        query = query.where(Slot.owner_id == slot_owner_id)
    if slot_id is not None:
        query = query.where(Booking.slot_id == slot_id)
    if statuses:
        query = query.where(Booking.status.in_(statuses))
    if overlapping is not None:
        query = query.where(Booking.period.op("&&")(_period(*overlapping)))
    query = query.order_by(func.lower(Booking.period).desc(), Booking.id).limit(limit).offset(offset)
    return [BookingRow(row[0], row[1], row[2]) for row in await session.execute(query)]


async def lot(session: AsyncSession, lot_id: uuid.UUID) -> Lot | None:
    return await session.get(Lot, lot_id)


async def list_lots(session: AsyncSession, *, limit: int, offset: int) -> list[tuple[Lot, float, float, int]]:
    slot_count = select(func.count()).select_from(Slot).where(Slot.lot_id == Lot.id).correlate(Lot).scalar_subquery()
    query = (
        select(Lot, longitude(Lot.location), latitude(Lot.location), slot_count)
        .order_by(Lot.name, Lot.id)
        .limit(limit)
        .offset(offset)
    )
    return [(row[0], row[1], row[2], row[3]) for row in await session.execute(query)]


def half_open(start: datetime, end: datetime) -> Range[datetime]:
    """[start, end): the periods of bookings, sharing exceptions and match requests."""
    return Range(start, end, bounds="[)")


async def slots_near(
    session: AsyncSession, points: Sequence[tuple[float, float, float]], *, limit: int | None = None
) -> list[tuple[SlotView, float]]:
    """Active slots within radius of any (lon, lat, radius_m) point, with the distance to the first point; nearest
    to it first. Uses the spatial index."""
    if not points:
        return []
    lon, lat, _ = points[0]
    near_any = or_(*(within_m(Slot.location, x, y, radius) for x, y, radius in points))
    distance = distance_m(Slot.location, lon, lat)
    query = _slot_columns().add_columns(distance).where(Slot.active, near_any).order_by(distance, Slot.id)
    if limit is not None:
        query = query.limit(limit)
    return [(_slot_view(row), float(row[14])) for row in await session.execute(query)]


_FREE_PERIODS_MANY = text(
    """
    SELECT s.id, lower(p) AS free_from, upper(p) AS free_to
    FROM unnest(CAST(:ids AS uuid[])) AS s(id),
    LATERAL unnest(
        slot_windows(s.id, :start, :end, :tz) * tstzmultirange(tstzrange(:start, :end))
        - coalesce((SELECT range_agg(b.period) FROM bookings b
                    WHERE b.slot_id = s.id AND b.status IN ('reserved', 'active', 'overstayed')
                      AND b.period && tstzrange(:start, :end)), '{}'::tstzmultirange)
    ) AS p
    ORDER BY s.id, lower(p)
    """
).bindparams(bindparam("start", type_=DateTime(timezone=True)), bindparam("end", type_=DateTime(timezone=True)))


async def free_periods_many(
    session: AsyncSession, slot_ids: Sequence[uuid.UUID], start: datetime, end: datetime, timezone: str
) -> dict[uuid.UUID, list[tuple[datetime, datetime]]]:
    """Free periods within [start, end) of many slots at once: sharing windows minus holding bookings."""
    found: dict[uuid.UUID, list[tuple[datetime, datetime]]] = {slot_id: [] for slot_id in slot_ids}
    if slot_ids:
        rows = await session.execute(
            _FREE_PERIODS_MANY, {"ids": list(slot_ids), "start": start, "end": end, "tz": timezone}
        )
        for slot_id, free_from, free_to in rows:
            found[slot_id].append((free_from, free_to))
    return found


async def permit_holders(session: AsyncSession, account_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Accounts holding a resident-priority permit (they own a resident_priority slot)."""
    rows = await session.execute(
        select(Slot.owner_id).where(Slot.owner_id.in_(account_ids), Slot.kind == SlotKind.RESIDENT_PRIORITY).distinct()
    )
    return set(rows.scalars())


async def match_destination(session: AsyncSession, request_id: uuid.UUID) -> tuple[float, float]:
    """A queued match request's destination as (lon, lat)."""
    where = select(longitude(MatchRequest.destination), latitude(MatchRequest.destination))
    lon, lat = (await session.execute(where.where(MatchRequest.id == request_id))).one()
    return float(lon), float(lat)
