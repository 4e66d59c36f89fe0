"""The three scenarios of `sim/assumptions.toml`, played over a seeded week (`sim/sangsalmi.py`).

- `before`: no sharing and no app. Resident cars without a space of their own, and visitors, cruise to the public
  lots (the only legal spaces open to them) and take the nearest free one within their walk; the public lots' gates
  were not maeul's then, so this market is kept in memory (`GateMarket`).
- `pilot`: the 280 shared slots (resident-priority slots only where their holder shares: `permit_holders_sharing`),
  booked through maeul's services. App users search and book the nearest free slot, first come first served; the
  others cruise to the public lots, whose gates book them in (`public_lot_walk_in`). Static prices.
- `maeul`: the pilot plus OR-Tools matching (visitors matched at once; residents ask in the afternoon for the night
  and are matched in one batch), dynamic prices (the worker's repricing, every hour) and park-and-ride: a visitor the
  app cannot serve within their walk is offered a slot up to `max_slot_walk_m` away with a scooter for the last leg.

A need without a legal space becomes illegal parking (residents: `must_park_near_home`; visitors:
`park_illegally_if_unserved`, else they leave). `play` runs the needs in time order on the injected clock and counts
what the cameras see: each vehicle entering, and each illegally parked vehicle once on every day it stands; the
runner (`sim/runner.py`) posts those through the cameras' ingestion and reads the KPIs back from the rows.
"""

from __future__ import annotations

import heapq
import itertools
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.models import Role
from billing.dynamic import reprice
from billing.errors import PriceUnavailable
from parking import allocation
from parking import service as parking
from parking.errors import NoSlotAvailable, SlotUnavailable
from parking.models import SlotSize
from parking.policy import BookingPolicy
from parking.repository import SlotFilters
from sim.sangsalmi import SEOUL, Need, Week

SCENARIOS = ("before", "pilot", "maeul")
EARTH_M_PER_DEG = 111_320.0
BATCH_HOUR = 15  # maeul: residents ask for tonight's space in the afternoon; one batch run at 15:00 (Seoul)
ADMIN = Actor(uuid.UUID(int=0), Role.ADMIN)  # the simulator reading back what it booked


class Outcome(StrEnum):
    SERVED = "served"  # a legal space within the walk tolerance (or by park-and-ride)
    UNSERVED = "unserved"  # no legal space: parks illegally or leaves (`Need.parks_illegally`)


@dataclass(slots=True)
class Parked:
    need: Need
    outcome: Outcome
    walk_m: float | None = None
    park_and_ride: bool = False
    booking_id: uuid.UUID | None = None
    driver: Actor | None = None
    until: datetime | None = None  # the booking's end: a stay longer than one booking books again then


def walk_m(lon: float, lat: float, to_lon: float, to_lat: float, detour: float) -> float:
    """Estimated walk, as maeul's search estimates it: the straight line (equirectangular: exact enough within a
    village) times the detour factor."""
    east = (to_lon - lon) * EARTH_M_PER_DEG * math.cos(math.radians(lat))
    north = (to_lat - lat) * EARTH_M_PER_DEG
    return math.hypot(east, north) * detour


class Market(Protocol):
    """Where a scenario's drivers find space: `park` at `start` (a stay, or the rest of one), `leave` at its end,
    `hour` on the hour (jobs), `settle` after every step (a request's commit)."""

    async def park(self, need: Need, *, start: datetime, now: datetime) -> Parked: ...

    async def leave(self, parked: Parked, *, now: datetime) -> None: ...

    async def hour(self, now: datetime, upcoming: list[Need]) -> None: ...

    async def settle(self) -> None: ...


@dataclass(slots=True)
class Occupancy:
    """What the simulator itself booked or took, per space: enough to pick a free public-lot space at a gate (the
    simulator is the only driver in its village)."""

    taken: dict[object, list[tuple[datetime, datetime]]] = field(default_factory=dict)

    def free(self, space: object, start: datetime, end: datetime) -> bool:
        return all(e <= start or s >= end for s, e in self.taken.get(space, ()))

    def take(self, space: object, start: datetime, end: datetime) -> None:
        self.taken.setdefault(space, []).append((start, end))


def _nearest(need: Need, spaces: list[tuple[object, float, float]], detour: float) -> list[tuple[float, object]]:
    """Spaces within the need's walk, nearest first."""
    walks = sorted((walk_m(need.lon, need.lat, lon, lat, detour), space) for space, lon, lat in spaces)
    return [(walk, space) for walk, space in walks if walk <= need.walk_m]


