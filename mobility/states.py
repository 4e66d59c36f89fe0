"""The MDS 2.0 micromobility vehicle state machine. Pure.

The table below is the MDS "Vehicle State Events" table for micromobility, written for MDS 2.0's states: the old
`unknown` state is `non_contactable` (reached by `comms_lost`) or `missing` (reached by `not_located`), and from
either of them `comms_restored`, `located` or `unspecified` lead back to a known state. A transition is the pair
(prior state, event type) and leads to exactly one state, except where MDS lets the event name the state it ends in
(`comms_restored`, `located`, `unspecified`): then the caller says which.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum


class VehicleState(StrEnum):
    REMOVED = "removed"
    AVAILABLE = "available"
    NON_OPERATIONAL = "non_operational"
    RESERVED = "reserved"
    ON_TRIP = "on_trip"
    STOPPED = "stopped"  # MDS 2.0 state of cars and passenger services; not used by micromobility
    NON_CONTACTABLE = "non_contactable"
    MISSING = "missing"
    ELSEWHERE = "elsewhere"


S = VehicleState
UNKNOWN = (S.NON_CONTACTABLE, S.MISSING)
KNOWN = (S.REMOVED, S.AVAILABLE, S.NON_OPERATIONAL, S.RESERVED, S.ON_TRIP, S.ELSEWHERE)
IN_SERVICE = (S.AVAILABLE, S.ELSEWHERE, S.NON_OPERATIONAL, S.ON_TRIP, S.REMOVED, S.RESERVED)

# (event type, prior states, resulting states). One resulting state: the event decides; several: the caller picks.
TABLE: tuple[tuple[str, tuple[S, ...], tuple[S, ...]], ...] = (
    ("battery_charged", (S.NON_OPERATIONAL,), (S.AVAILABLE,)),
    ("on_hours", (S.NON_OPERATIONAL,), (S.AVAILABLE,)),
    ("provider_drop_off", (S.REMOVED, *UNKNOWN), (S.AVAILABLE,)),
    ("agency_drop_off", (S.REMOVED, *UNKNOWN), (S.AVAILABLE,)),
    ("maintenance", (S.NON_OPERATIONAL,), (S.AVAILABLE,)),  # maintenance done
    ("maintenance", (S.AVAILABLE,), (S.NON_OPERATIONAL,)),  # maintenance needed
    ("trip_end", (S.ON_TRIP,), (S.AVAILABLE,)),
    ("reservation_cancel", (S.RESERVED,), (S.AVAILABLE,)),
    ("trip_cancel", (S.ON_TRIP,), (S.AVAILABLE,)),
    ("system_resume", (S.NON_OPERATIONAL,), (S.AVAILABLE,)),
    ("reservation_start", (S.AVAILABLE,), (S.RESERVED,)),
    ("trip_start", (S.AVAILABLE, S.RESERVED), (S.ON_TRIP,)),
    ("trip_enter_jurisdiction", (S.ELSEWHERE,), (S.ON_TRIP,)),
    ("trip_leave_jurisdiction", (S.ON_TRIP,), (S.ELSEWHERE,)),
    ("changed_geographies", (S.ON_TRIP,), (S.ON_TRIP,)),
    ("battery_low", (S.AVAILABLE,), (S.NON_OPERATIONAL,)),
    ("off_hours", (S.AVAILABLE,), (S.NON_OPERATIONAL,)),
    ("system_suspend", (S.AVAILABLE,), (S.NON_OPERATIONAL,)),
    ("rebalance_pick_up", (S.AVAILABLE, S.NON_OPERATIONAL, S.ELSEWHERE), (S.REMOVED,)),
    ("maintenance_pick_up", (S.AVAILABLE, S.NON_OPERATIONAL, S.ELSEWHERE), (S.REMOVED,)),
    ("compliance_pick_up", (S.AVAILABLE, S.NON_OPERATIONAL, S.ELSEWHERE), (S.REMOVED,)),
    ("agency_pick_up", (S.AVAILABLE, S.NON_OPERATIONAL, S.ELSEWHERE, *UNKNOWN), (S.REMOVED,)),
    ("decommissioned", (S.AVAILABLE, S.NON_OPERATIONAL, S.ELSEWHERE, *UNKNOWN), (S.REMOVED,)),
    ("comms_lost", IN_SERVICE, (S.NON_CONTACTABLE,)),
    ("not_located", (*IN_SERVICE, S.NON_CONTACTABLE), (S.MISSING,)),
    ("comms_restored", UNKNOWN, KNOWN),
    ("located", UNKNOWN, KNOWN),
    ("unspecified", (S.NON_OPERATIONAL, *UNKNOWN), (S.AVAILABLE,)),
    ("unspecified", UNKNOWN, (S.RESERVED, S.ON_TRIP, S.ELSEWHERE)),
    ("unspecified", (S.AVAILABLE, *UNKNOWN), (S.NON_OPERATIONAL,)),
    ("unspecified", (S.AVAILABLE, S.NON_OPERATIONAL, S.ELSEWHERE, *UNKNOWN), (S.REMOVED,)),
    ("unspecified", IN_SERVICE, (S.NON_CONTACTABLE, S.MISSING)),
)

EVENT_TYPES: tuple[str, ...] = tuple(dict.fromkeys(event for event, _, _ in TABLE))


class TransitionRefused(ValueError):
    """The event type cannot happen in the vehicle's state (or cannot lead to the asked state)."""


def targets(prior: S, event_type: str) -> tuple[S, ...]:
    """Every state `event_type` may lead to from `prior` (empty: not allowed)."""
    found: list[S] = []
    for event, priors, results in TABLE:
        if event == event_type and prior in priors:
            found += [r for r in results if r not in found]
    return tuple(found)


def step(prior: S, event_type: str, to: S | None = None) -> S:
    """The state after one event type. `to` picks the state where MDS lets the event lead to several (and must
    agree with the table otherwise)."""
    options = targets(prior, event_type)
    if not options:
        raise TransitionRefused(f"a vehicle that is {prior} cannot have a {event_type} event")
    if to is None:
        if len(options) > 1:
            raise TransitionRefused(f"{event_type} from {prior} may lead to {', '.join(options)}: say which")
        return options[0]
    if to not in options:
        raise TransitionRefused(f"{event_type} from {prior} leads to {', '.join(options)}, not {to}")
    return to


def replay(initial: S, events: Iterable[tuple[Sequence[str], S]]) -> S:
    """The state after a sequence of recorded events (event types, recorded state), checking every step: each event's
    types lead, in order, from the previous state to its recorded state (intermediate states are discarded, as MDS
    says for multi-type events)."""
    state = initial
    for event_types, recorded in events:
        for index, event_type in enumerate(event_types):
            last = index == len(event_types) - 1
            options = targets(state, event_type)
            if not options:
                raise TransitionRefused(f"a vehicle that is {state} cannot have a {event_type} event")
            state = recorded if last and recorded in options else step(state, event_type)
        if state != recorded:
            raise TransitionRefused(f"events {list(event_types)} do not lead to {recorded}")
    return state
