"""Gatekeepers steer the scheduler: the material loaded on a machine, a job's priority boost.

The matcher prefers a machine that has the job's material loaded; a boost (0 to 1)
adds up to the boost weight to a queued job's priority. Both forms live here; the
machine page links to the material page and the job page shows the boost form.
"""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, Response, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, StringField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from fabhub.api_jobs import priority_breakdowns
from fabhub.auth import role_required
from fabhub.jobqueue import jobs as job_store
from fabhub.jobqueue import machines
from fabhub.problems import Problem
from fabhub.request_db import get_db
from fabhub.scheduling import request_pass
from fabhub.web.common import me, refusals_on

bp = Blueprint("tuning_pages", __name__)

BOOST_RANGE = _l("Give a number from 0 (no boost) to 1 (the most).")


class MaterialForm(FlaskForm):
    """The material loaded on a machine; empty means nothing is loaded."""

    loaded_material = StringField(_l("Loaded material (empty if none)"),
                                  validators=[Optional(), Length(max=40)],
                                  render_kw={"list": "accepted-materials"})


class BoostField(DecimalField):
    """A decimal field whose refusal of text that is no number says what to type."""

    def process_formdata(self, valuelist: list) -> None:
        """Read the number, or refuse it with the boost's own message."""
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(BOOST_RANGE) from None


def _boost_in_range(_form: FlaskForm, field: BoostField) -> None:
    """Refuse a number outside 0 to 1 (text that is no number was refused when read)."""
    if field.data is not None and not 0 <= field.data <= 1:
        raise ValidationError(BOOST_RANGE)


class BoostForm(FlaskForm):
    """A gatekeeper's boost of a job's priority, from 0 to 1."""

    boost = BoostField(_l("Priority boost (0 to 1)"), places=None,
                       validators=[InputRequired(message=BOOST_RANGE), _boost_in_range],
                       render_kw={"inputmode": "decimal"})


@bp.route("/machines/<int:machine_id>/material", methods=["GET", "POST"])
@role_required("gatekeeper")
def material(machine_id: int) -> str | Response | tuple[str, int]:
    """Set or clear the material loaded on a machine."""
    db = get_db()
    machine = machines.get_machine(db, machine_id)
    form = MaterialForm()
    if not form.is_submitted():
        form.loaded_material.data = machine.loaded_material or ""
    if form.validate_on_submit():
        try:
            changed = machines.set_loaded_material(db, machine_id, form.loaded_material.data)
        except Problem:  # the only refusal: a material the FDM profile does not list
            accepted = ", ".join(m.name for m in machine.profile.materials)
            form.loaded_material.errors = [_("This machine accepts: %(materials)s.",
                                             materials=accepted)]
        else:
            request_pass(get_db())
            if changed.loaded_material:
                flash(_("%(material)s is loaded on %(machine)s.",
                        material=changed.loaded_material, machine=changed.name), "info")
            else:
                flash(_("Nothing is loaded on %(machine)s.", machine=changed.name), "info")
            return redirect(url_for("machine_pages.machine", machine_id=machine_id))
    status = 422 if form.errors else 200
    return render_template("material.html", machine=machine, form=form), status


@bp.route("/jobs/<int:job_id>/boost", methods=["GET", "POST"])
@role_required("gatekeeper")
def boost(job_id: int) -> str | Response | tuple[str, int]:
    """Set a job's priority boost; a refusal is shown next to the field, as typed."""
    db = get_db()
    job = job_store.get_job(db, job_id)
    form = BoostForm()
    if not form.is_submitted():
        form.boost.data = Decimal(f"{job.boost:g}")
    if form.validate_on_submit():
        with refusals_on(form, "boost"):
            job_store.set_boost(db, job_id, float(form.boost.data), me())
            request_pass(get_db())
            flash(_("The boost of job %(id)s is now %(boost)s.", id=job_id,
                    boost=f"{float(form.boost.data):g}"), "info")
            return redirect(url_for("job_pages.job", job_id=job_id))
    status = 422 if form.errors else 200
    return render_template("boost.html", job=job, form=form,
                           priority=priority_breakdowns([job]).get(job.id)), status


@bp.app_template_global()
def boost_form(job: job_store.Job) -> BoostForm:
    """The boost form for the job page, filled with the job's boost."""
    return BoostForm(formdata=None, boost=Decimal(f"{job.boost:g}"))


def _loaded_by_class() -> dict[tuple[str, str], list[str]]:
    """(machine class, material) -> names of the machines with it loaded, once a request."""
    if "loaded_by_class" not in g:
        loaded: dict[tuple[str, str], list[str]] = {}
        for row in get_db().execute("SELECT machine_class, loaded_material, name FROM machines "
                                    "WHERE loaded_material IS NOT NULL ORDER BY id"):
            loaded.setdefault((row[0], row[1]), []).append(row[2])
        g.loaded_by_class = loaded
    return g.loaded_by_class


@bp.app_template_global()
def material_note(job: job_store.Job) -> str:
    """The job's material and where it is loaded, as the matcher sees it (exact name)."""
    if not job.material:
        return ""
    names = _loaded_by_class().get((job.machine_class, job.material))
    if names:
        return _("%(material)s, loaded on %(machines)s", material=job.material,
                 machines=", ".join(names))
    return _("%(material)s, not loaded on any %(cls)s machine yet", material=job.material,
             cls=job.machine_class)
