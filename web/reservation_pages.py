"""Gatekeepers' reservations: upcoming bookings per machine, book and cancel."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from wtforms import SelectChoice

from fabhub.auth import role_required
from fabhub.clock import parse_utc, utc_now
from fabhub.jobqueue import access
from fabhub.jobqueue.machines import list_machines
from fabhub.members import find_by_username, list_members
from fabhub.problems import Problem
from fabhub.request_db import get_db
from fabhub.web.admin_forms import ReservationForm
from fabhub.web.common import me, reschedule
from fabhub.web.forms import EmptyForm

bp = Blueprint("reservation_pages", __name__)


def _book(form: ReservationForm) -> bool:
    """Validate the times and member next to their fields, then book; True on success."""
    db = get_db()
    times = {}
    for field in (form.starts_at, form.ends_at):
        try:
            times[field.name] = parse_utc(field.data)
        except ValueError as exc:
            field.errors = [str(exc)]
    member = find_by_username(db, form.username.data.strip())
    if member is None:
        form.username.errors = [_("There is no member with this username.")]
    if member is None or len(times) < 2:
        return False
    try:
        access.reserve(db, form.machine_id.data, member.id, times["starts_at"],
                       times["ends_at"], me().id, utc_now())
    except Problem as exc:
        form.ends_at.errors = [exc.message]
        return False
    return True


@bp.route("/reservations", methods=["GET", "POST"])
@role_required("gatekeeper")
def reservations() -> Response | tuple[str, int]:
    """Upcoming bookings, by start, with a booking form."""
    db = get_db()
    form = ReservationForm()
    machines = list_machines(db)
    form.machine_id.choices = [SelectChoice(m.id, m.name) for m in machines]
    if form.validate_on_submit() and _book(form):
        reschedule()
        flash(_("Reservation booked."), "info")
        return redirect(url_for("reservation_pages.reservations"))
    names = {m.id: m.name for m in machines}
    members = {m.id: m.username for m in list_members(db)}
    bookings = sorted(access.list_bookings(db, utc_now().timestamp()),
                      key=lambda b: b.start_epoch)
    status = 422 if form.errors else 200
    return render_template("reservations.html", form=form, bookings=bookings, names=names,
                           members=members, empty=EmptyForm()), status


@bp.post("/reservations/<int:booking_id>/cancel")
@role_required("gatekeeper")
def cancel(booking_id: int) -> Response:
    """Cancel a booking."""
    if EmptyForm().validate_on_submit():
        access.cancel_booking(get_db(), booking_id)
        reschedule()
        flash(_("Reservation cancelled."), "info")
    return redirect(url_for("reservation_pages.reservations"))
