"""The OctoPrint driver against a real OctoPrint 1.11 with its Virtual Printer."""

from __future__ import annotations

import re
import time

import pytest

from fabhub.drivers import DriverError, HandshakeError, PortNotFound, open_driver
from fabhub.drivers import events as ev
from fabhub.drivers.octoprint import OctoPrintDriver
from tests.drivers.conftest import Events, wait_until
from tests.octoprint.octoprint_server import OctoPrintServer


def moves(count: int) -> list[str]:
    """A job of ``count`` distinct short moves (the Virtual Printer takes ~25 ms each)."""
    return ["G28", *(f"G1 X{i % 50} Y{(i * 3) % 40} F9000" for i in range(1, count))]


def driver_for(octoprint: OctoPrintServer, events: Events, **options) -> OctoPrintDriver:
    driver = open_driver(octoprint.driver_url, "marlin", events=events,
                         overrides={"api_key": octoprint.api_key, "serial_port": "VIRTUAL",
                                    **options})
    assert isinstance(driver, OctoPrintDriver)
    return driver


def printing(octoprint: OctoPrintServer, events: Events, **options) -> OctoPrintDriver:
    """A driver whose long job OctoPrint has begun to print."""
    driver = driver_for(octoprint, events, **options)
    driver.start_job(moves(3000))
    wait_until(lambda: any(p.lines_acked > 10 for p in events.of(ev.Progress)))
    return driver


def octoprint_state(octoprint: OctoPrintServer) -> str:
    return octoprint.get("/api/job").json()["state"]


def test_a_small_job_runs_to_completion(octoprint: OctoPrintServer, events: Events) -> None:
    driver = driver_for(octoprint, events)
    assert driver.firmware == "Virtual Marlin 1.0"
    assert driver.capabilities["octoprint"].startswith("1.11.")
    result = driver.stream(moves(40), timeout=60)
    assert result.outcome == ev.COMPLETED, result.reason
    assert result.lines_acked == result.lines_total == 40
    assert result.last_acked_line == 40
    progress = events.of(ev.Progress)
    assert progress and progress[-1].bytes_acked == progress[-1].bytes_total
    telemetry = driver.query_status()
    assert telemetry.machine_state == "Operational"
    wait_until(lambda: not octoprint.get("/api/files/local").json()["files"], timeout=10)
    wait_until(lambda: "T" in driver.query_status().temperatures, timeout=15)
    driver.disconnect()
    assert driver.state == ev.DISCONNECTED


def test_pause_resume_and_cancel(octoprint: OctoPrintServer, events: Events) -> None:
    driver = printing(octoprint, events)
    driver.pause()
    assert driver.state == ev.PAUSED
    wait_until(lambda: octoprint_state(octoprint) == "Paused", timeout=15)
    before = octoprint.get("/api/job").json()["progress"]["filepos"]
    time.sleep(1.0)
    assert octoprint.get("/api/job").json()["progress"]["filepos"] == before
    driver.resume()
    assert driver.state == ev.STREAMING
    wait_until(lambda: octoprint.get("/api/job").json()["progress"]["filepos"] > before, 15)
    driver.cancel()
    result = driver.wait_job(timeout=30)
    assert result.outcome == ev.CANCELLED, result.reason
    assert 0 < result.lines_acked < 3000
    assert octoprint_state(octoprint) == "Operational"
    assert driver.state == ev.IDLE
    driver.disconnect()


def test_a_fatal_printer_error_ends_the_job_with_octoprints_reason_within_2_s(
        octoprint: OctoPrintServer, events: Events) -> None:
    driver = printing(octoprint, events)
    answer = octoprint.post("/api/printer/command",
                            {"command": "!!DEBUG:trigger_fatal_error_marlin"})
    injected = time.monotonic()
    assert answer.status_code == 204
    at, finished = events.first(lambda e: isinstance(e, ev.JobFinished), timeout=30)
    assert at - injected < 2.0
    assert finished.outcome == ev.FAILED
    assert "Thermal Runaway, system stopped! Heater_ID: bed" in finished.reason
    assert "firmware" in finished.reason
    assert any(e.fatal and "kill() called" in e.message for e in events.of(ev.FirmwareError))
    assert driver.state == ev.FAULT
    driver.disconnect()


def test_emergency_stop_goes_through_octoprint(octoprint: OctoPrintServer,
                                               events: Events) -> None:
    driver = printing(octoprint, events)
    driver.emergency_stop()
    assert driver.wait_job(timeout=5).outcome == ev.EMERGENCY_STOPPED
    assert driver.state == ev.FAULT
    wait_until(lambda: "M112" in (octoprint.get("/api/job").json().get("error") or ""), 10)
    driver.disconnect()


def test_an_octoprint_restart_mid_job_is_reported(octoprint: OctoPrintServer,
                                                  events: Events) -> None:
    driver = printing(octoprint, events, offline_timeout_s=120)
    octoprint.stop()
    octoprint.start()
    _, finished = events.first(lambda e: isinstance(e, ev.JobFinished), timeout=60)
    assert finished.outcome == ev.FAILED
    assert "OctoPrint restarted during the job" in finished.reason
    assert f"after line {finished.last_acked_line}" in finished.reason
    assert any("did not answer" in w.message for w in events.of(ev.DriverWarning))
    driver.disconnect()


def test_octoprint_gone_for_good_fails_the_job(octoprint: OctoPrintServer,
                                                events: Events) -> None:
    driver = printing(octoprint, events, offline_timeout_s=2)
    octoprint.stop()
    try:
        _, finished = events.first(lambda e: isinstance(e, ev.JobFinished), timeout=30)
        assert finished.outcome == ev.FAILED
        assert "stopped answering during the job for 2 s" in finished.reason
        wait_until(lambda: driver.state == ev.DISCONNECTED, timeout=10)
    finally:
        octoprint.start()
    driver.disconnect()


def test_a_print_cancelled_in_octoprint_itself_is_reported(octoprint: OctoPrintServer,
                                                           events: Events) -> None:
    driver = printing(octoprint, events)
    assert octoprint.post("/api/job", {"command": "cancel"}).status_code == 204
    result = driver.wait_job(timeout=30)
    assert result.outcome == ev.FAILED
    assert "stopped in OctoPrint, not by fabhub" in result.reason
    driver.disconnect()


def test_a_wrong_key_is_refused_at_connect(octoprint: OctoPrintServer) -> None:
    with pytest.raises(HandshakeError, match="check the API key"):
        open_driver(octoprint.driver_url, "marlin", overrides={"api_key": "not-the-key"})


def test_a_malformed_address_is_refused() -> None:
    with pytest.raises(PortNotFound, match="not an OctoPrint address"):
        open_driver("octoprint+http://", "marlin", overrides={"api_key": "x"}, connect=False)


@pytest.mark.parametrize(("options", "words"), [
    ({"apikey": "x"}, "unknown OctoPrint option 'apikey'"),
    ({"api_key": "x", "poll_interval_s": 0}, "poll_interval_s = 0; allowed: a number from"),
    ({"api_key": 7}, "api_key must be a string"),
    ({}, "no OctoPrint API key"),
])
def test_bad_options_are_named(options: dict, words: str, monkeypatch) -> None:
    monkeypatch.delenv("FABHUB_OCTOPRINT_API_KEY", raising=False)
    with pytest.raises(DriverError, match=re.escape(words)):
        open_driver("octoprint+http://127.0.0.1:9", "marlin", overrides=options,
                    connect=False)
