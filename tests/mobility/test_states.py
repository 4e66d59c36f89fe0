"""The MDS state machine (pure): table facts, and hypothesis over random event sequences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mobility.states import EVENT_TYPES, TABLE, TransitionRefused, VehicleState, replay, step, targets

S = VehicleState


def test_the_rider_path_and_refusals():
    assert step(S.REMOVED, "provider_drop_off") == S.AVAILABLE
    assert step(S.AVAILABLE, "reservation_start") == S.RESERVED
    assert step(S.RESERVED, "trip_start") == S.ON_TRIP
    assert step(S.ON_TRIP, "trip_leave_jurisdiction") == S.ELSEWHERE
    assert step(S.ELSEWHERE, "trip_enter_jurisdiction") == S.ON_TRIP
    assert step(S.ON_TRIP, "trip_end") == S.AVAILABLE
    assert step(S.AVAILABLE, "battery_low") == S.NON_OPERATIONAL
    assert step(S.NON_OPERATIONAL, "battery_charged") == S.AVAILABLE
    for prior, event in [(S.ON_TRIP, "reservation_start"), (S.REMOVED, "trip_start"), (S.RESERVED, "battery_low")]:
        with pytest.raises(TransitionRefused):
            step(prior, event)
    with pytest.raises(TransitionRefused):  # contact restored may lead to several states: the caller must say
        step(S.NON_CONTACTABLE, "comms_restored")
    assert step(S.NON_CONTACTABLE, "comms_restored", S.ON_TRIP) == S.ON_TRIP


def test_stopped_is_never_reached_by_micromobility():
    assert all(S.STOPPED not in results for _, _, results in TABLE)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(EVENT_TYPES), st.sampled_from(list(S))), max_size=40))
def test_random_sequences_stay_in_the_machine_and_replay(attempts: list[tuple[str, S]]):
    """Apply random (event type, wished state) pairs, keeping those the machine allows: the state is always one the
    table can reach, and the recorded log replays to it."""
    state, log = S.REMOVED, []
    for event_type, wished in attempts:
        options = targets(state, event_type)
        if not options:
            with pytest.raises(TransitionRefused):
                step(state, event_type, wished)
            continue
        state = step(state, event_type, wished if wished in options else options[0])
        log.append(([event_type], state))
        assert any(state in results for _, _, results in TABLE)
    assert replay(S.REMOVED, log) == state
