"""A job's run on a node: claim with a lease, numbered event batches, the end and its receipt.

Batches of one job are applied exactly once and in order; the end of a job, its
final state, the machine's next state and the ledger entry from the signed
receipt are written in one transaction.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from fabhub.clock import iso_from_epoch, utc_now, utc_now_iso
from fabhub.db import write_lock, write_transaction, writer_turn
from fabhub.jobqueue.jobs import Job, get_job, transition
from fabhub.jobqueue.machine_state import claimed_job, machine_state, move_machine
from fabhub.jobs.machine_profile import load_profile
from fabhub.jobs.receipts import ReceiptError, SignedReceipt
from fabhub.jobs.states import Actor, IllegalTransition, JobState, MachineState
from fabhub.ledger import intake, receipt_bounds
from fabhub.ledger.store import LedgerError
from fabhub.nodes.event_schema import (
    check_events,
    stored_count,
    stored_percent,
    stored_progress,
    stored_telemetry,
)
from fabhub.nodes.registry import Node
from fabhub.problems import Problem

LEASE_TTL_S = 60.0
OUTCOMES = ("completed", "failed", "cancelled", "interrupted")


@dataclass(frozen=True)
class Lease:
    """How long a node holds its job without reporting."""

    expires_epoch: float
    ttl_s: float

    def as_json(self) -> dict[str, Any]:
        """What the node receives."""
        return {"expires_at": iso_from_epoch(self.expires_epoch), "ttl_s": self.ttl_s}


def own_job(db: sqlite_utils.Database, node: Node, job_id: int) -> Job:
    """The job, if it is (or was) this node's machine's; a 404 otherwise."""
    job = get_job(db, job_id)
    if job.machine_id != node.machine_id:
        raise Problem(404, "not_your_job", f"Job {job_id} is not assigned to this node's machine.")
    return job


def _renew(db: sqlite_utils.Database, job_id: int, ttl_s: float) -> Lease:
    lease = Lease(time.time() + ttl_s, ttl_s)
    db.execute("UPDATE job_runs SET lease_expires_epoch = ? WHERE job_id = ?",
               [lease.expires_epoch, job_id])
    return lease


def claim(db: sqlite_utils.Database, node: Node, ttl_s: float = LEASE_TTL_S
          ) -> tuple[Job, Lease] | None:
    """The job assigned to this node's machine, with a fresh lease; None if there is none.

    A machine that is not idle (in maintenance, to check, waiting for its bed to be
    cleared, offline, in error) has no job to claim, whatever was assigned to it.
    """
    with write_transaction(db):
        if machine_state(db, node.machine_id) is not MachineState.IDLE:
            return None
        row = db.execute("SELECT id FROM jobs WHERE machine_id = ? AND state = 'assigned' "
                         "ORDER BY assigned_at LIMIT 1", [node.machine_id]).fetchone()
        if row is None:
            return None
        db.execute("INSERT INTO job_runs (job_id, node_id, claimed_at, lease_expires_epoch) "
                   "VALUES (?, ?, ?, ?) ON CONFLICT(job_id) DO NOTHING",
                   [row[0], node.id, utc_now_iso(), time.time() + ttl_s])
        lease = _renew(db, row[0], ttl_s)
    return get_job(db, row[0]), lease


def _state_change(db: sqlite_utils.Database, job: Job, kind: str) -> Job:
    """Apply the job-state meaning of an event, if it has one now."""
    targets = {"started": (JobState.ASSIGNED, JobState.RUNNING),
               "paused": (JobState.RUNNING, JobState.PAUSED),
               "resumed": (JobState.PAUSED, JobState.RUNNING)}
    if kind not in targets or job.state is not targets[kind][0]:
        return job
    extra = {"started_at": utc_now_iso()} if kind == "started" else {}
    job = transition(db, job.id, targets[kind][1], actor_kind="node", reason=f"node: {kind}",
                     **extra)
    target = MachineState.PAUSED if kind == "paused" else MachineState.BUSY
    now = move_machine(db, job.machine_id, target, actor=Actor.NODE,
                       reason=f"job {job.id} {kind}", on_refusal="keep")
    if kind == "started" and now is not target:
        # Rolls the whole batch back: a job never starts on a machine a person took out.
        raise Problem(409, "machine_not_in_service",
                      f"Machine {job.machine_id} is {now.value}; job {job.id} must not start. "
                      "Stop the job and wait for a gatekeeper.", {"state": now.value})
    return job


def apply_batch(db: sqlite_utils.Database, node: Node, job_id: int, batch: Any, events: Any,
                ttl_s: float = LEASE_TTL_S) -> Lease:
    """Apply batch number ``batch`` of a job's events exactly once, in order."""
    job = own_job(db, node, job_id)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise Problem(422, "invalid_field", "'batch' must be a whole number from 1.",
                      {"field": "batch"})
    checked = check_events(events)  # all of it, before anything is stored
    # Read-then-write: take the write lock first, or a concurrent writer makes SQLite
    # refuse the upgrade at once ("database is locked") instead of waiting.
    with write_lock(db):
        run = db.execute("SELECT node_id, last_batch FROM job_runs WHERE job_id = ?",
                         [job_id]).fetchone()
        if run is None or run["node_id"] != node.id:
            raise Problem(409, "not_claimed", f"Claim job {job_id} before reporting on it.")
        if batch <= run["last_batch"]:
            raise Problem(409, "replayed_batch", f"Batch {batch} was already applied.",
                          {"last_applied": run["last_batch"]})
        if batch != run["last_batch"] + 1:
            raise Problem(409, "out_of_order", f"Expected batch {run['last_batch'] + 1}, "
                          f"got {batch}; send the missing batches first.",
                          {"expected": run["last_batch"] + 1})
        db.conn.executemany(
            "INSERT INTO job_reports (job_id, batch, type, at, data_json) VALUES (?, ?, ?, ?, ?)",
            [(job_id, batch, e["type"], e["at"], json.dumps(e)) for e in checked])
        progress = [e for e in checked if e["type"] == "progress"]
        telemetry = [e for e in checked if e["type"] == "telemetry"]
        lease = Lease(time.time() + ttl_s, ttl_s)
        updates: dict[str, Any] = {"last_batch": batch, "lease_expires_epoch": lease.expires_epoch}
        if progress:
            last = progress[-1]
            updates.update(progress_json=json.dumps(last),
                           lines_acked=int(last.get("lines_acked") or 0),
                           lines_total=last.get("lines_total"),
                           percent=float(last.get("percent") or 0.0))
        if telemetry:
            updates["telemetry_json"] = json.dumps(telemetry[-1])
        db.execute(f"UPDATE job_runs SET {', '.join(f'{k} = ?' for k in updates)} "
                   "WHERE job_id = ?", [*updates.values(), job_id])
        for event in checked:
            job = _state_change(db, job, event["type"])
        return lease


