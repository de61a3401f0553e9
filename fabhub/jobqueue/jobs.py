"""Jobs in the database: submission, state changes with their history, reads.

Every state change goes through :func:`transition` (or :func:`transition_many`, one
decision for many jobs, as the scheduler assigns), which checks the single transition
table in ``fabhub.jobs.states`` and records time, actor and reason.
A submission is analysed once, checked against the class's machines, and
either stored whole (file, job, history, fit) or refused with nothing changed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import sqlite_utils

from fabhub.clock import utc_now, utc_now_iso
from fabhub.jobqueue import files
from fabhub.jobqueue.classes import member_class_of, require_machine_class
from fabhub.jobqueue.fit import check_against, class_profiles, material_spelling
from fabhub.jobs.analysis import ANALYSIS_VERSION, Analysis, AnalysisError, analyze_file
from fabhub.jobs.states import ACTIVE_STATES, JobState, check_transition
from fabhub.members import Member
from fabhub.problems import Problem

JOB_COLUMNS = (
    "j.id, j.member_id, m.username, j.file_sha256, j.name, j.machine_class, j.material, "
    "j.preferred_machine_id, j.state, j.machine_id, j.estimated_s, j.analysis_version, "
    "j.boost, j.submitted_at, j.updated_at, j.assigned_at, j.started_at, j.ended_at, "
    "w.position AS queue_position, r.code AS wait_code, r.message AS wait_message, "
    "r.details AS wait_details, w.ahead AS wait_ahead"
)
# Why a job waits lives in job_waits (rewritten by every scheduling pass) and the
# shared wait_reasons it points to.
JOB_SELECT = (f"SELECT {JOB_COLUMNS} FROM jobs j JOIN members m ON m.id = j.member_id "
              "LEFT JOIN job_waits w ON w.job_id = j.id "
              "LEFT JOIN wait_reasons r ON r.key = w.reason_key")


@dataclass(frozen=True)
class Job:
    """A job as the hub shows it."""

    id: int
    member_id: int
    username: str
    file_sha256: str
    name: str
    machine_class: str
    material: str | None
    preferred_machine_id: int | None
    state: JobState
    machine_id: int | None
    estimated_s: float
    analysis_version: int
    boost: float
    submitted_at: str
    updated_at: str
    assigned_at: str | None
    started_at: str | None
    ended_at: str | None
    queue_position: int | None
    wait_code: str | None
    wait_message: str | None
    wait_details: dict[str, Any] = field(default_factory=dict)
    wait_ahead: int | None = None


def _from_row(row: Any) -> Job:
    data = dict(row)
    data["state"] = JobState(data["state"])
    data["wait_details"] = json.loads(data["wait_details"]) if data["wait_details"] else {}
    return Job(**data)


@dataclass(frozen=True)
class Submission:
    """What a maker asks for besides the file."""

    machine_class: str
    filename: str
    name: str | None = None
    material: str | None = None
    preferred_machine_id: int | None = None
    idempotency_key: str | None = None


def get_job(db: sqlite_utils.Database, job_id: int) -> Job:
    """A job by id, or a 404."""
    row = db.execute(JOB_SELECT + " WHERE j.id = ?", [job_id]).fetchone()
    if row is None:
        raise Problem(404, "not_found", f"There is no job {job_id}.", {"job_id": job_id})
    return _from_row(row)


def list_jobs(db: sqlite_utils.Database, member_id: int | None = None,
              states: tuple[str, ...] | None = None, limit: int = 500) -> list[Job]:
    """Jobs, waiting ones in queue order first, then the newest others."""
    sql, params = JOB_SELECT + " WHERE 1=1", []
    if member_id is not None:
        sql += " AND j.member_id = ?"
        params.append(member_id)
    if states:
        sql += f" AND j.state IN ({', '.join('?' for _ in states)})"
        params.extend(states)
    sql += (" ORDER BY w.position IS NULL, w.position, j.submitted_epoch DESC, "
            "j.id DESC LIMIT ?")
    return [_from_row(r) for r in db.execute(sql, [*params, limit]).fetchall()]


def job_events(db: sqlite_utils.Database, job_id: int) -> list[dict[str, Any]]:
    """A job's history, oldest first."""
    rows = db.execute(
        "SELECT e.at, e.from_state, e.to_state, e.actor_kind, m.username AS actor, e.reason "
        "FROM job_events e LEFT JOIN members m ON m.id = e.actor_member_id "
        "WHERE e.job_id = ? ORDER BY e.id", [job_id]).fetchall()
    return [dict(r) for r in rows]


