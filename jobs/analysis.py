"""G-code analysis: the public entry points.

``analyze_file(path, profile)`` and ``analyze_stream(binary_file, profile)`` read a file
once (memory does not grow with its length) and return an :class:`Analysis`; with a
machine profile, its ``findings`` say what that machine must not run. ``validate``
checks a stored analysis against any profile without reading the file again.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import BinaryIO

from fabhub.jobs.analysis_model import (
    ANALYSIS_VERSION,
    Analysis,
    AnalysisError,
    Bounds,
    Filament,
    Finding,
)
from fabhub.jobs.analysis_summary import summarise
from fabhub.jobs.firmware_families import FAMILIES
from fabhub.jobs.gcode_scan import BED_RATE, HOTEND_RATE, Scanner
from fabhub.jobs.machine_profile import Axes, Kinematics, MachineProfile
from fabhub.jobs.motion_planner import Planner
from fabhub.jobs.slicer_comments import SlicerComments
from fabhub.jobs.validation import validate

__all__ = ["ANALYSIS_VERSION", "Analysis", "AnalysisError", "Bounds", "Filament", "Finding",
           "analyze_file", "analyze_stream", "validate"]

TAIL_BYTES = 128 * 1024
AXES = "xyze"


def kinematics_from_limits(base: Kinematics, limits: dict[str, float]) -> Kinematics:
    """``base`` overridden by a slicer's embedded ``machine_max_*`` settings."""
    def axes(current: Axes, prefix: str) -> Axes:
        values = {a: limits.get(f"{prefix}{a}", getattr(current, a)) for a in AXES}
        return Axes(**{a: v if v > 0 else getattr(current, a) for a, v in values.items()})

    def scalar(key: str, current: float) -> float:
        value = limits.get(key, current)
        return value if value > 0 else current

    return dataclasses.replace(
        base,
        max_feedrate=axes(base.max_feedrate, "machine_max_feedrate_"),
        max_acceleration=axes(base.max_acceleration, "machine_max_acceleration_"),
        jerk=axes(base.jerk, "machine_max_jerk_"),
        print_acceleration=scalar("machine_max_acceleration_extruding",
                                  base.print_acceleration),
        travel_acceleration=scalar("machine_max_acceleration_travel", base.travel_acceleration),
        retract_acceleration=scalar("machine_max_acceleration_retracting",
                                    base.retract_acceleration),
        min_print_feedrate=limits.get("machine_min_extruding_rate", base.min_print_feedrate),
        min_travel_feedrate=limits.get("machine_min_travel_rate", base.min_travel_feedrate),
    )


def _tail_comments(stream: BinaryIO) -> SlicerComments:
    """Comments in the last bytes of a seekable file (where slicers put their settings)."""
    comments = SlicerComments()
    try:
        if not stream.seekable():
            return comments
        start = stream.tell()
        size = stream.seek(0, os.SEEK_END)
        stream.seek(max(start, size - TAIL_BYTES))
        tail = stream.read(TAIL_BYTES)
        stream.seek(start)
    except OSError:
        return comments
    for line in tail.split(b"\n")[1:]:
        if line.startswith(b";"):
            comments.feed(line)
    return comments


def analyze_file(path: str | Path, profile: MachineProfile | None = None) -> Analysis:
    """Analyse the G-code file at ``path``; see :func:`analyze_stream`."""
    try:
        with open(path, "rb") as stream:
            return analyze_stream(stream, profile)
    except OSError as exc:
        raise AnalysisError(f"cannot read {path}: {exc.strerror or exc}", "unreadable",
                            {"reason": str(exc.strerror or exc)}) from exc


def analyze_stream(binary_file: BinaryIO, profile: MachineProfile | None = None) -> Analysis:
    """Analyse G-code read from a binary file object in one pass.

    Without a profile, the time estimate uses the file's embedded machine limits if it
    has any, else stock Marlin 2 limits; with one, the profile's kinematics (or the
    file's limits where the profile trusts them). ``AnalysisError`` if the input is not
    G-code text.
    """
    tail = _tail_comments(binary_file)
    kinematics = profile.kinematics if profile is not None else Kinematics()
    if tail.limits and (profile is None or profile.trust_embedded_limits):
        kinematics = kinematics_from_limits(kinematics, tail.limits)
    family = FAMILIES.get(profile.firmware) if profile is not None else None
    rates = (HOTEND_RATE, BED_RATE)
    if profile is not None and profile.kind == "fdm":
        rates = (profile.hotend_heat_rate_c_s or HOTEND_RATE,
                 profile.bed_heat_rate_c_s or BED_RATE)
    scanner = Scanner(Planner(kinematics), family, rates)
    scanner.run(binary_file)
    if scanner.valid_lines == 0:
        raise AnalysisError("no G-code commands found: this does not look like G-code",
                            "no_gcode")
    if scanner.invalid_lines > scanner.valid_lines:
        raise AnalysisError(
            f"{scanner.invalid_lines} of {scanner.invalid_lines + scanner.valid_lines} lines "
            f"are not G-code (the first at line {scanner.first_invalid}); "
            "this does not look like G-code", "mostly_not_gcode",
            {"invalid": scanner.invalid_lines,
             "lines": scanner.invalid_lines + scanner.valid_lines,
             "first": scanner.first_invalid})
    analysis = summarise(scanner, tail, profile)
    if profile is None:
        return analysis
    return dataclasses.replace(analysis, findings=tuple(validate(analysis, profile)))
