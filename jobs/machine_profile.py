"""Machine profiles: what a machine is and may do, as frozen data read from TOML.

A profile is checked completely when it is loaded: an unknown key, a missing key, a value
of the wrong type or out of range is a :class:`ProfileError` that names the source, the
key and what is allowed. ``dump_profile`` writes TOML that ``load_profile`` reads back to
an equal profile, so labs can share profiles as files.

Units: lengths in mm, speeds in mm/s, accelerations in mm/s², times in s, temperatures in
°C, densities in g/cm³, laser power in W, spindle speed in rpm.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fabhub.jobs.firmware_families import FAMILIES

KINDS = ("fdm", "laser", "cnc")
CORNERING = ("jerk", "junction_deviation")
COORDINATES = ("machine", "work")


# Every code a :class:`ProfileError` may carry; front ends translate by code and params.
PROFILE_ERROR_CODES = (
    "not_toml", "unreadable", "unknown_example", "not_a_number", "not_finite",
    "not_positive", "negative", "not_boolean", "not_string", "not_command_list",
    "not_material_list", "not_table", "unknown_key", "missing", "not_a_choice",
    "max_not_above_min", "required_for_kind", "only_for_kind", "no_material",
    "required_for_fdm_material", "below_other", "duplicate_material",
    # Raised by the hub, not the loader: the profile's kind differs from its class's.
    "class_kind_mismatch",
)


class ProfileError(ValueError):
    """A machine profile is malformed; the message names source, key and allowed values.

    ``code`` (one of :data:`PROFILE_ERROR_CODES`), ``key`` (the TOML key, or ``""``) and
    ``params`` (JSON values) let another language say the same thing.
    """

    def __init__(self, message: str, code: str, key: str = "",
                 params: dict[str, object] | None = None) -> None:
        if code not in PROFILE_ERROR_CODES:
            raise ValueError(f"unknown profile error code {code!r}; add it to "
                             "PROFILE_ERROR_CODES")
        super().__init__(message)
        self.code = code
        self.key = key
        self.params = params or {}


@dataclass(frozen=True)
class Axes:
    """One value per axis (X, Y, Z and the extruder E)."""

    x: float
    y: float
    z: float
    e: float


@dataclass(frozen=True)
class Envelope:
    """The work envelope in mm: where the tool may go."""

    x_min: float
    x_max: float
    y_min: float
    y_max: float
    z_min: float
    z_max: float

    def contains(self, bounds) -> bool:
        """Whether a box with ``x_min``..``z_max`` attributes lies inside the envelope.

        An empty box (no moves) is contained.
        """
        if bounds.empty:
            return True
        return (self.x_min <= bounds.x_min and bounds.x_max <= self.x_max
                and self.y_min <= bounds.y_min and bounds.y_max <= self.y_max
                and self.z_min <= bounds.z_min and bounds.z_max <= self.z_max)

    def fits(self, bounds) -> bool:
        """Whether a box fits inside the envelope wherever its origin is placed."""
        if bounds.empty:
            return True
        return (bounds.x_max - bounds.x_min <= self.x_max - self.x_min
                and bounds.y_max - bounds.y_min <= self.y_max - self.y_min
                and bounds.z_max - bounds.z_min <= self.z_max - self.z_min)


@dataclass(frozen=True)
class Kinematics:
    """Motion limits for the time estimate.

    The defaults describe a typical i3-class printer: Marlin 2's default accelerations
    and classic jerk, with the feed-rate limits of Prusa-style printers (stock Marlin's
    5 mm/s Z and 25 mm/s E are below what most slicer profiles ask for).

    ``cornering`` chooses how corner speeds are limited: classic ``jerk`` (per axis,
    mm/s) or ``junction_deviation`` (mm). ``min_segment_time`` is the shortest time the
    planner lets a move take while the look-ahead buffer is low (Marlin's
    ``DEFAULT_MINSEGMENTTIME``); ``min_print_feedrate`` and ``min_travel_feedrate`` are
    Marlin's ``M205 S`` and ``M205 T``.
    """

    max_feedrate: Axes = Axes(300.0, 300.0, 12.0, 120.0)
    max_acceleration: Axes = Axes(3000.0, 3000.0, 100.0, 10000.0)
    print_acceleration: float = 3000.0
    travel_acceleration: float = 3000.0
    retract_acceleration: float = 3000.0
    cornering: str = "jerk"
    jerk: Axes = Axes(10.0, 10.0, 0.3, 5.0)
    junction_deviation: float = 0.013
    min_segment_time: float = 0.0
    min_print_feedrate: float = 0.0
    min_travel_feedrate: float = 0.0


@dataclass(frozen=True)
class Material:
    """A material the machine accepts; temperatures and density matter for FDM only."""

    name: str
    min_temp_c: float | None = None
    max_temp_c: float | None = None
    density_g_cm3: float | None = None
    max_bed_temp_c: float | None = None


@dataclass(frozen=True)
class MachineProfile:
    """What one machine is and may do.

    ``coordinates`` says how a job's coordinates relate to the machine: ``machine``
    (a homed printer: the envelope is checked against absolute positions) or ``work``
    (Grbl machines, where the operator sets work zero on the stock: the job's extent
    must fit the envelope; the default for laser and CNC). ``accepted_commands`` lists
    commands this machine takes beyond its firmware family's defaults (for example
    ``G20`` on a Marlin built with inch support). Left as ``None``,
    ``forbidden_commands`` is the firmware family's list and ``confirm_bed_clear`` is
    true for FDM printers. ``hotend_heat_rate_c_s`` and ``bed_heat_rate_c_s`` (°C/s)
    model heat-up waits in the time estimate.
    """

    name: str
    kind: str
    firmware: str
    machine_class: str
    class_weight: float
    envelope: Envelope
    kinematics: Kinematics = Kinematics()
    nozzle_diameter_mm: float | None = None
    filament_diameter_mm: float | None = None
    materials: tuple[Material, ...] = ()
    max_hotend_temp_c: float | None = None
    max_bed_temp_c: float | None = None
    laser_max_power_w: float | None = None
    laser_max_s: float | None = None
    spindle_min_rpm: float | None = None
    spindle_max_rpm: float | None = None
    hotend_heat_rate_c_s: float | None = None
    bed_heat_rate_c_s: float | None = None
    forbidden_commands: tuple[str, ...] | None = None
    accepted_commands: tuple[str, ...] = ()
    confirm_bed_clear: bool | None = None
    trust_embedded_limits: bool = False
    coordinates: str | None = None

    def __post_init__(self) -> None:
        """Fill the kind's and firmware family's defaults for fields left as ``None``."""
        if self.forbidden_commands is None and self.firmware in FAMILIES:
            object.__setattr__(self, "forbidden_commands", FAMILIES[self.firmware].forbidden)
        if self.confirm_bed_clear is None:
            object.__setattr__(self, "confirm_bed_clear", self.kind == "fdm")
        if self.coordinates is None:
            object.__setattr__(self, "coordinates", "machine" if self.kind == "fdm" else "work")

    def material(self, name: str) -> Material | None:
        """The accepted material called ``name`` (case-insensitive), or ``None``."""
        wanted = name.strip().lower()
        return next((m for m in self.materials if m.name.lower() == wanted), None)


# Keys that only make sense for one kind of machine, and those that kind requires.
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "fdm": ("nozzle_diameter_mm", "filament_diameter_mm", "max_hotend_temp_c",
            "max_bed_temp_c"),
    "laser": ("laser_max_power_w", "laser_max_s"),
    "cnc": ("spindle_min_rpm", "spindle_max_rpm"),
}
# FDM-only keys that may be left out (the analyzer then assumes typical heating rates).
FDM_OPTIONAL = ("hotend_heat_rate_c_s", "bed_heat_rate_c_s")
# Numbers that may be zero (everything else numeric must be positive).
NON_NEGATIVE = {"min_print_feedrate", "min_travel_feedrate", "min_segment_time",
                "spindle_min_rpm", "x_min", "x_max", "y_min", "y_max", "z_min", "z_max"}
SIGNED = {"x_min", "x_max", "y_min", "y_max", "z_min", "z_max"}
EXAMPLES_PACKAGE = "fabhub.jobs"
EXAMPLES_FOLDER = "machine_profiles"


def normalise_command(command: str) -> str:
    """A command name as the analyzer records it: ``m500`` -> ``M500``, ``g1`` -> ``G1``."""
    text = command.strip().upper()
    if text[:1] in ("G", "M") and text[1:].replace(".", "", 1).isdigit():
        number = text[1:]
        whole, _, frac = number.partition(".")
        number = str(int(whole)) + (f".{frac}" if frac else "")
        return text[0] + number
    return text


def _type_name(value: object) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


class _Reader:
    """Reads nested TOML tables into the profile dataclasses, naming what is wrong."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, code: str, message: str, **params: object) -> ProfileError:
        return ProfileError(f"{self.source}: {key}: {message}", code, key, params)

    def number(self, key: str, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, "not_a_number",
                            f"must be a number, got {_type_name(value)} {value!r}",
                            type=type(value).__name__, value=repr(value))
        name = key.rpartition(".")[2]
        if value != value or value in (float("inf"), float("-inf")):
            raise self.fail(key, "not_finite", "must be a finite number")
        if name not in SIGNED and (value < 0 or (value == 0 and name not in NON_NEGATIVE)):
            allowed = "zero or more" if name in NON_NEGATIVE else "more than zero"
            raise self.fail(key, "negative" if name in NON_NEGATIVE else "not_positive",
                            f"must be {allowed}, got {value!r}", value=value)
        return float(value)

    def value(self, key: str, hint: object, raw: object) -> object:
        """Convert one TOML value to the type ``hint`` names."""
        text = str(hint)
        if hint is bool or text == "bool | None":
            if not isinstance(raw, bool):
                raise self.fail(key, "not_boolean",
                                f"must be true or false, got {_type_name(raw)} {raw!r}",
                                type=type(raw).__name__, value=repr(raw))
            return raw
        if hint is str or text == "str | None":
            if not isinstance(raw, str) or not raw.strip():
                raise self.fail(key, "not_string", f"must be a non-empty string, got {raw!r}",
                                value=repr(raw))
            return raw.strip()
        if hint is float or text == "float | None":
            return self.number(key, raw)
        if text.startswith("tuple[str"):
            if not isinstance(raw, list) or not all(isinstance(x, str) and x.strip()
                                                    for x in raw):
                raise self.fail(key, "not_command_list",
                                "must be an array of command names such as \"M500\"")
            return tuple(normalise_command(x) for x in raw)
        if hint == tuple[Material, ...]:
            if not isinstance(raw, list):
                raise self.fail(key, "not_material_list",
                                "must be an array of tables ([[materials]])")
            return tuple(self.table(f"{key}[{i}]", Material, item) for i, item in enumerate(raw))
        if dataclasses.is_dataclass(hint):
            return self.table(key, hint, raw)
        raise TypeError(f"the profile schema has no reader for {text}")

    def table(self, where: str, cls: type, raw: object) -> object:
        """Build ``cls`` from a TOML table; unknown and missing keys are errors."""
        if not isinstance(raw, dict):
            raise self.fail(where, "not_table", f"must be a table, got {_type_name(raw)}",
                            type=type(raw).__name__)
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(raw) - set(names))
        if unknown:
            prefix = f"{where}." if where else ""
            raise self.fail(prefix + unknown[0], "unknown_key",
                            f"unknown key; allowed keys: {', '.join(names)}",
                            allowed=", ".join(names))
        values = {}
        for f in dataclasses.fields(cls):
            key = f"{where}.{f.name}" if where else f.name
            if f.name in raw:
                values[f.name] = self.value(key, hints[f.name], raw[f.name])
            elif (f.default is dataclasses.MISSING
                  and f.default_factory is dataclasses.MISSING):
                raise self.fail(key, "missing", "is missing")
        return cls(**values)


