"""Makers' pages: upload with an analysis preview, the queue, history and "my hours"."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from fabhub.api_jobs import priority_breakdowns
from fabhub.auth import login_required
from fabhub.jobqueue import jobs as job_store
from fabhub.jobqueue.classes import list_machine_classes
from fabhub.jobqueue.machines import list_machines
from fabhub.ledger.reports import EFFECTIVE
from fabhub.problems import Problem
from fabhub.request_db import get_db
from fabhub.scheduling import request_pass
from fabhub.web import previews
from fabhub.web.charts import Bar, bar_chart
from fabhub.web.common import me, refusals_on
from fabhub.web.maker_forms import ConfirmForm, UploadForm
from fabhub.web.queue_view import estimated_start

bp = Blueprint("maker_pages", __name__)

WAITING = ("queued", "assigned", "running", "paused")


def _upload_form() -> UploadForm:
    db = get_db()
    form = UploadForm()
    form.machine_class.choices = [SelectChoice(c.name, f"{c.name} ({c.kind})")
                                  for c in list_machine_classes(db)]
    form.preferred_machine_id.choices = [SelectChoice("", _("any machine of the class"))] + [
        SelectChoice(str(m.id), f"{m.name} ({m.machine_class})") for m in list_machines(db)]
    return form


@bp.route("/upload", methods=["GET", "POST"])
@login_required
def upload() -> str:
    """Step one: choose a file and a machine class; the analysis is shown before queueing."""
    form = _upload_form()
    preview = None
    confirm = ConfirmForm()
    general: list[str] = []
    if form.validate_on_submit():
        folder = previews.preview_dir(current_app.instance_path)
        with refusals_on(form, "file") as general:
            token = previews.store(folder, form.file.data.stream,
                                   current_app.config["MAX_CONTENT_LENGTH"])
            preview = previews.analyse(get_db(), folder, token, form.machine_class.data,
                                       (form.material.data or "").strip() or None)
            confirm = ConfirmForm(formdata=None, preview=token,
                                  machine_class=form.machine_class.data,
                                  material=(form.material.data or "").strip(),
                                  preferred_machine_id=form.preferred_machine_id.data or "",
                                  name=form.name.data or "", filename=form.file.data.filename)
    status = 422 if form.errors or general else 200
    return render_template("upload.html", form=form, preview=preview, confirm=confirm,
                           general=general), status  # type: ignore[return-value]


@bp.post("/upload/confirm")
@login_required
def confirm_upload() -> Response | tuple[str, int]:
    """Step two: queue the previewed file; a refusal shows why and queues nothing."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template("error.html", status=400, code="bad_request",
                               message=_("This preview is no longer valid; upload the file "
                                         "again.")), 400
    folder = previews.preview_dir(current_app.instance_path)
    path = previews.preview_path(folder, form.preview.data)
    if not path.exists():
        return render_template("error.html", status=410, code="gone",
                               message=_("This preview has expired; upload the file again.")), 410
    submission = job_store.Submission(
        machine_class=form.machine_class.data, filename=form.filename.data or "upload.gcode",
        name=form.name.data or None, material=form.material.data or None,
        preferred_machine_id=int(form.preferred_machine_id.data)
        if form.preferred_machine_id.data else None,
        idempotency_key="preview-" + form.preview.data[:40])
    db = get_db()
    try:
        with open(path, "rb") as stream:
            job, _created = job_store.submit_job(db, Path(current_app.config["FILES_DIR"]), me(),
                                                 stream, submission,
                                                 current_app.config["MAX_CONTENT_LENGTH"])
    except Problem as exc:
        return render_template("error.html", status=exc.status, code=exc.code,
                               message=exc.message), exc.status
    path.unlink(missing_ok=True)
    request_pass(get_db())
    return redirect(url_for("job_pages.job", job_id=job.id))


@bp.get("/queue")
@login_required
def queue() -> str:
    """My waiting and running jobs with position, priority, reason and estimated start."""
    db = get_db()
    everyone = request.args.get("scope") == "all" and me().has_role("gatekeeper")
    mine = job_store.list_jobs(db, None if everyone else me().id, WAITING)
    class_jobs = job_store.list_jobs(db, None, WAITING)
    priorities = priority_breakdowns(mine)
    estimates = {j.id: estimated_start(db, j, class_jobs) for j in mine
                 if j.state.value == "queued"}
    return render_template("queue.html", jobs=mine, priorities=priorities,
                           estimates=estimates, everyone=everyone)


@bp.get("/history")
@login_required
def history() -> str:
    """My jobs that ended, newest first."""
    ended = ("completed", "failed", "cancelled", "interrupted", "rejected")
    jobs = job_store.list_jobs(get_db(), me().id, ended, limit=200)
    return render_template("history.html", jobs=jobs)


@bp.get("/my-hours")
@login_required
def my_hours() -> str:
    """Machine hours from the ledger, per machine class and month, with a chart."""
    rows = get_db().execute(
        "SELECT substr(f.ended_at, 1, 7) AS month, f.machine_class, SUM(f.seconds) AS seconds "
        f"{EFFECTIVE} AND f.member_id = ? AND f.action = 'use' GROUP BY month, "
        "f.machine_class ORDER BY month DESC, f.machine_class", [me().id]).fetchall()
    per_class: dict[str, float] = defaultdict(float)
    for row in rows:
        per_class[row["machine_class"]] += row["seconds"] / 3600
    chart = bar_chart(_("Machine hours per class"),
                      [Bar(name, hours) for name, hours in sorted(per_class.items())], "h")
    return render_template("my_hours.html", rows=rows, chart=chart, per_class=per_class)
