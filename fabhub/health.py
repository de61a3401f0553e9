"""``/healthz``: liveness and database reachability, for monitors and load balancers."""

from __future__ import annotations

import sqlite3

from flask import Blueprint, Response, jsonify

from fabhub import __version__
from fabhub.request_db import get_db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 with ``{"status": "ok"}`` when the initialised database answers, else 503."""
    try:
        get_db().execute("SELECT 1 FROM members LIMIT 1").fetchone()
    except sqlite3.Error as exc:
        return jsonify({"status": "unavailable", "database": str(exc)}), 503
    return jsonify({"status": "ok", "database": "ok", "version": __version__}), 200
