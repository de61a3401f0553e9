"""The RepRap-dialect driver against a second, independent Marlin peer: OctoPrint's own
Virtual Printer (from the octoprint package, in its own environment), on a pty."""

from __future__ import annotations

import pytest

from fabhub.drivers import events as ev
from fabhub.drivers import open_driver
from fabhub.drivers.sim.octoprint_peer import OctoPrintPeer
from tests.drivers.conftest import (
    Events,
    echo_lines,
    emergency_stop_from_another_thread,
    wait_until,
)


def echoed(peer: OctoPrintPeer) -> list[str]:
    return [f"M117 {text}" for text in peer.echoes() if text.startswith("fabhub ")]


@pytest.mark.parametrize("corrupt", [0.0, 0.2])
def test_five_thousand_lines_run_exactly_once_in_order(octoprint_python: str,
                                                      corrupt: float) -> None:
    lines = echo_lines(5000)
    with OctoPrintPeer(octoprint_python, corrupt=corrupt, seed=4) as peer:
        driver = open_driver(peer.path, "marlin")
        assert driver.firmware == "Virtual Marlin 1.0"
        result = driver.stream(lines, timeout=120)
        assert result.outcome == "completed", result.reason
        wait_until(lambda: len(echoed(peer)) >= 5000, timeout=10)
        assert echoed(peer) == lines
        if corrupt:
            assert result.resends > 800
        driver.disconnect()


def test_a_disconnect_mid_file_is_reported_within_two_seconds(octoprint_python: str,
                                                              events: Events) -> None:
    with OctoPrintPeer(octoprint_python, disconnect_at=1200) as peer:
        driver = open_driver(peer.path, "marlin", events=events)
        driver.start_job(echo_lines(3000))
        at, finished = events.first(lambda e: isinstance(e, ev.JobFinished))
        gone = next(e.at for e in peer.log() if e.kind == "DISCONNECT")
        assert at - gone < 2.0
        assert finished.outcome == "failed" and finished.last_acked_line == 1199
        assert "last acknowledged line 1199" in finished.reason


def test_a_fatal_firmware_error_ends_the_job_within_a_second(octoprint_python: str,
                                                             events: Events) -> None:
    with OctoPrintPeer(octoprint_python) as peer:
        driver = open_driver(peer.path, "marlin", events=events)
        driver.start_job(echo_lines(50000))
        wait_until(lambda: len(peer.echoes()) > 500)
        peer.inject("trigger_fatal_error_marlin")
        wait_until(lambda: any(e.kind == "INJECT" for e in peer.log()), timeout=5)
        injected = next(e.at for e in peer.log() if e.kind == "INJECT")
        at, finished = events.first(lambda e: isinstance(e, ev.JobFinished))
        assert at - injected < 1.0
        assert finished.outcome == "failed"
        assert "Thermal Runaway, system stopped! Heater_ID: bed" in finished.reason
        assert driver.state == ev.FAULT
        driver.disconnect()


def test_emergency_stop_reaches_the_printer_within_100_ms(octoprint_python: str) -> None:
    with OctoPrintPeer(octoprint_python) as peer:
        driver = open_driver(peer.path, "marlin")
        driver.start_job(echo_lines(50000))
        wait_until(lambda: len(peer.echoes()) > 500)
        called = emergency_stop_from_another_thread(driver)
        wait_until(lambda: any(e.kind == "RX" and e.text == "M112" for e in peer.log()), 5)
        reached = next(e.at for e in peer.log() if e.kind == "RX" and e.text == "M112")
        assert reached - called < 0.1
        wait_until(lambda: any("EMERGENCY SHUTDOWN" in e.text for e in peer.log()), 5)
        assert driver.wait_job(timeout=5).outcome == "emergency_stopped"
        driver.disconnect()


@pytest.mark.parametrize("trigger", ["trigger_resend_lineno", "trigger_resend_checksum"])
def test_injected_resend_requests_are_served_from_history(octoprint_python: str,
                                                          trigger: str) -> None:
    lines = echo_lines(1500)
    with OctoPrintPeer(octoprint_python) as peer:
        driver = open_driver(peer.path, "marlin")
        driver.start_job(lines)
        wait_until(lambda: len(peer.echoes()) > 300)
        peer.inject(trigger)
        result = driver.wait_job(timeout=60)
        assert result.outcome == "completed" and result.resends == 1
        wait_until(lambda: len(echoed(peer)) >= 1501, timeout=10)
        # The Virtual Printer asks again for the line it executed last; served from
        # history, that one line runs twice and every other line exactly once, in order.
        seen = echoed(peer)
        repeated = next(i for i in range(1, len(seen)) if seen[i] == seen[i - 1])
        assert seen[:repeated] + seen[repeated + 1:] == lines
        driver.disconnect()
