"""Commands from the hub to a node: pause, resume, cancel, emergency stop.

Commands are rows (so they survive a restart and reach a node that polls another
process); a node's long poll wakes when any process issues one (see
:mod:`fabhub.nodes.doorbell`), and otherwise looks again every :data:`RECHECK_S`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from fabhub.clock import utc_now_iso
from fabhub.nodes import doorbell
from fabhub.problems import Problem

TYPES = ("pause", "resume", "cancel", "emergency_stop")
RECHECK_S = 0.5
MAX_WAIT_S = 25.0


@dataclass(frozen=True)
class Command:
    """One command for a node."""

    id: int
    node_id: int
    job_id: int | None
    type: str
    issued_at: str
    delivered_at: str | None
    acked_at: str | None
    result: str | None

    def as_json(self) -> dict[str, Any]:
        """What the node receives."""
        return {"id": self.id, "type": self.type, "job_id": self.job_id,
                "issued_at": self.issued_at}


COLUMNS = "id, node_id, job_id, type, issued_at, delivered_at, acked_at, result"


def live_node_of(db: sqlite_utils.Database, machine_id: int) -> int:
    """The enrolled node serving a machine, or a 409 saying there is none."""
    row = db.execute("SELECT id FROM nodes WHERE machine_id = ? AND enrolled_at IS NOT NULL "
                     "AND revoked_at IS NULL ORDER BY id DESC LIMIT 1", [machine_id]).fetchone()
    if row is None:
        raise Problem(409, "no_node", "No node serves this machine; stop it at the machine.")
    return row[0]


def issue(db: sqlite_utils.Database, node_id: int, command_type: str, job_id: int | None,
          actor_member_id: int | None) -> Command:
    """Queue a command for a node and wake the long polls waiting in every hub process."""
    if command_type not in TYPES:
        raise Problem(422, "invalid_field", f"A command is one of {', '.join(TYPES)}.")
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO node_commands (node_id, job_id, type, issued_at, issued_epoch, "
            "issued_by) VALUES (?, ?, ?, ?, ?, ?)",
            [node_id, job_id, command_type, utc_now_iso(), time.time(), actor_member_id])
    doorbell.ring(db)
    return get(db, cursor.lastrowid)


def get(db: sqlite_utils.Database, command_id: int) -> Command:
    """A command by id, or a 404."""
    row = db.execute(f"SELECT {COLUMNS} FROM node_commands WHERE id = ?",
                     [command_id]).fetchone()
    if row is None:
        raise Problem(404, "not_found", f"There is no command {command_id}.")
    return Command(**dict(row))


def pending(db: sqlite_utils.Database, node_id: int) -> list[Command]:
    """Unacknowledged commands for a node, emergency stops first, then oldest first."""
    rows = db.execute(
        f"SELECT {COLUMNS} FROM node_commands WHERE node_id = ? AND acked_at IS NULL "
        "ORDER BY type != 'emergency_stop', id", [node_id]).fetchall()
    commands = [Command(**dict(r)) for r in rows]
    undelivered = [c.id for c in commands if c.delivered_at is None]
    if undelivered:
        with db.atomic():
            db.execute(f"UPDATE node_commands SET delivered_at = ? WHERE id IN "
                       f"({', '.join('?' for _ in undelivered)})", [utc_now_iso(), *undelivered])
    return commands


def wait_for(db: sqlite_utils.Database, node_id: int, wait_s: float) -> list[Command]:
    """Pending commands for a node, waiting up to ``wait_s`` seconds for one to be issued."""
    deadline = time.monotonic() + min(max(wait_s, 0.0), MAX_WAIT_S)
    bell = doorbell.bell_of(db) if wait_s > 0 else None
    while True:
        seen = doorbell.watch(bell)
        found = pending(db, node_id)
        remaining = deadline - time.monotonic()
        if found or remaining <= 0:
            return found
        doorbell.wait(seen, min(RECHECK_S, remaining))


def acknowledge(db: sqlite_utils.Database, node_id: int, command_id: int, result: str,
                detail: str) -> Command:
    """Record that a node carried out (or could not carry out) a command."""
    command = get(db, command_id)
    if command.node_id != node_id:
        raise Problem(404, "not_found", f"There is no command {command_id} for this node.")
    if result not in ("done", "failed"):
        raise Problem(422, "invalid_field", "'result' is 'done' or 'failed'.",
                      {"field": "result"})
    with db.atomic():
        db.execute("UPDATE node_commands SET acked_at = COALESCE(acked_at, ?), "
                   "result = COALESCE(result, ?), detail = COALESCE(detail, ?) WHERE id = ?",
                   [utc_now_iso(), result, detail[:500], command_id])
    return get(db, command_id)
