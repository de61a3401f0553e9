"""Events collected under a driver's lock and delivered, in order, after it is released."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from os import PathLike
from typing import TYPE_CHECKING

from fabhub.drivers import events as ev
from fabhub.drivers.errors import DriverError, JobError

if TYPE_CHECKING:
    from fabhub.drivers.job import JobRun
    from fabhub.drivers.profiles import FirmwareProfile

JobSource = str | PathLike[str] | Iterable[str]

LOG = logging.getLogger(__name__)


class EventOutbox:
    """What every driver shares: ``state``, ``firmware``, the lock, events, waiting for jobs."""

    def __init__(self, events: ev.EventSink, profile: FirmwareProfile) -> None:
        self.state = ev.DISCONNECTED
        self.profile = profile
        self.firmware = ""
        self.capabilities: dict[str, str] = {}
        self.telemetry = ev.Telemetry()
        self._emit_to = ev.make_emitter(events)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._emit_lock = threading.Lock()
        self._emit_owner: threading.Thread | None = None
        self._outbox: list[ev.Event] = []
        self._job: JobRun | None = None
        self._estop = False

    def _emit(self, event: ev.Event) -> None:
        self._outbox.append(event)

    def _flush(self) -> None:
        """Deliver collected events in order, outside the driver's lock. A callback that
        calls the driver back finds its events delivered by this same loop afterwards."""
        if self._emit_owner is threading.current_thread():
            return
        with self._emit_lock:
            self._emit_owner = threading.current_thread()
            try:
                while True:
                    with self._lock:
                        batch, self._outbox = self._outbox, []
                    if not batch:
                        return
                    for event in batch:
                        try:
                            self._emit_to(event)
                        except Exception:  # a consumer's bug must not stop the machine's driver
                            LOG.exception("event consumer failed on %r", event)
            finally:
                self._emit_owner = None

    def _set_state(self, new: str, reason: str = "") -> None:
        if new != self.state:
            old, self.state = self.state, new
            self._emit(ev.StateChanged(old, new, reason))
            self._changed.notify_all()

    def _announce_connected(self) -> str:
        """Move to idle and emit ``Connected``; return the firmware's name."""
        with self._lock:
            self._set_state(ev.IDLE, f"connected to {self.firmware}")
            self._emit(ev.Connected(self.firmware, dict(self.capabilities), self.profile.name))
        self._flush()
        return self.firmware

    def _warn(self, message: str) -> None:
        self._emit(ev.DriverWarning(message))

    def start_job(self, source: JobSource) -> None:
        """Start a job; each driver defines it."""
        raise NotImplementedError

    def wait_job(self, timeout: float | None = None) -> ev.JobFinished:
        """Block until the current (or last) job ends; return how it ended."""
        job = self._job
        if job is None:
            raise JobError("no job has been started")
        if not job.done.wait(timeout):
            raise JobError(f"the job is still running after {timeout} s")
        self._flush()
        assert job.result is not None
        return job.result

    def stream(self, source: JobSource, timeout: float | None = None) -> ev.JobFinished:
        """:meth:`start_job` then :meth:`wait_job`."""
        self.start_job(source)
        return self.wait_job(timeout)

    def _finish_job(self, outcome: str, reason: str, settle: str = ev.IDLE) -> None:
        """Under the lock: end the running job and move to ``settle`` (unless faulted)."""
        job = self._job
        if job is None or job.result is not None:
            return
        if self._estop and outcome == ev.FAILED:
            # The machine's answer to an emergency stop (kill, alarm, reset) may be seen
            # before the stopping thread records it: the stop is what ended the job.
            outcome, reason = ev.EMERGENCY_STOPPED, f"emergency stop requested; then {reason}"
        self._emit(job.progress(self.state))
        self._emit(job.finish(outcome, reason))
        if self.state not in (ev.FAULT, ev.DISCONNECTED):
            self._set_state(settle, reason)
        self._changed.notify_all()

    def _on_emergency_stop(self) -> None:
        """Under the lock, right after an emergency stop: drop whatever waits to be sent."""

    def _emergency_stopped(self, error: DriverError | None) -> None:
        """After the emergency stop went out (``error`` if it could not): fault the driver,
        end the job as emergency_stopped, then raise ``error``."""
        with self._lock:
            reason = "emergency stop requested" if error is None else str(error)
            self._on_emergency_stop()
            if self.state != ev.DISCONNECTED:
                self._set_state(ev.FAULT, "emergency stop: reset the machine, then reconnect")
            self._finish_job(ev.EMERGENCY_STOPPED, reason)
        self._flush()
        if error is not None:
            raise error
