"""Parsers for what firmware reports: temperatures, positions, Grbl status reports."""

from __future__ import annotations

import re

from fabhub.drivers.events import Telemetry

_TEMP = re.compile(r"(?<![\w@])([TBCPAR]\d?):\s*(-?\d+(?:\.\d+)?)(?:\s*/\s*(-?\d+(?:\.\d+)?))?")
_AXIS = re.compile(r"\b([XYZEABC]):\s*(-?\d+(?:\.\d+)?)")
AXES = ("X", "Y", "Z", "A", "B", "C")


def parse_temperatures(text: str) -> dict[str, tuple[float, float | None]]:
    """Heaters in a RepRap temperature report: ``{"T": (21.3, 0.0), "B": (60.0, 60.0)}``."""
    return {name: (float(actual), float(target) if target is not None else None)
            for name, actual, target in _TEMP.findall(text)}


def parse_position(text: str) -> dict[str, float]:
    """Axes in an ``M114`` reply, ignoring the stepper counts after ``Count``."""
    head = text.split("Count", 1)[0]
    return {axis: float(value) for axis, value in _AXIS.findall(head)}


def _numbers(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v]
    except ValueError:
        return []


def parse_grbl_status(text: str) -> Telemetry | None:
    """A Grbl status report (1.1 ``<Run|MPos:...|FS:...>`` or 0.9 ``<Run,MPos:...>``)."""
    if not (text.startswith("<") and text.endswith(">")):
        return None
    body = text[1:-1]
    if "|" not in body:  # Grbl 0.9: <Idle,MPos:0.000,0.000,0.000,WPos:0.000,0.000,0.000>
        body = re.sub(r",(?=[A-Za-z]+:)", "|", body)
    state, *fields = body.split("|")
    values: dict[str, str] = {}
    for item in fields:
        key, _, value = item.partition(":")
        values[key] = value
    mpos, wpos = _numbers(values.get("MPos", "")), _numbers(values.get("WPos", ""))
    wco = _numbers(values.get("WCO", ""))
    if mpos and wco and not wpos:
        wpos = [m - w for m, w in zip(mpos, wco, strict=False)]
    if wpos and wco and not mpos:
        mpos = [p + w for p, w in zip(wpos, wco, strict=False)]
    feed_speed = _numbers(values.get("FS", values.get("F", "")))
    return Telemetry(
        position=dict(zip(AXES, mpos, strict=False)),
        work_position=dict(zip(AXES, wpos, strict=False)),
        machine_state=state,
        feed=feed_speed[0] if feed_speed else None,
        speed=feed_speed[1] if len(feed_speed) > 1 else None,
        overrides=tuple(int(v) for v in _numbers(values.get("Ov", ""))),
        pins=values.get("Pn", ""),
        buffer=tuple(int(v) for v in _numbers(values.get("Bf", ""))),
    )
