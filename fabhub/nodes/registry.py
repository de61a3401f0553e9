"""Nodes: registration by a gatekeeper, enrolment with a one-time code, tokens, heartbeats.

A node's token reads ``fhn_<id>_<secret>`` and is stored as a SHA-256 digest; its
Ed25519 public key (registered at enrolment) verifies the usage receipts it signs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from fabhub.clock import utc_now_iso
from fabhub.jobqueue.machine_state import machine_state, move_machine
from fabhub.jobqueue.machines import get_machine
from fabhub.jobs.states import Actor, MachineState
from fabhub.nodes.event_schema import check_telemetry
from fabhub.problems import Problem

TOKEN_PREFIX = "fhn"
CODE_TTL_S = 3600
# States a node may report; whether a report moves the machine is the table's call
# (a state a person set is kept until a person changes it).
REPORTABLE = frozenset({MachineState.IDLE, MachineState.BUSY, MachineState.PAUSED,
                        MachineState.ERROR, MachineState.OFFLINE})


@dataclass(frozen=True)
class Node:
    """A registered node (enrolled or waiting for its code)."""

    id: int
    machine_id: int
    name: str
    public_key: bytes | None
    hostname: str | None
    agent_version: str | None
    created_at: str
    enrolled_at: str | None
    revoked_at: str | None
    last_seen_at: str | None
    last_state: str | None


NODE_COLUMNS = ("id, machine_id, name, public_key, hostname, agent_version, created_at, "
                "enrolled_at, revoked_at, last_seen_at, last_state")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _node(row: Any) -> Node:
    data = dict(row)
    if data["public_key"] is not None:
        data["public_key"] = bytes(data["public_key"])
    return Node(**data)


def get_node(db: sqlite_utils.Database, node_id: int) -> Node:
    """A node by id, or a 404."""
    row = db.execute(f"SELECT {NODE_COLUMNS} FROM nodes WHERE id = ?", [node_id]).fetchone()
    if row is None:
        raise Problem(404, "not_found", f"There is no node {node_id}.")
    return _node(row)


def list_nodes(db: sqlite_utils.Database) -> list[Node]:
    """Every node, newest first."""
    rows = db.execute(f"SELECT {NODE_COLUMNS} FROM nodes ORDER BY id DESC").fetchall()
    return [_node(r) for r in rows]


def register(db: sqlite_utils.Database, machine_id: int, name: str,
             actor_member_id: int | None) -> tuple[Node, str]:
    """Register a node for a machine; return it and its one-time enrolment code."""
    machine = get_machine(db, machine_id)
    # Hex, so a code never starts with "-" and is never read as a command-line option.
    code = secrets.token_hex(10)
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO nodes (machine_id, name, code_sha256, code_expires_epoch, created_at, "
            "created_by) VALUES (?, ?, ?, ?, ?, ?)",
            [machine.id, name.strip()[:60] or f"node for {machine.name}", _digest(code),
             time.time() + CODE_TTL_S, utc_now_iso(), actor_member_id])
    return get_node(db, cursor.lastrowid), code


def _public_key(text: Any) -> bytes:
    if not isinstance(text, str):
        raise Problem(422, "invalid_field", "'public_key' must be base64 text.",
                      {"field": "public_key"})
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Problem(422, "invalid_field", "'public_key' is not valid base64.",
                      {"field": "public_key"}) from None
    if len(raw) != 32:
        raise Problem(422, "invalid_field", "An Ed25519 public key has 32 bytes.",
                      {"field": "public_key"})
    return raw


def enroll(db: sqlite_utils.Database, code: str, public_key_b64: Any, hostname: str,
           agent_version: str) -> tuple[Node, str]:
    """Trade a one-time code and the node's public key for a node token (shown once)."""
    key = _public_key(public_key_b64)
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    with db.atomic():
        row = db.execute("SELECT id, code_expires_epoch, revoked_at FROM nodes "
                         "WHERE code_sha256 = ?", [_digest(code)]).fetchone()
        if row is None or row["revoked_at"] or row["code_expires_epoch"] < time.time():
            raise Problem(403, "enrolment_refused",
                          "This enrolment code is unknown, used or expired; ask a gatekeeper "
                          "for a new one.")
        db.execute(
            "UPDATE nodes SET code_sha256 = NULL, code_expires_epoch = NULL, public_key = ?, "
            "token_id = ?, token_sha256 = ?, hostname = ?, agent_version = ?, enrolled_at = ? "
            "WHERE id = ?",
            [key, token_id, _digest(secret), hostname[:100], agent_version[:40], utc_now_iso(),
             row["id"]])
    return get_node(db, row["id"]), f"{TOKEN_PREFIX}_{token_id}_{secret}"


def authenticate(db: sqlite_utils.Database, token: str) -> Node | None:
    """The enrolled, unrevoked node a token belongs to, or None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    row = db.execute(f"SELECT {NODE_COLUMNS}, token_sha256 FROM nodes WHERE token_id = ?",
                     [parts[1]]).fetchone()
    if row is None or row["revoked_at"] is not None:
        return None
    if not hmac.compare_digest(row["token_sha256"], _digest(parts[2])):
        return None
    data = dict(row)
    data.pop("token_sha256")
    return _node(data)


def revoke(db: sqlite_utils.Database, node_id: int) -> Node:
    """Revoke a node: its token stops working at once."""
    get_node(db, node_id)
    with db.atomic():
        db.execute("UPDATE nodes SET revoked_at = COALESCE(revoked_at, ?), code_sha256 = NULL "
                   "WHERE id = ?", [utc_now_iso(), node_id])
    return get_node(db, node_id)


def heartbeat(db: sqlite_utils.Database, node: Node, reported: Any, telemetry: Any,
              detail: str = "") -> bool:
    """Record a heartbeat: last seen, telemetry, the machine's working state.

    Returns True when the machine's state changed (a scheduling pass may be due).
    """
    try:
        state = MachineState(reported)
    except ValueError:
        state = None
    if state not in REPORTABLE:
        allowed = ", ".join(sorted(s.value for s in REPORTABLE))
        raise Problem(422, "invalid_field", f"'machine_state' must be one of: {allowed}.",
                      {"field": "machine_state"})
    telemetry = check_telemetry(telemetry)  # bounded and finite, so it is stored whole
    with db.atomic():
        db.execute("UPDATE nodes SET last_seen_at = ?, last_state = ?, telemetry_json = ? "
                   "WHERE id = ?", [utc_now_iso(), state.value,
                                    json.dumps(telemetry), node.id])
        before = machine_state(db, node.machine_id)
        after = move_machine(db, node.machine_id, state, actor=Actor.NODE,
                             reason=detail[:200] or f"reported by node {node.id}",
                             on_refusal="keep")
    return after is not before
