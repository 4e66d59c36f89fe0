"""Rebalancing and battery swaps: the crews' van tours. Pure (dataclasses in, dataclasses out), like `matching/`;
the database side is `ops/crew.py`.

Targets (`targets_from_history`, the documented rule): for a parking area, a vehicle type and an hour of the day, the
target is the mean number of trips that started in that area in that hour on the past days of the same kind (weekday
or weekend/holiday), rounded up, plus a reserve (`MAEUL_REBALANCE_RESERVE`, default 1) so that the first rider of the
hour finds one. An area with no history gets the reserve alone.

Supply: a vehicle counts for an area when it is available, inside the area's parking geofence, and charged above the
low-battery threshold. A vehicle that is available but outside every parking area is a stray: always free to take.
A vehicle that is non-operational with a low battery is a swap candidate.

The problem (one OR-Tools routing model, `routing.pdptw.solve`):
- Each crew member drives a van from where they are, now, for at most the tour horizon or what is left of the shift,
  whichever ends first; tours end wherever the last task is (a free end).
- Moves: a surplus vehicle (above its area's target, the best-charged first; or a stray) may be taken to one of the
  `ALTERNATIVES` nearest areas short of their target for its type. Each alternative is a pickup-and-delivery pair; a
  quota lets at most one of a vehicle's alternatives be made. Vans carry `MAEUL_CREW_VAN_CAPACITY` space units (an
  e-scooter takes 1, an e-bike `SPACE['ebike']`).
- Shortfalls: an area short of `d` vehicles of a type has a quota of `d` over the deliveries into it and the battery
  swaps of its own low vehicles of that type (a swapped vehicle is back in service there); each unit short costs
  `MAEUL_REBALANCE_UNIT_VALUE_S`.
- Swaps: each low vehicle is a visit using one charged battery from the van (`MAEUL_CREW_VAN_BATTERIES` on board);
  leaving it out costs `MAEUL_SWAP_VALUE_S`.
- Objective, in seconds: crew time (driving at van speed plus the service time of every stop) + unit value x units
  of target left unmet + swap value x low vehicles left flat. A move is made when it is worth more than the crew time
  it takes.

`greedy_tours` is the baseline the benchmark compares with: each van in turn does the nearest useful thing (swap a flat
vehicle, drop what it carries where the type is short, take a surplus vehicle of a type that is short somewhere)
while its time lasts. `evaluate` scores any tours by the same measures: units of target unmet, flat vehicles left,
crew hours.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from routing.pdptw import Search, earliest_schedule, objective, route_distance
from routing.solver import solve
from routing.travel import Mode, Point, TravelTimes
from routing.types import Node, Pair, Plan, Problem, Quota, Vehicle

ALTERNATIVES = 2  # areas a surplus vehicle may be taken to: the nearest short ones of its type
CANDIDATES_PER_UNIT = 2  # surplus vehicles offered per unit short (nearest first; no more units than the vans' time
# allows moves), flat ones per battery on board
SPACE: Mapping[str, int] = {"ebike": 2}  # van space a vehicle of a type takes; every other type takes 1


def space(type_code: str) -> int:
    return SPACE.get(type_code, 1)


class Action(StrEnum):
    PICKUP = "pickup"
    DROPOFF = "dropoff"
    SWAP = "swap"


@dataclass(frozen=True, slots=True)
class Area:
    area_id: uuid.UUID
    at: Point
    targets: Mapping[str, int]  # vehicle type -> vehicles wanted there for the coming hour


@dataclass(frozen=True, slots=True)
class FleetVehicle:
    vehicle_id: uuid.UUID
    type_code: str
    at: Point
    battery_pct: int
    area: int | None  # index into the areas, or None outside every parking area
    usable: bool  # available and charged: counts for its area's supply, may be moved
    flat: bool  # non-operational with a low battery: a swap candidate


@dataclass(frozen=True, slots=True)
class Van:
    staff_id: uuid.UUID
    at: Point
    available_s: float  # the tour's length: horizon or shift end, whichever comes first
    capacity: int  # space units
    batteries: int  # charged batteries on board


@dataclass(frozen=True, slots=True)
class Times:
    pickup_s: float
    dropoff_s: float
    swap_s: float

    def of(self, action: Action) -> float:
        """The time a stop takes."""
        return {Action.PICKUP: self.pickup_s, Action.DROPOFF: self.dropoff_s, Action.SWAP: self.swap_s}[action]


@dataclass(frozen=True, slots=True)
class Values:
    unit_s: float  # one unit of target met is worth this much crew time
    swap_s: float  # one flat vehicle back in service


@dataclass(frozen=True, slots=True)
class Step:
    action: Action
    vehicle_id: uuid.UUID
    area: int | None  # where a dropoff goes; a pickup's or a swap's area (None: a stray)
    at_s: float  # when the service starts, seconds from now


@dataclass(frozen=True, slots=True)
class Tours:
    routes: tuple[tuple[Step, ...], ...]  # per van, in order
    solve_s: float


@dataclass(frozen=True, slots=True)
class Score:
    unmet_units: int  # sum over areas and types of the target not met after the tours
    unmet_before: int
    flat_left: int
    flat_before: int
    crew_hours: float  # from each van's start to its last stop's end
    moves: int
    swaps: int


def targets_from_history(
    starts: Iterable[tuple[int, str, int]], *, days: int, hour: int, reserve: int
) -> dict[tuple[int, str], int]:
    """The documented rule: `starts` are (area, vehicle type, hour of day) of every trip started in an area on the
    `days` past days of the same kind; the target for (area, type) in `hour` is ceil(their mean per day) + reserve.
    Only pairs seen in the history are returned; everything else gets the reserve alone."""
    counts: dict[tuple[int, str], int] = defaultdict(int)
    for area, type_code, started_hour in starts:
        if started_hour == hour:
            counts[(area, type_code)] += 1
    return {key: math.ceil(count / max(days, 1)) + reserve for key, count in counts.items()}


def supply(vehicles: Sequence[FleetVehicle]) -> dict[tuple[int, str], int]:
    found: dict[tuple[int, str], int] = defaultdict(int)
    for vehicle in vehicles:
        if vehicle.usable and vehicle.area is not None:
            found[(vehicle.area, vehicle.type_code)] += 1
    return found


def shortfalls(areas: Sequence[Area], vehicles: Sequence[FleetVehicle]) -> dict[tuple[int, str], int]:
    """(area, type) -> how many vehicles it lacks (positive) or has over its target (negative)."""
    have = supply(vehicles)
    types = {vehicle.type_code for vehicle in vehicles}
    return {
        (a, type_code): area.targets.get(type_code, 0) - have.get((a, type_code), 0)
        for a, area in enumerate(areas)
        for type_code in types | set(area.targets)
    }


def surplus_vehicles(areas: Sequence[Area], vehicles: Sequence[FleetVehicle]) -> list[int]:
    """Indices of the vehicles that may be moved: strays, and each area's excess over its target, best charged."""
    gap = shortfalls(areas, vehicles)
    by_place: dict[tuple[int, str], list[int]] = defaultdict(list)
    chosen = []
    for i, vehicle in enumerate(vehicles):
        if not vehicle.usable:
            continue
        if vehicle.area is None:
            chosen.append(i)
        else:
            by_place[(vehicle.area, vehicle.type_code)].append(i)
    for place, members in by_place.items():
        excess = -gap.get(place, 0)
        if excess > 0:
            members.sort(key=lambda i: -vehicles[i].battery_pct)
            chosen += members[:excess]
    return sorted(chosen)


