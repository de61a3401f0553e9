"""Known answers, computed by hand, to the millisecond and the millimetre."""

from __future__ import annotations

import dataclasses
import math

import pytest

from tests.jobs.gcode_helpers import analyse, profile, trapezoid_s

MS = 0.0005  # half a millisecond
MM = 0.0005


def test_square_stopping_at_every_corner() -> None:
    # 10 mm sides at 50 mm/s, 1000 mm/s², jerk 0: each side is 1.25 mm accelerating,
    # 7.5 mm cruising, 1.25 mm braking: 0.05 + 0.15 + 0.05 = 0.25 s.
    square = "G21\nG90\nM83\nG1 X10 E1 F3000\nG1 Y10 E1\nG1 X0 E1\nG1 Y0 E1\n"
    result = analyse(square, profile(accel=1000, jerk=0))
    assert result.estimated_s == pytest.approx(4 * 0.25, abs=MS)
    assert result.heating_s == 0
    bounds = result.working_bounds
    assert (bounds.x_min, bounds.x_max, bounds.y_min, bounds.y_max) == (0, 10, 0, 10)
    assert (bounds.x_max_line, bounds.y_max_line) == (4, 5)
    assert result.kind_hint == "fdm"
    assert result.filament[0].length_mm == pytest.approx(4.0, abs=MM)


def test_square_with_junction_deviation_corners() -> None:
    # 90° corners: sin(θ/2) = √½, v² = a·δ·sin/(1 − sin) = 1000 · 0.05 · 2.41421.
    corner = math.sqrt(1000 * 0.05 * math.sqrt(0.5) / (1 - math.sqrt(0.5)))
    assert corner == pytest.approx(10.987, abs=0.001)
    square = "G1 X10 F3000\nG1 Y10\nG1 X0\nG1 Y0\n"
    result = analyse(square, profile("laser-grbl", accel=1000, cornering="junction_deviation",
                                     deviation=0.05))
    expected = (trapezoid_s(10, 50, 1000, 0, corner) + 2 * trapezoid_s(10, 50, 1000, corner,
                                                                       corner)
                + trapezoid_s(10, 50, 1000, corner, 0))
    assert result.estimated_s == pytest.approx(expected, abs=MS)
    assert expected == pytest.approx(0.9413, abs=0.001)


def test_classic_jerk_lets_a_straight_line_start_at_jerk_speed() -> None:
    # One 20 mm move at 40 mm/s, jerk 10: starts and ends at 10 mm/s.
    result = analyse("G1 X20 F2400\n", profile(accel=500, jerk=10))
    assert result.estimated_s == pytest.approx(trapezoid_s(20, 40, 500, 10, 10), abs=MS)


def test_collinear_moves_do_not_slow_down_between_them() -> None:
    two = analyse("G1 X10 F3000\nG1 X20\n", profile(accel=1000, jerk=0))
    one = analyse("G1 X20 F3000\n", profile(accel=1000, jerk=0))
    assert two.estimated_s == pytest.approx(one.estimated_s, abs=MS)
    assert one.estimated_s == pytest.approx(trapezoid_s(20, 50, 1000), abs=MS)


def test_full_circle_arc_by_its_length() -> None:
    # A full circle of radius 10 at 10 mm/s: 2π·10 mm, from rest to rest at 1000 mm/s².
    result = analyse("G1 X0 Y0 F600\nG2 X0 Y0 I10 J0\n", profile(accel=1000, jerk=0))
    assert result.estimated_s == pytest.approx(trapezoid_s(2 * math.pi * 10, 10, 1000),
                                               abs=MS)
    bounds = result.working_bounds
    assert (bounds.x_min, bounds.x_max) == pytest.approx((0, 20), abs=MM)
    assert (bounds.y_min, bounds.y_max) == pytest.approx((-10, 10), abs=MM)
    assert bounds.x_max_line == 2


def test_quarter_arc_in_r_form_and_helical_length() -> None:
    # Counter-clockwise quarter from (10, 0) to (0, 10) around the origin, rising 5 mm.
    text = "M3 S10000\nG1 X10 Y0 F600\nG3 X0 Y10 Z5 R10 F600\n"
    result = analyse(text, profile("cnc-grbl", accel=1000, jerk=0))
    length = math.hypot(math.pi / 2 * 10, 5)
    first = trapezoid_s(10, 10, 1000)
    assert result.estimated_s == pytest.approx(first + trapezoid_s(length, 10, 1000), abs=MS)
    assert result.kind_hint == "cnc"
    assert result.cut_length_mm == pytest.approx(10 + length, abs=MM)
    bounds = result.working_bounds
    assert (bounds.x_max, bounds.y_max, bounds.z_max) == pytest.approx((10, 10, 5), abs=MM)


