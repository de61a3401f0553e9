"""Gatekeepers' machine pages: create, edit the profile, import/export TOML, state, bed cleared."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from fabhub.auth import role_required
from fabhub.jobqueue import fit, machines
from fabhub.jobqueue.jobs import active_job_on
from fabhub.jobs.machine_profile import dump_profile, example_profile
from fabhub.problems import Problem
from fabhub.request_db import get_db
from fabhub.scheduling import request_pass
from fabhub.web.admin_forms import MachineForm, ProfileForm, StateForm
from fabhub.web.common import me, refusals_on
from fabhub.web.forms import EmptyForm

bp = Blueprint("machine_pages", __name__)


@bp.get("/machines", endpoint="machines")
@role_required("gatekeeper")
def machines_list() -> str:
    """Every machine with its state and current job."""
    db = get_db()
    rows = [(m, active_job_on(db, m.id)) for m in machines.list_machines(db)]
    return render_template("machines.html", rows=rows)


@bp.route("/machines/new", methods=["GET", "POST"])
@role_required("gatekeeper")
def new() -> str | Response:
    """Create a machine from a typed or imported profile."""
    form = MachineForm()
    if not form.is_submitted():
        form.profile.data = dump_profile(example_profile("fdm-marlin"))
    general: list[str] = []
    if form.validate_on_submit():
        text = form.profile.data or ""
        if form.profile_file.data:
            raw = form.profile_file.data.read(100_001)
            text = raw.decode("utf-8", errors="replace")
            form.profile.data = text
        with refusals_on(form, "profile") as general:
            if not text.strip():
                raise Problem(422, "invalid_field", _("Type a profile or import a TOML file."),
                              {"field": "profile"})
            db = get_db()
            machine = machines.add_machine(db, form.name.data, machines.parse_profile(text),
                                           me().id)
            fit.refresh_class(db, machine.machine_class)
            request_pass(get_db())
            flash(_("Machine %(name)s created; it stays offline until its node reports.",
                    name=machine.name), "info")
            return redirect(url_for("machine_pages.machine", machine_id=machine.id))
    status = 422 if form.errors or general else 200
    return render_template("machine_new.html", form=form, general=general), status  # type: ignore[return-value]


@bp.route("/machines/<int:machine_id>", methods=["GET", "POST"])
@role_required("gatekeeper")
def machine(machine_id: int) -> str | Response:
    """One machine: its state, the profile editor and its history."""
    db = get_db()
    found = machines.get_machine(db, machine_id)
    form = ProfileForm()
    if not form.is_submitted():
        form.profile.data = found.profile_toml
    general: list[str] = []
    if form.validate_on_submit():
        with refusals_on(form, "profile") as general:
            machines.update_profile(db, machine_id, machines.parse_profile(form.profile.data),
                                    me().id)
            fit.refresh_class(db, found.machine_class)
            request_pass(get_db())
            flash(_("Profile saved; the old one is kept in the history."), "info")
            return redirect(url_for("machine_pages.machine", machine_id=machine_id))
    status = 422 if form.errors or general else 200
    return render_template(
        "machine.html", machine=found, form=form, state_form=StateForm(), empty=EmptyForm(),
        general=general, history=machines.profile_history(db, machine_id),
        job=active_job_on(db, machine_id)), status  # type: ignore[return-value]


@bp.get("/machines/<int:machine_id>/profile.toml")
@role_required("gatekeeper")
def export_profile(machine_id: int) -> Response:
    """The machine's profile as a TOML file to share with other labs."""
    found = machines.get_machine(get_db(), machine_id)
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in found.name)
    return Response(found.profile_toml, mimetype="application/toml", headers={
        "Content-Disposition": f'attachment; filename="{safe}.toml"'})


def _act(machine_id: int, valid: bool, action: Callable[[], object], done: str) -> Response:
    """Run a state change from a submitted form; show its refusal or its success."""
    if valid:
        try:
            action()
        except Problem as exc:
            flash(exc.message, "error")
        else:
            request_pass(get_db())
            flash(done, "info")
    return redirect(url_for("machine_pages.machine", machine_id=machine_id))


@bp.post("/machines/<int:machine_id>/state")
@role_required("gatekeeper")
def set_state(machine_id: int) -> Response:
    """Maintenance, to-check, or back to idle."""
    form = StateForm()
    return _act(machine_id, form.validate_on_submit(), lambda: machines.set_manual_state(
        get_db(), machine_id, form.state.data, form.reason.data or "", me().id),
        _("Machine state changed."))


@bp.post("/machines/<int:machine_id>/cleared")
@role_required("gatekeeper")
def cleared(machine_id: int) -> Response:
    """Confirm that the bed is clear."""
    return _act(machine_id, EmptyForm().validate_on_submit(),
                lambda: machines.confirm_cleared(get_db(), machine_id, me().id),
                _("Bed cleared; the machine takes its next job."))
