"""UTC timestamps, the only form in which fabhub stores time."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def utc_now_iso() -> str:
    """The current UTC time as ISO 8601 with a ``Z`` suffix, to the microsecond."""
    return utc_now().isoformat(timespec="microseconds").replace("+00:00", "Z")
