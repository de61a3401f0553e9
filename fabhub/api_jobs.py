"""``/api/v1/jobs``: submit, list, show, cancel and boost jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from fabhub.api_common import json_body
from fabhub.auth import current_member, login_required, role_required
from fabhub.clock import utc_now
from fabhub.errors import ApiError
from fabhub.jobqueue import jobs as job_store
from fabhub.jobqueue.scheduler import priority_of
from fabhub.members import Member
from fabhub.request_db import get_db
from fabhub.scheduling import request_pass, settings_from_config, usage_source

bp = Blueprint("api_jobs", __name__, url_prefix="/api/v1")


def _me() -> Member:
    member = current_member()
    assert member is not None
    return member


def job_json(job: job_store.Job, viewer: Member, priority: dict | None = None) -> dict[str, Any]:
    """A job as the API shows it; other makers' names are not shown to makers."""
    owner_visible = job.member_id == viewer.id or viewer.has_role("gatekeeper")
    data: dict[str, Any] = {
        "id": job.id, "name": job.name if owner_visible else None,
        "owner": job.username if owner_visible else None,
        "machine_class": job.machine_class, "material": job.material,
        "preferred_machine_id": job.preferred_machine_id, "state": job.state.value,
        "machine_id": job.machine_id, "estimated_s": job.estimated_s,
        "file_sha256": job.file_sha256, "analysis_version": job.analysis_version,
        "boost": job.boost, "submitted_at": job.submitted_at, "updated_at": job.updated_at,
        "assigned_at": job.assigned_at, "started_at": job.started_at, "ended_at": job.ended_at,
        "queue": None,
    }
    if job.queue_position is not None:
        message = job.wait_message or ""
        if job.wait_ahead:
            message += (f" {job.wait_ahead} job(s) of higher priority wait for the same "
                        "machines.")
        data["queue"] = {"position": job.queue_position,
                         "reason": {"code": job.wait_code, "message": message,
                                    "details": {**job.wait_details,
                                                "jobs_ahead": job.wait_ahead or 0}}}
    if priority is not None:
        data["priority"] = priority
    return data


def priority_breakdowns(jobs: list[job_store.Job]) -> dict[int, dict]:
    """Priority breakdowns of the queued jobs among ``jobs``, computed now."""
    queued = [j for j in jobs if j.state.value == "queued"]
    if not queued:
        return {}
    db = get_db()
    settings = settings_from_config(current_app.config)
    now = utc_now()
    weights = {r[0]: r[1] for r in db.execute("SELECT name, weight FROM machine_classes")}
    usage = usage_source().decayed_hours(db, now, settings.half_life_s, weights)
    rows = {r["id"]: r for r in db.execute(
        f"SELECT id, member_id, submitted_epoch, estimated_s, boost FROM jobs WHERE id IN "
        f"({', '.join('?' for _ in queued)})", [j.id for j in queued])}
    return {job_id: priority_of(row, usage, now.timestamp(), settings).as_dict(settings.weights)
            for job_id, row in rows.items()}


def _optional_int(name: str) -> int | None:
    raw = request.form.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(422, "invalid_field", f"'{name}' must be a whole number.",
                       {"field": name}) from None


@bp.post("/jobs")
@login_required
def submit() -> tuple[Response, int]:
    """Queue a G-code file: multipart ``file`` and ``machine_class`` (material, name optional)."""
    if not request.mimetype.startswith("multipart/form-data"):
        raise ApiError(415, "unsupported_media_type",
                       "Send the job as multipart/form-data with a 'file' part.")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(422, "invalid_field", "Attach the G-code as the 'file' part.",
                       {"field": "file"})
    machine_class = request.form.get("machine_class", "").strip()
    if not machine_class:
        raise ApiError(422, "invalid_field", "Say which machine class should run the job.",
                       {"field": "machine_class"})
    submission = job_store.Submission(
        machine_class=machine_class, filename=upload.filename,
        name=request.form.get("name", "").strip() or None,
        material=request.form.get("material", "").strip() or None,
        preferred_machine_id=_optional_int("preferred_machine_id"),
        idempotency_key=request.headers.get("Idempotency-Key", "").strip()[:100] or None,
    )
    db = get_db()
    job, created = job_store.submit_job(
        db, Path(current_app.config["FILES_DIR"]), _me(), upload.stream, submission,
        current_app.config["MAX_CONTENT_LENGTH"])
    if created:
        request_pass(db)
    job = job_store.get_job(db, job.id)
    body = job_json(job, _me(), priority_breakdowns([job]).get(job.id))
    return jsonify(body), 201 if created else 200


@bp.get("/jobs")
@login_required
def list_jobs() -> Response:
    """Own jobs; gatekeepers may ask for everyone's with ``scope=all``. Filter by ``state``."""
    me = _me()
    everyone = request.args.get("scope") == "all"
    if everyone and not me.has_role("gatekeeper"):
        raise ApiError(403, "forbidden", "Only gatekeepers may list everyone's jobs.")
    states = tuple(s for s in request.args.get("state", "").split(",") if s) or None
    jobs = job_store.list_jobs(get_db(), None if everyone else me.id, states)
    priorities = priority_breakdowns(jobs)
    return jsonify({"jobs": [job_json(j, me, priorities.get(j.id)) for j in jobs]})


@bp.get("/jobs/<int:job_id>")
@login_required
def show(job_id: int) -> Response:
    """One job with its priority breakdown, wait reason and history."""
    db = get_db()
    job = job_store.get_job(db, job_id)
    if not job_store.may_see(_me(), job):
        raise ApiError(404, "not_found", f"There is no job {job_id} of yours.")
    data = job_json(job, _me(), priority_breakdowns([job]).get(job.id))
    data["events"] = job_store.job_events(db, job_id)
    return jsonify(data)


@bp.post("/jobs/<int:job_id>/cancel")
@login_required
def cancel(job_id: int) -> Response:
    """Cancel one's own queued or assigned job (gatekeepers: anyone's)."""
    db = get_db()
    reason = ""
    if request.is_json:
        reason = str(json_body().get("reason", ""))[:200]
    job = job_store.cancel_job(db, job_id, _me(), reason)
    request_pass(db)
    return jsonify(job_json(job, _me()))


@bp.post("/jobs/<int:job_id>/boost")
@role_required("gatekeeper")
def boost(job_id: int) -> Response:
    """Set a job's manual priority boost (0 to 1)."""
    value = json_body().get("boost")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(422, "invalid_field", "'boost' must be a number from 0 to 1.",
                       {"field": "boost"})
    db = get_db()
    job = job_store.set_boost(db, job_id, float(value), _me())
    request_pass(db)
    return jsonify(job_json(job, _me(), priority_breakdowns([job]).get(job.id)))
