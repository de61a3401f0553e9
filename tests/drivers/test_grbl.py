"""The Grbl-dialect driver against the simulated Grbl on a real pseudo-terminal."""

from __future__ import annotations

import time

import pytest

from fabhub.drivers import events as ev
from fabhub.drivers import open_driver
from fabhub.drivers.sim import Faults, GrblSim
from tests.drivers.conftest import (
    Events,
    emergency_stop_from_another_thread,
    job_end_after_disconnect,
    wait_until,
)


def grbl_lines(count: int) -> list[str]:
    """Distinct short laser-like segments."""
    return [f"G1 X{i % 300}.{i % 9} Y{(i * 3) % 300}.{i % 4} F{600 + i % 900}"
            for i in range(1, count + 1)]


def blocks(sim: GrblSim) -> list[str]:
    """What the simulator executed, without system commands."""
    return [line for line in sim.executed if not line.startswith("$")]


def squeezed(lines: list[str]) -> list[str]:
    return [line.replace(" ", "").upper() for line in lines]


def test_five_thousand_lines_run_exactly_once_in_order() -> None:
    lines = grbl_lines(5000)
    with GrblSim() as sim:
        driver = open_driver(sim.path, "grbl")
        assert driver.rx_buffer_bytes == 127 and driver.capabilities["planner_blocks"] == "15"
        result = driver.stream(lines, timeout=120)
        assert (result.outcome, result.last_acked_line) == ("completed", 5000)
        assert blocks(sim) == squeezed(lines) and sim.overflows == 0
        driver.disconnect()


def test_twenty_percent_garbled_replies_still_run_exactly_once(events: Events) -> None:
    lines = grbl_lines(5000)
    with GrblSim(faults=Faults.parse(["corrupt_replies=0.2", "seed=2"])) as sim:
        driver = open_driver(sim.path, "grbl", events=events)
        result = driver.stream(lines, timeout=120)
        assert result.outcome == "completed", result.reason
        assert blocks(sim) == squeezed(lines) and sim.overflows == 0
        garbled = [w for w in events.of(ev.DriverWarning) if "unreadable reply" in w.message]
        assert len(garbled) > 800
        driver.disconnect()


def test_character_counting_never_overflows_the_receive_buffer() -> None:
    lines = grbl_lines(400)
    with GrblSim(motion_time_scale=0.0005, command_time_s=0.0005) as sim:
        driver = open_driver(sim.path, "grbl")
        assert driver.stream(lines, timeout=60).outcome == "completed"
        assert sim.overflows == 0 and 100 < sim.max_rx_fill <= 127
        assert blocks(sim) == squeezed(lines)
        driver.disconnect()
    # The same stream with a buffer assumed too large loses bytes: the check can fail.
    with GrblSim(motion_time_scale=0.0005, command_time_s=0.0005) as sim:
        driver = open_driver(sim.path, "grbl", overrides={"flow.rx_buffer_from_firmware": False,
                                                          "flow.rx_buffer_bytes": 400})
        driver.start_job(lines)
        wait_until(lambda: sim.overflows > 0)
        driver.emergency_stop()
        driver.disconnect()


def test_settings_are_sent_alone_so_no_byte_is_lost_to_the_eeprom_write() -> None:
    lines = grbl_lines(60)
    job = [*lines[:30], "$110=600", "$111=600", *lines[30:]]
    with GrblSim(command_time_s=0.001) as sim:
        driver = open_driver(sim.path, "grbl")
        assert driver.stream(job, timeout=60).outcome == "completed"
        assert sim.eeprom_losses == 0 and sim.settings[110] == "600"
        assert [line for line in sim.executed if line != "$I"] == squeezed(job)
        driver.disconnect()


def test_status_is_polled_at_no_more_than_5_hz() -> None:
    with GrblSim() as sim:
        driver = open_driver(sim.path, "grbl", overrides={"status.poll_interval_s": 0.2})
        for _ in range(8):
            driver.query_status()
        time.sleep(1.0)
        gaps = [b - a for a, b in zip(sim.status_queries, sim.status_queries[1:], strict=False)]
        assert len(gaps) >= 10 and min(gaps) >= 0.19
        telemetry = driver.telemetry
        assert telemetry.machine_state == "Idle" and telemetry.buffer == (15, 127)
        driver.disconnect()


