"""A gatekeeper books a machine in headless Chromium and finds it in the week calendar."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from fabhub.clock import utc_now
from fabhub.web.reservation_calendar import iso_week
from tests.web.browser_lab import BrowserLab, browser, build, log_in, shot

__all__ = ["browser"]  # the session fixture, imported so pytest finds it


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[BrowserLab]:
    """A running hub with one printer; stopped afterwards."""
    built = build(tmp_path)
    yield built
    built.hub.stop()


def test_gatekeeper_books_and_sees_the_booking_in_the_calendar(browser, lab) -> None:
    today = utc_now().date()
    day = today - timedelta(days=today.weekday()) + timedelta(days=15)  # Tuesday in 2 weeks
    start = datetime.combine(day, time(13, 30), UTC)
    page = log_in(browser, lab, "gina")
    page.goto("/reservations")
    page.select_option("#machine_id", str(lab.machine_id))
    page.fill("#username", "ada")
    page.fill("#starts_at", start.strftime("%Y-%m-%dT%H:%M:%SZ"))
    page.fill("#ends_at", "soon")
    page.get_by_role("button", name="Book", exact=True).click()
    assert "ISO 8601" in page.locator("#ends_at-errors").inner_text()
    assert page.input_value("#username") == "ada"  # what was typed is kept
    page.fill("#ends_at", (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    page.get_by_role("button", name="Book", exact=True).click()
    page.wait_for_url(f"**/reservations?week={iso_week(day)}")
    cell = page.locator(f"#machine-{lab.machine_id} td[data-day='{day.isoformat()}']")
    assert "13:30–15:30" in cell.inner_text() and "ada" in cell.inner_text()
    shot(page, "gatekeeper-reservations-calendar")
    page.locator("#previous-week").focus()  # the week links are reachable by keyboard
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/reservations?week={iso_week(day - timedelta(days=7))}")
    assert page.locator(".booking").count() == 0
