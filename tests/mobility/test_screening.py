"""Screening of telemetry (pure): the vectorised pass over a clean batch decides exactly as the point-by-point one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from mobility.telemetry import Bounds, Fix, Rejection, Screening, screen, screen_one_by_one

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
BOX = Bounds(126.79, 37.49, 126.81, 37.51)
RULES = Screening(max_age=timedelta(hours=24), future_skew=timedelta(seconds=30), far_m=5_000, max_speed_mps=50)
METRE = 1 / 111_000  # degrees of latitude, roughly

# a step from the fix before: seconds later (0: a duplicate, negative: out of order) and metres north and east;
# mostly plausible, so that clean batches (the vectorised path) come up as often as doubtful ones
steps = st.tuples(
    st.one_of(st.integers(1, 5), st.integers(-3, 0)),
    st.one_of(st.floats(-60, 60), st.floats(-20_000, 20_000)),
    st.floats(-60, 60),
)


def track(start: datetime, first: tuple[float, float], moves: list[tuple[int, float, float]]) -> list[Fix]:
    at, (lon, lat), fixes = start, first, []
    for seconds, north_m, east_m in moves:
        at, lat, lon = at + timedelta(seconds=seconds), lat + north_m * METRE, lon + east_m * METRE * 1.26
        fixes.append(Fix(at=at, lon=lon, lat=lat))
    return fixes


@settings(max_examples=400, deadline=None)
@given(
    moves=st.lists(steps, min_size=1, max_size=30),
    start_s=st.one_of(st.integers(-600, 0), st.integers(-100_000, 100)),
    with_last=st.booleans(),
)
def test_the_vectorised_pass_decides_as_one_by_one(
    moves: list[tuple[int, float, float]], start_s: int, with_last: bool
):
    start = NOW + timedelta(seconds=start_s)
    last = Fix(at=start, lon=126.80, lat=37.50) if with_last else None
    points = track(start, (126.80, 37.50), moves)
    assert screen(points, last=last, bounds=BOX, now=NOW, rules=RULES) == screen_one_by_one(
        points, last=last, bounds=BOX, now=NOW, rules=RULES
    )


def test_a_clean_batch_is_taken_whole_and_one_doubtful_point_is_named():
    start = NOW - timedelta(minutes=10)
    points = track(start, (126.80, 37.50), [(1, 5.0, 5.0)] * 50)
    assert screen(points, last=None, bounds=BOX, now=NOW, rules=RULES) == (points, [])
    jumped = [*points[:20], Fix(at=points[19].at + timedelta(seconds=1), lon=126.80, lat=37.53), *points[20:]]
    accepted, refused = screen(jumped, last=None, bounds=BOX, now=NOW, rules=RULES)
    assert accepted == points and refused == [(20, Rejection.IMPOSSIBLE_SPEED)]
    assert screen(points, last=points[-1], bounds=None, now=NOW, rules=RULES)[1][0] == (0, Rejection.OUT_OF_ORDER)