def _needs_clearing(db: sqlite_utils.Database, job_id: int, machine_id: int,
                    lines_acked: int = 0) -> bool:
    """True for a machine whose bed must be cleared by a person after this job.

    That is a machine whose profile asks for the confirmation, after a job that
    started or had any line streamed, however it ended.
    """
    row = db.execute("SELECT m.profile_toml, j.started_at, COALESCE(r.lines_acked, 0) "
                     "FROM machines m JOIN jobs j ON j.id = ? "
                     "LEFT JOIN job_runs r ON r.job_id = j.id WHERE m.id = ?",
                     [job_id, machine_id]).fetchone()
    profile = load_profile(row[0], source=f"machine {machine_id}")
    streamed = row[1] is not None or max(stored_count(row[2]) or 0, lines_acked) > 0
    return profile.confirm_bed_clear and streamed


def _next_machine_state(db: sqlite_utils.Database, job: Job, outcome: str,
                        emergency: bool, lines_acked: int) -> MachineState:
    if emergency:
        return MachineState.TO_CHECK
    if _needs_clearing(db, job.id, job.machine_id, lines_acked):
        return MachineState.NEEDS_CLEARING
    if outcome == "failed":
        return MachineState.TO_CHECK
    return MachineState.IDLE


def end_job(db: sqlite_utils.Database, node: Node, job_id: int, body: dict[str, Any]
            ) -> tuple[Job, int]:
    """Record how a job ended and its signed receipt; return the job and its ledger index.

    A receipt beyond what the hub saw (:mod:`fabhub.ledger.receipt_bounds`) is refused
    with 422 ``receipt_out_of_bounds`` and flagged. If the job was this node's run, its
    end is still recorded (job state, machine state: the machine really stopped) but
    without a ledger entry, when the job may end that way; otherwise nothing but the
    flag changes. The refusal's details say the job's state afterwards.
    """
    arrived_at = utc_now()
    job = own_job(db, node, job_id)
    outcome = body.get("outcome")
    if outcome not in OUTCOMES:
        raise Problem(422, "invalid_field", f"'outcome' is one of {', '.join(OUTCOMES)}.",
                      {"field": "outcome"})
    reason = str(body.get("reason", ""))[:300]
    lines_acked = body.get("lines_acked", 0)
    if isinstance(lines_acked, bool) or not isinstance(lines_acked, int) or lines_acked < 0:
        raise Problem(422, "invalid_field", "'lines_acked' must be a whole number.",
                      {"field": "lines_acked"})
    try:
        signed = SignedReceipt.from_dict(body.get("receipt"))
    except ReceiptError as exc:
        raise Problem(422, "invalid_receipt", str(exc), {"field": "receipt"}) from exc
    if signed.receipt.outcome != outcome:
        raise Problem(422, "invalid_receipt", "The receipt's outcome differs from 'outcome'.")
    assert node.public_key is not None
    refused: receipt_bounds.ReceiptOutOfBounds | None = None
    with writer_turn(db):
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            expected = intake.ReceiptExpectation(
                job.id, job.member_id, node.machine_id, node.id, job.file_sha256,
                receipt_bounds.observe(db, job.id, arrived_at))
            try:
                index: int | None = intake.record_receipt(db, signed, node.public_key,
                                                          expected).index
            except receipt_bounds.ReceiptOutOfBounds as exc:
                index, refused = None, exc
            if refused is None or refused.own_run:
                try:
                    with write_transaction(db):  # a savepoint: a refusal keeps its flag
                        job = _finish(db, job, outcome, reason, lines_acked,
                                      bool(body.get("emergency_stop")), signed, index)
                except IllegalTransition as exc:
                    if refused is None:
                        raise Problem(409, "conflict", f"Job {job.id} cannot end that way: "
                                      f"{exc}. Nothing was recorded.") from exc
        except intake.ReceiptConflict as exc:
            db.conn.execute("COMMIT")  # keep the flag for the gatekeepers; nothing else changed
            raise Problem(409, "receipt_conflict", str(exc)) from exc
        except ReceiptError as exc:
            db.conn.execute("ROLLBACK")
            raise Problem(422, "invalid_receipt", str(exc), {"field": "receipt"}) from exc
        except LedgerError as exc:
            db.conn.execute("ROLLBACK")
            raise Problem(422, "invalid_receipt", str(exc)) from exc
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")  # with a refused receipt: the flag (and the run's end)
    if refused is not None:
        raise Problem(422, "receipt_out_of_bounds", str(refused),
                      {**refused.details, "job_state": get_job(db, job.id).state.value}
                      ) from refused
    assert index is not None
    return job, index


