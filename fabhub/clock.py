"""UTC timestamps, the only form in which fabhub stores time."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def utc_now_iso() -> str:
    """The current UTC time as ISO 8601 with a ``Z`` suffix, to the microsecond."""
    return utc_now().isoformat(timespec="microseconds").replace("+00:00", "Z")


def iso_from_epoch(epoch: float) -> str:
    """Epoch seconds as ISO 8601 UTC with a ``Z`` suffix."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    """Parse an ISO 8601 timestamp that names its offset; return it in UTC.

    Raises ValueError (with a message for people) for text that is not such a
    timestamp: fabhub never guesses the time zone of a naive time.
    """
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not an ISO 8601 time; write e.g. 2026-12-01T14:00:00Z"
        ) from exc
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; add Z for UTC or an offset like +01:00")
    return moment.astimezone(UTC)