def record_event(db: sqlite_utils.Database, job_id: int, old: str | None, new: str,
                 actor_kind: str, actor_member_id: int | None, reason: str) -> None:
    """Append one line to a job's history (inside the caller's transaction)."""
    db.execute("INSERT INTO job_events (job_id, at, from_state, to_state, actor_kind, "
               "actor_member_id, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
               [job_id, utc_now_iso(), old, new, actor_kind, actor_member_id, reason])


def transition(db: sqlite_utils.Database, job_id: int, target: JobState | str, *,
               actor_kind: str, actor_member_id: int | None = None, reason: str = "",
               **columns: Any) -> Job:
    """Move a job to ``target`` if the table allows it, setting extra ``columns`` too."""
    job = get_job(db, job_id)
    goal = check_transition(job.state, target)
    now = utc_now_iso()
    sets = {"state": goal.value, "updated_at": now, **columns}
    assignments = ", ".join(f"{name} = ?" for name in sets)
    with db.atomic():
        cursor = db.execute(f"UPDATE jobs SET {assignments} WHERE id = ? AND state = ?",
                            [*sets.values(), job_id, job.state.value])
        if cursor.rowcount != 1:
            raise Problem(409, "conflict", "The job changed meanwhile; reload and try again.")
        if goal is not JobState.QUEUED:
            db.execute("DELETE FROM job_waits WHERE job_id = ?", [job_id])
        record_event(db, job_id, job.state.value, goal.value, actor_kind, actor_member_id, reason)
    return get_job(db, job_id)


@dataclass(frozen=True)
class Move:
    """One job's part in :func:`transition_many`: its id, the reason, its extra columns."""

    job_id: int
    reason: str = ""
    columns: dict[str, Any] = field(default_factory=dict)


def transition_many(db: sqlite_utils.Database, source: JobState, target: JobState,
                    moves: Sequence[Move], *, actor_kind: str,
                    actor_member_id: int | None = None, at: str | None = None) -> None:
    """Move many jobs, all in ``source``, to ``target``: one decision of the table, many rows.

    Like :func:`transition` it checks the table, records each job's time, actor and
    reason, and sets the extra columns (every move names the same ones). If any job
    is no longer in ``source`` nothing changes and a 409 :class:`Problem` is raised.
    """
    if not moves:
        return
    goal = check_transition(source, target)
    now = at or utc_now_iso()
    extra = list(moves[0].columns)
    if any(list(move.columns) != extra for move in moves):
        raise ValueError("every move of one transition_many call sets the same columns")
    assignments = ", ".join(f"{name} = ?" for name in ["state", "updated_at", *extra])
    with db.atomic():
        cursor = db.conn.executemany(
            f"UPDATE jobs SET {assignments} WHERE id = ? AND state = ?",
            [(goal.value, now, *move.columns.values(), move.job_id, source.value)
             for move in moves])
        if cursor.rowcount != len(moves):
            raise Problem(409, "conflict", "A job changed meanwhile; nothing was moved.",
                          {"moved": cursor.rowcount, "asked": len(moves)})
        if goal is not JobState.QUEUED:
            db.conn.executemany("DELETE FROM job_waits WHERE job_id = ?",
                                [(move.job_id,) for move in moves])
        db.conn.executemany(
            "INSERT INTO job_events (job_id, at, from_state, to_state, actor_kind, "
            "actor_member_id, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(move.job_id, now, source.value, goal.value, actor_kind, actor_member_id,
              move.reason) for move in moves])