def test_relative_moves() -> None:
    text = "G91\nG1 X10 F3000\nG1 Y5\nG1 X-20\nG90\nG1 X0 Y0\n"
    result = analyse(text, profile(accel=1000, jerk=0))
    bounds = result.working_bounds
    assert (bounds.x_min, bounds.x_max, bounds.y_min, bounds.y_max) == (-10, 10, 0, 5)
    assert bounds.x_min_line == 4
    expected = (trapezoid_s(10, 50, 1000) + trapezoid_s(5, 50, 1000) + trapezoid_s(20, 50, 1000)
                + trapezoid_s(math.hypot(10, 5), 50, 1000))
    assert result.estimated_s == pytest.approx(expected, abs=MS)


def test_inch_units() -> None:
    # G20: one inch at 60 inch/min is 25.4 mm at 25.4 mm/s.
    result = analyse("G20\nG1 X1 F60\n", profile("cnc-grbl", accel=1000, jerk=0))
    assert result.working_bounds.x_max == pytest.approx(25.4, abs=MM)
    assert result.estimated_s == pytest.approx(trapezoid_s(25.4, 25.4, 1000), abs=MS)
    assert any("inch" in warning for warning in result.warnings)


def test_dwell_in_milliseconds_on_printers_and_seconds_on_grbl() -> None:
    printer = analyse("G4 P500\nG4 S2\nM104 S200\n", profile(accel=1000))
    assert printer.estimated_s - printer.heating_s == pytest.approx(2.5, abs=MS)
    grbl = analyse("G4 P0.5\nM3 S100\nG4 P1\nM5\n", profile("laser-grbl", accel=1000))
    assert grbl.estimated_s == pytest.approx(1.5, abs=MS)
    assert grbl.tool_on_s == pytest.approx(1.0, abs=MS)


def test_heating_waits_are_modelled() -> None:
    # 25 °C to 210 °C at 2 °C/s, the bed 25 to 60 °C at 0.5 °C/s, waited one after the other.
    result = analyse("M140 S60\nM190 S60\nM109 S210\n", None)
    assert result.heating_s == pytest.approx(35 / 0.5 + 185 / 2.0, abs=MS)
    assert (result.peak_hotend_c, result.peak_hotend_line) == (210, 3)
    assert (result.peak_bed_c, result.peak_bed_line) == (60, 1)


def test_per_axis_feed_rate_limit_caps_the_speed() -> None:
    from fabhub.jobs.machine_profile import Axes

    machine = profile(accel=1000, jerk=0)
    machine = dataclasses.replace(machine, kinematics=dataclasses.replace(
        machine.kinematics, max_feedrate=Axes(1e6, 1e6, 5, 1e6)))
    result = analyse("G1 Z10 F3000\n", machine)
    assert result.estimated_s == pytest.approx(trapezoid_s(10, 5, 1000), abs=MS)


def test_filament_volume_and_mass() -> None:
    result = analyse("M83\nG1 X100 E100 F3000\n", profile(accel=1000))
    used = result.filament[0]
    area = math.pi * 1.75 ** 2 / 4
    assert used.volume_mm3 == pytest.approx(100 * area, abs=0.01)
    assert used.mass_g == pytest.approx(100 * area * 1.24 / 1000, abs=0.001)


def test_laser_on_time_and_cut_length() -> None:
    text = "G0 X0 Y0\nM3 S800\nG1 X10 F600\nG1 Y10\nM5\nG0 X0 Y0\n"
    result = analyse(text, profile("laser-grbl", accel=1000, cornering="junction_deviation",
                                   deviation=0.0))
    assert result.kind_hint == "laser"
    assert result.cut_length_mm == pytest.approx(20, abs=MM)
    assert result.tool_on_s == pytest.approx(2 * trapezoid_s(10, 10, 1000), abs=MS)
    assert (result.peak_s, result.peak_s_line) == (800, 2)


@pytest.mark.parametrize(("firmware", "limit"), [("marlin", 1200.0), ("reprapfirmware", 20.0)])
def test_m203_is_mm_per_second_on_marlin_and_mm_per_minute_on_reprapfirmware(
        firmware: str, limit: float) -> None:
    # M203 X1200 Y1200: 1200 mm/s on Marlin (no cap at 100 mm/s), 20 mm/s on RRF.
    machine = dataclasses.replace(profile(accel=1000, jerk=0), firmware=firmware)
    result = analyse("M203 X1200 Y1200\nG1 X100 F6000\n", machine)
    assert result.estimated_s == pytest.approx(trapezoid_s(100, min(100.0, limit), 1000),
                                               abs=MS)