def place_table(
    areas: Sequence[Area], vehicles: Sequence[FleetVehicle], vans: Sequence[Van], travel: TravelTimes
) -> np.ndarray:
    """Van seconds between every place of a rebalancing problem: the vans' starts, then the areas, then the vehicles.
    One travel table serves the greedy crew and the model (with an OSRM server, one request)."""
    points = [*(van.at for van in vans), *(area.at for area in areas), *(vehicle.at for vehicle in vehicles)]
    return np.asarray(travel.table(points, Mode.VAN).seconds, dtype=float).reshape(len(points), len(points))


@dataclass(frozen=True, slots=True)
class _Model:
    problem: Problem
    what: list[tuple[Action, int, int | None]]  # per node from `first`: (action, vehicle index, area)
    first: int  # node index of the first task node
    initial: list[list[int]]  # the given tours as routes of this problem's nodes


def rebalance_problem(
    areas: Sequence[Area],
    vehicles: Sequence[FleetVehicle],
    vans: Sequence[Van],
    table: np.ndarray,
    times: Times,
    values: Values,
    start: Tours | None = None,
) -> _Model:
    """Node 0: the free end; nodes 1..V: the vans' starts; then the task nodes (see `what`). `table`: the problem's
    `place_table`. The moves and swaps of `start` (a heuristic's tours) are always among the candidates, and come
    back as `initial` routes."""
    area_place, vehicle_place = len(vans), len(vans) + len(areas)  # rows of `table`
    short = {place: need for place, need in shortfalls(areas, vehicles).items() if need > 0}
    index = {vehicle.vehicle_id: i for i, vehicle in enumerate(vehicles)}
    given = [step for route in (start.routes if start else ()) for step in route]
    given_moves = {(index[s.vehicle_id], s.area) for s in given if s.action == Action.DROPOFF and s.area is not None}
    given_swaps = {index[s.vehicle_id] for s in given if s.action == Action.SWAP}

    surplus = surplus_vehicles(areas, vehicles)
    options: dict[int, list[int]] = {}  # surplus vehicle -> the short areas of its type, nearest first
    for i in surplus:
        found = [a for (a, t) in short if t == vehicles[i].type_code and a != vehicles[i].area]
        options[i] = sorted(found, key=lambda a: table[vehicle_place + i, area_place + a])[:ALTERNATIVES]
    for i, a in given_moves:
        options[i] = [*options.get(i, []), *([a] if a not in options.get(i, []) else [])]
    most_moves = int(sum(van.available_s for van in vans) / max(times.pickup_s + times.dropoff_s, 1.0))
    chosen = {i for i, _ in given_moves}  # per type, the surplus nearest to where the type is short, a few per unit
    for type_code in {vehicles[i].type_code for i in surplus}:
        mine = [i for i in surplus if vehicles[i].type_code == type_code and options[i]]
        mine.sort(key=lambda i: table[vehicle_place + i, area_place + options[i][0]])
        need = min(sum(units for (_, t), units in short.items() if t == type_code), most_moves)
        chosen.update(mine[: CANDIDATES_PER_UNIT * need])
    flat = [i for i, vehicle in enumerate(vehicles) if vehicle.flat]  # where a type is short first, flattest next
    flat.sort(key=lambda i: ((vehicles[i].area, vehicles[i].type_code) not in short, vehicles[i].battery_pct))
    swapped = given_swaps | set(flat[: CANDIDATES_PER_UNIT * sum(van.batteries for van in vans)])

    first = 1 + len(vans)
    what: list[tuple[Action, int, int | None]] = []
    places = list(range(len(vans)))  # per node after the free end: its row of `table`
    pairs: list[Pair] = []
    node_of: dict[tuple[Action, int, int | None], int] = {}
    moves: dict[int, list[int]] = defaultdict(list)  # vehicle -> its pickup nodes
    into: dict[tuple[int, str], list[int]] = defaultdict(list)  # short place -> nodes that fill it

    def add(action: Action, i: int, area: int | None, key_area: int | None, place: int) -> int:
        node = first + len(what)
        what.append((action, i, area))
        places.append(place)
        node_of[(action, i, key_area)] = node
        return node

    for i in sorted(chosen):
        vehicle = vehicles[i]
        for a in options[i]:
            pickup = add(Action.PICKUP, i, vehicle.area, a, vehicle_place + i)
            dropoff = add(Action.DROPOFF, i, a, a, area_place + a)
            pairs.append(Pair(pickup, dropoff))
            moves[i].append(pickup)
            into[(a, vehicle.type_code)].append(dropoff)
    swaps = []  # per flat vehicle: a swap, and where its type is short a second way to make it that fills the gap
    for i in sorted(swapped):
        vehicle = vehicles[i]
        ways = [add(Action.SWAP, i, vehicle.area, None, vehicle_place + i)]
        if vehicle.area is not None and (vehicle.area, vehicle.type_code) in short:
            ways.append(add(Action.SWAP, i, vehicle.area, vehicle.area, vehicle_place + i))
            into[(vehicle.area, vehicle.type_code)].append(ways[-1])
        swaps.append(tuple(ways))

    horizon = max([van.available_s for van in vans] + [1.0])
    nodes = [Node(0, horizon)] + [Node(0, 0) for _ in vans]
    for action, i, _ in what:
        load = space(vehicles[i].type_code)
        demand = load if action == Action.PICKUP else -load if action == Action.DROPOFF else 0
        nodes.append(Node(0, horizon, times.of(action), demand, uses=int(action == Action.SWAP)))
    seconds = np.zeros((len(nodes), len(nodes)))
    seconds[1:, 1:] = table[np.ix_(places, places)]
    seconds[:, 0] = 0.0  # the free end
    # crew time: the way to the next stop plus the time spent at the stop it leaves (nothing once the tour is over)
    cost = seconds + np.asarray([node.service for node in nodes])[:, None]
    cost[:, 0] = 0.0
    quotas = [Quota(tuple(nodes_of), 1, 0.0) for nodes_of in moves.values()]
    quotas += [Quota(tuple(nodes_of), short[place], values.unit_s) for place, nodes_of in into.items()]
    quotas += [Quota(ways, 1, values.swap_s) for ways in swaps]
    fleet = [
        Vehicle(start=1 + v, end=0, max_duration=van.available_s, supply=van.batteries) for v, van in enumerate(vans)
    ]
    problem = Problem(
        nodes=nodes,
        pairs=pairs,
        distance=cost.tolist(),
        time=seconds.tolist(),
        vehicles=len(vans),
        capacity=max([van.capacity for van in vans] + [0]),
        fleet=fleet,
        fewest_vehicles_first=False,
        quotas=quotas,
    )
    initial: list[list[int]] = [[] for _ in vans]
    left = dict(short)  # in time order as the greedy did: a pickup takes a unit of where it goes, a swap fills a
    timeline = sorted((s.at_s, v, s) for v, route in enumerate(start.routes if start else ()) for s in route)
    dropped = {s.vehicle_id: s.area for s in given if s.action == Action.DROPOFF}  # gap while its area is short
    for _, v, s in timeline:
        i = index[s.vehicle_id]
        if s.action == Action.SWAP:
            place = (s.area if s.area is not None else -1, vehicles[i].type_code)
            fills = left.get(place, 0) > 0
            initial[v].append(node_of[(Action.SWAP, i, s.area if fills else None)])
            left[place] = left.get(place, 0) - int(fills)
        elif s.vehicle_id in dropped:  # a vehicle taken and never dropped is left out of the start
            goal = dropped[s.vehicle_id]
            initial[v].append(node_of[(s.action, i, goal)])
            if s.action == Action.PICKUP and goal is not None:
                left[(goal, vehicles[i].type_code)] = left.get((goal, vehicles[i].type_code), 0) - 1
    return _Model(problem, what, first, initial)


