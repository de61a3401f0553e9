"""The scheduling pass: load the queue, run the matcher, store assignments and reasons.

A full pass (:func:`run_pass`) is two steps. :func:`assign_pass` holds SQLite's
write lock from its first read to its last write, so passes started by several
threads or processes run one after another and never assign a job twice (the
partial unique index ``jobs_one_per_machine`` backs this up at the storage level).
:func:`explain_pass` then rewrites every waiting job's reason from a read snapshot,
taking the write lock only to store the rows. Assignments are job transitions (``queued`` to
``assigned``, by the scheduler) made with :func:`fabhub.jobqueue.jobs.transition_many`.
Passes run in the scheduler loop (:mod:`fabhub.dispatcher`), never in a request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import sqlite_utils

from fabhub.clock import iso_from_epoch
from fabhub.db import write_lock
from fabhub.jobqueue.access import certified_classes
from fabhub.jobqueue.classes import class_weights
from fabhub.jobqueue.jobs import Move, transition_many
from fabhub.jobs.matching import (
    MachineSlot,
    PassInput,
    PassResult,
    Reservation,
    WaitingJob,
    schedule,
)
from fabhub.jobs.priority import (
    PriorityBreakdown,
    PriorityWeights,
    compute_priority,
    priority_total,
)
from fabhub.jobs.states import JobState, MachineState


class UsageSource(Protocol):
    """Where a pass reads members' past machine use (the commons ledger)."""

    def decayed_hours(self, db: sqlite_utils.Database, now: datetime, half_life_s: float,
                      weights: Mapping[str, float]) -> dict[int, float]:
        """Member id -> machine-hours decayed by age and weighted by machine class."""

    def hours_since(self, db: sqlite_utils.Database, since: datetime
                    ) -> dict[tuple[int, str], float]:
        """(member id, machine class) -> raw machine-hours used since ``since``."""


@dataclass(frozen=True)
class SchedulerSettings:
    """Tuning that gatekeepers may change through configuration."""

    weights: PriorityWeights = field(default_factory=PriorityWeights)
    half_life_s: float = 7 * 24 * 3600.0


@dataclass(frozen=True)
class PassSummary:
    """What one pass did."""

    waiting: int  # the queued jobs it read
    assigned: tuple[tuple[int, int], ...]
    reasons_written: int
    explained: bool = False  # every waiting job's reason was rewritten


def week_start(now: datetime) -> datetime:
    """Monday 00:00 UTC of ``now``'s week: weekly quotas count from there."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=midnight.weekday())


def priority_of(row: Mapping, usage: Mapping[int, float], now_epoch: float,
                settings: SchedulerSettings) -> PriorityBreakdown:
    """A queued job's priority from its row (member_id, submitted_epoch, estimated_s, boost)."""
    return compute_priority(usage.get(row["member_id"], 0.0), now_epoch - row["submitted_epoch"],
                            row["estimated_s"], row["boost"], settings.weights)


def _weekly_room(db: sqlite_utils.Database, now: datetime, usage: UsageSource,
                 active: list) -> dict[tuple[int, str], float]:
    limited = {r[0]: r[1] * 3600.0 for r in db.execute(
        "SELECT m.id, c.weekly_hours_per_class FROM members m JOIN member_classes c "
        "ON c.name = m.member_class WHERE c.weekly_hours_per_class IS NOT NULL")}
    if not limited:
        return {}
    used = usage.hours_since(db, week_start(now))
    room: dict[tuple[int, str], float] = {}
    classes = [r[0] for r in db.execute("SELECT name FROM machine_classes")]
    for member_id, limit_s in limited.items():
        for cls in classes:
            room[(member_id, cls)] = limit_s - used.get((member_id, cls), 0.0) * 3600.0
    for row in active:
        key = (row["member_id"], row["machine_class"])
        if key in room:
            room[key] -= row["estimated_s"]
    return room


QUEUED_COLUMNS = (
    "j.id, j.member_id, j.machine_class, j.estimated_s, j.submitted_epoch, j.material, "
    "j.preferred_machine_id, j.boost"
)


