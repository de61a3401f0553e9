"""Hub configuration: defaults, the instance folder's ``config.toml``, then ``FABHUB_*``.

Every setting is declared once in :data:`SETTINGS` with its type and meaning. An
unknown key in ``config.toml`` or an unparseable value is an error that names the
key and what is allowed, rather than a silent default.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration value is missing, unknown or malformed."""


@dataclass(frozen=True)
class Setting:
    """One configuration key: its Flask name, type, default and meaning."""

    name: str
    kind: type
    default: Any
    doc: str


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE", str, "fabhub.sqlite3",
            "SQLite database file; a relative path is inside the instance folder."),
    Setting("MAX_CONTENT_LENGTH", int, 64 * 1024 * 1024,
            "Largest request body accepted, in bytes (uploads included)."),
    Setting("HTTPS", bool, False,
            "The hub is served over HTTPS (directly or behind a proxy): cookies get "
            "the Secure flag and X-Forwarded-* headers from one proxy are trusted."),
    Setting("SQLITE_BUSY_TIMEOUT_MS", int, 5000,
            "How long a connection waits for a lock held by another writer, in ms."),
    Setting("LOGIN_MAX_FAILURES_ACCOUNT", int, 5,
            "Failed logins allowed per account within the login window."),
    Setting("LOGIN_MAX_FAILURES_ADDRESS", int, 20,
            "Failed logins allowed per client address within the login window."),
    Setting("LOGIN_WINDOW_S", int, 900,
            "Length of the login rate-limit window, in seconds."),
    Setting("SESSION_LIFETIME_S", int, 12 * 3600,
            "How long a login session lasts, in seconds."),
    Setting("FILES_DIR", str, "files",
            "Where uploaded G-code is kept by content hash; relative to the instance folder."),
    Setting("SCHEDULE_ON_EVENTS", bool, True,
            "Run a scheduling pass right after each upload, cancel or machine change."),
    Setting("SCHEDULER_INTERVAL_S", float, 5.0,
            "Seconds between periodic scheduling passes."),
    Setting("FAIRSHARE_HALF_LIFE_S", float, 7 * 24 * 3600.0,
            "Half-life of past machine use in the fair-share factor, in seconds."),
    Setting("FAIRSHARE_SHARE_HOURS", float, 10.0,
            "Decayed machine-hours at which a member's fair-share factor halves."),
    Setting("PRIORITY_WEIGHT_FAIR_SHARE", float, 1000.0, "Weight of the fair-share factor."),
    Setting("PRIORITY_WEIGHT_AGE", float, 300.0, "Weight of the time-in-queue factor."),
    Setting("PRIORITY_WEIGHT_SIZE", float, 100.0, "Weight of the short-job factor."),
    Setting("PRIORITY_WEIGHT_BOOST", float, 2000.0, "Weight of a gatekeeper's manual boost."),
    Setting("NODE_LEASE_TTL_S", float, 60.0,
            "Seconds a node holds its job without reporting before the job is interrupted."),
    Setting("PERIODIC", bool, True,
            "Run the periodic jobs (ledger checkpoints) in this hub; one process of a "
            "multi-process server takes them."),
    Setting("LEDGER_CHECKPOINT_INTERVAL_S", int, 3600,
            "How often the hub signs a ledger checkpoint when the ledger has grown, in seconds."),
    Setting("OCTOPRINT_DEFAULT_MACHINE_CLASS", str, "",
            "Machine class of jobs sent to the OctoPrint-compatible upload when neither the "
            "form nor the file names one; empty: such uploads are refused with the reason."),
    Setting("BOARD_SHOW_NAMES", bool, False,
            "Show the member's username beside each running job on the public status board."),
)

SETTINGS_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
ENV_PREFIX = "FABHUB_"
SECRET_KEY_FILE = "secret_key"
CONFIG_FILE = "config.toml"


def coerce(setting: Setting, raw: Any, origin: str) -> Any:
    """Convert ``raw`` (from TOML or an environment string) to the setting's type."""
    if isinstance(raw, setting.kind) and not (setting.kind is int and isinstance(raw, bool)):
        return raw
    if setting.kind is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if setting.kind is bool:
            if text.lower() in {"1", "true", "yes", "on"}:
                return True
            if text.lower() in {"0", "false", "no", "off", ""}:
                return False
        elif setting.kind in (int, float):
            try:
                return setting.kind(text)
            except ValueError:
                pass
        elif setting.kind is str:
            return text
    allowed = {bool: "true or false", int: "an integer", float: "a number",
               str: "a string"}[setting.kind]
    raise ConfigError(f"{origin}: {setting.name} must be {allowed}, got {raw!r}")


def read_config_file(instance: Path) -> dict[str, Any]:
    """Read ``config.toml`` from the instance folder; keys are case-insensitive."""
    path = instance / CONFIG_FILE
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    values: dict[str, Any] = {}
    for key, raw in data.items():
        setting = SETTINGS_BY_NAME.get(key.upper())
        if setting is None:
            known = ", ".join(s.name.lower() for s in SETTINGS)
            raise ConfigError(f"{path}: unknown key {key!r}; known keys: {known}")
        values[setting.name] = coerce(setting, raw, str(path))
    return values


def read_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Read ``FABHUB_<SETTING>`` variables; other ``FABHUB_`` names are left alone."""
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        env_name = ENV_PREFIX + setting.name
        if env_name in environ:
            values[setting.name] = coerce(setting, environ[env_name], env_name)
    return values


def instance_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The instance folder: the argument, else ``FABHUB_INSTANCE``, else ``./instance``."""
    chosen = explicit or os.environ.get("FABHUB_INSTANCE") or "instance"
    return Path(chosen).resolve()


def load_secret_key(instance: Path) -> str:
    """Return the instance's session-signing key, ``FABHUB_SECRET_KEY`` taking precedence."""
    from_env = os.environ.get(ENV_PREFIX + "SECRET_KEY")
    if from_env:
        return from_env
    path = instance / SECRET_KEY_FILE
    if not path.exists():
        raise ConfigError(
            f"{path} does not exist: run `fabhub --instance {instance} init` first"
        )
    return path.read_text(encoding="ascii").strip()


def ensure_secret_key(instance: Path) -> bool:
    """Create the instance's secret key file (mode 0600) if missing; True if created."""
    path = instance / SECRET_KEY_FILE
    if path.exists():
        return False
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return True


def load(instance: Path, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Resolve every setting: defaults, then ``config.toml``, then the environment."""
    values = {s.name: s.default for s in SETTINGS}
    values.update(read_config_file(instance))
    values.update(read_environment(os.environ if environ is None else environ))
    for key in ("DATABASE", "FILES_DIR"):
        path = Path(values[key])
        values[key] = str(path if path.is_absolute() else instance / path)
    return values
