"""Enrolment on the Pi: create the node's key, trade the one-time code for a token, save config."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fabhub.drivers import ProfileError, load_profile
from fabhub.node.client import HubClient
from fabhub.node.config import NodeConfig, save
from fabhub.node.keys import public_key_b64, store_key


def enroll(hub_url: str, code: str, port: str, firmware: str | None, baud: int | None,
           config_path: Path, key_path: Path | None = None,
           journal_dir: Path | None = None) -> NodeConfig:
    """Enrol this node with the hub and write its key and configuration file.

    ``firmware`` defaults to the one the hub's machine profile names. Raises
    :class:`~fabhub.node.client.HubRefused` for a wrong or used code and
    :class:`~fabhub.drivers.ProfileError` for an unknown firmware profile.
    """
    if firmware is not None:
        load_profile(firmware)
    key = Ed25519PrivateKey.generate()
    answer = HubClient(hub_url).enroll(code, public_key_b64(key))
    chosen = firmware or answer["firmware"]
    try:
        load_profile(chosen)
    except ProfileError as exc:
        raise ProfileError(f"the hub's machine uses firmware {chosen!r}, which this node does "
                           f"not know; pass --firmware ({exc})") from None
    folder = config_path.parent
    key_path = key_path or folder / "node-key.pem"
    store_key(key, key_path)
    config = NodeConfig(hub_url=hub_url.rstrip("/"), token=answer["token"],
                        node_id=int(answer["node_id"]), machine_id=int(answer["machine_id"]),
                        port=port, firmware=chosen, key_path=str(key_path.resolve()),
                        journal_dir=str((journal_dir or folder / "journal").resolve()),
                        heartbeat_interval_s=float(answer.get("heartbeat_interval_s", 5.0)),
                        lease_ttl_s=float(answer.get("lease_ttl_s", 60.0)), baud=baud)
    save(config, config_path)
    return config
