"""G-code line handling, report parsers and Grbl's code tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from fabhub.drivers import JobError
from fabhub.drivers.gcode import checksum, command_word, numbered, read_commands, strip_comment
from fabhub.drivers.grbl_codes import ALARMS, ERRORS, describe_alarm, describe_error
from fabhub.drivers.telemetry import parse_grbl_status, parse_position, parse_temperatures


def test_numbered_lines_carry_the_reprap_checksum() -> None:
    assert checksum(b"N1 G28") == 18
    assert numbered(1, "G28") == b"N1 G28*18\n"
    payload = b"N12345 G1 X10.5 Y-3 F3000"
    expected = 0
    for byte in payload:
        expected ^= byte
    assert numbered(12345, "G1 X10.5 Y-3 F3000") == payload + f"*{expected}\n".encode()


def test_comments_and_command_words() -> None:
    assert strip_comment("G1 X1 ; move", paren_comments=False) == "G1 X1"
    assert strip_comment("G1 (fast) X1", paren_comments=True) == "G1  X1"
    assert strip_comment("M117 (hi)", paren_comments=False) == "M117 (hi)"
    assert [command_word(t) for t in ("m109 S200", "N7 G01 X1", "G28.1", "$X", "G1X2", "")] \
        == ["M109", "G1", "G28.1", "$", "G1", ""]


def test_reading_a_job_keeps_file_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "job.gcode"
    path.write_text("; header\nG28\n\nG1 X1 ; move\n")
    assert [(c.file_line, c.text) for c in read_commands(
        path, paren_comments=False, max_line_bytes=96)] == [(2, "G28"), (4, "G1 X1")]


@pytest.mark.parametrize(("lines", "message"), [
    (["G1 X1", "M117 caf\u00e9"], "line 2: not plain ASCII"),
    (["G1 X1", "G1 " + "X1" * 60], "line 2: 124 bytes, more than the 96 bytes"),
])
def test_lines_the_firmware_cannot_take_are_refused(lines: list[str], message: str) -> None:
    with pytest.raises(JobError, match=message):
        read_commands(lines, paren_comments=False, max_line_bytes=96)
    with pytest.raises(JobError, match="cannot read job file"):
        read_commands(Path("/nonexistent.gcode"), paren_comments=False, max_line_bytes=96)


def test_temperature_and_position_reports() -> None:
    assert parse_temperatures("ok T:210.5 /210.0 B:60.0 /60.0 @:127 B@:0") == \
        {"T": (210.5, 210.0), "B": (60.0, 60.0)}
    assert parse_temperatures(" T0:20.1 /0 T1:21.0 /0") == {"T0": (20.1, 0.0), "T1": (21.0, 0.0)}
    assert parse_position("X:10.00 Y:-2.50 Z:0.30 E:1.00 Count X:800 Y:0 Z:0") == \
        {"X": 10.0, "Y": -2.5, "Z": 0.3, "E": 1.0}


def test_grbl_status_reports_of_both_versions() -> None:
    new = parse_grbl_status("<Run|MPos:1.000,2.000,-3.000|FS:500,8000|WCO:1.000,0.000,0.000"
                            "|Ov:100,90,110|Pn:XZ|Bf:12,96>")
    assert new is not None
    assert (new.machine_state, new.position, new.work_position["X"]) == \
        ("Run", {"X": 1.0, "Y": 2.0, "Z": -3.0}, 0.0)
    assert (new.feed, new.speed, new.overrides, new.pins, new.buffer) == \
        (500.0, 8000.0, (100, 90, 110), "XZ", (12, 96))
    old = parse_grbl_status("<Idle,MPos:5.000,6.000,7.000,WPos:0.000,1.000,2.000>")
    assert old is not None and old.machine_state == "Idle" and old.work_position["Z"] == 2.0
    assert parse_grbl_status("ok") is None


def test_grbl_codes_follow_the_documented_tables() -> None:
    assert set(ERRORS) == set(range(1, 18)) | set(range(20, 39))
    assert set(ALARMS) == set(range(1, 10))
    assert describe_error(22).startswith("error 22: undefined feed rate")
    assert "hard limit" in describe_alarm(1) and "re-home" in describe_alarm(1)
    assert describe_error(99) == "error 99: not in Grbl 1.1's error table"
