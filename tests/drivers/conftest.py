"""Fixtures for the driver tests: job files, event collectors, the OctoPrint python."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fabhub.drivers import Driver
from fabhub.drivers import events as ev
from fabhub.drivers.sim import PtyDevice

ROOT = Path(__file__).resolve().parents[2]


def marlin_lines(count: int) -> list[str]:
    """A job of ``count`` distinct moves, so order and duplicates show."""
    return [f"G1 X{i % 200}.{i % 7} Y{(i * 7) % 200}.{i % 3} F{1200 + i % 5000}"
            for i in range(1, count + 1)]


def echo_lines(count: int) -> list[str]:
    """A job whose every line the OctoPrint Virtual Printer echoes back."""
    return [f"M117 fabhub {i}" for i in range(1, count + 1)]


class Events:
    """Collects a driver's events with their arrival times; waits for one kind."""

    def __init__(self) -> None:
        self.items: list[tuple[float, ev.Event]] = []
        self._cond = threading.Condition()

    def __call__(self, event: ev.Event) -> None:
        with self._cond:
            self.items.append((time.monotonic(), event))
            self._cond.notify_all()

    def of(self, kind: type) -> list:
        """Every event of ``kind`` so far."""
        with self._cond:
            return [e for _, e in self.items if isinstance(e, kind)]

    def first(self, predicate: Callable[[ev.Event], bool], timeout: float = 30.0
              ) -> tuple[float, ev.Event]:
        """Wait for the first event matching ``predicate``; return (time, event)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for at, event in self.items:
                    if predicate(event):
                        return at, event
                left = deadline - time.monotonic()
                assert left > 0, f"no matching event within {timeout} s"
                self._cond.wait(left)


@pytest.fixture
def events() -> Events:
    """A fresh event collector (pass it as ``events=``)."""
    return Events()


@pytest.fixture
def event_queue() -> queue.Queue:
    """A queue for drivers that deliver to a queue."""
    return queue.Queue()


@pytest.fixture(scope="session")
def octoprint_python() -> str:
    """The python of the OctoPrint environment; the tests fail (not skip) without it."""
    candidates = [os.environ.get("FABHUB_OCTOPRINT_PYTHON", ""),
                  str(ROOT / ".venv-octoprint" / "bin" / "python")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail("OctoPrint's python was not found: run 'make octoprint-venv' (make test does) "
                "or set FABHUB_OCTOPRINT_PYTHON to a python that has the octoprint package")


def emergency_stop_from_another_thread(driver: Driver) -> float:
    """Call ``driver.emergency_stop()`` on a new thread; return when it was called."""
    called: list[float] = []

    def stop() -> None:
        called.append(time.monotonic())
        driver.emergency_stop()

    thread = threading.Thread(target=stop)
    thread.start()
    thread.join(timeout=10)
    return called[0]


def job_end_after_disconnect(sim: PtyDevice, events: Events) -> tuple[float, ev.JobFinished]:
    """Wait for ``sim`` to vanish; return how long the job took to end after it, and how."""
    wait_until(lambda: not sim.connected)
    gone = time.monotonic()
    at, finished = events.first(lambda e: isinstance(e, ev.JobFinished))
    return at - gone, finished


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"condition not met within {timeout} s"
        time.sleep(0.005)
