"""Bad input gets a clear error, never a hang: ports, silent or garbled devices."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from fabhub.drivers import (
    HandshakeError,
    PortBusy,
    PortNotFound,
    TransportError,
    open_driver,
)
from fabhub.drivers import (
    events as ev,
)
from fabhub.drivers.sim import GrblSim, MarlinSim
from tests.drivers.conftest import Events

QUICK = {"handshake.timeout_s": 0.3, "handshake.attempts": 2}


@contextmanager
def raw_pty(noise: bytes | None) -> Iterator[str]:
    """A pty whose other side says nothing, or repeats ``noise``."""
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def chatter() -> None:
        while noise and not stop.wait(0.01):
            try:
                os.write(master, noise)
            except OSError:
                return

    thread = threading.Thread(target=chatter, daemon=True)
    thread.start()
    try:
        yield os.ttyname(slave)
    finally:
        stop.set()
        thread.join()
        os.close(master)
        os.close(slave)


def test_a_port_that_does_not_exist() -> None:
    with pytest.raises(PortNotFound, match=r"/dev/ttyNOPE7 does not exist.*cable"):
        open_driver("/dev/ttyNOPE7", "marlin")
    with pytest.raises(TransportError, match="cannot open serial port socket://"):
        open_driver("socket://127.0.0.1:9", "grbl")


def test_a_port_held_by_another_program() -> None:
    with MarlinSim() as sim:
        first = open_driver(sim.path, "marlin")
        with pytest.raises(PortBusy, match="in use by another program"):
            open_driver(sim.path, "marlin")
        first.disconnect()


def test_a_device_that_says_nothing() -> None:
    with raw_pty(None) as path:
        started = time.monotonic()
        with pytest.raises(HandshakeError, match=r"it sent nothing.*baud rate"):
            open_driver(path, "marlin", overrides=QUICK)
        assert time.monotonic() - started < 5


def test_a_device_that_answers_garbage() -> None:
    with raw_pty(b"\xff\xfe\x81\x00garbage\xc3\n") as path, \
            pytest.raises(HandshakeError, match=r"not text.*wrong baud rate"):
        open_driver(path, "marlin", overrides=QUICK)


def test_a_device_with_other_firmware_is_named_in_the_error() -> None:
    with GrblSim() as sim, pytest.raises(HandshakeError, match=r"answered \[.*error:20"):
        open_driver(sim.path, "marlin", overrides=QUICK)


def test_a_device_that_vanishes_while_idle_is_noticed(events: Events) -> None:
    sim = MarlinSim().start()
    driver = open_driver(sim.path, "marlin", events=events)
    sim.disconnect()
    events.first(lambda e: isinstance(e, ev.StateChanged) and e.new == ev.DISCONNECTED, 5)
    assert driver.state == ev.DISCONNECTED
    sim.close()


def test_the_sim_command_prints_a_device_path_and_rejects_bad_faults() -> None:
    command = [sys.executable, "-c", "from fabhub.cli import main; main()", "sim"]
    bad = subprocess.run([*command, "grbl", "--fault", "explode=1"], capture_output=True,
                         text=True, timeout=30)
    assert bad.returncode == 1 and "unknown fault 'explode'" in bad.stderr
    process = subprocess.Popen([*command, "grbl", "--baud", "115200"], stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None
        path = process.stdout.readline().strip()
        driver = open_driver(path, "grbl")
        assert driver.firmware.startswith("1.1h")
        assert driver.stream(["G0 X1", "G1 X2 F100"], timeout=30).outcome == "completed"
        driver.disconnect()
    finally:
        process.terminate()
        process.wait(timeout=10)
