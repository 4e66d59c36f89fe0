"""The primary user's guaranteed time as intervals, and the shareable rest. Pure.

Guaranteed time = the weekly windows (Seoul time) + one-off extra windows - released spans, within the contract.
A booking by anyone else must keep clear of it by the buffer on both sides (the car comes back charged and clean
for the primary user, and the primary user's trip may end right at the window's end); a booking by the primary user
lies either inside their guaranteed time (its time is covered by the monthly fee) or clear of it like anyone's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from parking.policy import WeeklyWindow

Interval = tuple[datetime, datetime]


def merged(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with overlapping and touching intervals joined; empty ones dropped."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def minus(intervals: Sequence[Interval], taken: Sequence[Interval]) -> list[Interval]:
    """`intervals` without any part of `taken`."""
    out = []
    for start, end in merged(intervals):
        pieces = [(start, end)]
        for cut_start, cut_end in merged(taken):
            pieces = [
                piece
                for s, e in pieces
                for piece in ((s, min(e, cut_start)), (max(s, cut_end), e))
                if piece[1] > piece[0]
            ]
        out += pieces
    return out


def clipped(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    return merged((max(s, start), min(e, end)) for s, e in intervals if s < end and e > start)


def weekly(windows: Sequence[WeeklyWindow], start: datetime, end: datetime, timezone: str) -> list[Interval]:
    """The windows' occurrences overlapping [start, end), clipped to it."""
    zone = ZoneInfo(timezone)
    first = start.astimezone(zone).date() - timedelta(days=1)  # an overnight window of the day before reaches in
    days = (end.astimezone(zone).date() - first).days + 1
    found = []
    for n in range(days):
        day = first + timedelta(days=n)
        midnight = datetime.combine(day, time(0), tzinfo=zone)
        for window in windows:
            if day.isoweekday() in window.weekdays:
                found.append(
                    (midnight + timedelta(minutes=window.start_minute), midnight + timedelta(minutes=window.end_minute))
                )
    return clipped(found, start, end)


def guaranteed(
    windows: Sequence[WeeklyWindow],
    extras: Sequence[Interval],
    releases: Sequence[Interval],
    start: datetime,
    end: datetime,
    timezone: str,
) -> list[Interval]:
    """The primary user's time within [start, end)."""
    return clipped(minus(weekly(windows, start, end, timezone) + list(extras), releases), start, end)


def touches(intervals: Sequence[Interval], start: datetime, end: datetime) -> bool:
    return any(s < end and e > start for s, e in intervals)


def inside(intervals: Sequence[Interval], start: datetime, end: datetime) -> bool:
    """[start, end) lies within one interval (merged intervals: within their union)."""
    return any(s <= start and end <= e for s, e in merged(intervals))
