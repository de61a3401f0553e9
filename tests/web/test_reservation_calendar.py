"""The reservations calendar: a week per page, bookings in their day's column."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from flask import Flask

from fabhub.clock import utc_now
from fabhub.db import opened
from fabhub.jobqueue import access
from fabhub.members import require_member
from fabhub.web.reservation_calendar import WeekError, iso_week, week_monday
from tests.conftest import csrf_token
from tests.web.conftest import Lab, client_as


def _book(app: Flask, lab: Lab, start: datetime, hours: float) -> int:
    with opened(app.config["DATABASE"]) as db:
        ada = require_member(db, "ada")
        gina = require_member(db, "gina")
        booking = access.reserve(db, lab.machine_id, ada.id, start,
                                 start + timedelta(hours=hours), gina.id, utc_now())
    return booking.id


def _cell(page: str, machine_id: int, day: str) -> str:
    """The inner HTML of one machine's cell for ``day`` (YYYY-MM-DD)."""
    row = re.search(rf'<tr id="machine-{machine_id}">(.*?)</tr>', page, re.S)
    assert row, page[:2000]
    cell = re.search(rf'<td data-day="{day}"[^>]*>(.*?)</td>', row.group(1), re.S)
    assert cell, f"no column for {day}"
    return cell.group(1)


def _next_week_wednesday_at(hour: int) -> datetime:
    today = utc_now().date()
    wednesday = today - timedelta(days=today.weekday()) + timedelta(days=9)
    return datetime.combine(wednesday, time(hour), UTC)


def test_a_booking_sits_in_its_day_column_of_its_week_only(app: Flask, lab: Lab) -> None:
    start = _next_week_wednesday_at(14)
    booking_id = _book(app, lab, start, 2)
    client = client_as(app, "gina")
    week = iso_week(start.date())
    page = client.get(f"/reservations?week={week}").get_data(as_text=True)
    day = start.date()
    cell = _cell(page, lab.machine_id, day.isoformat())
    assert f'id="booking-{booking_id}-{day.isoformat()}"' in cell
    assert "14:00–16:00" in cell and "ada" in cell and "Cancel" in cell
    for other in (day - timedelta(days=1), day + timedelta(days=1)):
        assert "booking-" not in _cell(page, lab.machine_id, other.isoformat())
    for other_week in (day - timedelta(days=7), day + timedelta(days=7)):
        elsewhere = client.get(f"/reservations?week={iso_week(other_week)}")
        assert elsewhere.status_code == 200
        assert f"booking-{booking_id}-" not in elsewhere.get_data(as_text=True)


def test_a_booking_over_midnight_shows_on_both_days(app: Flask, lab: Lab) -> None:
    start = _next_week_wednesday_at(22)
    booking_id = _book(app, lab, start, 4)
    page = client_as(app, "gina").get(f"/reservations?week={iso_week(start.date())}").get_data(
        as_text=True)
    first = _cell(page, lab.machine_id, start.date().isoformat())
    second = _cell(page, lab.machine_id, (start.date() + timedelta(days=1)).isoformat())
    assert f"booking-{booking_id}-" in first and "22:00–24:00 …" in first
    assert f"booking-{booking_id}-" in second and "… 00:00–02:00" in second


def test_week_navigation_links(app: Flask, lab: Lab) -> None:
    client = client_as(app, "gina")
    page = client.get("/reservations?week=2026-W53").get_data(as_text=True)  # 2026 has 53
    assert 'href="/reservations?week=2026-W52" rel="prev"' in page
    assert 'href="/reservations?week=2027-W01" rel="next"' in page
    assert 'href="/reservations" id="this-week"' in page
    assert 'data-day="2026-12-28"' in page and 'data-day="2027-01-03"' in page
    this_week = client.get("/reservations").get_data(as_text=True)
    assert f'data-week="{iso_week(utc_now().date())}"' in this_week


@pytest.mark.parametrize("bad", ["2026-48", "2027-W53", "2026-W00", "1066-W10", "<b>x</b>"])
def test_a_bad_week_gets_a_clear_message(app: Flask, lab: Lab, bad: str) -> None:
    answer = client_as(app, "gina").get("/reservations", query_string={"week": bad})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "is not a week" in page and iso_week(utc_now().date()) in page
    assert "<b>x</b>" not in page  # what was typed is shown escaped
    with pytest.raises(WeekError):
        week_monday(bad)


def test_booking_from_the_form_shows_its_week(app: Flask, lab: Lab) -> None:
    client = client_as(app, "gina")
    start = _next_week_wednesday_at(9) + timedelta(days=21)
    answer = client.post("/reservations", data={
        "machine_id": lab.machine_id, "username": "ada",
        "starts_at": start.isoformat().replace("+00:00", "Z"),
        "ends_at": (start + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        "csrf_token": csrf_token(client, "/reservations")})
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/reservations?week={iso_week(start.date())}")
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "09:00–10:00" in _cell(page, lab.machine_id, start.date().isoformat())
    assert "Reservation booked." in page


def test_cancel_returns_to_the_week_shown(app: Flask, lab: Lab) -> None:
    start = _next_week_wednesday_at(10)
    booking_id = _book(app, lab, start, 1)
    client = client_as(app, "gina")
    week = iso_week(start.date())
    answer = client.post(f"/reservations/{booking_id}/cancel?week={week}",
                         data={"csrf_token": csrf_token(client, f"/reservations?week={week}")})
    assert answer.headers["Location"].endswith(f"/reservations?week={week}")
    assert f"booking-{booking_id}-" not in client.get(answer.headers["Location"]).get_data(
        as_text=True)


def test_a_past_booking_is_shown_but_not_cancellable(app: Flask, lab: Lab) -> None:
    start = _next_week_wednesday_at(8) - timedelta(days=14)  # Wednesday of last week
    with opened(app.config["DATABASE"]) as db:
        gina = require_member(db, "gina")
        booking = access.reserve(db, lab.machine_id, require_member(db, "ada").id, start,
                                 start + timedelta(hours=1), gina.id, start - timedelta(days=1))
    page = client_as(app, "gina").get(f"/reservations?week={iso_week(start.date())}").get_data(
        as_text=True)
    cell = _cell(page, lab.machine_id, start.date().isoformat())
    assert f"booking-{booking.id}-" in cell and "08:00–09:00" in cell
    assert "Cancel" not in cell