def plan_tours(
    areas: Sequence[Area],
    vehicles: Sequence[FleetVehicle],
    vans: Sequence[Van],
    travel: TravelTimes,
    times: Times,
    values: Values,
    search: Search,
) -> Tours:
    """Pure and picklable: runs in the solver pool. The nearest-first crew's tours are the search's start, so the
    plan is never worse than theirs by the objective. Every van has the largest capacity given (one model of van)."""
    began = time.perf_counter()
    if not vans:
        return Tours((), 0.0)
    table = place_table(areas, vehicles, vans, travel)
    greedy = greedy_tours(areas, vehicles, vans, table, times)
    model = rebalance_problem(areas, vehicles, vans, table, times, values, start=greedy)
    if len(model.problem.nodes) == model.first:
        return Tours(tuple(() for _ in vans), time.perf_counter() - began)
    plan = solve(model.problem, search, initial=model.initial)
    served = {node for route in model.initial for node in route}
    routes = tuple(tuple(route) for route in model.initial)
    start = Plan(
        routes,
        route_distance(model.problem, routes),
        0.0,
        unserved=tuple(p for p, pair in enumerate(model.problem.pairs) if pair.pickup not in served),
    )
    if objective(model.problem, plan) > objective(model.problem, start):  # the start was refused: keep it
        plan = start
    steps_of = []
    fleet = model.problem.vehicle_list
    for vehicle, route in zip(fleet, plan.routes, strict=True):  # the earliest times (the solver's may idle)
        when = earliest_schedule(model.problem, vehicle, route)
        steps = []
        for node, at in zip(route, when, strict=True):
            action, i, area = model.what[node - model.first]
            steps.append(Step(action, vehicles[i].vehicle_id, area, at))
        steps_of.append(tuple(steps))
    return Tours(tuple(steps_of), time.perf_counter() - began)


