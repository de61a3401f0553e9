"""One job: live progress, elapsed and remaining time, machine state, telemetry, cancel."""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from fabhub.api_jobs import priority_breakdowns
from fabhub.auth import login_required
from fabhub.clock import parse_utc, utc_now
from fabhub.jobqueue import jobs as job_store
from fabhub.jobqueue.machines import get_machine
from fabhub.nodes import commands
from fabhub.nodes.runs import run_status
from fabhub.problems import Problem
from fabhub.request_db import get_db
from fabhub.scheduling import request_pass
from fabhub.web import live as live_updates
from fabhub.web.common import duration, me
from fabhub.web.forms import EmptyForm

bp = Blueprint("job_pages", __name__)

# Keys of a telemetry report that are about the report, not the machine.
REPORT_KEYS = frozenset({"at", "type"})
CANCELLABLE = ("queued", "assigned")
# Commands the job page sends to the machine's node, and the job states each needs.
COMMANDS: dict[str, tuple[str, ...]] = {
    "pause": ("running",), "resume": ("paused",), "cancel": ("running", "paused"),
    "emergency_stop": ("assigned", "running", "paused"),
}


def _visible_job(job_id: int) -> job_store.Job:
    job = job_store.get_job(get_db(), job_id)
    if not job_store.may_see(me(), job):
        abort(404)
    return job


HEATERS = {"T": "hotend", "B": "bed", "C": "chamber"}
# The parts of a live view that the page's script advances by itself between updates.
CLOCKS = frozenset({"elapsed", "remaining", "elapsed_s", "remaining_s"})
_snapshots = live_updates.Snapshots()


def readable_telemetry(telemetry: Any) -> dict[str, str]:
    """A node's telemetry report as short labelled texts: heaters, state, position."""
    if not isinstance(telemetry, dict):
        return {}
    shown: dict[str, str] = {}
    for key, value in telemetry.items():
        if key in REPORT_KEYS or value in (None, "", {}, []):
            continue
        if key == "temperatures" and isinstance(value, dict):
            for heater, reading in value.items():
                name = HEATERS.get(heater, heater)
                if isinstance(reading, list | tuple) and reading:
                    target = f" / {reading[1]:.0f}" if len(reading) > 1 and reading[1] else ""
                    shown[name] = f"{reading[0]:.0f}{target} °C"
        elif key == "position" and isinstance(value, dict):
            shown["position"] = " ".join(f"{axis.upper()}{float(v):.1f}"
                                         for axis, v in value.items())
        else:
            shown[str(key)] = str(value)
    return shown


def live_view(job: job_store.Job) -> dict[str, Any]:
    """What the progress bar and its neighbours show, for the page and for live updates."""
    db = get_db()
    run = run_status(db, job.id) or {}
    percent = run.get("percent")
    if job.state.value == "completed":
        percent = 100.0
    elapsed = remaining = None
    if job.started_at:
        end = parse_utc(job.ended_at) if job.ended_at else utc_now()
        elapsed = (end - parse_utc(job.started_at)).total_seconds()
        if job.ended_at:
            remaining = 0.0
        elif percent:
            remaining = max(elapsed * (100.0 - percent) / percent, 0.0)
        else:
            remaining = max(job.estimated_s - elapsed, 0.0)
    machine = get_machine(db, job.machine_id) if job.machine_id else None
    telemetry = run.get("telemetry")
    return {
        "id": job.id, "state": job.state.value, "percent": round(percent or 0.0, 1),
        "elapsed": duration(elapsed) if elapsed is not None else "—",
        "remaining": duration(remaining) if remaining is not None else "—",
        "machine": machine.name if machine else None,
        "machine_state": machine.state.value if machine else None,
        "telemetry": readable_telemetry(telemetry),
        "elapsed_s": round(elapsed) if elapsed is not None else None,
        "remaining_s": round(remaining) if remaining is not None else None,
        "ticking": job.state.value == "running" and not job.ended_at,
        "cancellable": job.state.value in CANCELLABLE,
        "commands": [name for name, states in COMMANDS.items() if job.state.value in states],
        "done": job.state.value in ("completed", "failed", "cancelled", "interrupted",
                                    "rejected"),
    }


@bp.get("/jobs/<int:job_id>")
@login_required
def job(job_id: int) -> str:
    """A job's page; the progress block updates itself without a reload."""
    found = _visible_job(job_id)
    return render_template(
        "job.html", job=found, live=live_view(found), form=EmptyForm(),
        priority=priority_breakdowns([found]).get(found.id),
        events=job_store.job_events(get_db(), job_id))


def stable_part(view: dict[str, Any]) -> dict[str, Any]:
    """A live view without its running clocks: what its ETag is made from."""
    return {k: v for k, v in view.items() if k not in CLOCKS}


def _live_snapshot(job: job_store.Job) -> live_updates.Snapshot:
    view = live_view(job)
    return live_updates.Snapshot(json.dumps(view), live_updates.version_tag(
        stable_part(view), view["ticking"]))


@bp.get("/jobs/<int:job_id>/live")
@login_required
def live(job_id: int) -> Response:
    """The progress block's data as JSON, polled by the page's script (304 if unchanged).

    The data holds nothing about the viewer, so everyone allowed to see the job
    shares one snapshot.
    """
    found = _visible_job(job_id)
    snapshot = _snapshots.get((current_app.config["DATABASE"], job_id),
                              lambda: _live_snapshot(found))
    return live_updates.conditional(snapshot, "application/json")


@bp.post("/jobs/<int:job_id>/cancel")
@login_required
def cancel(job_id: int) -> Response:
    """Cancel a waiting job of one's own."""
    _visible_job(job_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        job_store.cancel_job(get_db(), job_id, me(), "cancelled on the job page")
    except Problem as exc:
        flash(exc.message, "error")
    else:
        request_pass(get_db())
        flash(_("Job %(id)s is cancelled.", id=job_id), "info")
    return redirect(url_for("job_pages.job", job_id=job_id))


@bp.post("/jobs/<int:job_id>/command/<kind>")
@login_required
def command(job_id: int, kind: str) -> Response:
    """Pause, resume or stop a running job, or stop its machine at once, through its node."""
    found = _visible_job(job_id)
    if kind not in COMMANDS or not EmptyForm().validate_on_submit():
        abort(400)
    db = get_db()
    try:
        if found.state.value not in COMMANDS[kind] or found.machine_id is None:
            raise Problem(409, "conflict", _("The job is %(state)s; this is not possible now.",
                                              state=found.state.value))
        node_id = commands.live_node_of(db, found.machine_id)
        commands.issue(db, node_id, kind, found.id, me().id)
    except Problem as exc:
        flash(exc.message, "error")
    else:
        if kind == "emergency_stop":
            current_app.logger.warning("emergency stop of machine %s by %s from the job page",
                                       found.machine_id, me().username)
        flash(_("Sent to the machine; the page shows when it has acted."), "info")
    return redirect(url_for("job_pages.job", job_id=job_id))