@dataclass(slots=True)
class GateMarket:
    """`before`: the public lots by cruising, nearest free space first; no app and no maeul."""

    spaces: list[tuple[object, float, float]]  # the public lots' spaces (any id, lon, lat)
    detour: float
    occupancy: Occupancy = field(default_factory=Occupancy)

    async def park(self, need: Need, *, start: datetime, now: datetime) -> Parked:
        for walk, space in _nearest(need, self.spaces, self.detour):
            if self.occupancy.free(space, start, need.end):
                self.occupancy.take(space, start, need.end)
                return Parked(need, Outcome.SERVED, walk_m=walk)
        return Parked(need, Outcome.UNSERVED)

    async def leave(self, parked: Parked, *, now: datetime) -> None:
        return None

    async def hour(self, now: datetime, upcoming: list[Need]) -> None:
        return None

    async def settle(self) -> None:
        return None


@dataclass(slots=True)
class ServiceMarket:
    """`pilot` and `maeul`: every booking through maeul's services, on the injected clock; one commit per step."""

    session: AsyncSession
    policy: BookingPolicy
    detour: float
    smart: bool  # maeul: matching, dynamic prices, park-and-ride
    max_slot_walk_m: float  # park-and-ride's reach
    gate: Actor  # the village enterprise: the public lots' gates book walk-ins on the driver's behalf
    spaces: list[tuple[object, float, float]]  # the public lots' spaces (slot id, lon, lat), for walk-ins
    driver_of: Callable[[Need], Awaitable[Actor]]
    occupancy: Occupancy = field(default_factory=Occupancy)
    matched: dict[int, uuid.UUID] = field(default_factory=dict)  # need id -> booking matched in a batch
    asked: set[int] = field(default_factory=set)

    async def park(self, need: Need, *, start: datetime, now: datetime) -> Parked:
        driver = await self.driver_of(need)
        end = min(need.end, start + self.policy.max_duration)
        parked: Parked | None
        if need.id in self.matched and start == need.start:
            parked = await self._arrive(need, driver, self.matched.pop(need.id), now)
        elif need.uses_app:
            parked = await (
                self._matched(need, driver, start, end, now)
                if self.smart
                else self._searched(need, driver, start, end, now)
            )
        else:
            parked = await self._walk_in(need, driver, start, end, now)
        return parked or Parked(need, Outcome.UNSERVED, driver=driver)

    async def _searched(
        self, need: Need, driver: Actor, start: datetime, end: datetime, now: datetime
    ) -> Parked | None:
        """pilot: the app's search, and the first (nearest) slot booked."""
        found = await parking.search(
            self.session,
            lon=need.lon,
            lat=need.lat,
            start=start,
            end=end,
            max_walk_m=need.walk_m,
            walk_detour_factor=self.detour,
            filters=SlotFilters(),
            limit=1,
            offset=0,
            policy=self.policy,
            now=now,
        )
        if not found:
            return None
        try:
            async with self.session.begin_nested():
                row = await parking.create_booking(
                    self.session,
                    driver=driver,
                    slot_id=found[0].slot.id,
                    start=start,
                    end=end,
                    vehicle_plate=need.plate,
                    policy=self.policy,
                    now=now,
                )
        except PriceUnavailable:  # the operator left this hour unpriced there: not served
            return None
        return await self._arrive(need, driver, row.booking.id, now)

    async def _matched(self, need: Need, driver: Actor, start: datetime, end: datetime, now: datetime) -> Parked | None:
        """maeul: instant matching within the walk, else (visitors) park-and-ride's farther slot."""
        parked = await self._instant(need, driver, start, end, need.walk_m, now)
        if parked is None and not need.resident and need.takes_park_and_ride:
            parked = await self._instant(need, driver, start, end, self.max_slot_walk_m, now)
            if parked is not None:
                parked.park_and_ride = True
        return parked

    async def _instant(
        self, need: Need, driver: Actor, start: datetime, end: datetime, reach: float, now: datetime
    ) -> Parked | None:
        try:
            instant = await allocation.book_instant(
                self.session,
                driver=driver,
                need=self._need(need, start, end, reach),
                policy=self.policy,
                solving=allocation.Solving(pool=None, time_limit_s=1.0, detour_factor=self.detour),
                now=now,
            )
        except NoSlotAvailable:
            return None
        return await self._arrive(need, driver, instant.booking.booking.id, now)

    def _need(self, need: Need, start: datetime, end: datetime, reach: float) -> allocation.Need:
        return allocation.Need(
            lon=need.lon,
            lat=need.lat,
            start=start,
            end=end,
            max_walk_m=int(reach),
            needs_ev=False,
            needs_accessible=False,
            vehicle_size=SlotSize.REGULAR,
            vehicle_plate=need.plate,
        )

    async def _walk_in(self, need: Need, driver: Actor, start: datetime, end: datetime, now: datetime) -> Parked | None:
        """A driver without the app at a public lot's gate: the nearest free space within the walk."""
        for _, space in _nearest(need, self.spaces, self.detour):
            if self.occupancy.free(space, start, end):
                assert isinstance(space, uuid.UUID)
                try:
                    async with self.session.begin_nested():
                        row = await parking.create_booking(
                            self.session,
                            driver=driver,
                            slot_id=space,
                            start=start,
                            end=end,
                            vehicle_plate=need.plate,
                            policy=self.policy,
                            now=now,
                            assisted_by=self.gate.id,
                        )
                except SlotUnavailable:  # booked ahead by an app user this gate cannot see: the next space
                    continue
                except PriceUnavailable:  # the operator left this hour unpriced here: the next space
                    continue
                return await self._arrive(need, driver, row.booking.id, now)
        return None

    async def _arrive(self, need: Need, driver: Actor, booking_id: uuid.UUID, now: datetime) -> Parked:
        """Check in at once; the walk is from the slot to where the driver is going."""
        row = await parking.check_in(self.session, actor=driver, booking_id=booking_id, policy=self.policy, now=now)
        view = await parking.get_slot(self.session, row.booking.slot_id)
        start, end = row.booking.period.lower, row.booking.period.upper
        assert start is not None and end is not None
        self.occupancy.take(row.booking.slot_id, start, end)
        walk = walk_m(need.lon, need.lat, view.lon, view.lat, self.detour)
        return Parked(need, Outcome.SERVED, walk_m=walk, booking_id=booking_id, driver=driver, until=end)

    async def leave(self, parked: Parked, *, now: datetime) -> None:
        assert parked.booking_id is not None and parked.driver is not None
        await parking.check_out(
            self.session, actor=parked.driver, booking_id=parked.booking_id, policy=self.policy, now=now
        )

    async def hour(self, now: datetime, upcoming: list[Need]) -> None:
        """maeul: prices follow occupancy every hour; at `BATCH_HOUR` the app's residents ask for the space of their
        stays starting within a day, and one batch matches them together."""
        if not self.smart:
            return
        await reprice(self.session, now=now, timezone=self.policy.timezone)
        if now.astimezone(SEOUL).hour != BATCH_HOUR:
            return
        asking: dict[uuid.UUID, Need] = {}
        for need in upcoming:
            if need.start >= now + timedelta(days=1):
                break
            if need.resident and need.uses_app and need.id not in self.asked:
                self.asked.add(need.id)
                end = min(need.end, need.start + self.policy.max_duration)
                request = await allocation.request_later(
                    self.session,
                    driver=await self.driver_of(need),
                    need=self._need(need, need.start, end, need.walk_m),
                    policy=self.policy,
                    now=now,
                )
                asking[request.id] = need
        if not asking:
            return
        await allocation.run_batch(
            self.session,
            policy=self.policy,
            solving=allocation.Solving(pool=None, time_limit_s=5.0, detour_factor=self.detour),
            now=now,
        )
        for request_id, need in asking.items():
            match = await allocation.get_request(self.session, actor=ADMIN, request_id=request_id)
            if match.booking_id is not None:
                self.matched[need.id] = match.booking_id
                row = await parking.get_booking(
                    self.session, actor=ADMIN, booking_id=match.booking_id, policy=self.policy, now=now
                )
                begins, ends = row.booking.period.lower, row.booking.period.upper
                assert begins is not None and ends is not None
                self.occupancy.take(row.booking.slot_id, begins, ends)

    async def settle(self) -> None:
        await self.session.commit()


