"""The issue's browser paths, in headless Chromium against a real ``fabhub serve``.

Where a job must really run, the real node agent (``fabhub node run``) drives a
simulated Marlin printer on a pseudo-terminal; elsewhere a scripted node
(tests/web/scripted_node.py) plays the node over the real node API, to put a job in
an exact state. Every path saves a screenshot under test-output/web.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import pytest

from fabhub.clock import utc_now
from fabhub.drivers.sim import MarlinSim
from fabhub.web.reservation_calendar import iso_week
from tests.node.lab import NodeProcess
from tests.web.browser_lab import SAMPLES, BrowserLab, browser, build, log_in, shot
from tests.web.scripted_node import ScriptedNode

__all__ = ["browser"]  # the session fixture, imported so pytest finds it


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[Callable[..., BrowserLab]]:
    """Build labs on demand; stop their hubs afterwards."""
    labs: list[BrowserLab] = []

    def make(**kwargs) -> BrowserLab:
        labs.append(build(tmp_path, **kwargs))
        return labs[-1]

    yield make
    for lab in labs:
        lab.hub.stop()


@pytest.fixture
def real_node(tmp_path: Path) -> Iterator[Callable[..., NodeProcess]]:
    """Start the real node agent of a lab's printer on a simulated Marlin; stop both after."""
    started: list[tuple[NodeProcess, MarlinSim]] = []

    def start(lab: BrowserLab, command_time_s: float = 0.0004) -> NodeProcess:
        # 0.4 ms a command by default: the 22,000-line sample runs for ten seconds or so.
        sim = MarlinSim(command_time_s=command_time_s).start()
        node = NodeProcess(tmp_path / "node", lab.url, lab.enrolment_code, sim.path)
        node.start()
        started.append((node, sim))
        return node

    yield start
    for node, sim in started:
        node.kill()
        sim.close()


def test_maker_uploads_watches_progress_and_finds_hours(browser, make_lab, real_node) -> None:
    lab = make_lab()
    page = log_in(browser, lab, "ada")
    page.goto("/upload")
    page.set_input_files("#file", str(SAMPLES / "prusaslicer-plant-sign.gcode"))
    page.select_option("#machine_class", "fdm-small")
    page.fill("#material", "PLA")
    page.get_by_role("button", name="Analyse").click()
    analysis = page.locator("#analysis")
    analysis.wait_for()
    assert "Estimated duration" in analysis.inner_text()
    assert " g" in analysis.inner_text()  # the material's mass
    shot(page, "maker-analysis")
    page.get_by_role("button", name="Queue this job").click()
    page.wait_for_url("**/jobs/*")
    page.evaluate("window.__sameDocument = true")
    job_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])
    node = real_node(lab)
    seen = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        seen.add(float(page.locator("#progress").get_attribute("value")))
        if 100.0 in seen:
            break
        time.sleep(0.2)
    assert 100.0 in seen, f"{seen}; node log: {node.log.read_text()[-2000:]}"
    assert any(0 < value < 100 for value in seen), f"the bar never moved through {seen}"
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    page.locator("#state", has_text="completed").wait_for(timeout=30_000)
    assert "Prusa 1" in page.locator("#machine").inner_text()
    assert "hotend: 200 / 200 °C" in page.locator("#telemetry").inner_text()
    assert not page.get_by_role("button", name="Cancel this job").is_visible()
    shot(page, "maker-progress-100")
    with lab.db() as db:
        seconds = db.execute("SELECT seconds FROM ledger_facts WHERE action = 'use' AND "
                             "job_id = ?", [job_id]).fetchone()[0]
    page.goto("/my-hours")
    hours = page.locator("#hours").inner_text()
    expected = f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    assert "fdm-small" in hours and expected in hours, (hours, expected)
    assert page.locator("svg.chart rect").count() == 1
    shot(page, "maker-my-hours")


def test_out_of_envelope_upload_shows_finding_and_is_not_queued(browser, make_lab) -> None:
    lab = make_lab()
    page = log_in(browser, lab, "ada")
    page.goto("/upload")
    page.fill("#material", "PETG")
    page.fill("#name", "typed name")
    page.get_by_role("button", name="Analyse").click()
    assert page.locator("#file-errors").inner_text().strip() == "Choose a G-code file."
    assert page.input_value("#material") == "PETG"  # what was typed is kept
    assert page.input_value("#name") == "typed name"
    shot(page, "upload-missing-file")
    page.set_input_files("#file", str(SAMPLES / "marlin-arc-test.gcode"))
    page.fill("#material", "PLA")
    page.get_by_role("button", name="Analyse").click()
    finding = page.locator(".finding-error").first
    assert "outside" in finding.inner_text() and "line 11" in finding.inner_text()
    assert page.locator("#not-queued").is_visible()
    assert page.get_by_role("button", name="Queue this job").count() == 0
    shot(page, "upload-out-of-envelope")
    page.goto("/queue")
    assert "Nothing is waiting or running." in page.locator("main").inner_text()


