"""Turn a finished scan into an :class:`Analysis`: kind, flavour, bounds, material, time."""

from __future__ import annotations

from math import pi

from fabhub.jobs.analysis_model import ANALYSIS_VERSION, Analysis, Bounds, Filament
from fabhub.jobs.firmware_families import FAMILIES
from fabhub.jobs.gcode_scan import Scanner
from fabhub.jobs.machine_profile import MachineProfile
from fabhub.jobs.slicer_comments import SlicerComments

DEFAULT_FILAMENT_MM = 1.75
DEFAULT_DENSITY = 1.24  # PLA, g/cm³
# Commands only printer firmware (Marlin and its cousins) takes.
_PRINTER_SIGNS = "M82 M83 M84 M104 M106 M107 M109 M117 M140 M190 M201 M203 M204 M205 M73 G29"
PRINTER_SIGNS = frozenset(_PRINTER_SIGNS.split(" "))
# Which boxes hold the working moves, per kind of machine.
WORKING = {"fdm": ("extrude",), "laser": ("tool",), "cnc": ("tool", "feed"),
           None: ("extrude", "tool", "feed")}


def kind_hint(sc: Scanner) -> str | None:
    """The kind of machine the file is for, from what it does."""
    if sc.extruded or "hotend" in sc.peaks:
        return "fdm"
    if "M3" in sc.commands or "M4" in sc.commands or "s" in sc.peaks:
        return "cnc" if sc.tool_on_z_move or sc.feed_below_zero else "laser"
    if sc.feed_below_zero:
        return "cnc"
    return None


def guess_flavour(sc: Scanner, kind: str | None) -> str | None:
    """The firmware dialect the file is written for, when no slicer comment says."""
    commands = sc.commands
    if any(name.startswith("$") for name in commands):
        return "grbl"
    if sc.extruded or PRINTER_SIGNS & commands.keys():
        return "marlin"
    grbl = FAMILIES["grbl"]
    if kind in ("laser", "cnc") and all(grbl.refusal(name) is None for name in commands):
        return "grbl"
    return None


def _bounds(sc: Scanner, kind: str | None) -> tuple[Bounds, Bounds]:
    working, travel = Bounds(), Bounds()
    for name, box in sc.boxes.items():
        if name in WORKING[kind]:
            working = working.merged(box.bounds())
        else:
            travel = travel.merged(box.bounds())
    return working, travel


def _filament(sc: Scanner, profile: MachineProfile | None, warnings: list[str]
              ) -> tuple[Filament, ...]:
    comments = sc.comments
    used = {tool: length for tool, length in sorted(sc.filament.items()) if length > 0}
    if not used:
        return ()
    diameter = (profile.filament_diameter_mm if profile is not None else None) \
        or comments.diameter_mm
    if diameter is None:
        diameter = DEFAULT_FILAMENT_MM
        warnings.append(f"filament diameter unknown; assumed {DEFAULT_FILAMENT_MM} mm")
    material = None
    if profile is not None and comments.material:
        material = profile.material(comments.material)
    density = (material.density_g_cm3 if material is not None else None) \
        or comments.density_g_cm3
    if density is None:
        density = DEFAULT_DENSITY
        warnings.append(f"filament density unknown; assumed {DEFAULT_DENSITY} g/cm³ (PLA)")
    area = pi * diameter * diameter / 4.0
    return tuple(Filament(tool, length, length * area, length * area * density / 1000.0,
                          diameter, density) for tool, length in used.items())


def _warnings(sc: Scanner) -> list[str]:
    warnings = [f"line {line}: {text}" for text, line in sc.notes.items()]
    if sc.unknown:
        listed = ", ".join(f"{name} (line {line})" for name, line in sc.unknown.items())
        warnings.append("commands fabhub does not know, perhaps another controller's "
                        f"dialect; they were ignored: {listed}")
    if sc.invalid_lines:
        warnings.append(f"skipped {sc.invalid_lines} line(s) that are not G-code "
                        f"(the first is line {sc.first_invalid})")
    if "G20" in sc.commands:
        warnings.append(f"line {sc.commands['G20']}: the file uses inch units (G20); "
                        "every figure here is converted to mm")
    return warnings


def _peak(sc: Scanner, key: str) -> tuple[float | None, int | None]:
    value = sc.peaks.get(key)
    return (value[0], value[1]) if value else (None, None)


def summarise(sc: Scanner, comments: SlicerComments, profile: MachineProfile | None
              ) -> Analysis:
    """The analysis of a scanned file (``comments``: those read ahead from its tail)."""
    motion_s = sc.planner.finish()
    kind = kind_hint(sc)
    flavour = sc.comments.flavour or guess_flavour(sc, kind)
    grbl = (profile is not None and profile.firmware == "grbl") or (
        profile is None and (flavour == "grbl" or (flavour is None and kind in ("laser", "cnc"))))
    p_unit = 1.0 if grbl else 0.001  # G4 P: seconds on Grbl, milliseconds on printers
    warnings = _warnings(sc)
    working, travel = _bounds(sc, kind)
    cut = sc.cut_length + (sc.feed_length if kind == "cnc" else 0.0)
    hotend, hotend_line = _peak(sc, "hotend")
    bed, bed_line = _peak(sc, "bed")
    s_peak, s_line = _peak(sc, "s")
    limits = dict(comments.limits)
    limits.update(sc.comments.limits)
    return Analysis(
        analysis_version=ANALYSIS_VERSION,
        flavour=flavour,
        producer=sc.comments.producer,
        kind_hint=kind,
        line_count=sc.line,
        working_bounds=working,
        travel_bounds=travel,
        filament=_filament(sc, profile, warnings),
        peak_hotend_c=hotend,
        peak_hotend_line=hotend_line,
        peak_bed_c=bed,
        peak_bed_line=bed_line,
        peak_s=s_peak,
        peak_s_line=s_line,
        tool_on_s=sc.planner.tagged_s + sc.dwell_s_tool_on + sc.dwell_p_tool_on * p_unit,
        cut_length_mm=cut,
        layers=sc.comments.layer_markers or sc.layers_z,
        estimated_s=motion_s + sc.dwell_s + sc.dwell_p * p_unit + sc.heating_s,
        heating_s=sc.heating_s,
        slicer_estimate_s=sc.comments.estimate_s,
        embedded_limits=limits,
        material_hint=sc.comments.material,
        commands=dict(sc.commands),
        warnings=tuple(warnings),
    )
