"""``/api/v1`` access rules: certifications, reservations, member classes and quotas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from fabhub.api_common import json_body, require_string
from fabhub.auth import current_member, login_required, role_required
from fabhub.clock import parse_utc, utc_now
from fabhub.errors import ApiError
from fabhub.jobqueue import access, classes
from fabhub.members import Member, MemberError, require_member
from fabhub.request_db import get_db
from fabhub.scheduling import request_pass

bp = Blueprint("api_access", __name__, url_prefix="/api/v1")


def _me() -> Member:
    member = current_member()
    assert member is not None
    return member


def _member_named(username: str) -> Member:
    try:
        return require_member(get_db(), username)
    except MemberError as exc:
        raise ApiError(404, "not_found", str(exc), {"field": "username"}) from exc


def _time(data: dict[str, Any], key: str, required: bool = True) -> datetime | None:
    raw = data.get(key)
    if raw is None and not required:
        return None
    if not isinstance(raw, str):
        raise ApiError(422, "invalid_field", f"'{key}' must be an ISO 8601 time with a zone.",
                       {"field": key})
    try:
        return parse_utc(raw)
    except ValueError as exc:
        raise ApiError(422, "invalid_field", str(exc), {"field": key}) from exc


@bp.get("/certifications")
@login_required
def list_certifications() -> Response:
    """Own certifications; gatekeepers see everyone's (``member=NAME`` filters)."""
    me = _me()
    member_id = me.id
    if me.has_role("gatekeeper"):
        name = request.args.get("member")
        member_id = _member_named(name).id if name else None
    certs = access.list_certifications(get_db(), member_id)
    return jsonify({"certifications": [vars(c) for c in certs]})


@bp.post("/certifications")
@role_required("gatekeeper")
def certify() -> tuple[Response, int]:
    """Certify ``{"username", "machine_class", "expires_at"?}``."""
    data = json_body()
    member = _member_named(require_string(data, "username", 64))
    db = get_db()
    cert = access.certify(db, member.id, require_string(data, "machine_class", 40), _me().id,
                          _time(data, "expires_at", required=False))
    request_pass(db)
    return jsonify(vars(cert)), 201


@bp.delete("/certifications/<int:cert_id>")
@role_required("gatekeeper")
def revoke(cert_id: int) -> Response:
    """Revoke a certification."""
    db = get_db()
    cert = access.revoke_certification(db, cert_id)
    request_pass(db)
    return jsonify(vars(cert))


@bp.get("/reservations")
@login_required
def list_reservations() -> Response:
    """Reservations that have not ended, optionally of one ``machine_id``."""
    raw = request.args.get("machine_id")
    machine_id = int(raw) if raw and raw.isdigit() else None
    bookings = access.list_bookings(get_db(), utc_now().timestamp(), machine_id)
    return jsonify({"reservations": [vars(b) for b in bookings]})


@bp.post("/reservations")
@login_required
def reserve() -> tuple[Response, int]:
    """Book ``{"machine_id", "starts_at", "ends_at", "username"?}`` (others: gatekeepers)."""
    data = json_body()
    me = _me()
    member = me
    if data.get("username") not in (None, me.username):
        if not me.has_role("gatekeeper"):
            raise ApiError(403, "forbidden", "Only gatekeepers may book for someone else.")
        member = _member_named(require_string(data, "username", 64))
    machine_id = data.get("machine_id")
    if isinstance(machine_id, bool) or not isinstance(machine_id, int):
        raise ApiError(422, "invalid_field", "'machine_id' must be a machine's number.",
                       {"field": "machine_id"})
    db = get_db()
    start, end = _time(data, "starts_at"), _time(data, "ends_at")
    assert start is not None and end is not None
    booking = access.reserve(db, machine_id, member.id, start, end, me.id, utc_now())
    request_pass(db)
    return jsonify(vars(booking)), 201


@bp.delete("/reservations/<int:booking_id>")
@login_required
def cancel_reservation(booking_id: int) -> Response:
    """Cancel one's own reservation (gatekeepers: anyone's)."""
    db = get_db()
    booking = access.get_booking(db, booking_id)
    me = _me()
    if booking.member_id != me.id and not me.has_role("gatekeeper"):
        raise ApiError(403, "forbidden", "You can cancel only your own reservations.")
    booking = access.cancel_booking(db, booking_id)
    request_pass(db)
    return jsonify(vars(booking))


def _limit(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(422, "invalid_field", f"'{key}' must be a number or null.",
                       {"field": key})
    return float(value)


@bp.get("/member-classes")
@role_required("gatekeeper")
def list_member_classes() -> Response:
    """Every member class with its limits."""
    return jsonify({"member_classes": [vars(c) for c in classes.list_member_classes(get_db())]})


@bp.put("/member-classes/<name>")
@role_required("gatekeeper")
def put_member_class(name: str) -> Response:
    """Create or replace a member class's limits (null = no limit)."""
    data = json_body()
    queued = _limit(data, "max_queued_jobs")
    description = data.get("description", "")
    member_class = classes.set_member_class(
        get_db(), name, _limit(data, "weekly_hours_per_class"), _limit(data, "max_job_s"),
        int(queued) if queued is not None else None,
        description if isinstance(description, str) else "")
    return jsonify(vars(member_class))


@bp.put("/members/<username>/member-class")
@role_required("gatekeeper")
def put_members_class(username: str) -> Response:
    """Move a member into a member class (``{"member_class"}``)."""
    name = require_string(json_body(), "member_class", 40)
    _member_named(username)
    classes.assign_member_class(get_db(), username, name)
    return jsonify({"username": username, "member_class": name})