# ---------------------------------------------------------------- playing the week


@dataclass(slots=True)
class Seen:
    """What the village cameras saw: vehicles entering, and illegally parked vehicles (each once a day it stands:
    CCTV and the officers' rounds stand in for each other)."""

    entries: list[tuple[str, datetime]] = field(default_factory=list)
    violations: list[tuple[str, datetime, float, float]] = field(default_factory=list)


@dataclass(slots=True)
class Tally:
    """What the simulator itself counts, per simulated day (by when the need started)."""

    needs: list[int]
    served: list[int]
    walks: list[list[float]]  # of drivers served on foot
    park_and_ride: list[int]

    @classmethod
    def of(cls, days: int) -> Tally:
        return cls([0] * days, [0] * days, [[] for _ in range(days)], [0] * days)


def day_of(week: Week, at: datetime) -> int:
    return (at.astimezone(SEOUL).date() - week.first_day).days


def distinct_per_day(week: Week, seen: list[tuple[str, datetime]]) -> list[int]:
    """Distinct plates per simulated day: what the KPI table counts from the cameras' rows."""
    plates: list[set[str]] = [set() for _ in range(week.days)]
    for plate, at in seen:
        day = day_of(week, at)
        if 0 <= day < week.days:
            plates[day].add(plate)
    return [len(p) for p in plates]