def _tuples(db: sqlite_utils.Database, sql: str, params: list | None = None) -> list[tuple]:
    """Rows as plain tuples: a pass reads ten thousand of them, named rows cost too much."""
    cursor = db.conn.cursor()
    cursor.row_factory = None
    return cursor.execute(sql, params or []).fetchall()


def _queued(db: sqlite_utils.Database, classes: Collection[str] | None
            ) -> tuple[list[tuple], dict[int, dict[int, str]]]:
    """Queued job rows and, per job, the machines its file does not fit (with the reason)."""
    where, params = "j.state = 'queued'", []
    if classes is not None:
        where += f" AND j.machine_class IN ({', '.join('?' for _ in classes)})"
        params = list(classes)
    rows = _tuples(db, f"SELECT {QUEUED_COLUMNS} FROM jobs j WHERE {where}", params)
    unfit: dict[int, dict[int, str]] = {}
    for job_id, machine_id, reason in _tuples(
            db, "SELECT u.job_id, u.machine_id, u.reason FROM job_unfit u JOIN jobs j "
            f"ON j.id = u.job_id WHERE {where}", params):
        unfit.setdefault(job_id, {})[machine_id] = reason
    return rows, unfit


def load_pass_input(db: sqlite_utils.Database, now: datetime, settings: SchedulerSettings,
                    usage: UsageSource, only_free_classes: bool = False) -> PassInput:
    """Read everything a pass needs.

    With ``only_free_classes`` the jobs are only those of classes with an idle machine
    (all that an assignment can touch: the matcher never looks across classes).
    """
    now_epoch = now.timestamp()
    active = db.execute(
        "SELECT machine_id, member_id, machine_class, estimated_s, "
        "COALESCE(started_at, assigned_at) AS since FROM jobs "
        "WHERE state IN ('assigned', 'running', 'paused')").fetchall()
    busy_until = {r["machine_id"]: datetime.fromisoformat(r["since"].replace("Z", "+00:00"))
                  .timestamp() + r["estimated_s"] for r in active}
    machines = tuple(
        MachineSlot(r["id"], r["machine_class"],
                    MachineState.BUSY if r["id"] in busy_until and r["state"] == "idle"
                    else MachineState(r["state"]),
                    r["loaded_material"], busy_until.get(r["id"]))
        for r in db.execute("SELECT id, machine_class, state, loaded_material FROM machines"))
    rows, unfit = _queued(db, {m.machine_class for m in machines
                               if m.state is MachineState.IDLE} if only_free_classes else None)
    weights = class_weights(db)
    decayed = usage.decayed_hours(db, now, settings.half_life_s, weights)
    w = settings.weights
    jobs = tuple(
        WaitingJob(job_id, member_id, machine_class, estimated_s, submitted,
                   priority_total(decayed.get(member_id, 0.0), now_epoch - submitted,
                                  estimated_s, boost, w),
                   material, preferred,
                   frozenset(unfit[job_id]) if job_id in unfit else frozenset(),
                   next(iter(unfit[job_id].values())) if job_id in unfit else "")
        for (job_id, member_id, machine_class, estimated_s, submitted, material, preferred,
             boost) in rows)
    reservations = tuple(
        Reservation(*r) for r in _tuples(
            db, "SELECT machine_id, member_id, start_epoch, end_epoch FROM reservations "
            "WHERE cancelled_at IS NULL AND end_epoch > ?", [now_epoch]))
    data = PassInput(
        now=now_epoch, jobs=jobs, machines=machines,
        certified=certified_classes(db, iso_from_epoch(now_epoch)),
        reservations=reservations, weekly_room_s=_weekly_room(db, now, usage, active),
        known_classes=frozenset(weights),
    )
    return data


def _wait_rows(result: PassResult) -> tuple[list[tuple], list[tuple]]:
    """Rows for ``wait_reasons`` (one per distinct reason) and ``job_waits`` (one per job)."""
    keys: dict[int, str] = {}  # jobs share reason objects: encode each once
    reasons = []
    waits = []
    for position, job_id in enumerate((j for j in result.order if j in result.reasons), 1):
        reason = result.reasons[job_id]
        key = keys.get(id(reason))
        if key is None:
            details = json.dumps(dict(reason.details), sort_keys=True)
            key = hashlib.sha256(f"{reason.code}\n{reason.message}\n{details}".encode()
                                 ).hexdigest()[:24]
            keys[id(reason)] = key
            reasons.append((key, reason.code, reason.message, details))
        waits.append((job_id, position, key, result.ahead[job_id]))
    return reasons, waits


