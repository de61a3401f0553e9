"""The reservations calendar: one ISO week, a row per machine, a column per day.

Pure code over bookings and machines, so the page only renders what this builds.
Times are UTC, as fabhub stores them (the hub has no lab time-zone setting).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from fabhub.jobqueue.access import Booking

DAY_S = 24 * 3600
WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{1,2})$")
# Years a week may name; the bounds keep "previous" and "next" weeks representable.
FIRST_YEAR, LAST_YEAR = 1970, 9998


class WeekError(ValueError):
    """A ``?week=`` value that does not name an ISO week."""


def iso_week(day: date) -> str:
    """The ISO week holding ``day``, written as ``2026-W48``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_monday(text: str) -> date:
    """The Monday of the ISO week written ``YYYY-Www``; WeekError for anything else."""
    match = WEEK_PATTERN.match(text.strip())
    if match is None:
        raise WeekError(text)
    year, week = int(match.group(1)), int(match.group(2))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise WeekError(text)
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError as exc:  # week 0, or week 53 of a 52-week year
        raise WeekError(text) from exc


@dataclass(frozen=True)
class Block:
    """The part of one booking that falls on one day of the calendar.

    ``start`` and ``end`` are the clipped times of day (``24:00`` for midnight at
    the end); ``left`` and ``width`` place the block on the day in percent.
    """

    booking: Booking
    start: str
    end: str
    from_before: bool
    goes_on: bool
    left: float
    width: float


@dataclass(frozen=True)
class Row:
    """One machine's week: a list of blocks for each of the seven days."""

    machine_id: int
    machine_name: str
    days: tuple[tuple[Block, ...], ...]


def _clock(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def day_blocks(day: date, bookings: list[Booking]) -> tuple[Block, ...]:
    """The blocks of ``bookings`` (one machine's, by start) that overlap ``day`` (UTC)."""
    day_start = datetime.combine(day, time(), UTC).timestamp()
    day_end = day_start + DAY_S
    blocks = []
    for booking in bookings:
        start = max(booking.start_epoch, day_start)
        end = min(booking.end_epoch, day_end)
        if start >= end:
            continue
        blocks.append(Block(
            booking, _clock(start - day_start), _clock(end - day_start),
            booking.start_epoch < day_start, booking.end_epoch > day_end,
            round(100 * (start - day_start) / DAY_S, 2), round(100 * (end - start) / DAY_S, 2)))
    return tuple(blocks)


def week_rows(monday: date, machines: list[tuple[int, str]],
              bookings: list[Booking]) -> list[Row]:
    """A row per machine (``(id, name)``) with the blocks of its bookings on each day."""
    days = [monday + timedelta(days=n) for n in range(7)]
    rows = []
    for machine_id, name in machines:
        own = sorted((b for b in bookings if b.machine_id == machine_id),
                     key=lambda b: b.start_epoch)
        rows.append(Row(machine_id, name, tuple(day_blocks(day, own) for day in days)))
    return rows


def week_bounds(monday: date) -> tuple[float, float]:
    """The week's start and end as epoch seconds (UTC)."""
    start = datetime.combine(monday, time(), UTC).timestamp()
    return start, start + 7 * DAY_S
