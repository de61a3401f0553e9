"""Validation of an analysed file against a machine profile: what must stop a job.

:func:`validate` is a pure function of the stored :class:`Analysis` and a profile, so
the scheduler can check one job against every machine without reading the file again.
Each :class:`Finding` names the line to look at and says in plain words what is wrong.
"""

from __future__ import annotations

from fabhub.jobs.analysis_model import Analysis, Bounds, Finding
from fabhub.jobs.firmware_families import FAMILIES
from fabhub.jobs.machine_profile import MachineProfile

KIND_NAMES = {"fdm": "a 3D printer", "laser": "a laser cutter", "cnc": "a CNC mill"}


def _outside(bounds: Bounds, profile: MachineProfile, severity: str, code: str,
             what: str) -> list[Finding]:
    env = profile.envelope
    found = []
    for axis in "xyz":
        low, high = getattr(env, f"{axis}_min"), getattr(env, f"{axis}_max")
        for end, beyond in (("min", lambda v, lo=low: v < lo - 1e-6),
                            ("max", lambda v, hi=high: v > hi + 1e-6)):
            value = getattr(bounds, f"{axis}_{end}")
            if beyond(value):
                line = getattr(bounds, f"{axis}_{end}_line")
                found.append(Finding(severity, code, line, (
                    f"{what} reaches {axis.upper()}={value:g} mm at line {line}, outside "
                    f"{profile.name}'s {axis.upper()} range {low:g} to {high:g} mm"),
                    {"axis": axis.upper(), "value": value, "low": low, "high": high,
                     "machine": profile.name}))
    return found


def _envelope(analysis: Analysis, profile: MachineProfile) -> list[Finding]:
    if profile.coordinates == "machine":
        return (_outside(analysis.working_bounds, profile, "error", "outside_envelope",
                         "the work") +
                _outside(analysis.travel_bounds, profile, "warning", "travel_outside_envelope",
                         "a travel move"))
    found = []
    env = profile.envelope
    for label, bounds, severity in (("work", analysis.working_bounds, "error"),
                                    ("travel", analysis.travel_bounds, "warning")):
        if env.fits(bounds):
            continue
        spans = " × ".join(f"{getattr(bounds, f'{a}_max') - getattr(bounds, f'{a}_min'):g}"
                           for a in "xyz")
        room = " × ".join(f"{getattr(env, f'{a}_max') - getattr(env, f'{a}_min'):g}"
                          for a in "xyz")
        found.append(Finding(severity, "larger_than_envelope", bounds.x_min_line, (
            f"the {label} spans {spans} mm (X × Y × Z); {profile.name} has room for "
            f"{room} mm wherever its work zero is set"),
            {"part": label, "spans": spans, "room": room, "machine": profile.name}))
    return found


def _commands(analysis: Analysis, profile: MachineProfile) -> list[Finding]:
    family = FAMILIES[profile.firmware]
    found = []
    for name, line in analysis.commands.items():
        if name in profile.forbidden_commands:
            found.append(Finding("error", "forbidden_command", line, (
                f"line {line}: {name} is not allowed on {profile.name}: it changes the "
                "machine's stored settings or firmware; remove it from the file"),
                {"command": name, "machine": profile.name}))
            continue
        if name in profile.accepted_commands:
            continue
        reason = family.refusal(name)
        if reason is not None:
            found.append(Finding("error", "unsupported_command", line, (
                f"line {line}: {profile.name} cannot run {name} ({reason})"),
                {"command": name, "machine": profile.name, "firmware": family.name}))
    return found


