"""The one function that changes a machine's state, by the table in ``fabhub.jobs.states``.

:func:`move_machine` reads the machine's state and the facts its guards need, asks
:func:`~fabhub.jobs.states.check_machine_move` whether the move is allowed, writes the
new state and one ``machine_events`` line (time, actor, reason), and, when the machine
leaves service, sends every job assigned to it but not yet claimed by its node back to
the queue with a reason the maker can read. No other code writes ``machines.state``.
"""

from __future__ import annotations

from typing import Literal

import sqlite_utils

from fabhub.clock import utc_now_iso
from fabhub.db import write_transaction
from fabhub.jobqueue.jobs import transition
from fabhub.jobs.states import (
    IN_SERVICE,
    Actor,
    IllegalMachineMove,
    JobState,
    MachineFacts,
    MachineState,
    check_machine_move,
)
from fabhub.problems import Problem

OnRefusal = Literal["raise", "keep"]


def claimed_job(db: sqlite_utils.Database, machine_id: int) -> int | None:
    """The open job a node has claimed on this machine (assigned, running or paused), if any."""
    row = db.execute("SELECT j.id FROM jobs j JOIN job_runs r ON r.job_id = j.id "
                     "WHERE j.machine_id = ? AND j.state IN ('assigned', 'running', 'paused') "
                     "LIMIT 1", [machine_id]).fetchone()
    return row[0] if row else None


def machine_state(db: sqlite_utils.Database, machine_id: int) -> MachineState:
    """A machine's current state, or a 404."""
    row = db.execute("SELECT state FROM machines WHERE id = ?", [machine_id]).fetchone()
    if row is None:
        raise Problem(404, "not_found", f"There is no machine {machine_id}.")
    return MachineState(row[0])


def record_created(db: sqlite_utils.Database, machine_id: int, actor_member_id: int | None
                   ) -> None:
    """The first line of a new machine's history (it starts offline)."""
    _record(db, machine_id, None, MachineState.OFFLINE, Actor.PERSON, actor_member_id, "created")


def _record(db: sqlite_utils.Database, machine_id: int, old: MachineState | None,
            new: MachineState, actor: Actor, actor_member_id: int | None, reason: str) -> None:
    db.execute("INSERT INTO machine_events (machine_id, at, from_state, to_state, "
               "actor_member_id, actor_kind, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
               [machine_id, utc_now_iso(), old, new, actor_member_id, actor.value, reason])


def requeue_unclaimed(db: sqlite_utils.Database, machine_id: int, why: str) -> list[int]:
    """Send the jobs assigned to a machine but not claimed by its node back to the queue."""
    rows = db.execute("SELECT j.id FROM jobs j LEFT JOIN job_runs r ON r.job_id = j.id "
                      "WHERE j.machine_id = ? AND j.state = 'assigned' AND r.job_id IS NULL",
                      [machine_id]).fetchall()
    for (job_id,) in rows:
        transition(db, job_id, JobState.QUEUED, actor_kind=Actor.HUB.value,
                   reason=f"back in the queue: {why}", machine_id=None, assigned_at=None)
    return [r[0] for r in rows]


def move_machine(db: sqlite_utils.Database, machine_id: int, target: MachineState, *,
                 actor: Actor, reason: str, actor_member_id: int | None = None,
                 on_refusal: OnRefusal = "raise") -> MachineState:
    """Move a machine to ``target`` if the table lets ``actor`` do it now; return its state.

    A refused move raises a 409 :class:`Problem` (``on_refusal="raise"``, for people),
    or leaves the machine as it is (``"keep"``, for node reports and the hub's own
    work, which must never take a machine out of a state a person set).
    """
    with write_transaction(db):
        current = machine_state(db, machine_id)
        if current is target:  # most heartbeats: no move, no guard to look up
            return current
        try:
            check_machine_move(current, target, actor,
                               MachineFacts(claimed_job_id=claimed_job(db, machine_id)))
        except IllegalMachineMove as exc:
            if on_refusal == "keep":
                return current
            raise Problem(409, "conflict", f"The machine is {current.value}: {exc}.",
                          {"state": current.value, "target": target.value}) from exc
        db.execute("UPDATE machines SET state = ?, state_reason = ?, state_changed_at = ? "
                   "WHERE id = ?", [target.value, reason, utc_now_iso(), machine_id])
        _record(db, machine_id, current, target, actor, actor_member_id, reason)
        if target not in IN_SERVICE:
            requeue_unclaimed(db, machine_id, f"its machine is now {target.value} ({reason})")
    return target
