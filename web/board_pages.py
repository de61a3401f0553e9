"""The public status board for a wall screen: machines, their jobs' progress, queue lengths.

No login. Member names are shown only when the lab sets ``BOARD_SHOW_NAMES``.
The tiles are computed at most once per ``SNAPSHOT_TTL_S`` and shared by every
viewer, so a room full of screens costs one set of queries per interval.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Blueprint, current_app, render_template
from flask_babel import get_locale

from fabhub.jobqueue.jobs import active_job_on, list_jobs
from fabhub.jobqueue.machines import list_machines
from fabhub.request_db import get_db
from fabhub.web.job_pages import live_view

bp = Blueprint("board_pages", __name__)

SNAPSHOT_TTL_S = 0.5
_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[float, str]] = {}


def _tiles() -> dict[str, Any]:
    db = get_db()
    show_names = current_app.config["BOARD_SHOW_NAMES"]
    machines = []
    for machine in list_machines(db):
        job = active_job_on(db, machine.id)
        machines.append({"machine": machine, "job": job,
                         "live": live_view(job) if job else None,
                         "owner": job.username if job and show_names else None})
    queued: dict[str, int] = {}
    for job in list_jobs(db, None, ("queued",)):
        queued[job.machine_class] = queued.get(job.machine_class, 0) + 1
    return {"machines": machines, "queued": queued}


def _fragment() -> str:
    key = (current_app.config["DATABASE"], str(get_locale()))
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit and now - hit[0] < SNAPSHOT_TTL_S:
            return hit[1]
        html = render_template("_board_tiles.html", **_tiles())
        _cache[key] = (now, html)
        return html


@bp.get("/board")
def board() -> str:
    """The whole board; its script refreshes the tiles every second."""
    return render_template("board.html", tiles=_fragment())


@bp.get("/board/tiles")
def tiles() -> tuple[str, int, dict[str, str]]:
    """Only the tiles, as HTML, for the board's refresh."""
    return _fragment(), 200, {"Cache-Control": "no-store"}
