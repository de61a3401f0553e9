"""Firmware profiles load from the package and reject any error by name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fabhub.drivers import ProfileError, available_profiles, load_profile
from fabhub.drivers.profiles import PROFILE_PACKAGE

DRIVERS = Path(__file__).resolve().parents[2] / "drivers"


def test_the_four_families_ship_and_validate() -> None:
    assert {"marlin", "grbl", "reprapfirmware", "smoothieware"} <= set(available_profiles())
    marlin, grbl = load_profile("marlin"), load_profile("grbl")
    assert (marlin.dialect, marlin.lines.checksums, marlin.commands.emergency_stop) == \
        ("reprap", True, "M112")
    assert (grbl.flow.mode, grbl.flow.rx_buffer_bytes, grbl.commands.emergency_stop) == \
        ("character_counting", 127, "\x18")
    assert PROFILE_PACKAGE == "fabhub.firmware_profiles"


def _copy_with(tmp_path: Path, old: str, new: str) -> Path:
    text = (DRIVERS.parent / "firmware_profiles" / "marlin.toml").read_text()
    assert old in text
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("window_lines = 1", "window_lines = 1\nwindow_size = 4",
     ["broken.toml", "unknown key flow.window_size", "allowed keys in [flow]", "window_lines"]),
    ("window_lines = 1", "window_lines = 0",
     ["broken.toml", "flow.window_lines = 0", "out of range", "from 1 to 64"]),
    ('mode = "ping_pong"', 'mode = "turbo"',
     ["flow.mode = 'turbo'", "one of ping_pong, window, character_counting"]),
    ("checksums = true", 'checksums = "yes"', ["lines.checksums", "true or false"]),
    ("max_resends_per_line = 8\n", "", ["missing key flow.max_resends_per_line"]),
    ("ok = '^ok\\b'", "ok = '^ok('", ["replies.ok", "not a valid regular expression"]),
    ("(?P<line>\\d+)'", "(\\d+)'",
     ["replies.resend", "lacks the named group(s) line"]),
    ("default_baud = 115200", "default_baud = 12", ["default_baud = 12", "300 to 4000000"]),
    ("[status]", "[status\n", ["broken.toml", "not valid TOML"]),
])
def test_a_broken_profile_names_file_key_and_allowed_values(
        tmp_path: Path, old: str, new: str, expected: list[str]) -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile(_copy_with(tmp_path, old, new))
    for fragment in expected:
        assert fragment in str(caught.value)


def test_ping_pong_needs_a_window_of_one() -> None:
    with pytest.raises(ProfileError, match=r"window_lines = 3 with flow\.mode = 'ping_pong'"):
        load_profile("marlin", {"flow.window_lines": 3})


def test_overrides_are_checked_like_the_file() -> None:
    assert load_profile("marlin", {"flow.mode": "window", "flow.window_lines": 4}) \
        .flow.window_lines == 4
    with pytest.raises(ProfileError, match=r"unknown key flow\.speed"):
        load_profile("marlin", {"flow.speed": 4})
    with pytest.raises(ProfileError, match="names no section"):
        load_profile("marlin", {"nowhere.speed": 4})


def test_unknown_profile_lists_the_shipped_ones() -> None:
    with pytest.raises(ProfileError, match=r"no firmware profile named 'prusa'.*marlin"):
        load_profile("prusa")
    with pytest.raises(ProfileError, match="cannot read firmware profile"):
        load_profile("/nonexistent/x.toml")


def test_pyserial_is_imported_in_exactly_one_module() -> None:
    importers = []
    for path in sorted(DRIVERS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n == "serial" or n.startswith("serial.") for n in names):
                importers.append(path.relative_to(DRIVERS).as_posix())
    assert importers == ["transport.py"]


def test_drivers_never_name_a_firmware_family() -> None:
    families = ("marlin", "reprapfirmware", "smoothie", "repetier", "klipper", "prusa")
    for name in ("driver.py", "flow.py", "reprap.py", "grbl.py", "job.py", "transport.py"):
        tree = ast.parse((DRIVERS / name).read_text())
        literals = [n.value.lower() for n in ast.walk(tree)
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        code_literals = [text for text in literals if len(text) < 40]
        assert not [t for t in code_literals if any(f in t for f in families)], name
