"""The real slicer and CAM files in ../shared/gcode: every one is analysed sensibly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fabhub.jobs.analysis import Analysis, analyze_file

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "gcode"


def sample(name: str) -> Path:
    """A sample file; fails (not skips) when the shared samples are missing."""
    path = SAMPLES / name
    assert path.is_file(), f"sample G-code missing: {path}"
    return path


@pytest.fixture(scope="module")
def analyses() -> dict[str, Analysis]:
    names = [p.name for p in sorted(SAMPLES.glob("*.gcode"))]
    assert len(names) >= 9, f"expected the shared samples in {SAMPLES}"
    return {name: analyze_file(SAMPLES / name) for name in names}


@pytest.mark.parametrize(("name", "slicer_s", "flavour", "producer"), [
    ("prusaslicer-vase.gcode", 4000, "marlin", "PrusaSlicer 2.7.4+MacOS-x64"),
    ("prusaslicer-plant-sign.gcode", 1634, "marlin2", "PrusaSlicer 2.7.4+MacOS-x64"),
    ("cura-puzzle.gcode", 3485, "reprap", "Cura_SteamEngine 2.3.1"),
])
def test_slicer_files(analyses: dict[str, Analysis], name: str, slicer_s: float, flavour: str,
                      producer: str) -> None:
    result = analyses[name]
    assert result.kind_hint == "fdm"
    assert result.slicer_estimate_s == slicer_s
    assert (result.flavour, result.producer) == (flavour, producer)
    # Slicers leave heat-up out of their estimates; the planner's must be close to theirs.
    motion = result.estimated_s - result.heating_s
    assert abs(motion / slicer_s - 1) < 0.06
    assert result.heating_s > 0
    assert not result.working_bounds.empty and result.filament[0].length_mm > 1000


def test_prusaslicer_details(analyses: dict[str, Analysis]) -> None:
    vase = analyses["prusaslicer-vase.gcode"]
    assert vase.material_hint == "PLA"
    assert vase.embedded_limits["machine_max_acceleration_x"] == 500
    # PrusaSlicer says 2996.07 mm, 8.94 g of PLA.
    assert vase.filament[0].length_mm == pytest.approx(2996.07, rel=0.002)
    assert vase.filament[0].mass_g == pytest.approx(8.94, rel=0.01)
    assert vase.peak_hotend_c == 210 and vase.peak_bed_c == 60
    assert vase.layers == 334


@pytest.mark.parametrize(("name", "kind"), [
    ("grbl-laser-tball-engrave.gcode", "laser"),
    ("grbl-cnc-jsdc.gcode", "cnc"),
    ("grbl-cnc-helical-thread.gcode", "cnc"),
])
def test_laser_and_cnc_files_are_analysed(analyses: dict[str, Analysis], name: str,
                                          kind: str) -> None:
    result = analyses[name]
    assert result.kind_hint == kind
    assert result.estimated_s > 0
    assert not (result.working_bounds.empty and result.travel_bounds.empty)


def test_laser_dwell_is_in_seconds(analyses: dict[str, Analysis]) -> None:
    result = analyses["grbl-laser-tball-engrave.gcode"]
    assert result.flavour == "grbl"
    # Two 'G4 P0.5' dwells of half a second each, plus the moves.
    assert result.estimated_s > 1.0


def test_helical_thread_in_inches(analyses: dict[str, Analysis]) -> None:
    result = analyses["grbl-cnc-helical-thread.gcode"]
    assert "G20" in result.commands and "G91" in result.commands
    assert result.working_bounds.z_min == pytest.approx(-0.6533 * 25.4, abs=0.001)


def test_mach3_dialect_gets_a_clear_warning(analyses: dict[str, Analysis]) -> None:
    result = analyses["mach3-small.gcode"]
    warning = next(w for w in result.warnings if "does not know" in w)
    assert "M11 (line 21)" in warning and "G31 (line 15)" in warning


def test_results_are_json(analyses: dict[str, Analysis]) -> None:
    for result in analyses.values():
        text = json.dumps(result.to_dict())
        assert Analysis.from_dict(json.loads(text)) == result
