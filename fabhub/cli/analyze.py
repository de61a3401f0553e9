"""``fabhub analyze FILE``: print a G-code file's analysis and, for a machine, its findings."""

from __future__ import annotations

import json
from pathlib import Path

import click

from fabhub.cli.root import fail, main


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _bounds(label: str, bounds) -> str:
    if bounds.empty:
        return f"{label}: none"
    return (f"{label}: X {bounds.x_min:g}..{bounds.x_max:g}  Y {bounds.y_min:g}..{bounds.y_max:g}"
            f"  Z {bounds.z_min:g}..{bounds.z_max:g} mm")


def render(analysis, path: Path) -> list[str]:
    """The analysis as lines of text for a person."""
    made_by = ", ".join(filter(None, [analysis.producer, analysis.flavour and
                                      f"flavour {analysis.flavour}"]))
    lines = [f"{path.name}: {analysis.line_count} lines" + (f" ({made_by})" if made_by else ""),
             f"for: {analysis.kind_hint or 'unknown kind of machine'}"]
    estimate = f"time: {_duration(analysis.estimated_s)}"
    if analysis.heating_s:
        estimate += f" (including {_duration(analysis.heating_s)} heating)"
    if analysis.slicer_estimate_s is not None:
        estimate += f"; the slicer says {_duration(analysis.slicer_estimate_s)} without heating"
    lines += [estimate, _bounds("work", analysis.working_bounds),
              _bounds("travel", analysis.travel_bounds)]
    for used in analysis.filament:
        lines.append(f"filament T{used.tool}: {used.length_mm:.0f} mm, "
                     f"{used.volume_mm3 / 1000:.2f} cm³, {used.mass_g:.1f} g")
    if analysis.material_hint:
        lines.append(f"material (slicer): {analysis.material_hint}")
    if analysis.peak_hotend_c is not None:
        lines.append(f"nozzle: up to {analysis.peak_hotend_c:g} °C (line "
                     f"{analysis.peak_hotend_line})")
    if analysis.peak_bed_c is not None:
        lines.append(f"bed: up to {analysis.peak_bed_c:g} °C (line {analysis.peak_bed_line})")
    if analysis.peak_s is not None:
        lines.append(f"laser/spindle: up to S{analysis.peak_s:g} (line {analysis.peak_s_line}),"
                     f" on for {_duration(analysis.tool_on_s)}, cut {analysis.cut_length_mm:.0f}"
                     " mm")
    if analysis.layers:
        lines.append(f"layers: {analysis.layers}")
    lines += [f"warning: {text}" for text in analysis.warnings]
    lines += [f"{f.severity.upper()} [{f.code}] {f.message}" for f in analysis.findings]
    return lines


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--machine", "machine", metavar="PROFILE.toml",
              help="Check the file against this machine profile (a TOML file, or the name of "
                   "a shipped example such as fdm-marlin).")
@click.option("--material", help="The material the maker chose, checked against the machine.")
@click.option("--json", "as_json", is_flag=True, help="Print the analysis as JSON.")
def analyze(file: Path, machine: str | None, material: str | None, as_json: bool) -> None:
    """Analyse a G-code file: bounds, material, time, and problems on a machine.

    Exits with status 2 when the machine must not run the file.

    \b
    Examples:
      fabhub analyze part.gcode
      fabhub analyze part.gcode --machine fdm-marlin --material PETG
      fabhub analyze cut.nc --machine lab/laser.toml --json
    """
    from fabhub.jobs.analysis import AnalysisError, analyze_file, validate
    from fabhub.jobs.machine_profile import (
        ProfileError,
        example_names,
        example_profile,
        load_profile_file,
    )

    profile = None
    try:
        if machine is not None:
            profile = (example_profile(machine) if machine in example_names()
                       else load_profile_file(machine))
        analysis = analyze_file(file, profile)
    except (AnalysisError, ProfileError) as exc:
        fail(f"{file}: {exc}" if isinstance(exc, AnalysisError) else str(exc))
    if profile is not None and material is not None:
        import dataclasses

        analysis = dataclasses.replace(analysis,
                                       findings=tuple(validate(analysis, profile, material)))
    if as_json:
        click.echo(json.dumps(analysis.to_dict(), indent=2, ensure_ascii=False))
    else:
        for line in render(analysis, file):
            click.echo(line)
    if any(f.severity == "error" for f in analysis.findings):
        raise SystemExit(2)
