"""The RepRap-dialect driver against the simulated Marlin on a real pseudo-terminal."""

from __future__ import annotations

import time

import pytest

from fabhub.drivers import JobError, open_driver
from fabhub.drivers import events as ev
from fabhub.drivers.sim import Faults, MarlinSim
from tests.drivers.conftest import (
    Events,
    emergency_stop_from_another_thread,
    job_end_after_disconnect,
    marlin_lines,
    wait_until,
)


def executed(sim: MarlinSim) -> list[str]:
    return [text for _, text in sim.executed_numbered]


def test_five_thousand_lines_run_exactly_once_in_order(events: Events) -> None:
    lines = marlin_lines(5000)
    with MarlinSim() as sim:
        driver = open_driver(sim.path, "marlin", events=events)
        assert driver.firmware.startswith("Marlin 2.1") and driver.state == ev.IDLE
        result = driver.stream(lines, timeout=120)
        assert (result.outcome, result.lines_acked, result.last_acked_line) == \
            ("completed", 5000, 5000)
        assert executed(sim) == lines
        assert [n for n, _ in sim.executed_numbered] == list(range(1, 5001))
        progress = events.of(ev.Progress)
        assert progress[-1].lines_acked == 5000 and progress[-1].bytes_acked == \
            sum(len(line) + 1 for line in lines)
        driver.disconnect()


@pytest.mark.parametrize("flow", [{}, {"flow.mode": "window", "flow.window_lines": 4}])
def test_twenty_percent_corrupted_lines_still_run_exactly_once(flow: dict) -> None:
    lines = marlin_lines(5000)
    with MarlinSim(faults=Faults.parse(["corrupt=0.2", "seed=11"])) as sim:
        driver = open_driver(sim.path, "marlin", overrides=flow)
        result = driver.stream(lines, timeout=120)
        assert result.outcome == "completed", result.reason
        assert sim.resend_requests > 800 and result.resends > 800
        assert executed(sim) == lines
        driver.disconnect()


@pytest.mark.parametrize("flow", [{}, {"flow.mode": "window", "flow.window_lines": 4}])
def test_lost_lines_are_sent_again(flow: dict) -> None:
    lines = marlin_lines(200)
    with MarlinSim(faults=Faults.parse(["drop=0.05", "seed=3"])) as sim:
        driver = open_driver(sim.path, "marlin",
                             overrides={"flow.response_timeout_s": 0.2, **flow})
        assert driver.stream(lines, timeout=60).outcome == "completed"
        assert executed(sim) == lines
        driver.disconnect()


def test_a_disconnect_mid_file_is_reported_within_two_seconds(events: Events) -> None:
    with MarlinSim(faults=Faults.parse(["disconnect_at=1500"])) as sim:
        driver = open_driver(sim.path, "marlin", events=events)
        driver.start_job(marlin_lines(3000))
        delay, finished = job_end_after_disconnect(sim, events)
        assert delay < 2.0
        assert finished.outcome == "failed" and finished.last_acked_line == 1499
        assert "vanished" in finished.reason and "last acknowledged line 1499" in finished.reason
        assert driver.state == ev.DISCONNECTED


def test_a_fatal_firmware_error_ends_the_job_within_a_second(events: Events) -> None:
    with MarlinSim(faults=Faults.parse(["error_at=700"])) as sim:
        driver = open_driver(sim.path, "marlin", events=events)
        driver.start_job(marlin_lines(2000))
        wait_until(lambda: sim.halted)
        halted = time.monotonic()
        at, finished = events.first(lambda e: isinstance(e, ev.JobFinished))
        assert at - halted < 1.0
        assert finished.outcome == "failed" and "Thermal Runaway" in finished.reason
        assert finished.last_acked_line == 699 and driver.state == ev.FAULT
        assert any(e.fatal for e in events.of(ev.FirmwareError))
        driver.disconnect()


def test_emergency_stop_reaches_the_firmware_within_100_ms(events: Events) -> None:
    with MarlinSim(command_time_s=0.002) as sim:
        driver = open_driver(sim.path, "marlin", events=events)
        driver.start_job(marlin_lines(3000))
        wait_until(lambda: len(sim.executed_numbered) > 200)
        called = emergency_stop_from_another_thread(driver)
        wait_until(lambda: sim.emergency_at is not None, timeout=5)
        assert sim.emergency_at is not None and sim.emergency_at - called < 0.1
        result = driver.wait_job(timeout=5)
        assert result.outcome == "emergency_stopped" and driver.state == ev.FAULT
        with pytest.raises(JobError):
            driver.start_job(["G28"])
        driver.disconnect()


def test_a_lost_ok_gets_one_tickle_and_the_job_goes_on(events: Events) -> None:
    lines = marlin_lines(300)
    with MarlinSim(faults=Faults.parse(["lose_ok=120"])) as sim:
        driver = open_driver(sim.path, "marlin", events=events,
                             overrides={"flow.response_timeout_s": 0.5})
        result = driver.stream(lines, timeout=30)
        assert result.outcome == "completed" and executed(sim) == lines
        assert "M105" in sim.received_commands
        assert any("sending M105" in w.message for w in events.of(ev.DriverWarning))
        driver.disconnect()