@dataclass(slots=True)
class _Crew:
    here: int  # a node of the greedy's table
    clock: float = 0.0
    load: int = 0
    batteries: int = 0
    carrying: dict[int, int] = field(default_factory=dict)  # vehicle -> the area reserved for it
    steps: list[Step] = field(default_factory=list)


ROUNDING_MARGIN_S = 1.0  # the greedy's tours end this much early, so they fit the solver's rounded-up times too


def greedy_tours(
    areas: Sequence[Area],
    vehicles: Sequence[FleetVehicle],
    vans: Sequence[Van],
    seconds: np.ndarray,
    times: Times,
) -> Tours:
    """The nearest-first crew: the van free earliest does the nearest useful thing it still has time for: swap a
    flat vehicle, drop what it carries where it was meant to go, or take a surplus vehicle of a type still short
    somewhere, reserving a unit of the nearest short area for it (and keeping time to get there). `seconds`: the
    problem's `place_table`."""
    began = time.perf_counter()
    short = {place: need for place, need in shortfalls(areas, vehicles).items() if need > 0}
    free = set(surplus_vehicles(areas, vehicles))
    flat = {i for i, vehicle in enumerate(vehicles) if vehicle.flat}
    table = seconds.tolist()  # plain lists: the loop below reads single entries, many times
    area_node, vehicle_node = len(vans), len(vans) + len(areas)
    crews = [_Crew(here=v, batteries=van.batteries) for v, van in enumerate(vans)]
    active = set(range(len(vans)))
    while active:
        v = min(active, key=lambda w: crews[w].clock)
        crew, van = crews[v], vans[v]
        options: list[tuple[float, Action, int, int | None, int]] = []  # way, action, vehicle, area, node
        for i, goal in crew.carrying.items():
            options.append((table[crew.here][area_node + goal], Action.DROPOFF, i, goal, area_node + goal))
        if crew.batteries:
            options += [
                (table[crew.here][vehicle_node + i], Action.SWAP, i, vehicles[i].area, vehicle_node + i) for i in flat
            ]
        for i in free:
            if space(vehicles[i].type_code) <= van.capacity - crew.load and any(
                t == vehicles[i].type_code for (_, t) in short
            ):
                way = table[crew.here][vehicle_node + i]
                options.append((way, Action.PICKUP, i, vehicles[i].area, vehicle_node + i))
        options.sort(key=lambda option: option[0])
        for way, action, i, a, node in options:
            reserved = None
            goals = [goal for vehicle, goal in crew.carrying.items() if vehicle != i]  # left to drop afterwards
            if action == Action.PICKUP:  # the nearest area still short of its type
                short_of_type = [b for (b, t) in short if t == vehicles[i].type_code]
                reserved = min(short_of_type, key=lambda b: table[node][area_node + b])
                goals.append(reserved)
            finish = crew.clock + way + times.of(action) + _drops_s(table, node, area_node, goals, times.dropoff_s)
            if finish > van.available_s - ROUNDING_MARGIN_S:  # it must still be able to drop all it carries
                continue
            crew.steps.append(Step(action, vehicles[i].vehicle_id, a, crew.clock + way))
            crew.clock, crew.here = crew.clock + way + times.of(action), node
            if action == Action.PICKUP and reserved is not None:
                free.discard(i)
                crew.carrying[i] = reserved
                crew.load += space(vehicles[i].type_code)
                _fill(short, (reserved, vehicles[i].type_code))
            elif action == Action.DROPOFF:
                del crew.carrying[i]
                crew.load -= space(vehicles[i].type_code)
            else:
                flat.discard(i)
                crew.batteries -= 1
                if a is not None and (a, vehicles[i].type_code) in short:
                    _fill(short, (a, vehicles[i].type_code))
            break
        else:
            active.discard(v)
    return Tours(tuple(tuple(crew.steps) for crew in crews), time.perf_counter() - began)


