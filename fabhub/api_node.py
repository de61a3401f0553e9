"""``/node/v1``: the API the nodes beside the machines speak (see docs/node-protocol.md)."""

from __future__ import annotations

import math
from pathlib import Path

from flask import Blueprint, Response, current_app, g, jsonify, request, send_file

from fabhub import __version__
from fabhub.api_common import json_body, require_string
from fabhub.clock import utc_now_iso
from fabhub.errors import ApiError
from fabhub.jobqueue.files import stored_path
from fabhub.jobs.machine_profile import load_profile
from fabhub.nodes import commands, registry, runs
from fabhub.request_db import get_db
from fabhub.scheduling import request_pass

bp = Blueprint("api_node", __name__, url_prefix="/node/v1")
HEARTBEAT_INTERVAL_S = 5
OPEN_ENDPOINTS = frozenset({"api_node.enroll", "api_node.version"})


@bp.before_request
def authenticate_node() -> None:
    """Every call but enrolment carries the node's own token."""
    g.node = None
    if request.endpoint in OPEN_ENDPOINTS:
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    node = registry.authenticate(get_db(), token.strip()) if scheme.lower() == "bearer" else None
    if node is None:
        raise ApiError(401, "unauthorized",
                       "This node token is unknown or revoked; enrol the node again.")
    g.node = node


def _node() -> registry.Node:
    node = g.get("node")
    assert node is not None
    return node


def _lease_ttl() -> float:
    return float(current_app.config["NODE_LEASE_TTL_S"])


def _pending() -> list[dict]:
    return [c.as_json() for c in commands.pending(get_db(), _node().id)]


@bp.get("/version")
def version() -> Response:
    """Which protocol and hub version this is (no token needed)."""
    return jsonify({"protocol": 1, "hub_version": __version__})


@bp.post("/enroll")
def enroll() -> tuple[Response, int]:
    """Trade a one-time enrolment code and a public key for a node token."""
    data = json_body()
    hostname = data.get("hostname", "")
    agent = data.get("agent_version", "")
    node, token = registry.enroll(get_db(), require_string(data, "code", 100),
                                  data.get("public_key"), str(hostname), str(agent))
    row = get_db().execute("SELECT name, profile_toml FROM machines WHERE id = ?",
                           [node.machine_id]).fetchone()
    profile = load_profile(row["profile_toml"], source=f"machine {row['name']}")
    return jsonify({"node_id": node.id, "machine_id": node.machine_id,
                    "machine_name": row["name"], "token": token, "firmware": profile.firmware,
                    "machine_kind": profile.kind, "heartbeat_interval_s": HEARTBEAT_INTERVAL_S,
                    "lease_ttl_s": _lease_ttl()}), 201


@bp.post("/heartbeat")
def heartbeat() -> Response:
    """Machine state and telemetry; the answer carries pending commands."""
    data = json_body()
    detail = data.get("detail", "")
    db = get_db()
    if registry.heartbeat(db, _node(), data.get("machine_state"), data.get("telemetry", {}),
                          detail if isinstance(detail, str) else ""):
        request_pass(db)
    return jsonify({"server_time": utc_now_iso(), "commands": _pending()})


@bp.post("/claim")
def claim() -> Response | tuple[str, int]:
    """The job assigned to this node's machine, with a lease; 204 when there is none."""
    claimed = runs.claim(get_db(), _node(), _lease_ttl())
    if claimed is None:
        return "", 204
    job, lease = claimed
    size = get_db().execute("SELECT size FROM files WHERE sha256 = ?",
                            [job.file_sha256]).fetchone()[0]
    return jsonify({"job": {"id": job.id, "name": job.name, "file_sha256": job.file_sha256,
                            "size": size, "estimated_s": job.estimated_s,
                            "material": job.material},
                    "lease": lease.as_json()})


@bp.get("/jobs/<int:job_id>/file")
def job_file(job_id: int) -> Response:
    """The job's G-code, exactly as uploaded."""
    job = runs.own_job(get_db(), _node(), job_id)
    path = stored_path(Path(current_app.config["FILES_DIR"]), job.file_sha256)
    if not path.exists():
        raise ApiError(410, "file_missing", "The job's file is missing from the hub's store.")
    return send_file(path, mimetype="text/x-gcode", as_attachment=True,
                     download_name=f"job-{job_id}.gcode", etag=job.file_sha256)


@bp.post("/jobs/<int:job_id>/events")
def events(job_id: int) -> Response:
    """One numbered batch of a job's events, applied exactly once and in order."""
    data = json_body()
    lease = runs.apply_batch(get_db(), _node(), job_id, data.get("batch"), data.get("events"),
                             _lease_ttl())
    return jsonify({"applied": data["batch"], "lease": lease.as_json(),
                    "commands": _pending()})


@bp.post("/jobs/<int:job_id>/end")
def end(job_id: int) -> Response:
    """How the job ended, with the node's signed usage receipt."""
    db = get_db()
    job, index = runs.end_job(db, _node(), job_id, json_body())
    request_pass(db)
    return jsonify({"job": {"id": job.id, "state": job.state.value}, "ledger_entry": index})


@bp.get("/commands")
def poll_commands() -> Response:
    """Pending commands, waiting up to ``wait`` seconds (at most 25) for one."""
    text = request.args.get("wait", "0")
    try:
        wait = float(text)
    except ValueError:
        wait = math.nan
    if not 0 <= wait <= commands.MAX_WAIT_S:  # also false for nan
        raise ApiError(422, "invalid_field", f"'wait' is a number of seconds from 0 to "
                       f"{commands.MAX_WAIT_S:g}, not {text[:40]!r}.", {"field": "wait"})
    found = commands.wait_for(get_db(), _node().id, wait)
    return jsonify({"commands": [c.as_json() for c in found]})


@bp.post("/commands/<int:command_id>/ack")
def ack(command_id: int) -> Response:
    """The node carried out (or failed to carry out) a command."""
    data = json_body()
    detail = data.get("detail", "")
    command = commands.acknowledge(get_db(), _node().id, command_id,
                                   str(data.get("result", "")),
                                   detail if isinstance(detail, str) else "")
    return jsonify({"id": command.id, "acked_at": command.acked_at, "result": command.result})