def _check_choice(reader: _Reader, key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise reader.fail(key, "not_a_choice",
                          f"must be one of {', '.join(allowed)}; got {value!r}",
                          allowed=", ".join(allowed), value=repr(value))


def _check(reader: _Reader, profile: MachineProfile) -> None:
    """Cross-field rules that one value alone cannot show."""
    _check_choice(reader, "kind", profile.kind, KINDS)
    _check_choice(reader, "firmware", profile.firmware, tuple(FAMILIES))
    _check_choice(reader, "kinematics.cornering", profile.kinematics.cornering, CORNERING)
    _check_choice(reader, "coordinates", profile.coordinates, COORDINATES)
    env = profile.envelope
    for axis in "xyz":
        if getattr(env, f"{axis}_min") >= getattr(env, f"{axis}_max"):
            raise reader.fail(f"envelope.{axis}_max", "max_not_above_min",
                              f"must be more than {axis}_min", other=f"{axis}_min")
    for kind, keys in KIND_KEYS.items():
        for key in keys:
            present = getattr(profile, key) is not None
            if kind == profile.kind and not present:
                raise reader.fail(key, "required_for_kind",
                                  f"is required for a {kind} machine", kind=kind)
            if kind != profile.kind and present:
                raise reader.fail(key, "only_for_kind",
                                  f"applies only to a {kind} machine, not {profile.kind}",
                                  kind=kind, actual=profile.kind)
    for key in FDM_OPTIONAL:
        if profile.kind != "fdm" and getattr(profile, key) is not None:
            raise reader.fail(key, "only_for_kind",
                              f"applies only to a fdm machine, not {profile.kind}",
                              kind="fdm", actual=profile.kind)
    if profile.kind == "fdm":
        if not profile.materials:
            raise reader.fail("materials", "no_material",
                              "an FDM machine must accept at least one material")
        for i, material in enumerate(profile.materials):
            for key in ("min_temp_c", "max_temp_c", "density_g_cm3"):
                if getattr(material, key) is None:
                    raise reader.fail(f"materials[{i}].{key}", "required_for_fdm_material",
                                      "is required for FDM materials")
            if material.min_temp_c > material.max_temp_c:
                raise reader.fail(f"materials[{i}].max_temp_c", "below_other",
                                  "must be at least min_temp_c", other="min_temp_c")
    if profile.kind == "cnc" and profile.spindle_min_rpm > profile.spindle_max_rpm:
        raise reader.fail("spindle_max_rpm", "below_other", "must be at least spindle_min_rpm",
                          other="spindle_min_rpm")
    names = [m.name.lower() for m in profile.materials]
    if len(set(names)) != len(names):
        raise reader.fail("materials", "duplicate_material",
                          "each material name may appear only once")


def load_profile(text: str, source: str = "<profile>") -> MachineProfile:
    """Read a machine profile from TOML text; ``ProfileError`` says what is wrong."""
    import tomllib

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{source}: not valid TOML: {exc}", "not_toml",
                           params={"detail": str(exc)}) from exc
    reader = _Reader(source)
    profile = reader.table("", MachineProfile, raw)
    _check(reader, profile)
    return profile


