"""Gatekeepers' reservations: a week's calendar of bookings per machine, book and cancel."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms import SelectChoice

from fabhub.auth import role_required
from fabhub.clock import parse_utc, utc_now
from fabhub.jobqueue import access
from fabhub.jobqueue.machines import list_machines
from fabhub.members import find_by_username, list_members
from fabhub.problems import Problem
from fabhub.request_db import get_db
from fabhub.scheduling import request_pass
from fabhub.web.admin_forms import ReservationForm
from fabhub.web.common import me
from fabhub.web.forms import EmptyForm
from fabhub.web.reservation_calendar import (
    WEEK_PATTERN,
    WeekError,
    iso_week,
    week_bounds,
    week_monday,
    week_rows,
)

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


def _shown_week(raw: str | None) -> tuple[date, str]:
    """The Monday of the week asked for (this week if none), and a message if it was bad."""
    if raw:
        try:
            return week_monday(raw), ""
        except WeekError:
            pass
    today = utc_now().date()
    this_week = today - timedelta(days=today.weekday())
    if not raw:
        return this_week, ""
    return this_week, _("“%(week)s” is not a week; write the year and ISO week number like "
                        "%(example)s. Showing this week.", week=raw, example=iso_week(today))


@bp.route("/reservations", methods=["GET", "POST"])
@role_required("gatekeeper")
def reservations() -> Response | tuple[str, int]:
    """A week's bookings as a calendar (a row per machine), with a booking form."""
    db = get_db()
    form = ReservationForm()
    machines = list_machines(db)
    form.machine_id.choices = [SelectChoice(m.id, m.name) for m in machines]
    if form.validate_on_submit() and _book(form):
        request_pass(get_db())
        flash(_("Reservation booked."), "info")
        booked = parse_utc(form.starts_at.data).date()
        return redirect(url_for("reservation_pages.reservations", week=iso_week(booked)))
    monday, week_problem = _shown_week(request.args.get("week"))
    start, end = week_bounds(monday)
    bookings = [b for b in access.list_bookings(db, start) if b.start_epoch < end]
    rows = week_rows(monday, [(m.id, m.name) for m in machines], bookings)
    status = 400 if week_problem else 422 if form.errors else 200
    return render_template(
        "reservations.html", form=form, rows=rows, empty=EmptyForm(), week_problem=week_problem,
        members={m.id: m.username for m in list_members(db)},
        days=[monday + timedelta(days=n) for n in range(7)], today=utc_now().date(),
        now_epoch=utc_now().timestamp(),
        week=iso_week(monday), previous=iso_week(monday - timedelta(days=7)),
        following=iso_week(monday + timedelta(days=7))), status


@bp.post("/reservations/<int:booking_id>/cancel")
@role_required("gatekeeper")
def cancel(booking_id: int) -> Response:
    """Cancel a booking; back to the week the calendar showed."""
    if EmptyForm().validate_on_submit():
        access.cancel_booking(get_db(), booking_id)
        request_pass(get_db())
        flash(_("Reservation cancelled."), "info")
    week = request.args.get("week", "")
    return redirect(url_for("reservation_pages.reservations",
                            week=week if WEEK_PATTERN.match(week) else None))
