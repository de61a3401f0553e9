"""What a node may report: the schema of its job events and heartbeat telemetry.

Everything a node sends is checked here where it enters the hub: known keys only
for each event type, finite numbers within physical ranges, bounded strings,
lists and maps. What passes is stored whole (valid JSON, never cut), so the pages
that show it never meet a value they cannot show. The ``stored_*`` readers parse
what is already in the database through the same schema and give back only
valid, typed data or None: rows written before this schema existed (cut JSON,
text where numbers belong, infinite percentages) read as "nothing known".
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import ErrorDetails

from fabhub.clock import parse_utc
from fabhub.problems import Problem

MAX_EVENTS_PER_BATCH = 500
MAX_LINES = 10**9  # lines of one G-code file
MAX_BYTES = 10**12  # bytes of one G-code file
MIN_TEMPERATURE_C = -273.15  # absolute zero: nothing reads colder
MAX_TEMPERATURE_C = 2000.0  # above a K thermocouple's range (1,372 °C): garbage
MAX_COORDINATE_MM = 1e6  # a kilometre: far beyond any machine's travel
MAX_TEXT = 1000  # free text: firmware messages and states, pause reasons, log lines
MAX_NAME = 40  # a heater's or an axis's name
MAX_HEATERS = 32
MAX_AXES = 16
MAX_ECHO = 80  # how much of an offending key a refusal repeats


def _no_nul(text: str) -> str:
    # Pydantic already refuses lone surrogates; PostgreSQL refuses NUL in text.
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


def _timestamp(text: str) -> str:
    try:
        parse_utc(text)
    except (ValueError, OverflowError):
        raise ValueError("must be an ISO 8601 UTC time such as 2026-12-01T14:00:00Z") from None
    return text


def _text(max_length: int, min_length: int = 0) -> Any:
    return Annotated[str, Strict(), Field(min_length=min_length, max_length=max_length),
                     AfterValidator(_no_nul)]


def _number(low: float, high: float) -> Any:
    return Annotated[float, Strict(), Field(ge=low, le=high, allow_inf_nan=False)]


def _count(high: int) -> Any:
    return Annotated[int, Strict(), Field(ge=0, le=high)]


Timestamp = Annotated[str, Strict(), Field(min_length=1, max_length=40),
                      AfterValidator(_timestamp)]
Temperature = _number(MIN_TEMPERATURE_C, MAX_TEMPERATURE_C)
# [actual, target]; the target is null when the firmware did not report one.
Reading = tuple[Temperature, Temperature | None]
Coordinate = _number(-MAX_COORDINATE_MM, MAX_COORDINATE_MM)
Name = _text(MAX_NAME, min_length=1)


class _Schema(BaseModel):
    """Unknown keys are refused; values are never converted from another type."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TelemetryFields(_Schema):
    """What a machine reports about itself (every field may be missing)."""

    machine_state: _text(MAX_TEXT) | None = None
    temperatures: Annotated[dict[Name, Reading], Field(max_length=MAX_HEATERS)] = {}
    position: Annotated[dict[Name, Coordinate], Field(max_length=MAX_AXES)] = {}


class TelemetryReport(TelemetryFields):
    """A heartbeat's ``telemetry``: the node's last telemetry event, or ``{}``."""

    type: Literal["telemetry"] | None = None
    at: Timestamp | None = None


class StartedEvent(_Schema):
    """The first line went to the machine."""

    type: Literal["started"]
    at: Timestamp


class ProgressEvent(_Schema):
    """How far the job is."""

    type: Literal["progress"]
    at: Timestamp
    lines_acked: _count(MAX_LINES) | None = None
    lines_total: _count(MAX_LINES) | None = None
    bytes_acked: _count(MAX_BYTES) | None = None
    bytes_total: _count(MAX_BYTES) | None = None
    current_line: _count(MAX_LINES) | None = None
    percent: _number(0.0, 100.0) | None = None


class PausedEvent(_Schema):
    """The machine holds the job (by command or after a firmware error)."""

    type: Literal["paused"]
    at: Timestamp
    reason: _text(MAX_TEXT) | None = None


class ResumedEvent(_Schema):
    """The machine goes on with the job."""

    type: Literal["resumed"]
    at: Timestamp


class TelemetryEvent(TelemetryFields):
    """Temperatures, position and state during the job."""

    type: Literal["telemetry"]
    at: Timestamp


class FirmwareErrorEvent(_Schema):
    """The firmware reported an error."""

    type: Literal["firmware_error"]
    at: Timestamp
    message: _text(MAX_TEXT)
    recoverable: Annotated[bool, Strict()] | None = None
    line: _count(MAX_LINES) | None = None


class LogEvent(_Schema):
    """Something the node thinks a gatekeeper may want to read."""

    type: Literal["log"]
    at: Timestamp
    message: _text(MAX_TEXT)