def _drops_s(table: Sequence[Sequence[float]], node: int, area_node: int, goals: list[int], dropoff_s: float) -> float:
    """Time to drop at each of `goals` from `node`, nearest first. Every step of the greedy keeps this tour within the
    van's time, so the nearest drop is always still possible and no tour ends with a vehicle in the van."""
    total, here, left = 0.0, node, list(goals)
    while left:
        goal = min(left, key=lambda g: table[here][area_node + g])
        total += table[here][area_node + goal] + dropoff_s
        here = area_node + goal
        left.remove(goal)
    return total


def _fill(short: dict[tuple[int, str], int], place: tuple[int, str]) -> None:
    short[place] -= 1
    if not short[place]:
        del short[place]


def evaluate(areas: Sequence[Area], vehicles: Sequence[FleetVehicle], tours: Tours, times: Times) -> Score:
    """Units of target unmet and flat vehicles left after the tours, crew hours, moves and swaps: the same measures
    for any tours. A vehicle taken and not dropped leaves its area (it counts as moved nowhere)."""
    after = supply(vehicles)
    index = {vehicle.vehicle_id: i for i, vehicle in enumerate(vehicles)}
    seconds = moves = swaps = 0.0
    for route in tours.routes:
        if route:
            seconds += route[-1].at_s + times.of(route[-1].action)
        for step in route:
            vehicle = vehicles[index[step.vehicle_id]]
            if step.action == Action.PICKUP and vehicle.area is not None:
                after[(vehicle.area, vehicle.type_code)] -= 1
            elif step.action == Action.DROPOFF and step.area is not None:
                after[(step.area, vehicle.type_code)] += 1
                moves += 1
            elif step.action == Action.SWAP:
                swaps += 1
                if vehicle.area is not None:
                    after[(vehicle.area, vehicle.type_code)] += 1

    def unmet(counts: Mapping[tuple[int, str], int]) -> int:
        return sum(
            max(0, target - counts.get((a, type_code), 0))
            for a, area in enumerate(areas)
            for type_code, target in area.targets.items()
        )

    flat = sum(1 for vehicle in vehicles if vehicle.flat)
    return Score(
        unmet_units=unmet(after),
        unmet_before=unmet(supply(vehicles)),
        flat_left=flat - int(swaps),
        flat_before=flat,
        crew_hours=seconds / 3600,
        moves=int(moves),
        swaps=int(swaps),
    )
