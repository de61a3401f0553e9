"""``/api/v1`` endpoints about the caller and the member list: me, tokens, members."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, jsonify

from fabhub.api_common import json_body, require_string
from fabhub.auth import current_member, login_required, role_required
from fabhub.errors import ApiError
from fabhub.members import Member, MemberError, list_members
from fabhub.request_db import get_db
from fabhub.tokens import create_token, list_tokens, revoke_token

bp = Blueprint("api_account", __name__, url_prefix="/api/v1")


def member_json(member: Member) -> dict:
    """A member as the API shows it."""
    return {
        "id": member.id,
        "username": member.username,
        "display_name": member.display_name,
        "role": member.role,
        "disabled": member.disabled,
        "created_at": member.created_at,
    }


def _me() -> Member:
    member = current_member()
    assert member is not None
    return member


@bp.get("/me")
@login_required
def me() -> Response:
    """The calling member."""
    return jsonify(member_json(_me()))


@bp.get("/tokens")
@login_required
def tokens() -> Response:
    """The caller's API tokens (never their secrets)."""
    return jsonify({"tokens": [asdict(t) for t in list_tokens(get_db(), _me().id)]})


@bp.post("/tokens")
@login_required
def new_token() -> tuple[Response, int]:
    """Create a token; the response is the only time its secret is shown."""
    label = require_string(json_body(), "label", max_length=100)
    try:
        info, token = create_token(get_db(), _me().id, label)
    except MemberError as exc:
        raise ApiError(422, "invalid_field", str(exc), {"field": "label"}) from exc
    return jsonify({**asdict(info), "token": token}), 201


@bp.delete("/tokens/<token_id>")
@login_required
def delete_token(token_id: str) -> Response:
    """Revoke one of the caller's tokens."""
    try:
        info = revoke_token(get_db(), _me().id, token_id)
    except MemberError as exc:
        raise ApiError(404, "not_found", str(exc), {"token_id": token_id}) from exc
    return jsonify(asdict(info))


@bp.get("/members")
@role_required("gatekeeper")
def members() -> Response:
    """Every member (gatekeepers and admins only)."""
    return jsonify({"members": [member_json(m) for m in list_members(get_db())]})
