"""The plain-data results of a G-code analysis, and their JSON form.

An :class:`Analysis` is what the hub stores for each upload: bounds, material, the time
estimate and what the file asks of a machine. It round-trips through
``to_dict``/``from_dict`` (JSON types only), and carries :data:`ANALYSIS_VERSION` so a
stored result can be recomputed when the analyzer improves.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

# Bump whenever a change to the analyzer changes any figure it reports.
ANALYSIS_VERSION = 2  # 2: M203 in mm/min on RepRapFirmware

SEVERITIES = ("error", "warning")
# Every code a :class:`Finding` may carry (the validator's vocabulary). Pages and other
# front ends build their own sentence from the code and ``params``; a Finding with a code
# not listed here cannot be made, so this tuple is the complete list to translate.
FINDING_CODES = (
    "kind_unknown", "kind_mismatch", "outside_envelope", "travel_outside_envelope",
    "larger_than_envelope", "forbidden_command", "unsupported_command", "hotend_too_hot",
    "bed_too_hot", "material_not_accepted", "too_hot_for_material", "too_cold_for_material",
    "bed_too_hot_for_material", "laser_power_above_limit", "spindle_speed_above_limit",
)


# Why a file is refused before any finding: each refusal's stable code (pages build
# their own sentence from it; the message stays the English for the API and the CLI).
ANALYSIS_ERROR_CODES = ("unreadable", "binary_gcode", "binary_file", "line_too_long",
                        "no_gcode", "mostly_not_gcode")


class AnalysisError(ValueError):
    """The input is not a G-code text file (binary, Prusa binary G-code, undecodable)."""

    def __init__(self, message: str, code: str, params: dict[str, object] | None = None
                 ) -> None:
        if code not in ANALYSIS_ERROR_CODES:
            raise ValueError(f"unknown analysis error code {code!r}; add it to "
                             "ANALYSIS_ERROR_CODES")
        super().__init__(message)
        self.code = code
        self.params: dict[str, object] = dict(params or {})


@dataclass(frozen=True)
class Bounds:
    """The box around a set of moves in mm, with the line that reached each extreme.

    A box with ``moves == 0`` is empty; its coordinates and lines are then all zero.
    """

    x_min: float = 0.0
    x_max: float = 0.0
    y_min: float = 0.0
    y_max: float = 0.0
    z_min: float = 0.0
    z_max: float = 0.0
    x_min_line: int = 0
    x_max_line: int = 0
    y_min_line: int = 0
    y_max_line: int = 0
    z_min_line: int = 0
    z_max_line: int = 0
    moves: int = 0

    @property
    def empty(self) -> bool:
        """Whether no move contributed to the box."""
        return self.moves == 0

    def merged(self, other: Bounds) -> Bounds:
        """The box around both boxes (each extreme keeps the line that reached it)."""
        if other.empty:
            return self
        if self.empty:
            return other
        values = {"moves": self.moves + other.moves}
        for axis in "xyz":
            for end, pick in (("min", min), ("max", max)):
                key = f"{axis}_{end}"
                mine, theirs = getattr(self, key), getattr(other, key)
                best = self if pick(mine, theirs) == mine else other
                values[key] = getattr(best, key)
                values[f"{key}_line"] = getattr(best, f"{key}_line")
        return Bounds(**values)


@dataclass(frozen=True)
class Finding:
    """Something a maker or gatekeeper must know: ``error`` blocks the job on that machine.

    ``message`` is the English sentence; ``params`` holds the values it was built from
    (JSON types only), so another language can build its own from ``code``.
    """

    severity: str
    code: str
    line: int | None
    message: str
    params: dict[str, object] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        """Refuse a code missing from :data:`FINDING_CODES`."""
        if self.code not in FINDING_CODES:
            raise ValueError(f"unknown finding code {self.code!r}; add it to FINDING_CODES")


@dataclass(frozen=True)
class Filament:
    """Filament one tool (extruder) uses: net length pushed, its volume and mass."""

    tool: int
    length_mm: float
    volume_mm3: float
    mass_g: float
    diameter_mm: float
    density_g_cm3: float


@dataclass(frozen=True)
class Analysis:
    """Everything the analyzer learnt from one G-code file.

    ``working_bounds`` covers the moves that do work (extruding, cutting, laser on);
    ``travel_bounds`` the others. ``estimated_s`` is the machine time including
    ``heating_s`` (modelled heat-up waits); slicers leave heating out of theirs.
    ``peak_s`` is the highest laser power or spindle speed word. ``commands`` maps each
    command to the first line it appears on. ``findings`` are the problems found by
    :func:`fabhub.jobs.validation.validate` when a machine profile was given.
    """

    analysis_version: int
    flavour: str | None
    producer: str | None
    kind_hint: str | None
    line_count: int
    working_bounds: Bounds
    travel_bounds: Bounds
    filament: tuple[Filament, ...]
    peak_hotend_c: float | None
    peak_hotend_line: int | None
    peak_bed_c: float | None
    peak_bed_line: int | None
    peak_s: float | None
    peak_s_line: int | None
    tool_on_s: float
    cut_length_mm: float
    layers: int
    estimated_s: float
    heating_s: float
    slicer_estimate_s: float | None
    embedded_limits: dict[str, float] = field(default_factory=dict)
    material_hint: str | None = None
    commands: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def filament_mass_g(self) -> float:
        """Filament mass over all tools, in grams."""
        return sum(f.mass_g for f in self.filament)

    def to_dict(self) -> dict:
        """The analysis as JSON-compatible data."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Analysis:
        """Rebuild an analysis stored with :meth:`to_dict`."""
        values = dict(data)
        values["working_bounds"] = Bounds(**values["working_bounds"])
        values["travel_bounds"] = Bounds(**values["travel_bounds"])
        values["filament"] = tuple(Filament(**f) for f in values["filament"])
        values["warnings"] = tuple(values.get("warnings", ()))
        values["findings"] = tuple(Finding(**f) for f in values.get("findings", ()))
        return cls(**values)