def _finish(db: sqlite_utils.Database, job: Job, outcome: str, reason: str, lines_acked: int,
            emergency: bool, signed: SignedReceipt, ledger_index: int | None) -> Job:
    """Inside the end transaction: final job state, run record, machine state."""
    target = JobState(outcome)
    first_report = db.execute("SELECT outcome FROM job_runs WHERE job_id = ?",
                              [job.id]).fetchone()[0] is None
    if job.state is not target:
        job = transition(db, job.id, target, actor_kind="node",
                         reason=reason or f"node reported {outcome}", ended_at=utc_now_iso())
    # The first end report says what the machine needs next, even for a job the hub had
    # already interrupted (the node may have streamed lines the hub never heard of),
    # unless the machine has moved on to another job since.
    if first_report and claimed_job(db, job.machine_id) in (None, job.id):
        move_machine(db, job.machine_id,
                     _next_machine_state(db, job, outcome, emergency, lines_acked),
                     actor=Actor.NODE, reason=f"job {job.id} {outcome}", on_refusal="keep")
    db.execute("UPDATE job_runs SET outcome = ?, end_reason = ?, receipt_sha256 = ?, "
               "ledger_index = ?, lines_acked = MAX(lines_acked, ?) WHERE job_id = ?",
               [outcome, reason, signed.receipt.digest(), ledger_index, lines_acked, job.id])
    return job


def reap_expired(db: sqlite_utils.Database, now_epoch: float, not_before_epoch: float) -> list[int]:
    """Mark jobs whose lease ran out interrupted, their machines offline; tell gatekeepers.

    ``not_before_epoch`` is when this hub started plus one lease: time the hub was
    down never counts against a node.
    """
    if now_epoch < not_before_epoch:
        return []
    rows = db.execute(
        "SELECT r.job_id, j.machine_id FROM job_runs r JOIN jobs j ON j.id = r.job_id "
        "WHERE j.state IN ('assigned', 'running', 'paused') AND r.lease_expires_epoch < ?",
        [now_epoch]).fetchall()
    reaped = []
    for job_id, machine_id in rows:
        with db.atomic():
            transition(db, job_id, JobState.INTERRUPTED, actor_kind="system",
                       reason="the node stopped reporting: lease expired")
            after = (MachineState.NEEDS_CLEARING if _needs_clearing(db, job_id, machine_id)
                     else MachineState.OFFLINE)
            move_machine(db, machine_id, after, actor=Actor.HUB,
                         reason=f"node silent: the lease of job {job_id} expired",
                         on_refusal="keep")
            db.execute("INSERT INTO notifications (at, kind, machine_id, job_id, message) "
                       "VALUES (?, 'lease_expired', ?, ?, ?)",
                       [utc_now_iso(), machine_id, job_id,
                        f"Job {job_id} was interrupted: the node of machine {machine_id} "
                        "stopped reporting."])
        reaped.append(job_id)
    return reaped


def run_status(db: sqlite_utils.Database, job_id: int) -> dict[str, Any] | None:
    """The live side of a job: progress, telemetry, lease (None before a node claimed it)."""
    row = db.execute("SELECT * FROM job_runs WHERE job_id = ?", [job_id]).fetchone()
    if row is None:
        return None
    data = dict(row)
    # What a node reported is read through its schema: a row stored before the schema
    # existed may hold anything, and what does not fit reads as unknown (None).
    return {"node_id": data["node_id"], "claimed_at": data["claimed_at"],
            "lines_acked": stored_count(data["lines_acked"]) or 0,
            "lines_total": stored_count(data["lines_total"]),
            "percent": stored_percent(data["percent"]),
            "progress": stored_progress(data["progress_json"]),
            "telemetry": stored_telemetry(data["telemetry_json"]),
            "outcome": data["outcome"], "ledger_index": data["ledger_index"]}
