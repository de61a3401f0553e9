"""validate(): what a machine must not run, from the stored analysis alone."""

from __future__ import annotations

import json
from pathlib import Path

from fabhub.jobs.analysis import Analysis, analyze_file, validate
from fabhub.jobs.machine_profile import example_profile
from tests.jobs.gcode_helpers import analyse
from tests.jobs.test_samples import sample


def codes(findings) -> set[str]:
    return {f.code for f in findings}


def errors(findings) -> set[str]:
    return {f.code for f in findings if f.severity == "error"}


def test_a_prusaslicer_file_fits_the_example_printer() -> None:
    result = analyze_file(sample("prusaslicer-plant-sign.gcode"), example_profile("fdm-marlin"))
    assert errors(result.findings) == set(), result.findings


def test_validate_needs_only_the_stored_analysis(tmp_path: Path) -> None:
    path = tmp_path / "job.gcode"
    path.write_text("M104 S260\nM83\nG1 X300 Y10 E5 F1200\nM500\n")
    stored = json.dumps(analyze_file(path).to_dict())
    path.unlink()
    result = Analysis.from_dict(json.loads(stored))
    findings = validate(result, example_profile("fdm-marlin"), material="PLA")
    assert {"outside_envelope", "forbidden_command", "too_hot_for_material"} <= errors(findings)
    outside = next(f for f in findings if f.code == "outside_envelope")
    assert outside.line == 3 and "X=300 mm" in outside.message and "0 to 250" in outside.message
    forbidden = next(f for f in findings if f.code == "forbidden_command")
    assert forbidden.line == 4 and "M500" in forbidden.message
    hot = next(f for f in findings if f.code == "too_hot_for_material")
    assert hot.line == 1 and "260" in hot.message


def test_findings_come_with_analyze_file_and_errors_first(tmp_path: Path) -> None:
    path = tmp_path / "job.gcode"
    path.write_text("M140 S130\nM104 S310\nM83\nG1 X10 E1 F600\nG1 X-20 F600\n")
    found = analyze_file(path, example_profile("fdm-marlin")).findings
    assert {"hotend_too_hot", "bed_too_hot"} <= errors(found)
    assert "travel_outside_envelope" in codes(found)
    severities = [f.severity for f in found]
    assert severities == sorted(severities, key=lambda s: s != "error")


def test_kind_mismatch() -> None:
    laser = analyze_file(sample("grbl-laser-tball-engrave.gcode"))
    assert "kind_mismatch" in errors(validate(laser, example_profile("fdm-marlin")))
    assert "kind_mismatch" not in codes(validate(laser, example_profile("laser-grbl")))


def test_laser_power_above_the_limit() -> None:
    result = analyse("G21\nM3 S1200\nG1 X10 F600\nM5\n")
    found = validate(result, example_profile("laser-grbl"))
    power = next(f for f in found if f.code == "laser_power_above_limit")
    assert power.line == 2 and "S1200" in power.message


def test_grbl_setting_writes_and_commands_it_does_not_take() -> None:
    result = analyse("$110=5000\n$H\nG21\nM104 S200\nM3 S100\nG1 X10 F100\n")
    found = validate(result, example_profile("cnc-grbl"))
    assert "forbidden_command" in errors(found)
    refused = next(f for f in found if f.code == "unsupported_command")
    assert refused.line == 4 and "M104" in refused.message
    assert result.commands["$<N>="] == 1 and result.commands["$H"] == 2


def test_inch_units_on_marlin_unless_the_profile_accepts_them() -> None:
    import dataclasses

    result = analyse("G20\nM83\nG1 X1 E0.1 F60\n")
    printer = example_profile("fdm-marlin")
    assert "unsupported_command" in errors(validate(result, printer))
    inch_printer = dataclasses.replace(printer, accepted_commands=("G20",))
    assert "unsupported_command" not in codes(validate(result, inch_printer))


def test_cnc_job_must_fit_wherever_work_zero_is() -> None:
    small = analyse("M3 S1000\nG1 Z-2 F100\nG1 X-100 Y-50 F500\n")
    assert errors(validate(small, example_profile("cnc-grbl"))) == set()
    large = analyse("M3 S1000\nG1 Z-2 F100\nG1 X-200 F500\nG1 X200\n")
    too_large = next(f for f in validate(large, example_profile("cnc-grbl"))
                     if f.code == "larger_than_envelope")
    assert too_large.severity == "error" and "400 × 0 × 2" in too_large.message


def test_material_the_machine_does_not_take() -> None:
    result = analyse("M104 S200\nM83\nG1 X10 E1 F600\n")
    found = validate(result, example_profile("fdm-marlin"), material="Nylon")
    assert "material_not_accepted" in errors(found)
    assert errors(validate(result, example_profile("fdm-marlin"), material="pla")) == set()