async def play(
    week: Week,
    market: Market,
    *,
    set_clock: Callable[[datetime], None],
    upload: Callable[[datetime, Seen], Awaitable[None]] | None = None,
    progress: Callable[[datetime], None] | None = None,
    pace: Callable[[datetime], Awaitable[None]] | None = None,
    skip_before: datetime | None = None,
    upload_every: timedelta = timedelta(hours=1),
) -> tuple[Tally, Seen]:
    """Play the week in time order: arrivals park (or park illegally, or leave), stays end, the hour's jobs run,
    cameras see. `upload` gets what was seen since its last call, every `upload_every` of simulated time (the
    cameras' upload); `pace` is awaited before each step (the live demo waits for its clock); steps before
    `skip_before` are passed over (a live demo resumed)."""
    tally, seen, pending = Tally.of(week.days), Seen(), Seen()
    events: list[tuple[datetime, int, str, object]] = []
    order = itertools.count()
    for need in week.needs:
        heapq.heappush(events, (need.start, next(order), "arrive", need))
    for plate, at in week.passing:
        heapq.heappush(events, (at, next(order), "passing", plate))
    for hour in range(week.days * 24 + 1):
        heapq.heappush(events, (week.day_start(0) + timedelta(hours=hour), next(order), "hour", None))
    position = 0
    uploaded = week.day_start(0)

    def saw_entry(plate: str, at: datetime) -> None:
        seen.entries.append((plate, at))
        pending.entries.append((plate, at))

    while events:
        at, _, kind, payload = heapq.heappop(events)
        if at > week.end:
            break
        if skip_before is not None and at < skip_before:
            continue
        if pace is not None:
            await pace(at)
        set_clock(at)
        if upload is not None and at - uploaded >= upload_every:
            await upload(at, pending)
            pending, uploaded = Seen(), at
            await market.settle()
        if kind == "hour":
            while position < len(week.needs) and week.needs[position].start < at:
                position += 1
            await market.hour(at, list(week.needs[position : position + 3000]))
            await market.settle()
            if progress is not None:
                progress(at)
        elif kind == "passing":
            saw_entry(str(payload), at)
        elif kind == "sighting":
            assert isinstance(payload, tuple)
            seen.violations.append(payload)
            pending.violations.append(payload)
        elif kind == "leave":
            assert isinstance(payload, Parked)
            await market.leave(payload, now=at)
            await market.settle()
        else:
            assert isinstance(payload, Need)
            need, first = payload, kind == "arrive"
            if first and need.enters_at is not None:
                saw_entry(need.plate, need.enters_at)
            parked = await market.park(need, start=at, now=at)
            await market.settle()
            day = day_of(week, need.start)
            tally.needs[day] += first
            if parked.outcome == Outcome.SERVED:
                if first:
                    tally.served[day] += 1
                    if parked.park_and_ride:
                        tally.park_and_ride[day] += 1
                    elif parked.walk_m is not None:
                        tally.walks[day].append(parked.walk_m)
                until = parked.until or need.end
                heapq.heappush(events, (until, next(order), "leave", parked))
                if until < need.end:  # longer than one booking may last: the driver books again then
                    heapq.heappush(events, (until, next(order), "resume", need))
            elif need.parks_illegally:
                for sighting in _sightings(week, need, at):
                    heapq.heappush(events, (sighting[1], next(order), "sighting", sighting))
    if upload is not None and (pending.entries or pending.violations):
        await upload(week.end, pending)
    return tally, seen


def _sightings(week: Week, need: Need, start: datetime) -> list[tuple[str, datetime, float, float]]:
    """An illegally parked car is seen once on each simulated day it stands (a minute into its stay or the day)."""
    found = []
    for day in range(max(0, day_of(week, start)), week.days):
        first = week.day_start(day)
        if first >= need.end:
            break
        found.append((need.plate, max(start, first) + timedelta(minutes=1), need.lon, need.lat))
    return found


@dataclass(frozen=True, slots=True)
class DayResult:
    day: date
    day_type: str
    kpis: dict[str, float | None]  # the KPI table's row, read back from the rows (or counted, for calibration)
    drivers_served: int
    needs: int
    mean_walk_m: float | None
    park_and_ride: int
