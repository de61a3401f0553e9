"""``/api/v1`` endpoints that reach the nodes: registering nodes, job and machine commands."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from fabhub.api_common import json_body
from fabhub.auth import current_member, login_required, role_required
from fabhub.errors import ApiError
from fabhub.jobqueue import jobs as job_store
from fabhub.jobs.states import JobState
from fabhub.members import Member
from fabhub.nodes import commands, registry, runs
from fabhub.request_db import get_db
from fabhub.scheduling import request_pass

bp = Blueprint("api_nodes_admin", __name__, url_prefix="/api/v1")


def _me() -> Member:
    member = current_member()
    assert member is not None
    return member


def node_json(node: registry.Node) -> dict[str, Any]:
    """A node as gatekeepers see it (never its token or code)."""
    return {"id": node.id, "machine_id": node.machine_id, "name": node.name,
            "enrolled_at": node.enrolled_at, "revoked_at": node.revoked_at,
            "last_seen_at": node.last_seen_at, "last_state": node.last_state,
            "hostname": node.hostname, "agent_version": node.agent_version}


@bp.get("/nodes")
@role_required("gatekeeper")
def list_nodes() -> Response:
    """Every node with its last heartbeat."""
    return jsonify({"nodes": [node_json(n) for n in registry.list_nodes(get_db())]})


@bp.post("/nodes")
@role_required("gatekeeper")
def register() -> tuple[Response, int]:
    """Register a node for ``{"machine_id", "name"?}``; the enrolment code is shown once."""
    data = json_body()
    machine_id = data.get("machine_id")
    if isinstance(machine_id, bool) or not isinstance(machine_id, int):
        raise ApiError(422, "invalid_field", "'machine_id' must be a machine's number.",
                       {"field": "machine_id"})
    name = data.get("name", "")
    node, code = registry.register(get_db(), machine_id, name if isinstance(name, str) else "",
                                   _me().id)
    return jsonify({**node_json(node), "enrolment_code": code,
                    "expires_in_s": registry.CODE_TTL_S}), 201


@bp.delete("/nodes/<int:node_id>")
@role_required("gatekeeper")
def revoke(node_id: int) -> Response:
    """Revoke a node: its token stops working at once."""
    return jsonify(node_json(registry.revoke(get_db(), node_id)))


def _command_running_job(job_id: int, command_type: str) -> Response:
    db = get_db()
    job = job_store.get_job(db, job_id)
    if not job_store.may_see(_me(), job):
        raise ApiError(404, "not_found", f"There is no job {job_id} of yours.")
    allowed = {"pause": (JobState.RUNNING,), "resume": (JobState.PAUSED,),
               "cancel": (JobState.ASSIGNED, JobState.RUNNING, JobState.PAUSED)}[command_type]
    if job.state not in allowed:
        raise ApiError(409, "conflict", f"The job is {job.state.value}; it cannot be "
                       f"{command_type}d now.", {"state": job.state.value})
    assert job.machine_id is not None
    node_id = commands.live_node_of(db, job.machine_id)
    command = commands.issue(db, node_id, command_type, job.id, _me().id)
    return jsonify({"command": command.as_json(), "job_id": job.id, "state": job.state.value})


@bp.post("/jobs/<int:job_id>/pause")
@login_required
def pause(job_id: int) -> Response:
    """Ask the machine's node to pause a running job."""
    return _command_running_job(job_id, "pause")


@bp.post("/jobs/<int:job_id>/resume")
@login_required
def resume(job_id: int) -> Response:
    """Ask the machine's node to resume a paused job."""
    return _command_running_job(job_id, "resume")


@bp.post("/jobs/<int:job_id>/stop")
@login_required
def stop(job_id: int) -> Response:
    """Ask the machine's node to cancel a job that it holds (the node reports the end)."""
    db = get_db()
    job = job_store.get_job(db, job_id)
    claimed = db.execute("SELECT 1 FROM job_runs WHERE job_id = ?", [job_id]).fetchone()
    if job.state is JobState.ASSIGNED and not claimed:
        cancelled = job_store.cancel_job(db, job_id, _me())
        request_pass(db)
        return jsonify({"job_id": cancelled.id, "state": cancelled.state.value})
    return _command_running_job(job_id, "cancel")


@bp.post("/machines/<int:machine_id>/emergency-stop")
@login_required
def emergency_stop(machine_id: int) -> Response:
    """Any member may stop a machine at once: its node sends the firmware's emergency stop."""
    db = get_db()
    node_id = commands.live_node_of(db, machine_id)
    job = job_store.active_job_on(db, machine_id)
    command = commands.issue(db, node_id, "emergency_stop", job.id if job else None, _me().id)
    current_app.logger.warning("emergency stop of machine %s by %s", machine_id,
                               _me().username)
    return jsonify({"command": command.as_json(), "machine_id": machine_id})


@bp.get("/jobs/<int:job_id>/run")
@login_required
def run(job_id: int) -> Response:
    """The live side of a job: progress, telemetry, its ledger entry when it has ended."""
    db = get_db()
    job = job_store.get_job(db, job_id)
    if not job_store.may_see(_me(), job):
        raise ApiError(404, "not_found", f"There is no job {job_id} of yours.")
    return jsonify({"job_id": job_id, "state": job.state.value,
                    "run": runs.run_status(db, job_id)})