def load_profile_file(path: str | Path) -> MachineProfile:
    """Read a machine profile from a TOML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read the profile: {exc}", "unreadable",
                           params={"detail": str(exc)}) from exc
    return load_profile(text, source=str(path))


def _without_none(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_without_none(v) for v in value]
    return value


def dump_profile(profile: MachineProfile) -> str:
    """The profile as TOML that :func:`load_profile` reads back to an equal profile.

    Values equal to the firmware family's or kind's defaults are left out, so that a
    shared profile keeps inheriting them.
    """
    import tomli_w

    data = dataclasses.asdict(profile)
    family = FAMILIES.get(profile.firmware)
    if family is not None and profile.forbidden_commands == family.forbidden:
        del data["forbidden_commands"]
    if profile.confirm_bed_clear == (profile.kind == "fdm"):
        del data["confirm_bed_clear"]
    if profile.coordinates == ("machine" if profile.kind == "fdm" else "work"):
        del data["coordinates"]
    if not profile.accepted_commands:
        del data["accepted_commands"]
    return tomli_w.dumps(_without_none(data))


def example_profile(name: str) -> MachineProfile:
    """One of the example profiles shipped with fabhub (see :func:`example_names`)."""
    if name not in example_names():
        raise ProfileError(f"{name!r}: no such example profile; "
                           f"examples: {', '.join(example_names())}", "unknown_example",
                           params={"name": name, "allowed": ", ".join(example_names())})
    folder = resources.files(EXAMPLES_PACKAGE) / EXAMPLES_FOLDER
    text = (folder / f"{name}.toml").read_text(encoding="utf-8")
    return load_profile(text, source=f"example profile {name}")


def example_names() -> tuple[str, ...]:
    """Names of the shipped example profiles, e.g. ``fdm-marlin``."""
    folder = resources.files(EXAMPLES_PACKAGE) / EXAMPLES_FOLDER
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml")))


def example_profiles() -> dict[str, MachineProfile]:
    """Every shipped example profile by name."""
    return {name: example_profile(name) for name in example_names()}
