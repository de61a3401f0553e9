"""``/api/v1/machines`` and ``/api/v1/machine-classes``: the machine park."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from fabhub.api_common import json_body, require_string
from fabhub.auth import current_member, login_required, role_required
from fabhub.errors import ApiError
from fabhub.jobqueue import classes, fit, machines
from fabhub.jobqueue.jobs import active_job_on
from fabhub.members import Member
from fabhub.request_db import get_db
from fabhub.scheduling import request_pass

bp = Blueprint("api_machines", __name__, url_prefix="/api/v1")


def _me() -> Member:
    member = current_member()
    assert member is not None
    return member


def machine_json(machine: machines.Machine, with_profile: bool = False) -> dict[str, Any]:
    """A machine as the API shows it."""
    job = active_job_on(get_db(), machine.id)
    data: dict[str, Any] = {
        "id": machine.id, "name": machine.name, "machine_class": machine.machine_class,
        "kind": machine.kind, "state": machine.state.value, "state_reason": machine.state_reason,
        "state_changed_at": machine.state_changed_at, "loaded_material": machine.loaded_material,
        "current_job_id": job.id if job else None,
        "envelope": vars(machine.profile.envelope),
        "materials": [m.name for m in machine.profile.materials],
    }
    if with_profile:
        data["profile"] = machine.profile_toml
    return data


@bp.get("/machines")
@login_required
def list_all() -> Response:
    """Every machine with its state."""
    return jsonify({"machines": [machine_json(m) for m in machines.list_machines(get_db())]})


@bp.get("/machines/<int:machine_id>")
@login_required
def show(machine_id: int) -> Response:
    """One machine, with its profile as TOML."""
    return jsonify(machine_json(machines.get_machine(get_db(), machine_id), with_profile=True))


@bp.post("/machines")
@role_required("gatekeeper")
def create() -> tuple[Response, int]:
    """Add a machine: ``{"name", "profile"}`` with the profile as TOML text."""
    data = json_body()
    profile = machines.parse_profile(require_string(data, "profile", max_length=100_000))
    db = get_db()
    machine = machines.add_machine(db, require_string(data, "name", 60), profile, _me().id)
    fit.refresh_class(db, machine.machine_class)
    request_pass(db)
    return jsonify(machine_json(machine, with_profile=True)), 201


@bp.put("/machines/<int:machine_id>/profile")
@role_required("gatekeeper")
def edit_profile(machine_id: int) -> Response:
    """Replace a machine's profile (``{"profile": TOML}``); the old one stays in the history."""
    profile = machines.parse_profile(require_string(json_body(), "profile", max_length=100_000))
    db = get_db()
    machine = machines.update_profile(db, machine_id, profile, _me().id)
    fit.refresh_class(db, machine.machine_class)
    request_pass(db)
    return jsonify(machine_json(machine, with_profile=True))


@bp.get("/machines/<int:machine_id>/profile-history")
@role_required("gatekeeper")
def history(machine_id: int) -> Response:
    """Every version of a machine's profile, newest first."""
    db = get_db()
    machines.get_machine(db, machine_id)
    return jsonify({"history": machines.profile_history(db, machine_id)})


@bp.post("/machines/<int:machine_id>/state")
@role_required("gatekeeper")
def set_state(machine_id: int) -> Response:
    """Take a machine into ``maintenance`` or ``to_check``, or back to ``idle``."""
    data = json_body()
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        raise ApiError(422, "invalid_field", "'reason' must be text.", {"field": "reason"})
    db = get_db()
    machine = machines.set_manual_state(db, machine_id, require_string(data, "state", 30),
                                        reason[:200], _me().id)
    request_pass(db)
    return jsonify(machine_json(machine))


@bp.post("/machines/<int:machine_id>/cleared")
@role_required("gatekeeper")
def cleared(machine_id: int) -> Response:
    """Confirm that the bed is clear, so the machine may take its next job."""
    db = get_db()
    machine = machines.confirm_cleared(db, machine_id, _me().id)
    request_pass(db)
    return jsonify(machine_json(machine))


@bp.post("/machines/<int:machine_id>/material")
@role_required("gatekeeper")
def loaded_material(machine_id: int) -> Response:
    """Record the material loaded (``{"material": "PLA"}`` or null)."""
    material = json_body().get("material")
    if material is not None and not isinstance(material, str):
        raise ApiError(422, "invalid_field", "'material' must be text or null.",
                       {"field": "material"})
    db = get_db()
    machine = machines.set_loaded_material(db, machine_id, material)
    request_pass(db)
    return jsonify(machine_json(machine))


@bp.get("/machine-classes")
@login_required
def list_classes() -> Response:
    """Every machine class."""
    return jsonify({"machine_classes": [vars(c) for c in classes.list_machine_classes(get_db())]})


@bp.post("/machine-classes")
@role_required("gatekeeper")
def create_class() -> tuple[Response, int]:
    """Add a machine class: ``{"name", "kind", "weight"?, "description"?}``."""
    data = json_body()
    weight = data.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise ApiError(422, "invalid_field", "'weight' must be a number.", {"field": "weight"})
    description = data.get("description", "")
    created = classes.add_machine_class(
        get_db(), require_string(data, "name", 40), require_string(data, "kind", 10),
        float(weight), description if isinstance(description, str) else "")
    return jsonify(vars(created)), 201
