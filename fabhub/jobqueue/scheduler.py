"""The scheduling pass: load the queue, run the matcher, store assignments and reasons.

A pass holds SQLite's write lock from its first read to its last write, so
passes started by several threads or processes run one after another and never
assign a job twice; the partial unique index ``jobs_one_per_machine`` backs
this up at the storage level. Passes run after each relevant event (upload,
cancel, job end, machine change) and every few seconds from the periodic
worker.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import sqlite_utils

from fabhub.clock import iso_from_epoch
from fabhub.db import write_lock
from fabhub.jobqueue.access import certified_classes
from fabhub.jobqueue.classes import class_weights
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
from fabhub.jobs.states import MachineState


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

    waiting: int
    assigned: tuple[tuple[int, int], ...]
    reasons_written: int


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
    "id, member_id, machine_class, estimated_s, submitted_epoch, material, "
    "preferred_machine_id, boost"
)


def _tuples(db: sqlite_utils.Database, sql: str, params: list | None = None) -> list[tuple]:
    """Rows as plain tuples: a pass reads ten thousand of them, named rows cost too much."""
    cursor = db.conn.cursor()
    cursor.row_factory = None
    return cursor.execute(sql, params or []).fetchall()


def load_pass_input(db: sqlite_utils.Database, now: datetime, settings: SchedulerSettings,
                    usage: UsageSource) -> PassInput:
    """Read everything a pass needs."""
    now_epoch = now.timestamp()
    rows = _tuples(db, f"SELECT {QUEUED_COLUMNS} FROM jobs WHERE state = 'queued'")
    unfit: dict[int, dict[int, str]] = {}
    for job_id, machine_id, reason in _tuples(
            db, "SELECT u.job_id, u.machine_id, u.reason FROM job_unfit u JOIN jobs j "
            "ON j.id = u.job_id WHERE j.state = 'queued'"):
        unfit.setdefault(job_id, {})[machine_id] = reason
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


def run_pass(db: sqlite_utils.Database, now: datetime, settings: SchedulerSettings,
             usage: UsageSource) -> PassSummary:
    """One full scheduling pass under the write lock."""
    stamp = iso_from_epoch(now.timestamp())
    with write_lock(db):
        data = load_pass_input(db, now, settings, usage)
        result = schedule(data)
        db.conn.executemany(
            "UPDATE jobs SET state = 'assigned', machine_id = ?, assigned_at = ?, "
            "updated_at = ? WHERE id = ? AND state = 'queued'",
            [(machine_id, stamp, stamp, job_id) for job_id, machine_id in result.assignments])
        db.conn.executemany(
            "INSERT INTO job_events (job_id, at, from_state, to_state, actor_kind, reason) "
            "VALUES (?, ?, 'queued', 'assigned', 'scheduler', ?)",
            [(job_id, stamp, f"assigned to machine {machine_id}")
             for job_id, machine_id in result.assignments])
        reasons, waits = _wait_rows(result)
        db.conn.executemany("INSERT OR IGNORE INTO wait_reasons (key, code, message, details) "
                            "VALUES (?, ?, ?, ?)", reasons)
        db.execute("DELETE FROM job_waits")
        db.conn.executemany("INSERT INTO job_waits (job_id, position, reason_key, ahead) "
                            "VALUES (?, ?, ?, ?)", waits)
        db.execute("DELETE FROM wait_reasons WHERE key NOT IN "
                   "(SELECT DISTINCT reason_key FROM job_waits)")
    return PassSummary(len(data.jobs), result.assignments, len(waits))
