"""Gatekeepers' member classes: the quotas (weekly hours, longest job, jobs waiting) of each."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from fabhub.auth import role_required
from fabhub.jobqueue import classes
from fabhub.request_db import get_db
from fabhub.scheduling import request_pass
from fabhub.web.admin_forms import QuotaForm
from fabhub.web.common import refusals_on

bp = Blueprint("quota_pages", __name__)


@bp.route("/member-classes", methods=["GET", "POST"])
@role_required("gatekeeper")
def member_classes() -> Response | tuple[str, int]:
    """Every member class with its quotas; the form creates one or replaces its quotas."""
    form = QuotaForm()
    general: list[str] = []
    if form.validate_on_submit():
        with refusals_on(form, "name") as general:
            hours = form.max_job_hours.data
            classes.set_member_class(
                get_db(), form.name.data.strip(),
                float(form.weekly_hours_per_class.data)
                if form.weekly_hours_per_class.data is not None else None,
                float(hours) * 3600 if hours is not None else None,
                form.max_queued_jobs.data, form.description.data or "")
            request_pass(get_db())
            flash(_("Member class %(name)s saved.", name=form.name.data.strip()), "info")
            return redirect(url_for("quota_pages.member_classes"))
    status = 422 if form.errors or general else 200
    return render_template("member_classes.html", form=form, general=general,
                           member_classes=classes.list_member_classes(get_db())), status
