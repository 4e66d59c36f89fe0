"""Which slots can serve which request: hard needs, walking distance, free time; pruned to the K nearest."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence

import numpy as np
from scipy.spatial import cKDTree

from matching.types import Candidate, Pricer, Request, Slot


def compatible(request: Request, slot: Slot) -> bool:
    """Hard needs and free time (distance is checked by the caller)."""
    if request.needs_ev and not slot.ev_charger:
        return False
    if request.needs_accessible and not slot.accessible:
        return False
    if request.vehicle_size > slot.size:
        return False
    return any(window.contains(request.interval) for window in slot.free)


class SlotIndex:
    """A KD-tree over slot positions: the slots near a point, nearest first."""

    def __init__(self, slots: Sequence[Slot]) -> None:
        self.slots = list(slots)
        points = np.array([(s.x_m, s.y_m) for s in self.slots], dtype=float).reshape(-1, 2)
        self.tree = cKDTree(points) if self.slots else None

    def nearest(self, x: float, y: float, radius_m: float, *, first: int = 32) -> Iterator[tuple[Slot, float]]:
        """Slots within `radius_m`, nearest first: the `first` nearest from one query, the rest only if asked for."""
        if self.tree is None:
            return
        count = min(first, len(self.slots))
        distances, indices = self.tree.query((x, y), k=count, distance_upper_bound=radius_m)
        seen = 0
        for distance, index in zip(np.atleast_1d(distances), np.atleast_1d(indices), strict=True):
            if index >= len(self.slots):
                return  # fewer than `count` within the radius: all were given
            seen += 1
            yield self.slots[index], float(distance)
        if seen < count:
            return
        rest = self.tree.query_ball_point((x, y), radius_m)
        more = sorted(
            ((float(np.hypot(self.slots[i].x_m - x, self.slots[i].y_m - y)), i) for i in rest), key=lambda d: d
        )
        for distance, index in more[seen:]:
            yield self.slots[index], distance


def candidates(
    requests: Sequence[Request],
    index: SlotIndex,
    *,
    k: int,
    detour_factor: float = 1.0,
    usable: Callable[[Request, Slot], bool] = compatible,
    price: Pricer | None = None,
) -> dict[Hashable, tuple[Candidate, ...]]:
    """For each request, its K nearest feasible slots (walk = straight line x detour factor), nearest first."""
    found: dict[Hashable, tuple[Candidate, ...]] = {}
    for request in requests:
        options = []
        for slot, distance in index.nearest(request.x_m, request.y_m, request.max_walk_m / detour_factor):
            if usable(request, slot):
                cost = price(request, slot) if price else slot.price_for(request.interval)
                options.append(Candidate(slot.id, round(distance * detour_factor), cost))
                if len(options) == k:
                    break
        found[request.id] = tuple(options)
    return found
