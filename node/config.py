"""The node's configuration file (TOML on the Pi): where the hub is, who the node is, its machine.

Written once by ``fabhub node enroll`` with mode 0600 (it holds the node's token),
read by ``fabhub node run``. Every key is checked when the file is read; an unknown
or missing key is an error that names the key and the file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

import tomli_w

ENV_CONFIG = "FABHUB_NODE_CONFIG"


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or wrong; the message says how to fix it."""


@dataclass(frozen=True)
class NodeConfig:
    """Everything the agent needs to run beside one machine."""

    hub_url: str
    token: str
    node_id: int
    machine_id: int
    port: str
    firmware: str
    key_path: str
    journal_dir: str
    heartbeat_interval_s: float = 5.0
    lease_ttl_s: float = 60.0
    baud: int | None = None

    def __post_init__(self) -> None:
        if not self.hub_url.startswith(("http://", "https://")):
            raise ConfigError(f"hub_url must start with http:// or https://, got {self.hub_url!r}")
        if not self.token.startswith("fhn_"):
            raise ConfigError("token is not a node token (fhn_...); enrol the node again")
        if not 0.2 <= self.heartbeat_interval_s <= 300:
            raise ConfigError("heartbeat_interval_s must be between 0.2 and 300 seconds")
        if self.baud is not None and not 300 <= self.baud <= 4_000_000:
            raise ConfigError("baud must be between 300 and 4000000")


def default_path() -> Path:
    """``$FABHUB_NODE_CONFIG``, else ``~/.config/fabhub/node.toml``."""
    return Path(os.environ.get(ENV_CONFIG) or Path.home() / ".config" / "fabhub" / "node.toml")


def load(path: Path) -> NodeConfig:
    """Read and check the configuration file at ``path``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; run 'fabhub node enroll HUB_URL CODE "
                          "--port ... --firmware ...' first") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read: {exc}") from None
    names = {f.name: f for f in fields(NodeConfig)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}")
    required = [n for n, f in names.items() if f.default is MISSING]
    missing = [n for n in required if n not in data]
    if missing:
        raise ConfigError(f"{path}: missing key(s) {', '.join(missing)}")
    try:
        return NodeConfig(**_typed(data))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _typed(data: dict[str, Any]) -> dict[str, Any]:
    kinds = {"node_id": int, "machine_id": int, "baud": int,
             "heartbeat_interval_s": float, "lease_ttl_s": float}
    out: dict[str, Any] = {}
    for key, value in data.items():
        kind = kinds.get(key, str)
        if isinstance(value, bool) or not isinstance(value, (kind, int) if kind is float else kind):
            raise ConfigError(f"{key} must be a {kind.__name__}, got {value!r}")
        out[key] = kind(value)
    return out


def save(config: NodeConfig, path: Path) -> None:
    """Write the configuration with mode 0600 (it holds the token), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {k: v for k, v in asdict(config).items() if v is not None}
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(tomli_w.dumps(data))
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
