"""Configuration: instance config.toml and FABHUB_* variables, strictly validated."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from fabhub import config
from fabhub.cli import main

NUMBERS = [s for s in config.SETTINGS if s.kind in (int, float)]


def test_defaults_then_file_then_environment(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("max_content_length = 2048\nhttps = true\n")
    values = config.load(tmp_path, environ={"FABHUB_MAX_CONTENT_LENGTH": "4096"})
    assert values["MAX_CONTENT_LENGTH"] == 4096
    assert values["HTTPS"] is True
    assert values["DATABASE"] == str(tmp_path / "fabhub.sqlite3")


def test_unknown_key_names_file_and_known_keys(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("max_upload = 3\n")
    with pytest.raises(config.ConfigError) as info:
        config.load(tmp_path, environ={})
    message = str(info.value)
    assert "config.toml" in message
    assert "'max_upload'" in message
    assert "max_content_length" in message


def test_bad_values_are_errors(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError,
                       match=r"^FABHUB_HTTPS = 'perhaps' is not true or false$"):
        config.load(tmp_path, environ={"FABHUB_HTTPS": "perhaps"})
    with pytest.raises(config.ConfigError, match=r"^FABHUB_MAX_CONTENT_LENGTH = 'lots' is not a "
                       r"whole number: allowed 1024 to 4294967296 bytes$"):
        config.load(tmp_path, environ={"FABHUB_MAX_CONTENT_LENGTH": "lots"})
    (tmp_path / "config.toml").write_text("https = 3\n")
    with pytest.raises(config.ConfigError, match=r"config.toml: https = 3 is not true or false"):
        config.load(tmp_path, environ={})
    (tmp_path / "config.toml").write_text("this is = not toml =\n")
    with pytest.raises(config.ConfigError, match=r"config.toml: not valid TOML: .*line 1"):
        config.load(tmp_path, environ={})


def test_missing_secret_key_says_to_run_init(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("FABHUB_SECRET_KEY", raising=False)
    with pytest.raises(config.ConfigError, match=r"fabhub --instance .* init"):
        config.load_secret_key(tmp_path)


def test_secret_key_file_is_private(tmp_path: Path) -> None:
    assert config.ensure_secret_key(tmp_path)
    assert not config.ensure_secret_key(tmp_path)
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_every_setting_is_documented_in_the_readme_with_its_range() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    ranges = {}
    for line in readme.splitlines():
        if line.startswith("| `FABHUB_"):
            variable, _default, allowed = (cell.strip() for cell in line.split("|")[1:4])
            ranges[variable.strip("`").removeprefix("FABHUB_")] = allowed
    for setting in config.SETTINGS:
        assert ranges.get(setting.name) == setting.allowed, setting.name
    assert set(ranges) == {s.name for s in config.SETTINGS} | {"INSTANCE", "SECRET_KEY"}


def load_file(instance: Path, text: str) -> dict:
    """Load settings from a config.toml holding ``text`` and an empty environment."""
    (instance / "config.toml").write_text(text, encoding="utf-8")
    return config.load(instance, environ={})


@pytest.mark.parametrize(("line", "message"), [
    ("fairshare_half_life_s = 0",
     "fairshare_half_life_s = 0 is out of range: allowed 3600 to 31536000 seconds"),
    ("node_lease_ttl_s = -5", "node_lease_ttl_s = -5 is out of range: allowed 5 to 3600 seconds"),
    ("max_content_length = -5",
     "max_content_length = -5 is out of range: allowed 1024 to 4294967296 bytes"),
    ("scheduler_interval_s = 0",
     "scheduler_interval_s = 0 is out of range: allowed 0.1 to 3600 seconds"),
])
def test_the_reported_settings_are_refused_with_key_value_and_range(
        tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(config.ConfigError) as info:
        load_file(tmp_path, line + "\n")
    assert str(info.value) == f"{tmp_path / 'config.toml'}: {message}"


@pytest.mark.parametrize("setting", NUMBERS, ids=lambda s: s.name)
def test_every_number_refuses_values_outside_its_range(tmp_path: Path, setting) -> None:
    below = setting.low / 2 if setting.low > 0 else -1
    for value in (below, setting.high * 2 + 1, -(10 ** 30)):
        raw = str(int(value)) if setting.kind is int else repr(float(value))
        with pytest.raises(config.ConfigError, match=f"^FABHUB_{setting.name} = .* is out "
                           f"of range: allowed {re.escape(setting.allowed)}$"):
            config.load(tmp_path, environ={f"FABHUB_{setting.name}": raw})
    for raw in (str(setting.low), str(setting.high)):
        edge = config.load(tmp_path, environ={f"FABHUB_{setting.name}": raw})[setting.name]
        assert edge == setting.kind(raw) and type(edge) is setting.kind


@pytest.mark.parametrize("setting", [s for s in NUMBERS if s.kind is float],
                         ids=lambda s: s.name)
def test_non_finite_numbers_are_refused(tmp_path: Path, setting) -> None:
    key = setting.name.lower()
    for text in ("nan", "inf", "-inf"):
        with pytest.raises(config.ConfigError, match=f"{key} = {text} is not a finite number"):
            load_file(tmp_path, f"{key} = {text}\n")
    for text in ("nan", "Infinity", "1e400"):
        with pytest.raises(config.ConfigError, match="is not a finite number: allowed"):
            config.load(tmp_path, environ={f"FABHUB_{setting.name}": text})


@pytest.mark.parametrize(("line", "message"), [
    ("max_content_length = 2048.5", "max_content_length = 2048.5 is not a whole number"),
    ("max_content_length = \"lots\"", "max_content_length = 'lots' is not a whole number"),
    ("login_window_s = 900.0", "login_window_s = 900.0 is not a whole number"),
    ("scheduler_interval_s = true", "scheduler_interval_s = True is not a number: allowed 0.1"),
    ("scheduler_interval_s = [1, 2]", "scheduler_interval_s = [1, 2] is not a number"),
    ("periodic = 1", "periodic = 1 is not true or false"),
    ("database = 3", "database = 3 is not text: allowed a non-empty path"),
    ("node_silent_s = 1979-05-27", "node_silent_s = datetime.date(1979, 5, 27) is not a number"),
])
def test_wrong_types_are_refused(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(config.ConfigError, match=re.escape(f"config.toml: {message}")):
        load_file(tmp_path, line + "\n")


@pytest.mark.parametrize(("line", "message"), [
    ('database = ""', "database = '' is not accepted: allowed a non-empty path"),
    ('files_dir = "   "', "files_dir = '   ' is not accepted: allowed a non-empty path"),
    ('files_dir = "a\\u0000b"', "files_dir = 'a\\x00b' is not accepted"),
    ('octoprint_default_machine_class = "fdm small"', "'fdm small' is not accepted: allowed "
     "empty, or a machine class name"),
    (f'octoprint_default_machine_class = "{"x" * 65}"', "is not accepted"),
])
def test_text_outside_its_pattern_is_refused(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(config.ConfigError, match=re.escape(message)):
        load_file(tmp_path, line + "\n")


def test_accepted_values_are_converted(tmp_path: Path) -> None:
    values = load_file(tmp_path, 'scheduler_interval_s = 1\noctoprint_default_machine_class = '
                                 '"fdm-small"\nnode_silent_s = 30\n')
    assert values["SCHEDULER_INTERVAL_S"] == 1.0 and type(values["SCHEDULER_INTERVAL_S"]) is float
    assert values["OCTOPRINT_DEFAULT_MACHINE_CLASS"] == "fdm-small"
    assert values["NODE_SILENT_S"] == 30.0
    assert config.load(tmp_path, environ={})["NODE_LEASE_TTL_S"] == 60.0


def test_the_environment_is_checked_after_a_good_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("node_lease_ttl_s = 30\n")
    with pytest.raises(config.ConfigError,
                       match=r"^FABHUB_NODE_LEASE_TTL_S = 0 is out of range: allowed 5 to 3600"):
        config.load(tmp_path, environ={"FABHUB_NODE_LEASE_TTL_S": " 0 "})


def test_a_file_that_is_not_utf8_names_the_file_and_the_byte(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_bytes("https = true\n# caf\u00e9\n".encode("latin-1"))
    with pytest.raises(config.ConfigError) as info:
        config.load(tmp_path, environ={})
    assert str(info.value) == (f"{tmp_path / 'config.toml'} is not UTF-8 text (byte 0xe9 on "
                               "line 2): save it as UTF-8")


def test_an_unreadable_file_and_a_key_set_twice_are_errors(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="https is set twice"):
        load_file(tmp_path, "HTTPS = true\nhttps = false\n")
    (tmp_path / "config.toml").unlink()
    (tmp_path / "config.toml").mkdir()
    with pytest.raises(config.ConfigError, match=r"config\.toml cannot be read: Is a directory"):
        config.load(tmp_path, environ={})


def test_every_setting_declares_what_it_allows() -> None:
    for setting in config.SETTINGS:
        assert setting.allowed, setting.name
        if setting.kind in (int, float):
            assert math.isfinite(setting.low) and setting.low <= setting.high, setting.name
    with pytest.raises(TypeError, match="declares low <= high"):
        config.Setting("X_S", float, 1.0, "No range.")
    with pytest.raises(TypeError, match="declares low <= high"):
        config.Setting("X_S", float, 1.0, "Upside down.", low=2, high=1)
    with pytest.raises(TypeError, match="declares pattern"):
        config.Setting("X", str, "", "No pattern.")
    with pytest.raises(TypeError, match="default is not a float"):
        config.Setting("X_S", float, 1, "An int default.", low=0, high=2)
    with pytest.raises(config.ConfigError, match=r"X_S \(default\) = 3 is out of range"):
        config.Setting("X_S", float, 3.0, "Default outside.", low=0, high=2)


@pytest.mark.parametrize(("command", "content", "message"), [
    ("init", b"scheduler_interval_s = 0\n",
     "scheduler_interval_s = 0 is out of range: allowed 0.1 to 3600 seconds"),
    ("serve", b"scheduler_interval_s = 0\n",
     "scheduler_interval_s = 0 is out of range: allowed 0.1 to 3600 seconds"),
    ("init", b"# caf\xe9\n", "is not UTF-8 text (byte 0xe9 on line 1): save it as UTF-8"),
    ("serve", b"\n# caf\xe9\n", "is not UTF-8 text (byte 0xe9 on line 2): save it as UTF-8"),
    ("init", b"https = = true\n", "config.toml: not valid TOML: "),
    ("serve", b"node_silent_s = nan\n", "node_silent_s = nan is not a finite number"),
    ("ledger flags", b"node_silent_s = 1\n", "node_silent_s = 1 is out of range"),
    ("ledger verify", b"# caf\xe9\n", "is not UTF-8 text"),
])
def test_init_and_serve_print_one_clear_line_and_fail(runner: CliRunner, tmp_path: Path,
                                                      command: str, content: bytes,
                                                      message: str) -> None:
    instance = tmp_path / "inst"
    instance.mkdir()
    (instance / "config.toml").write_bytes(content)
    result = runner.invoke(main, ["--instance", str(instance), *command.split()])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a clean exit, not a traceback
    assert result.output.count("\n") == 1
    assert result.output.startswith(f"Error: {instance / 'config.toml'}")
    assert message in result.output