def may_see(member: Member, job: Job) -> bool:
    """Owners and gatekeepers see a job's details."""
    return job.member_id == member.id or member.has_role("gatekeeper")


def cancel_job(db: sqlite_utils.Database, job_id: int, member: Member, reason: str = "") -> Job:
    """Cancel a waiting or assigned job of one's own (gatekeepers: anyone's).

    A job that a node has claimed is refused: the node may be starting it, so only a
    stop command to the node (``POST /api/v1/jobs/ID/stop``) ends it safely.
    """
    job = get_job(db, job_id)
    if not may_see(member, job):
        raise Problem(403, "forbidden", "You can cancel only your own jobs.", {"job_id": job_id})
    with db.atomic():  # the same write turn as a claim: none slips in between
        job = get_job(db, job_id)
        if job.state not in (JobState.QUEUED, JobState.ASSIGNED):
            raise Problem(409, "conflict", f"The job is {job.state.value}; only a queued or "
                          "assigned job can be cancelled here.", {"state": job.state.value})
        if db.execute("SELECT 1 FROM job_runs WHERE job_id = ?", [job_id]).fetchone():
            raise Problem(409, "claimed", f"The machine's node has taken job {job_id} and may "
                          "be starting it; stop it instead (the Stop button, or POST "
                          f"/api/v1/jobs/{job_id}/stop), which tells the node.",
                          {"state": job.state.value})
        return transition(db, job_id, JobState.CANCELLED, actor_kind="member",
                          actor_member_id=member.id,
                          reason=reason or "cancelled by " + member.username,
                          ended_at=utc_now_iso())


def set_boost(db: sqlite_utils.Database, job_id: int, boost: float, actor: Member) -> Job:
    """A gatekeeper's manual priority boost, from 0 (none) to 1 (the most)."""
    if not 0.0 <= boost <= 1.0:
        raise Problem(422, "invalid_field", "boost must lie between 0 and 1.", {"field": "boost"})
    job = get_job(db, job_id)
    with db.atomic():
        db.execute("UPDATE jobs SET boost = ?, updated_at = ? WHERE id = ?",
                   [boost, utc_now_iso(), job_id])
        record_event(db, job_id, job.state.value, job.state.value, "member", actor.id,
                     f"boost set to {boost}")
    return get_job(db, job_id)


def not_gcode(exc: AnalysisError) -> Problem:
    """The refusal of a file that is not G-code text, with the analyser's code for pages."""
    return Problem(422, "not_gcode", str(exc), {"field": "file", "reason": exc.code,
                                                "params": exc.params})


def _analyse(upload: files.SpooledUpload) -> Analysis:
    try:
        return analyze_file(upload.path)
    except AnalysisError as exc:
        raise not_gcode(exc) from exc


def _check_limits(db: sqlite_utils.Database, member: Member, analysis: Analysis) -> None:
    limits = member_class_of(db, member.id)
    if limits.max_job_s is not None and analysis.estimated_s > limits.max_job_s:
        raise Problem(422, "job_too_long",
                      f"This job is estimated at {analysis.estimated_s / 3600:.1f} h; members "
                      f"of class {limits.name!r} may run at most {limits.max_job_s / 3600:.1f} h "
                      "in one job. Split the job or ask a gatekeeper.",
                      {"estimated_s": analysis.estimated_s, "max_job_s": limits.max_job_s})
    if limits.max_queued_jobs is not None:
        waiting = db.execute(
            "SELECT count(*) FROM jobs WHERE member_id = ? AND state IN ('queued', 'assigned')",
            [member.id]).fetchone()[0]
        if waiting >= limits.max_queued_jobs:
            raise Problem(409, "too_many_jobs",
                          f"You already have {waiting} job(s) waiting, the most your member "
                          "class allows; wait for one to run or cancel one.",
                          {"waiting": waiting, "max_queued_jobs": limits.max_queued_jobs})