def _assign(db: sqlite_utils.Database, assignments: Sequence[tuple[int, int]],
            stamp: str) -> None:
    """Move the assigned jobs from queued to assigned, as the transition table allows."""
    transition_many(
        db, JobState.QUEUED, JobState.ASSIGNED,
        [Move(job_id, f"assigned to machine {machine_id}",
              {"machine_id": machine_id, "assigned_at": stamp})
         for job_id, machine_id in assignments],
        actor_kind="scheduler", at=stamp)


@contextmanager
def _snapshot(db: sqlite_utils.Database) -> Iterator[None]:
    """A read transaction: every read inside sees the same committed state, and no
    writer waits for it (WAL)."""
    db.conn.execute("BEGIN")
    try:
        yield
    finally:
        db.conn.execute("COMMIT")


def explain_pass(db: sqlite_utils.Database, now: datetime, settings: SchedulerSettings,
                 usage: UsageSource) -> PassSummary:
    """Rewrite why every queued job waits: its position, reason and the jobs ahead.

    The queue is read in one snapshot and matched without the write lock, which is
    taken only to store the rows; a job that left the queue meanwhile keeps no row.
    Nothing is assigned here (that is :func:`assign_pass`'s work).
    """
    with _snapshot(db):
        data = load_pass_input(db, now, settings, usage)
    result = schedule(data)
    with write_lock(db):
        written = _store_reasons(db, result)
    return PassSummary(len(data.jobs), (), written, explained=True)


def _store_reasons(db: sqlite_utils.Database, result: PassResult) -> int:
    """Replace every job's wait row (inside the caller's write transaction)."""
    reasons, waits = _wait_rows(result)
    db.conn.executemany("INSERT OR IGNORE INTO wait_reasons (key, code, message, details) "
                        "VALUES (?, ?, ?, ?)", reasons)
    db.execute("DELETE FROM job_waits")
    db.conn.executemany("INSERT INTO job_waits (job_id, position, reason_key, ahead) "
                        "VALUES (?, ?, ?, ?)", waits)
    db.execute("DELETE FROM job_waits WHERE job_id IN (SELECT w.job_id FROM job_waits w "
               "JOIN jobs j ON j.id = w.job_id WHERE j.state != 'queued')")
    db.execute("DELETE FROM wait_reasons WHERE key NOT IN "
               "(SELECT DISTINCT reason_key FROM job_waits)")
    return len(waits)


def run_pass(db: sqlite_utils.Database, now: datetime, settings: SchedulerSettings,
             usage: UsageSource) -> PassSummary:
    """One full scheduling pass: the assignments, then every waiting job's reason."""
    assigned = assign_pass(db, now, settings, usage)
    if assigned.explained:
        return assigned
    explained = explain_pass(db, now, settings, usage)
    return PassSummary(explained.waiting + len(assigned.assigned), assigned.assigned,
                       explained.reasons_written, explained=True)


def assign_pass(db: sqlite_utils.Database, now: datetime, settings: SchedulerSettings,
                usage: UsageSource) -> PassSummary:
    """The assignments of a full pass, without rewriting every waiting job's reason.

    It holds the write lock from its first read to its last write, and reads only the
    classes that have an idle machine (the matcher never looks across classes), so it
    stays short however long the queue. When that was the whole queue (a hub starting
    with idle machines), it stores every reason too, as :func:`explain_pass` would.
    """
    stamp = iso_from_epoch(now.timestamp())
    with write_lock(db):
        data = load_pass_input(db, now, settings, usage, only_free_classes=True)
        queued = db.execute("SELECT count(*) FROM jobs WHERE state = 'queued'").fetchone()[0]
        result = schedule(data)
        _assign(db, result.assignments, stamp)
        if queued != len(data.jobs):
            return PassSummary(len(data.jobs), result.assignments, 0)
        written = _store_reasons(db, result)
    return PassSummary(len(data.jobs), result.assignments, written, explained=True)