def reason_once_explained(page, path: str, wanted: str, timeout_s: float = 10.0) -> str:
    """The job's reason on ``path``, reloaded until it says ``wanted``: the scheduler loop
    explains the queue a moment after a change, never inside the request that made it."""
    deadline = time.monotonic() + timeout_s
    while True:
        page.goto(path)
        reason = page.locator(".reason").inner_text() if page.locator(".reason").count() else ""
        if wanted in reason or time.monotonic() > deadline:
            return reason
        page.wait_for_timeout(100)


def test_maintenance_changes_the_queue_reason(browser, make_lab) -> None:
    lab = make_lab(machine_state="to_check")
    lab.submit("ada", "prusaslicer-plant-sign.gcode")
    page = log_in(browser, lab, "gina")
    assert "to check" in reason_once_explained(page, "/queue?scope=all", "to check")
    page.goto(f"/machines/{lab.machine_id}")
    page.select_option("#state", "maintenance")
    page.fill("#reason", "nozzle swap")
    page.get_by_role("button", name="Set state").click()
    assert "maintenance" in page.locator("#machine-state").inner_text()
    reason = reason_once_explained(page, "/queue?scope=all", "maintenance")
    assert "maintenance" in reason and "to check" not in reason, reason
    shot(page, "gatekeeper-maintenance-reason")


def test_gatekeeper_books_and_sees_the_booking_in_the_calendar(browser, make_lab) -> None:
    lab = make_lab()
    today = utc_now().date()
    day = today - timedelta(days=today.weekday()) + timedelta(days=15)  # Tuesday in 2 weeks
    start = datetime.combine(day, clock_time(13, 30), UTC)
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
    page.locator("#previous-week").focus()  # the week links work from the keyboard
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/reservations?week={iso_week(day - timedelta(days=7))}")
    assert page.locator(".booking").count() == 0

def test_certifying_a_member_starts_their_waiting_job(browser, make_lab, real_node) -> None:
    lab = make_lab()
    job = lab.submit("linus", "prusaslicer-plant-sign.gcode")
    maker = log_in(browser, lab, "linus")
    assert "not certified" in reason_once_explained(maker, f"/jobs/{job['id']}",
                                                    "not certified")
    gatekeeper = log_in(browser, lab, "gina")
    gatekeeper.goto("/members/linus")
    gatekeeper.select_option("#cert-machine_class", "fdm-small")
    gatekeeper.get_by_role("button", name="Certify").click()
    assert "linus is certified on fdm-small" in gatekeeper.locator(".flash").inner_text()
    shot(gatekeeper, "gatekeeper-certified")
    real_node(lab, command_time_s=0.01)  # minutes long: the stop arrives mid-job
    maker.locator("#state", has_text="running").wait_for(timeout=60_000)
    # Past the start G-code: a cancel waits for a heat-up in progress, as Marlin does.
    maker.wait_for_function(
        "parseFloat(document.querySelector('#progress').getAttribute('value')) > 1",
        timeout=90_000)
    shot(maker, "maker-job-started")
    maker.reload()
    maker.get_by_role("button", name="Stop this job").click()
    assert "Sent to the machine" in maker.locator(".flash").inner_text()
    maker.locator("#state", has_text="cancelled").wait_for(timeout=30_000)
    shot(maker, "maker-job-stopped")


def test_status_board_updates_live(browser, make_lab) -> None:
    lab = make_lab()
    job = lab.submit("ada", "prusaslicer-plant-sign.gcode")
    context = browser.new_context(base_url=lab.url)
    board = context.new_page()
    board.goto("/board")
    tile = board.locator(f"#machine-{lab.machine_id}")
    assert "Prusa 1" in tile.inner_text()
    assert "ada" not in board.locator("main").inner_text().lower()  # no names by default
    node = ScriptedNode(lab.url, lab.enrolment_code)
    node.heartbeat()
    node.claim()
    node.report(job["id"], {"type": "started"})
    for percent in (25.0, 60.0):
        node.report(job["id"], {"type": "progress", "lines_acked": 1, "percent": percent})
        sent = time.monotonic()
        board.locator(f"#machine-{lab.machine_id} .percent",
                      has_text=f"{percent} %").wait_for(timeout=10_000)
        delay = time.monotonic() - sent
        assert delay < 2.0, f"the board showed {percent} % after {delay:.2f} s"
    shot(board, "status-board-live")
    assert board.locator("#connection-lost").is_hidden()
    lab.hub.stop()
    board.locator("#connection-lost").wait_for(state="visible", timeout=15_000)
    shot(board, "status-board-connection-lost")


def test_french_interface(browser, make_lab) -> None:
    lab = make_lab()
    page = log_in(browser, lab, "ada", locale="fr-FR")
    page.goto("/queue")
    text = page.locator("body").inner_text()
    assert "Ma file d’attente" in text and "Tableau d’état" in text, text[:400]
    assert page.locator("html").get_attribute("lang") == "fr"
    shot(page, "french-queue")
    page.goto("/upload")
    page.set_input_files("#file", str(SAMPLES / "marlin-arc-test.gcode"))
    page.fill("#material", "PLA")
    page.get_by_role("button", name="Analyser").click()
    assert "hors de la plage" in page.locator(".finding-error").first.inner_text()
    page.select_option("#lang", "en")
    page.get_by_role("button", name="Changer").click()
    assert "My queue" in page.locator("body").inner_text()