def test_busy_extends_the_timeout_and_silence_fails_after_a_tickle() -> None:
    overrides = {"flow.response_timeout_s": 0.6, "flow.long_commands": []}
    with MarlinSim(busy_interval_s=0.2) as sim:
        driver = open_driver(sim.path, "marlin", overrides=overrides)
        assert driver.stream(["G4 S2", "G1 X1 F100"], timeout=30).outcome == "completed"
        assert "M105" not in sim.received_commands  # busy kept it alive: no tickle
        sim.halted = True  # the firmware now ignores everything
        started = time.monotonic()
        result = driver.stream(["G1 X2"], timeout=30)
        assert result.outcome == "failed" and time.monotonic() - started < 5
        assert "stopped answering" in result.reason and "even after M105" in result.reason
        driver.disconnect()


def test_temperatures_autoreport_when_the_firmware_can() -> None:
    with MarlinSim() as sim:
        driver = open_driver(sim.path, "marlin", overrides={"status.poll_interval_s": 1.0})
        assert "M155 S1" in sim.received_commands
        driver.send_command("M104 S215")
        telemetry = driver.query_status()
        assert telemetry.temperatures["T"] == (215.0, 215.0)
        assert telemetry.position == {"X": 0.0, "Y": 0.0, "Z": 0.0, "E": 0.0}
        driver.disconnect()


def test_temperatures_are_polled_when_the_firmware_cannot(events: Events) -> None:
    with MarlinSim(capabilities={"AUTOREPORT_TEMP": 0, "EMERGENCY_PARSER": 1}) as sim:
        driver = open_driver(sim.path, "marlin", events=events,
                             overrides={"status.poll_interval_s": 0.2})
        wait_until(lambda: sim.received_commands.count("M105") >= 3, timeout=10)
        assert not any(c.startswith("M155") for c in sim.received_commands)
        assert events.of(ev.Telemetry)[-1].temperatures["B"] == (21.0, 0.0)
        driver.disconnect()


def test_pause_resume_and_cancel(events: Events) -> None:
    lines = marlin_lines(2000)
    with MarlinSim(command_time_s=0.001) as sim:
        driver = open_driver(sim.path, "marlin", events=events)
        driver.start_job(lines)
        wait_until(lambda: len(sim.executed_numbered) > 100)
        driver.pause()
        time.sleep(0.2)
        paused_at = len(sim.executed_numbered)
        time.sleep(0.3)
        assert len(sim.executed_numbered) == paused_at and driver.state == ev.PAUSED
        driver.resume()
        wait_until(lambda: len(sim.executed_numbered) > paused_at + 100)
        driver.cancel()
        result = driver.wait_job(timeout=30)
        assert result.outcome == "cancelled" and result.lines_acked < 2000
        assert sim.executed[-4:] == ["M104 S0", "M140 S0", "M107", "M84"]
        assert executed(sim) == lines[:len(executed(sim))]
        assert driver.state == ev.IDLE
        assert driver.stream(lines[:10], timeout=30).outcome == "completed"
        driver.disconnect()


def test_a_firmware_that_keeps_asking_for_a_line_fails_the_job() -> None:
    with MarlinSim(faults=Faults.parse(["corrupt=0.9", "seed=5"])) as sim:
        driver = open_driver(sim.path, "marlin", overrides={"handshake.attempts": 10})
        result = driver.stream(marlin_lines(100), timeout=30)
        assert result.outcome == "failed"
        assert "more than 8 times" in result.reason and "too noisy" in result.reason
        driver.disconnect()


def test_bytes_that_are_not_text_are_reported_and_survived(events: Events) -> None:
    with MarlinSim() as sim:
        driver = open_driver(sim.path, "marlin", events=events)
        sim.send_raw(b"\xff\xfe\x80garbage\n")
        lines = marlin_lines(50)
        assert driver.stream(lines, timeout=30).outcome == "completed"
        assert any("not UTF-8" in w.message for w in events.of(ev.DriverWarning))
        driver.disconnect()


def test_calls_that_make_no_sense_now_are_refused() -> None:
    with MarlinSim() as sim:
        driver = open_driver(sim.path, "marlin")
        for call in (driver.pause, driver.resume, driver.cancel):
            with pytest.raises(JobError, match="while the driver is idle"):
                call()
        with pytest.raises(JobError, match="no commands"):
            driver.start_job(["; only a comment", ""])
        driver.disconnect()
        with pytest.raises(JobError, match="cannot send"):
            driver.send_command("M105")


def test_a_callback_may_call_the_driver_back_and_may_fail() -> None:
    seen: list[ev.Event] = []
    paused: list[bool] = []

    def consumer(event: ev.Event) -> None:
        seen.append(event)
        if isinstance(event, ev.Progress) and event.lines_acked > 50 and not paused:
            paused.append(True)
            driver.pause()  # from the driver's own reader thread
        if isinstance(event, ev.Telemetry):
            raise RuntimeError("a consumer's bug")

    with MarlinSim(command_time_s=0.001) as sim:
        driver = open_driver(sim.path, "marlin", events=consumer, progress_interval_s=0.01)
        driver.start_job(marlin_lines(2000))
        wait_until(lambda: driver.state == ev.PAUSED)
        driver.query_status()  # its Telemetry event makes the consumer raise
        driver.resume()
        assert driver.wait_job(timeout=30).outcome == "completed"
        states = [e.new for e in seen if isinstance(e, ev.StateChanged)]
        assert states[-3:] == ["paused", "streaming", "idle"]
        driver.disconnect()