def _temperatures(analysis: Analysis, profile: MachineProfile, material: str | None
                  ) -> list[Finding]:
    found = []
    hot, hot_line = analysis.peak_hotend_c, analysis.peak_hotend_line
    bed, bed_line = analysis.peak_bed_c, analysis.peak_bed_line
    if hot is not None and profile.max_hotend_temp_c is not None \
            and hot > profile.max_hotend_temp_c:
        found.append(Finding("error", "hotend_too_hot", hot_line, (
            f"line {hot_line}: the nozzle is set to {hot:g} °C; {profile.name} allows at most "
            f"{profile.max_hotend_temp_c:g} °C"),
            {"value": hot, "limit": profile.max_hotend_temp_c, "machine": profile.name}))
    if bed is not None and profile.max_bed_temp_c is not None and bed > profile.max_bed_temp_c:
        found.append(Finding("error", "bed_too_hot", bed_line, (
            f"line {bed_line}: the bed is set to {bed:g} °C; {profile.name} allows at most "
            f"{profile.max_bed_temp_c:g} °C"),
            {"value": bed, "limit": profile.max_bed_temp_c, "machine": profile.name}))
    name = material or analysis.material_hint
    if name is None or profile.kind != "fdm":
        return found
    accepted = profile.material(name)
    if accepted is None:
        names = ", ".join(m.name for m in profile.materials)
        found.append(Finding("error" if material else "warning", "material_not_accepted", None,
                             f"{profile.name} does not take {name}; it takes {names}",
                             {"material": name, "accepted": names, "machine": profile.name}))
        return found
    if hot is not None and accepted.max_temp_c is not None and hot > accepted.max_temp_c:
        found.append(Finding("error", "too_hot_for_material", hot_line, (
            f"line {hot_line}: {hot:g} °C is above {accepted.max_temp_c:g} °C, the most "
            f"{accepted.name} takes on {profile.name}"),
            {"value": hot, "limit": accepted.max_temp_c, "material": accepted.name,
             "machine": profile.name}))
    if hot is not None and accepted.min_temp_c is not None and hot < accepted.min_temp_c:
        found.append(Finding("warning", "too_cold_for_material", hot_line, (
            f"line {hot_line}: {hot:g} °C is below {accepted.min_temp_c:g} °C, the least "
            f"{accepted.name} needs; expect poor layers"),
            {"value": hot, "limit": accepted.min_temp_c, "material": accepted.name}))
    if bed is not None and accepted.max_bed_temp_c is not None and bed > accepted.max_bed_temp_c:
        found.append(Finding("error", "bed_too_hot_for_material", bed_line, (
            f"line {bed_line}: the bed at {bed:g} °C is above {accepted.max_bed_temp_c:g} °C, "
            f"the most for {accepted.name}"),
            {"value": bed, "limit": accepted.max_bed_temp_c, "material": accepted.name}))
    return found


def _power(analysis: Analysis, profile: MachineProfile) -> list[Finding]:
    s, line = analysis.peak_s, analysis.peak_s_line
    if s is None:
        return []
    if profile.kind == "laser" and s > profile.laser_max_s:
        return [Finding("error", "laser_power_above_limit", line, (
            f"line {line}: laser power S{s:g} is above S{profile.laser_max_s:g}, the most "
            f"{profile.name} allows"),
            {"value": s, "limit": profile.laser_max_s, "machine": profile.name})]
    if profile.kind == "cnc" and s > profile.spindle_max_rpm:
        return [Finding("warning", "spindle_speed_above_limit", line, (
            f"line {line}: spindle speed S{s:g} is above {profile.spindle_max_rpm:g} rpm; "
            f"{profile.name} will run at its top speed instead"),
            {"value": s, "limit": profile.spindle_max_rpm, "machine": profile.name})]
    return []


def validate(analysis: Analysis, profile: MachineProfile,
             material: str | None = None) -> list[Finding]:
    """Problems running ``analysis``'s file on ``profile``'s machine, errors first.

    ``material`` is what the maker chose (else the slicer's hint is checked, as warnings).
    """
    found: list[Finding] = []
    kind = analysis.kind_hint
    if kind is None:
        found.append(Finding("warning", "kind_unknown", None, (
            "the file does not show which kind of machine it is for; check it is meant for "
            f"{KIND_NAMES[profile.kind]}"), {"kind": profile.kind}))
    elif kind != profile.kind:
        found.append(Finding("error", "kind_mismatch", None, (
            f"this file is for {KIND_NAMES[kind]}, but {profile.name} is "
            f"{KIND_NAMES[profile.kind]}"),
            {"kind": kind, "machine_kind": profile.kind, "machine": profile.name}))
    found += _envelope(analysis, profile)
    found += _commands(analysis, profile)
    found += _temperatures(analysis, profile, material)
    found += _power(analysis, profile)
    return sorted(found, key=lambda f: f.severity != "error")
