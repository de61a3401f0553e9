"""Configuration: instance config.toml and FABHUB_* variables, strictly validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from fabhub import config


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
    with pytest.raises(config.ConfigError, match="FABHUB_HTTPS: HTTPS must be true or false"):
        config.load(tmp_path, environ={"FABHUB_HTTPS": "perhaps"})
    with pytest.raises(config.ConfigError, match="must be an integer"):
        config.load(tmp_path, environ={"FABHUB_MAX_CONTENT_LENGTH": "lots"})
    (tmp_path / "config.toml").write_text("https = 3\n")
    with pytest.raises(config.ConfigError, match="HTTPS must be true or false"):
        config.load(tmp_path, environ={})
    (tmp_path / "config.toml").write_text("this is = not toml =\n")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load(tmp_path, environ={})


def test_missing_secret_key_says_to_run_init(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("FABHUB_SECRET_KEY", raising=False)
    with pytest.raises(config.ConfigError, match=r"fabhub --instance .* init"):
        config.load_secret_key(tmp_path)


def test_secret_key_file_is_private(tmp_path: Path) -> None:
    assert config.ensure_secret_key(tmp_path)
    assert not config.ensure_secret_key(tmp_path)
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for setting in config.SETTINGS:
        assert f"FABHUB_{setting.name}" in readme, setting.name