def test_an_error_mid_job_holds_it_with_the_decoded_message(events: Events) -> None:
    lines = grbl_lines(600)
    with GrblSim(faults=Faults.parse(["error_at=250:22"]), command_time_s=0.0005) as sim:
        driver = open_driver(sim.path, "grbl", events=events)
        driver.start_job(lines)
        _, held = events.first(lambda e: isinstance(e, ev.StateChanged) and e.new == ev.HELD)
        assert "line 250: error 22: undefined feed rate" in held.reason
        error = events.of(ev.FirmwareError)[0]
        assert (error.code, error.line, error.fatal) == (22, 250, False)
        wait_until(lambda: sim.state == "Hold:0" or sim.state == "Idle")
        driver.resume()
        result = driver.wait_job(timeout=30)
        assert result.outcome == "completed" and [e.line for e in result.errors] == [250]
        assert blocks(sim) == squeezed(lines[:249] + lines[250:])
        driver.disconnect()


def test_an_alarm_fails_the_job_with_its_reason(events: Events) -> None:
    with GrblSim(faults=Faults.parse(["alarm_at=300:1"])) as sim:
        driver = open_driver(sim.path, "grbl", events=events)
        result = driver.stream(grbl_lines(1000), timeout=30)
        assert result.outcome == "failed" and "alarm 1: hard limit" in result.reason
        assert driver.state == ev.FAULT and result.last_acked_line < 300
        assert sim.state == "Alarm"
        driver.disconnect()


def test_check_mode_finds_the_bad_lines_of_a_file() -> None:
    lines = grbl_lines(200)
    seeded = {40: "G1 X1 Y", 90: "G99 X2", 120: "G1 X1 X2", 170: "Q5"}
    for number, bad in seeded.items():
        lines[number - 1] = bad
    with GrblSim() as sim:
        driver = open_driver(sim.path, "grbl")
        issues = driver.check_file(lines, timeout=60)
        assert [(i.line, i.text, i.code) for i in issues] == [
            (40, "G1 X1 Y", 2), (90, "G99 X2", 20), (120, "G1 X1 X2", 25), (170, "Q5", 20)]
        assert issues[0].message.startswith("error 2: bad number format")
        assert sim.state == "Idle" and sim.position == {"X": 0.0, "Y": 0.0, "Z": 0.0}
        assert driver.state == ev.IDLE
        driver.disconnect()


def test_cancel_holds_then_resets_so_position_is_kept() -> None:
    with GrblSim(motion_time_scale=0.02) as sim:
        driver = open_driver(sim.path, "grbl")
        driver.start_job(grbl_lines(300))
        wait_until(lambda: sim.state == "Run" and len(blocks(sim)) > 20)
        driver.cancel()
        result = driver.wait_job(timeout=30)
        assert result.outcome == "cancelled", result.reason
        # Reset after the hold completed: no alarm, and the position is the machine's.
        assert len(sim.resets) == 1 and sim.state == "Idle" and sim.position["X"] > 0
        assert driver.telemetry.position["X"] == pytest.approx(sim.position["X"])
        assert f"machine Idle at X{sim.position['X']:.3f}" in result.reason
        assert driver.state == ev.IDLE
        driver.disconnect()


def test_emergency_stop_is_a_soft_reset_within_100_ms() -> None:
    with GrblSim(motion_time_scale=0.02) as sim:
        driver = open_driver(sim.path, "grbl")
        driver.start_job(grbl_lines(300))
        wait_until(lambda: sim.state == "Run")
        called = emergency_stop_from_another_thread(driver)
        wait_until(lambda: sim.emergency_at is not None, timeout=5)
        assert sim.emergency_at is not None and sim.emergency_at - called < 0.1
        assert driver.wait_job(timeout=5).outcome == "emergency_stopped"
        wait_until(lambda: sim.state == "Alarm")  # reset while moving: Grbl's alarm 3
        driver.disconnect()


def test_a_disconnect_mid_file_is_reported_within_two_seconds(events: Events) -> None:
    with GrblSim(faults=Faults.parse(["disconnect_at=2000"])) as sim:
        driver = open_driver(sim.path, "grbl", events=events)
        driver.start_job(grbl_lines(4000))
        delay, finished = job_end_after_disconnect(sim, events)
        assert delay < 2.0 and finished.outcome == "failed"
        # Acknowledgements still on the wire when the cable goes are lost with it.
        assert 1999 - 127 // 10 <= finished.last_acked_line <= 1999
        assert f"last acknowledged line {finished.last_acked_line}" in finished.reason
