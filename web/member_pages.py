"""The member list, for gatekeepers (editing members arrives with the web issue)."""

from __future__ import annotations

from flask import Blueprint, render_template

from fabhub.auth import role_required
from fabhub.members import list_members
from fabhub.request_db import get_db

bp = Blueprint("member_pages", __name__)


@bp.get("/members")
@role_required("gatekeeper")
def members() -> str:
    """Every member with role and status."""
    return render_template("members.html", members=list_members(get_db()))
