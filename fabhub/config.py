"""Hub configuration: defaults, the instance folder's ``config.toml``, then ``FABHUB_*``.

Every setting is declared once in :data:`SETTINGS` with its type, the values it
allows and its meaning. An unknown key in ``config.toml``, an unparseable value or
one outside the allowed range is an error that names the key, the value and what
is allowed, rather than a silent default.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration value is missing, unknown, malformed or out of range."""


KIND_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


def _number(value: float) -> str:
    """A bound or value as people write it: ``3600`` rather than ``3600.0``."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class Setting:
    """One configuration key: its Flask name, type, default, meaning and allowed values.

    A number declares its range (``low`` to ``high``, inclusive, in ``unit``); text
    declares a ``pattern`` that the whole value must match and says it in words
    (``pattern_doc``). The default must itself be allowed.
    """

    name: str
    kind: type
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    unit: str = ""
    pattern: str = ""
    pattern_doc: str = ""

    def __post_init__(self) -> None:
        numeric = self.kind in (int, float)
        has_range = self.low is not None and self.high is not None
        if numeric != has_range or (has_range and not self.low <= self.high):
            raise TypeError(f"{self.name}: a number setting declares low <= high, others none")
        if (self.kind is str) != bool(self.pattern and self.pattern_doc):
            raise TypeError(f"{self.name}: a text setting declares pattern and pattern_doc")
        if type(self.default) is not self.kind:
            raise TypeError(f"{self.name}: the default is not a {self.kind.__name__}")
        check(self, self.default, f"{self.name} (default)")

    @property
    def allowed(self) -> str:
        """The allowed values in words, as the README's configuration table shows them."""
        if self.kind is bool:
            return "true or false"
        if self.kind is str:
            return self.pattern_doc
        unit = f" {self.unit}" if self.unit else ""
        return f"{_number(self.low)} to {_number(self.high)}{unit}"


def check(setting: Setting, value: Any, key: str) -> Any:
    """Return ``value`` if the setting allows it, else raise :class:`ConfigError`.

    ``key`` is the name as the user wrote it (``scheduler_interval_s`` in a file,
    ``FABHUB_SCHEDULER_INTERVAL_S`` in the environment), prefixed by its file if any.
    """
    if setting.kind in (int, float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key} = {_number(value)} is not a finite number: "
                              f"allowed {setting.allowed}")
        if not setting.low <= value <= setting.high:
            raise ConfigError(f"{key} = {_number(value)} is out of range: "
                              f"allowed {setting.allowed}")
    elif setting.kind is str and not re.fullmatch(setting.pattern, value):
        raise ConfigError(f"{key} = {value!r} is not accepted: allowed {setting.allowed}")
    return value


DAY_S = 24 * 3600
MAX_WEIGHT = 1_000_000
PATH_PATTERN = r"[^\x00]*[^\x00\s][^\x00]*"
PATH_DOC = "a non-empty path"

SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE", str, "fabhub.sqlite3",
            "SQLite database file; a relative path is inside the instance folder.",
            pattern=PATH_PATTERN, pattern_doc=PATH_DOC),
    Setting("MAX_CONTENT_LENGTH", int, 64 * 1024 * 1024,
            "Largest request body accepted, in bytes (uploads included).",
            low=1024, high=4 * 1024**3, unit="bytes"),
    Setting("HTTPS", bool, False,
            "The hub is served over HTTPS (directly or behind a proxy): cookies get "
            "the Secure flag and X-Forwarded-* headers from one proxy are trusted."),
    Setting("SQLITE_BUSY_TIMEOUT_MS", int, 5000,
            "How long a connection waits for a lock held by another writer, in ms.",
            low=100, high=600_000, unit="milliseconds"),
    Setting("LOGIN_MAX_FAILURES_ACCOUNT", int, 5,
            "Failed logins allowed per account within the login window.",
            low=1, high=1000, unit="failures"),
    Setting("LOGIN_MAX_FAILURES_ADDRESS", int, 20,
            "Failed logins allowed per client address within the login window.",
            low=1, high=100_000, unit="failures"),
    Setting("LOGIN_WINDOW_S", int, 900,
            "Length of the login rate-limit window, in seconds.",
            low=60, high=DAY_S, unit="seconds"),
    Setting("SESSION_LIFETIME_S", int, 12 * 3600,
            "How long a login session lasts, in seconds.",
            low=300, high=30 * DAY_S, unit="seconds"),
    Setting("FILES_DIR", str, "files",
            "Where uploaded G-code is kept by content hash; relative to the instance folder.",
            pattern=PATH_PATTERN, pattern_doc=PATH_DOC),
    Setting("SCHEDULER_INTERVAL_S", float, 5.0,
            "Seconds between periodic scheduling passes.",
            low=0.1, high=3600, unit="seconds"),
    Setting("FAIRSHARE_HALF_LIFE_S", float, 7.0 * DAY_S,
            "Half-life of past machine use in the fair-share factor, in seconds.",
            low=3600, high=365 * DAY_S, unit="seconds"),
    Setting("FAIRSHARE_SHARE_HOURS", float, 10.0,
            "Decayed machine-hours at which a member's fair-share factor halves.",
            low=0.1, high=100_000, unit="hours"),
    Setting("PRIORITY_WEIGHT_FAIR_SHARE", float, 1000.0, "Weight of the fair-share factor.",
            low=0, high=MAX_WEIGHT),
    Setting("PRIORITY_WEIGHT_AGE", float, 300.0, "Weight of the time-in-queue factor.",
            low=0, high=MAX_WEIGHT),
    Setting("PRIORITY_WEIGHT_SIZE", float, 100.0, "Weight of the short-job factor.",
            low=0, high=MAX_WEIGHT),
    Setting("PRIORITY_WEIGHT_BOOST", float, 2000.0, "Weight of a gatekeeper's manual boost.",
            low=0, high=MAX_WEIGHT),
    Setting("NODE_LEASE_TTL_S", float, 60.0,
            "Seconds a node holds its job without reporting before the job is interrupted.",
            low=5, high=3600, unit="seconds"),
    Setting("NODE_SILENT_S", float, 90.0,
            "Seconds without a heartbeat after which a node's machine is taken offline and "
            "its unclaimed jobs go back to the queue.",
            low=5, high=DAY_S, unit="seconds"),
    Setting("PERIODIC", bool, True,
            "Run the periodic jobs (ledger checkpoints) in this hub; one process of a "
            "multi-process server takes them."),
    Setting("LEDGER_CHECKPOINT_INTERVAL_S", int, 3600,
            "How often the hub signs a ledger checkpoint when the ledger has grown, in seconds.",
            low=60, high=7 * DAY_S, unit="seconds"),
    Setting("OCTOPRINT_DEFAULT_MACHINE_CLASS", str, "",
            "Machine class of jobs sent to the OctoPrint-compatible upload when neither the "
            "form nor the file names one; empty: such uploads are refused with the reason.",
            pattern=r"[A-Za-z0-9_.-]{0,64}",
            pattern_doc="empty, or a machine class name (up to 64 letters, digits, _ . -)"),
    Setting("BOARD_SHOW_NAMES", bool, False,
            "Show the member's username beside each running job on the public status board."),
)

SETTINGS_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
ENV_PREFIX = "FABHUB_"
SECRET_KEY_FILE = "secret_key"
CONFIG_FILE = "config.toml"


def parse(setting: Setting, raw: Any, key: str) -> Any:
    """Convert ``raw`` (from TOML or an environment string) to the setting's type and check it.

    ``key`` names the value as the user wrote it, for the error message.
    """
    value = _convert(setting, raw)
    if value is None:
        allowed = "" if setting.kind is bool else f": allowed {setting.allowed}"
        raise ConfigError(f"{key} = {raw!r} is not {KIND_WORDS[setting.kind]}{allowed}")
    return check(setting, value, key)


def _convert(setting: Setting, raw: Any) -> Any:
    """``raw`` as the setting's type, or None if it is not one."""
    if type(raw) is setting.kind:
        return raw
    if setting.kind is float and type(raw) is int:
        return float(raw)
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if setting.kind is bool:
        return {"1": True, "true": True, "yes": True, "on": True,
                "0": False, "false": False, "no": False, "off": False, "": False}.get(text.lower())
    if setting.kind is str:
        return text
    try:
        return setting.kind(text)
    except ValueError:
        return None


def read_config_file(instance: Path) -> dict[str, Any]:
    """Read ``config.toml`` from the instance folder; keys are case-insensitive.

    A file that cannot be read, is not UTF-8 or is not TOML is a :class:`ConfigError`
    naming the file and the problem.
    """
    path = instance / CONFIG_FILE
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} on "
                          f"line {line}): save it as UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    values: dict[str, Any] = {}
    for key, raw in data.items():
        setting = SETTINGS_BY_NAME.get(key.upper())
        if setting is None:
            known = ", ".join(s.name.lower() for s in SETTINGS)
            raise ConfigError(f"{path}: unknown key {key!r}; known keys: {known}")
        if setting.name in values:
            raise ConfigError(f"{path}: {key} is set twice (keys ignore case)")
        values[setting.name] = parse(setting, raw, f"{path}: {key}")
    return values


def read_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Read ``FABHUB_<SETTING>`` variables; other ``FABHUB_`` names are left alone."""
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        env_name = ENV_PREFIX + setting.name
        if env_name in environ:
            values[setting.name] = parse(setting, environ[env_name], env_name)
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
