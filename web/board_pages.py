"""The public status board for a wall screen: machines, their jobs' progress, queue lengths.

No login. Member names are shown only when the lab sets ``BOARD_SHOW_NAMES``.
The tiles are computed at most once per snapshot interval and shared by every
viewer (the snapshot's key holds the language and the name setting, the only
things that change what a viewer sees), so a room full of screens costs one set
of queries per interval, and a poll that finds nothing new gets an empty 304.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template
from flask_babel import get_locale
from werkzeug.wrappers import Response

from fabhub.jobqueue.jobs import active_job_on, list_jobs
from fabhub.jobqueue.machines import list_machines
from fabhub.request_db import get_db
from fabhub.web import live as live_updates
from fabhub.web.job_pages import live_view, stable_part

bp = Blueprint("board_pages", __name__)

_snapshots = live_updates.Snapshots()


def _tiles(show_names: bool) -> dict[str, Any]:
    db = get_db()
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


def _version(tiles: dict[str, Any], locale: str) -> list[Any]:
    """What the tiles show apart from the running clocks."""
    return [locale, tiles["queued"], [
        [t["machine"].id, t["machine"].name, t["machine"].state.value,
         t["machine"].state_reason, t["owner"], stable_part(t["live"]) if t["live"] else None]
        for t in tiles["machines"]]]


def _snapshot() -> live_updates.Snapshot:
    show_names = bool(current_app.config["BOARD_SHOW_NAMES"])
    locale = str(get_locale())

    def build() -> live_updates.Snapshot:
        tiles = _tiles(show_names)
        ticking = any(t["live"] and t["live"]["ticking"] for t in tiles["machines"])
        return live_updates.Snapshot(render_template("_board_tiles.html", **tiles),
                                     live_updates.version_tag(_version(tiles, locale), ticking))

    return _snapshots.get((current_app.config["DATABASE"], locale, show_names), build)


@bp.get("/board")
def board() -> str:
    """The whole board; its script refreshes the tiles every second."""
    return render_template("board.html", tiles=_snapshot().body)


@bp.get("/board/tiles")
def tiles() -> Response:
    """Only the tiles, as HTML, for the board's refresh (304 when nothing changed)."""
    return live_updates.conditional(_snapshot(), "text/html")
