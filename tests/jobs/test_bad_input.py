"""Bad input: the documented AnalysisError with a reason, never another exception."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fabhub.jobs.analysis import AnalysisError, analyze_file, analyze_stream
from fabhub.jobs.machine_profile import example_profile
from tests.jobs.test_samples import SAMPLES


@pytest.mark.parametrize(("data", "reason"), [
    (b"GCDE\x01\x00\x00\x00binary", "Prusa binary G-code"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
    (b"", "no G-code commands"),
    (b"; only a comment\n\n", "no G-code commands"),
    (b"Dear maker,\nthis is a letter and not a print.\nRegards\n", "not look like G-code"),
    (b"G1 X1\n" + b"x" * (2 << 20), "longer than 1 MiB"),
    ("\ufeffG1 X1\n".encode("utf-16"), "binary file"),
])
def test_not_gcode_is_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(AnalysisError, match=reason):
        analyze_stream(io.BytesIO(data))


def test_a_missing_file_is_an_analysis_error(tmp_path: Path) -> None:
    with pytest.raises(AnalysisError, match="cannot read"):
        analyze_file(tmp_path / "nope.gcode")


def test_odd_but_valid_gcode() -> None:
    text = (b"N10 G1 X1 Y2 F600*99\r\n"     # line number, wrong checksum, CRLF
            b"g1 x2 y2\n"                   # lower case
            b"G1X3Y3\n"                     # no spaces
            b"G1 X4 (a comment) Y4\n"       # parenthesis comment
            b"X5 Y5\n"                      # modal motion
            b"G28 X Y\n"                    # bare axis words
            b"M117 Printing... 100%\n"      # free-text argument
            b"SET_PRINT_STATS_INFO TOTAL_LAYER=3\n"  # Klipper extended command
            b"G1 X1e5 Y1\n"                 # words need no spaces: X1 E5 Y1, not X=100000
            b"G1 Xnan\n")
    result = analyze_stream(io.BytesIO(text))
    assert result.travel_bounds.merged(result.working_bounds).x_max == 5
    assert any("checksum" in w for w in result.warnings)
    assert any("1 line(s) that are not G-code" in w for w in result.warnings)
    assert result.filament[0].length_mm == 5
    assert "SET_PRINT_STATS_INFO" in result.commands and "M117" in result.commands


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_a_result_or_analysis_error(data: bytes) -> None:
    with contextlib.suppress(AnalysisError):
        analyze_stream(io.BytesIO(data), example_profile("fdm-marlin"))


WORDS = st.sampled_from(["G0", "G1", "G2", "G3", "G4", "G10", "G11", "G17", "G18", "G19",
                         "G20", "G21", "G28", "G90", "G91", "G92", "M3", "M4", "M5", "M82",
                         "M83", "M104", "M109", "M140", "M190", "M201", "M203", "M204", "M205",
                         "M220", "M221", "T1", "$H", "$110=5", "M117 hi", ";LAYER:1", "(x)"])
PARAMS = st.tuples(st.sampled_from("XYZEFIJKRSPTLJ"),
                   st.one_of(st.integers(-1000, 1000).map(str),
                             st.floats(-1e4, 1e4, allow_nan=False).map(lambda v: f"{v:.3f}"),
                             st.sampled_from(["0", "-0", ".5", "-.5", "1e3", "", "inf"])))
LINES = st.lists(st.tuples(WORDS, st.lists(PARAMS, max_size=5)), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(LINES, st.sampled_from([None, "fdm-marlin", "laser-grbl", "cnc-grbl"]))
def test_gcode_like_noise_never_crashes(lines, machine) -> None:
    text = "\n".join(word + " " + " ".join(k + v for k, v in params) for word, params in lines)
    profile = example_profile(machine) if machine else None
    try:
        result = analyze_stream(io.BytesIO(text.encode()), profile)
    except AnalysisError:
        return
    assert result.estimated_s >= 0 and result.estimated_s == result.estimated_s


def test_a_100_mb_file_stays_under_150_mb_of_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.gcode"
    layer = "".join(f"G1 X{10 + i % 200}.{i % 1000:03d} Y{20 + (i * 7) % 180}.5 E0.0{i % 90 + 10}\n"
                    for i in range(20000)).encode()
    with open(path, "wb") as out:
        out.write(b"; a large generated print\nM83\nG1 F3000\n")
        while out.tell() < 100 * 1024 * 1024:
            out.write(layer)
    assert path.stat().st_size >= 100 * 1024 * 1024
    # VmHWM is the peak RSS of this process image only; getrusage's ru_maxrss survives
    # execve on Linux and so would count the forking pytest process's memory too.
    child = textwrap.dedent(f"""
        import re
        from fabhub.jobs.analysis import analyze_file
        result = analyze_file({str(path)!r})
        assert result.line_count > 3_000_000, result.line_count
        with open("/proc/self/status") as status:
            print(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1))
    """)
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                          timeout=240, env={**os.environ, "PYTHONHASHSEED": "0"})
    assert done.returncode == 0, done.stderr
    peak_mb = int(done.stdout.split()[-1]) / 1024  # VmHWM is in KiB
    assert peak_mb < 150, f"peak RSS {peak_mb:.0f} MB"


def test_numbers_and_names_no_machine_uses_are_not_taken() -> None:
    huge = "1" + "0" * 400  # float() would make this infinity
    text = (f"G1 X10 F600\nG1 X{huge}\nM104 S{huge}\nM99999 S1\nG1.25 X1\n$ABCDEFG\nG-.5\n"
            "G1 X20 E-1\n" + "G1 X15\n" * 5)
    result = analyze_stream(io.BytesIO(text.encode()))
    assert result.travel_bounds.merged(result.working_bounds).x_max == 20
    assert result.peak_hotend_c is None
    assert any("skipped 5 line(s)" in w for w in result.warnings)
    assert any("beyond 1000 km" in w for w in result.warnings)
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False))


def test_relative_moves_running_away_are_skipped_with_a_warning() -> None:
    text = "G91\n" + "G1 X999999999 F600\n" * 3
    result = analyze_stream(io.BytesIO(text.encode()))
    assert result.travel_bounds.merged(result.working_bounds).x_max == 999999999
    assert any("beyond 1000 km" in w for w in result.warnings)


SAMPLE_LINES = sorted({line for path in sorted(SAMPLES.glob("*.gcode"))
                       for line in path.read_bytes().split(b"\n")[:400]})
EDITS = st.lists(st.tuples(st.integers(0, 60), st.sampled_from(list(
    b" \t;()*$=.-+0123456789GMXYZEFIJKRSPTNgxe\r"))), max_size=4)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(SAMPLE_LINES), EDITS), min_size=1, max_size=30),
       st.sampled_from([None, "fdm-marlin", "laser-grbl", "cnc-grbl"]))
def test_mutated_real_lines_never_crash(lines, machine) -> None:
    edited = []
    for line, edits in lines:
        text = bytearray(line)
        for position, char in edits:
            text[position:position] = bytes([char])
        edited.append(bytes(text))
    profile = example_profile(machine) if machine else None
    try:
        result = analyze_stream(io.BytesIO(b"\n".join(edited)), profile)
    except AnalysisError:
        return
    assert 0 <= result.estimated_s < float("inf")