def submit_job(db: sqlite_utils.Database, files_dir: Path, member: Member, upload: BinaryIO,
               request: Submission, max_bytes: int) -> tuple[Job, bool]:
    """Analyse, check and queue an upload; return the job and whether it is new.

    A refused upload raises :class:`Problem` and leaves database and queue as they
    were. With an ``idempotency_key`` the same request twice queues one job.
    """
    if request.idempotency_key:
        row = db.execute("SELECT id FROM jobs WHERE member_id = ? AND idempotency_key = ?",
                         [member.id, request.idempotency_key]).fetchone()
        if row is not None:
            return get_job(db, row["id"]), False
    machine_class = require_machine_class(db, request.machine_class)
    spooled = files.spool(files_dir, upload, max_bytes)
    try:
        analysis = _analyse(spooled)
        material = request.material or analysis.material_hint
        if machine_class.kind == "fdm" and not material:
            raise Problem(422, "invalid_field", "Choose the material to print with.",
                          {"field": "material"})
        profiles = class_profiles(db, machine_class.name)
        if material:
            material = material_spelling(profiles, material)
        _check_limits(db, member, analysis)
        unfit = check_against(analysis, profiles, material)
        if unfit.all_unfit:
            raise Problem(422, "does_not_fit", unfit.summary(),
                          {"findings": unfit.findings_json()})
        if request.preferred_machine_id is not None and request.preferred_machine_id not in (
            unfit.machine_ids
        ):
            raise Problem(422, "invalid_field", "The preferred machine is not in that class.",
                          {"field": "preferred_machine_id"})
        files.keep(files_dir, spooled)
    except BaseException:
        files.discard(spooled)
        raise
    try:
        return _insert(db, member, request, spooled, analysis, material, unfit.reasons), True
    except sqlite3.IntegrityError:
        # The same idempotency key won a race with this request: answer with its job.
        row = db.execute("SELECT id FROM jobs WHERE member_id = ? AND idempotency_key = ?",
                         [member.id, request.idempotency_key]).fetchone()
        if row is None:
            raise
        return get_job(db, row["id"]), False


def _insert(db: sqlite_utils.Database, member: Member, request: Submission,
            spooled: files.SpooledUpload, analysis: Analysis, material: str | None,
            unfit: dict[int, str]) -> Job:
    now = utc_now()
    stamp = utc_now_iso()
    with db.atomic():
        db.execute(
            "INSERT INTO files (sha256, size, analysis_json, analysis_version, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(sha256) DO UPDATE SET "
            "analysis_json = excluded.analysis_json, "
            "analysis_version = excluded.analysis_version",
            [spooled.sha256, spooled.size, json.dumps(analysis.to_dict()), ANALYSIS_VERSION,
             stamp])
        cursor = db.execute(
            "INSERT INTO jobs (member_id, file_sha256, name, machine_class, material, "
            "preferred_machine_id, state, estimated_s, analysis_version, submitted_at, "
            "submitted_epoch, updated_at, idempotency_key) "
            "VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)",
            [member.id, spooled.sha256, (request.name or request.filename)[:200],
             request.machine_class, material, request.preferred_machine_id,
             analysis.estimated_s, ANALYSIS_VERSION, stamp, now.timestamp(), stamp,
             request.idempotency_key])
        job_id = cursor.lastrowid
        db.conn.executemany(
            "INSERT INTO job_unfit (job_id, machine_id, reason) VALUES (?, ?, ?)",
            [(job_id, machine_id, reason) for machine_id, reason in unfit.items()])
        record_event(db, job_id, None, JobState.QUEUED.value, "member", member.id, "submitted")
    return get_job(db, job_id)


def active_job_on(db: sqlite_utils.Database, machine_id: int) -> Job | None:
    """The job assigned to or running on a machine, if any."""
    placeholders = ", ".join("?" for _ in ACTIVE_STATES)
    row = db.execute(JOB_SELECT + f" WHERE j.machine_id = ? AND j.state IN ({placeholders})",
                     [machine_id, *[s.value for s in ACTIVE_STATES]]).fetchone()
    return _from_row(row) if row else None