EVENT_MODELS = (StartedEvent, ProgressEvent, PausedEvent, ResumedEvent, TelemetryEvent,
                FirmwareErrorEvent, LogEvent)
EVENT_TYPES: tuple[str, ...] = tuple(get_args(m.model_fields["type"].annotation)[0]
                                     for m in EVENT_MODELS)
Event = Annotated[StartedEvent | ProgressEvent | PausedEvent | ResumedEvent | TelemetryEvent
                  | FirmwareErrorEvent | LogEvent, Field(discriminator="type")]
_EVENT = TypeAdapter(Event)
_TELEMETRY = TypeAdapter(TelemetryReport)
M = TypeVar("M", bound=BaseModel)


def _where(error: ErrorDetails, skip: int) -> str:
    """A readable path to the offending value: ``temperatures.T[0]``, ``position (name '')``."""
    loc = error["loc"][skip:]
    name = loc[-2] if len(loc) >= 2 and loc[-1] == "[key]" else None
    path = ""
    for part in loc[:-2] if name is not None else loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    where = path if name is None else f"{path} (name {name!r})"
    # A hostile key can be long: echo only its beginning.
    return where if len(where) <= MAX_ECHO else where[:MAX_ECHO - 1] + "…"


_PLAIN_REASONS = {
    "union_tag_invalid": f"'type' must be one of {', '.join(EVENT_TYPES)}",
    "union_tag_not_found": f"needs a 'type' among {', '.join(EVENT_TYPES)}",
    "model_attributes_type": "must be an object",
    "extra_forbidden": "is not a known key here; send only the keys the protocol names",
    "missing": "is required",
}


def _why(error: ErrorDetails) -> str:
    """Pydantic's reason, in the protocol's words where they differ."""
    return _PLAIN_REASONS.get(error["type"], error["msg"].removeprefix("Value error, "))


def check_event(index: int, event: Any) -> dict[str, Any]:
    """Event number ``index`` of a batch, if it follows the schema; a 422 naming why if not."""
    try:
        _EVENT.validate_python(event)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        key = _where(error, skip=1)
        kind = event.get("type") if isinstance(event, dict) else None
        label = f"event {index}" + (f" ({kind})" if kind in EVENT_TYPES else "")
        why = _why(error)
        raise Problem(422, "invalid_event",
                      f"{label}{f', {key!r}' if key else ''}: {why}. Nothing of this batch was "
                      "stored; send it again with the event corrected.",
                      {"field": f"events[{index}]" + (f".{key}" if key else ""),
                       "event": index, "key": key or None, "reason": why}) from None
    return event


def check_events(events: Any) -> list[dict[str, Any]]:
    """A batch's events, every one checked; a 422 for the first that breaks the schema."""
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS_PER_BATCH:
        raise Problem(422, "invalid_field",
                      f"'events' must be a list of 1 to {MAX_EVENTS_PER_BATCH} events.",
                      {"field": "events"})
    return [check_event(i, event) for i, event in enumerate(events)]


def check_telemetry(telemetry: Any) -> dict[str, Any]:
    """A heartbeat's telemetry, if it follows the schema; a 422 naming the key and why if not."""
    if not isinstance(telemetry, dict):
        raise Problem(422, "invalid_field", "'telemetry' must be an object.",
                      {"field": "telemetry"})
    try:
        _TELEMETRY.validate_python(telemetry)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        key = _where(error, skip=0)
        why = _why(error)
        raise Problem(422, "invalid_field", f"'telemetry.{key}': {why}.",
                      {"field": f"telemetry.{key}", "reason": why}) from None
    return telemetry


def _stored(text: Any, model: type[M]) -> M | None:
    if not isinstance(text, str | bytes):
        return None
    try:
        return model.model_validate(json.loads(text))
    except (ValueError, RecursionError):  # cut or invalid JSON, or outside the schema
        return None


def stored_progress(text: Any) -> dict[str, Any] | None:
    """A stored progress event (``job_runs.progress_json``) as valid data, or None."""
    event = _stored(text, ProgressEvent)
    return event.model_dump(mode="json", exclude_unset=True) if event else None


def stored_telemetry(text: Any) -> dict[str, Any] | None:
    """Stored telemetry (``job_runs.telemetry_json``, ``nodes.telemetry_json``), or None."""
    report = _stored(text, TelemetryReport)
    return report.model_dump(mode="json", exclude_unset=True) if report else None


def stored_percent(value: Any) -> float | None:
    """A stored percentage as a finite number within 0..100, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value) if 0.0 <= value <= 100.0 else None


def stored_count(value: Any) -> int | None:
    """A stored count of lines as a whole number within 0..MAX_LINES, or None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_LINES else None
