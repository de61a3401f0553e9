"""The home page."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("home_pages", __name__)


@bp.get("/")
def home() -> str:
    """What fabhub is, and where to go next."""
    return render_template("home.html")
