"""The batch paths (numpy tokenizer, runs of plain lines, arcs) against the line-by-line
path and Python's own number parsing."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fabhub.jobs import gcode_scan
from fabhub.jobs.analysis import Analysis, analyze_file
from fabhub.jobs.gcode_tokens import OTHER, PLAIN, tokenize
from tests.jobs.gcode_helpers import analyse, profile
from tests.jobs.test_samples import SAMPLES


def close(a: object, b: object, path: str = "") -> None:
    """Equal results, floats within 1e-9 relative."""
    if dataclasses.is_dataclass(a):
        for field in dataclasses.fields(a):
            close(getattr(a, field.name), getattr(b, field.name), f"{path}.{field.name}")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not math.isnan(a):
        assert b == pytest.approx(a, rel=1e-9, abs=1e-9), path
    else:
        assert a == b, path


def both_ways(monkeypatch: pytest.MonkeyPatch, run) -> tuple[Analysis, Analysis]:
    """``run()`` with every run of plain lines batched, then with none batched."""
    monkeypatch.setattr(gcode_scan, "BATCH_LINES", 1)
    batched = run()
    monkeypatch.setattr(gcode_scan, "BATCH_LINES", 10**9)
    return batched, run()


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.gcode")))
def test_batches_match_line_by_line_on_the_samples(monkeypatch: pytest.MonkeyPatch,
                                                   name: str) -> None:
    batched, single = both_ways(monkeypatch, lambda: analyze_file(SAMPLES / name))
    close(single, batched)


MIXED = """G21
G90
M82
G92 E0
G1 X10 Y10 F3000
G1 X20 E1.5 ; a comment
G2 X30 Y20 I5 J0 E2
G3 X20 Y30 R10 E2.5
G3 X20 Y30 I0 J5 E3
G2 X25 Y30 E3.1
G1 X20 Z0.4 E3.5
G0 X0 Y0
G92 E0
M83
G1 X5 E0.5
G1 E-0.8 F2400
G1 E0.8
G91
G1 X1 Y1
G92
G1 X1.25 Y-0.5 E.2 F+1200
G20
G90
G1 X1 Y1
G1 X1 X2
G01 X4 Y4
G00 X0 Y1
G03 X1 Y0 I0 J-1
G1 X1.0000000000000000000000001 Y2.5
G1 X1.2.3.4.5.6.7.8.9.0.1.2.3.4.5.6.7.8.9.0 Y3
G1 X2 Y1           ; spaces
M3 S800
G1 X3 Y3
G2 X4 Y4 I0.5 J0.5
M5
"""


@pytest.mark.parametrize("cornering", ["jerk", "junction_deviation"])
def test_batches_match_line_by_line_on_mixed_commands(monkeypatch: pytest.MonkeyPatch,
                                                      cornering: str) -> None:
    machine = profile(accel=1500, jerk=8, cornering=cornering)
    batched, single = both_ways(monkeypatch, lambda: analyse(MIXED, machine))
    close(single, batched)
    assert batched.working_bounds.moves > 0 and batched.estimated_s > 0


number = st.decimals(min_value=-10**6, max_value=10**6, allow_nan=False, places=5)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("XYZEF"), number), min_size=1, max_size=5))
def test_numbers_read_exactly_as_float_reads_them(words: list) -> None:
    text = "G1 " + " ".join(f"{letter}{value}" for letter, value in words) + "\n"
    tokens = tokenize(text.encode())
    assert tokens.kind[0] == PLAIN
    expected = {letter: float(str(value)) for letter, value in words}
    for letter, value in expected.items():
        assert tokens.values[0, "XYZEF".index(letter)] == value


@pytest.mark.parametrize("line", ["G1 X1E5", "G1 X1.2.3", "G1 X-", "G1 X", "G1 5",
                                  "G1 X1 G4", "G1\tX1", "G001 X1", "G1 X--1", "G1 X1-2",
                                  "N10 G1 X1", "G1 X1 M3", "G1 I1", "g1 x1", "G1 X1\r2",
                                  "G1 X+-1", "G1 X1.5.", "G92.1 X1"])
def test_lines_the_batch_tokenizer_leaves_to_the_full_one(line: str) -> None:
    assert tokenize(f"{line}\n".encode()).kind[0] == OTHER
