"""Drive a printer that keeps its OctoPrint, through OctoPrint's REST API.

Same calls and events as the serial drivers (see :mod:`fabhub.drivers`). A job's
commands are uploaded as one file to OctoPrint's local storage, selected and printed;
a poller thread reads ``/api/job`` every ``poll_interval_s`` (progress, state, error)
and ``/api/printer`` every status interval (temperatures), and turns what it sees into
events. Pause, resume and cancel are ``/api/job`` commands; an emergency stop sends
the profile's emergency-stop command through ``/api/printer/command``, which OctoPrint
sends ahead of its queue before closing the printer's port. Printer errors end the job
with OctoPrint's own words from ``/api/printer/error``.

A restart of OctoPrint kills the print it streams. The driver notices it either way:
OctoPrint stops answering (it waits ``offline_timeout_s`` for it to come back), or
the job is gone from OctoPrint (another file, none, or an offline printer); the job
then fails with a reason that says so.
"""

from __future__ import annotations

import bisect
import contextlib
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fabhub.drivers import events as ev
from fabhub.drivers.errors import DriverError, HandshakeError, JobError
from fabhub.drivers.gcode import read_commands
from fabhub.drivers.job import JobRun
from fabhub.drivers.octoprint_api import (
    OctoPrintAPI,
    OctoPrintRefused,
    OctoPrintUnreachable,
    api_key_from,
    base_url,
    checked_options,
)
from fabhub.drivers.octoprint_state import (
    ERROR_STATES,
    PAUSED_STATES,
    PRINTING_STATES,
    READY_STATES,
    Ending,
    error_text,
    job_ending,
    telemetry_from,
)
from fabhub.drivers.outbox import EventOutbox, JobSource
from fabhub.drivers.profiles import FirmwareProfile

TESTED_VERSIONS = ("1.11",)
START_GRACE_S = 10.0


class OctoPrintDriver(EventOutbox):
    """A printer behind OctoPrint; see :mod:`fabhub.drivers` for the interface."""

    def __init__(self, port: str, profile: FirmwareProfile, *, baud: int | None = None,
                 events: ev.EventSink = None, progress_interval_s: float = 0.25,
                 options: dict[str, Any] | None = None) -> None:
        opts = checked_options(options or {})
        if profile.dialect != "reprap":
            raise DriverError(f"OctoPrint drives RepRap-dialect firmware; profile "
                              f"{profile.name!r} speaks {profile.dialect}")
        super().__init__(events, profile)
        self.port = port
        self.baud = baud
        self.progress_interval_s = progress_interval_s
        self.serial_port = opts["serial_port"]
        self.printer_profile = opts["printer_profile"]
        self.poll_interval_s = opts["poll_interval_s"]
        self.offline_timeout_s = opts["offline_timeout_s"]
        self.connect_timeout_s = opts["connect_timeout_s"]
        self.api = OctoPrintAPI(base_url(port), api_key_from(opts["api_key"]),
                                opts["request_timeout_s"])
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._job_path: str | None = None
        self._offsets: list[int] = []
        self._seen_printing = False
        self._started_at = 0.0
        self._progress_at = 0.0
        self._status_at = 0.0
        self._unreachable_since: float | None = None
        self._poll_error = ""

    # -- connection ----------------------------------------------------------------------
    def connect(self) -> str:
        """Check OctoPrint and the key, connect it to the printer if it is not; return the
        firmware's name. Raises ``TransportError`` or ``HandshakeError``."""
        with self._lock:
            if self.state != ev.DISCONNECTED:
                raise JobError(f"already connected to {self.port}")
            self._set_state(ev.CONNECTING, f"asking OctoPrint at {self.api.url}")
        self._flush()
        try:
            self._handshake()
        except BaseException as exc:
            with self._lock:
                self._set_state(ev.DISCONNECTED, f"connection failed: {exc}")
            self._flush()
            raise
        previous = self._poller
        if previous is not None and previous is not threading.current_thread():
            previous.join(timeout=self.api.timeout_s + 2)  # it stopped when it gave up
        self._stop.clear()
        self._estop = False
        self._poller = threading.Thread(target=self._poll_loop, daemon=True,
                                        name=f"fabhub-octoprint-{self.api.url}")
        self._poller.start()
        return self._announce_connected()

    def _handshake(self) -> None:
        try:
            version = self.api.get("/api/version")
        except OctoPrintRefused as exc:
            raise HandshakeError(str(exc)) from exc
        server = str(version.get("server", ""))
        if not server.startswith(TESTED_VERSIONS):
            with self._lock:
                self._warn(f"OctoPrint {server} is not a version fabhub was tested with "
                           f"({', '.join(v + '.x' for v in TESTED_VERSIONS)})")
        current = self.api.get("/api/connection")["current"]
        if current.get("state") not in READY_STATES + PRINTING_STATES + PAUSED_STATES:
            current = self._connect_printer()
        job = self.api.get("/api/job")
        if job["state"] in PRINTING_STATES + PAUSED_STATES:
            raise HandshakeError(f"OctoPrint at {self.api.url} is busy with "
                                 f"{job['job']['file'].get('name')!r} ({job['state']}), "
                                 "started outside fabhub; let it finish or cancel it there")
        printer_firmware = ""
        try:
            info = self.api.get("/api/system/info").get("systeminfo", {})
            printer_firmware = str(info.get("printer.firmware") or "")
        except OctoPrintRefused:
            pass  # the key's user lacks the SYSTEM permission: the firmware stays unnamed
        self.firmware = printer_firmware or f"OctoPrint {server}"
        self.capabilities = {"octoprint": server, "api": str(version.get("api", "")),
                             "serial_port": str(current.get("port")),
                             "baudrate": str(current.get("baudrate"))}

    def _connect_printer(self) -> dict[str, Any]:
        body: dict[str, Any] = {"command": "connect"}
        for key, value in (("port", self.serial_port), ("baudrate", self.baud),
                           ("printerProfile", self.printer_profile)):
            if value:
                body[key] = value
        try:
            self.api.command("/api/connection", body)
        except OctoPrintRefused as exc:
            raise HandshakeError(str(exc)) from exc
        deadline = time.monotonic() + self.connect_timeout_s
        while time.monotonic() < deadline:
            time.sleep(0.1)
            state = self.api.get("/api/job")["state"]
            if state in READY_STATES:
                return self.api.get("/api/connection")["current"]
            if state in ERROR_STATES:
                error = self.api.get("/api/printer/error")
                raise HandshakeError(f"OctoPrint could not connect to the printer: "
                                     f"{error.get('error') or state}")
        raise HandshakeError(f"OctoPrint did not connect to the printer within "
                             f"{self.connect_timeout_s:g} s (port {self.serial_port or 'auto'})")

    def disconnect(self) -> None:
        """Stop watching OctoPrint. A running job is cancelled in OctoPrint and fails with
        reason "disconnected"; OctoPrint stays connected to its printer."""
        with self._lock:
            active = self._job is not None and self._job.result is None
        if active:
            try:
                self.api.command("/api/job", {"command": "cancel"})
            except DriverError as exc:
                with self._lock:
                    self._warn(f"could not cancel the print in OctoPrint: {exc}")
        self._stop.set()
        poller = self._poller
        if poller is not None and poller is not threading.current_thread():
            poller.join(timeout=self.api.timeout_s + 2)
        with self._lock:
            self._finish_job(ev.FAILED, "disconnected by request")
            self._set_state(ev.DISCONNECTED, "disconnected by request")
        self._flush()

    # -- jobs ----------------------------------------------------------------------------
    def start_job(self, source: JobSource) -> None:
        """Upload the job's commands to OctoPrint and print them; returns once OctoPrint
        has taken the file. Raises :class:`JobError` if it cannot start."""
        commands = read_commands(source, paren_comments=self.profile.lines.paren_comments,
                                 max_line_bytes=self.profile.lines.max_line_bytes)
        if not commands:
            raise JobError("the job has no commands (only comments or blank lines)")
        with self._lock:
            if self.state != ev.IDLE:
                raise JobError(f"cannot start a job while the driver is {self.state}")
            previous, job = self._job, JobRun(commands)
            self._job, self._job_path, self._seen_printing = job, None, False
            self._offsets = []
            position = 0
            for command in commands:
                position += len(command.text) + 1
                self._offsets.append(position)
            self._set_state(ev.STREAMING, f"uploading {len(commands)} commands to OctoPrint")
        self._flush()
        data = "".join(c.text + "\n" for c in commands).encode("ascii")
        try:
            answer = self.api.upload(_upload_name(source), data)
            local = answer["files"]["local"]
            if not answer.get("effectivePrint"):
                raise JobError("OctoPrint stored the file but did not start printing it: "
                               "its printer is not ready")
        except (DriverError, KeyError, TypeError) as exc:
            with self._lock:
                self._job = previous
                if self.state == ev.STREAMING:
                    self._set_state(ev.IDLE, "the upload failed")
            self._flush()
            raise JobError(f"OctoPrint did not take the job: {exc}") from exc
        with self._lock:
            self._job_path = str(local["path"])
            self._started_at = time.monotonic()
        self._flush()

    def _control(self, allowed: tuple[str, ...], action: str, body: dict[str, Any],
                 new_state: str) -> None:
        with self._lock:
            if self.state not in allowed or self._job_path is None:
                raise JobError(f"cannot {action} while the driver is {self.state}")
            if new_state == ev.STOPPING and self._job is not None:
                self._job.stopping = True
        try:
            self.api.command("/api/job", body)
        except DriverError as exc:
            raise JobError(f"OctoPrint refused to {action}: {exc}") from exc
        with self._lock:
            if self.state in allowed:
                self._set_state(new_state, f"{action} requested")
        self._flush()

    def pause(self) -> None:
        """Pause the print in OctoPrint (which runs its pause script)."""
        self._control((ev.STREAMING,), "pause", {"command": "pause", "action": "pause"},
                      ev.PAUSED)

    def resume(self) -> None:
        """Resume a paused print."""
        self._control((ev.PAUSED, ev.HELD), "resume", {"command": "pause", "action": "resume"},
                      ev.STREAMING)

    def cancel(self) -> None:
        """Cancel the print in OctoPrint; once it has stopped, the profile's cancel lines
        follow. Returns at once, see :meth:`wait_job`."""
        self._control((ev.STREAMING, ev.PAUSED, ev.HELD), "cancel", {"command": "cancel"},
                      ev.STOPPING)

    def emergency_stop(self) -> None:
        """Send the profile's emergency stop through OctoPrint, which sends it ahead of its
        queue and closes the printer's port. The job ends as emergency_stopped and the
        driver stays in ``fault`` until reconnected."""
        self._estop = True
        error: DriverError | None = None
        try:
            self.api.command("/api/printer/command",
                             {"command": self.profile.commands.emergency_stop}, timeout=2.0)
        except DriverError as exc:
            error = exc
        self._emergency_stopped(error)

    def send_command(self, command: str, timeout: float | None = None) -> list[str]:
        """Queue one command in OctoPrint. OctoPrint does not return the printer's reply
        over REST, so the list is empty."""
        if self.state in (ev.DISCONNECTED, ev.FAULT):
            raise JobError(f"cannot send {command!r}: the driver is {self.state}")
        self.api.command("/api/printer/command", {"command": command}, timeout=timeout)
        return []

    def query_status(self, timeout: float = 5.0) -> ev.Telemetry:
        """Temperatures and state as OctoPrint reports them now."""
        try:
            data = self.api.get("/api/printer", timeout=timeout)
        except OctoPrintRefused as exc:
            if exc.status != 409:  # 409: the printer is not operational
                raise
            data = {"state": {"text": self.api.get("/api/job", timeout=timeout)["state"]}}
        telemetry = telemetry_from(data)
        with self._lock:
            self.telemetry = telemetry
            self._emit(telemetry)
        self._flush()
        return telemetry

    # -- the poller ------------------------------------------------------------------------
    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.api.get("/api/job")
                error = self.api.get("/api/printer/error") \
                    if data.get("state") in ERROR_STATES else {}
            except OctoPrintUnreachable as exc:
                with self._lock:
                    self._on_unreachable(str(exc))
            except DriverError as exc:
                with self._lock:
                    if str(exc) != self._poll_error:  # say it once, not four times a second
                        self._warn(f"status poll failed: {exc}")
                    self._poll_error = str(exc)
            else:
                with self._lock:
                    self._poll_error = ""
                    self._on_job_state(data, error)
            self._flush()
            now = time.monotonic()
            if now >= self._status_at and self.state in (ev.IDLE, ev.STREAMING, ev.PAUSED):
                self._status_at = now + self.profile.status.poll_interval_s
                with contextlib.suppress(DriverError):  # the next /api/job poll says why
                    self.query_status()
            self._stop.wait(self.poll_interval_s)

    def _on_unreachable(self, message: str) -> None:
        now = time.monotonic()
        if self._unreachable_since is None:
            self._unreachable_since = now
            self._warn(f"{message}; waiting up to {self.offline_timeout_s:g} s for it")
            return
        if now - self._unreachable_since < self.offline_timeout_s:
            return
        job = self._job
        if job is not None and job.result is None:
            self._finish_job(ev.FAILED, f"OctoPrint at {self.api.url} stopped answering during "
                             f"the job for {self.offline_timeout_s:g} s ({message}); the print "
                             f"is presumed stopped after line {job.current_line}")
        self._set_state(ev.DISCONNECTED, f"OctoPrint does not answer: {message}")
        self._stop.set()

    def _on_job_state(self, data: dict[str, Any], error: dict[str, Any]) -> None:
        state = str(data.get("state", ""))
        file = (data.get("job") or {}).get("file") or {}
        progress = data.get("progress") or {}
        gone_for = None
        if self._unreachable_since is not None:
            gone_for = time.monotonic() - self._unreachable_since
            self._unreachable_since = None
        job = self._job
        if job is None or job.result is not None or self._job_path is None:
            if gone_for is not None:
                self._warn(f"OctoPrint answers again after {gone_for:.1f} s (state {state})")
            self._idle_state(state, error)
            return
        ours = file.get("path") == self._job_path
        if ours and progress.get("filepos"):
            job.ack(bisect.bisect_right(self._offsets, int(progress["filepos"])) - 1)
        if ours and state in PRINTING_STATES + PAUSED_STATES:
            self._seen_printing = True
            if gone_for is not None:
                self._warn(f"OctoPrint did not answer for {gone_for:.1f} s; the print went on")
            if state in PAUSED_STATES and self.state == ev.STREAMING:
                self._set_state(ev.PAUSED, f"OctoPrint reports {state}")
            elif state in PRINTING_STATES and self.state in (ev.PAUSED, ev.HELD) \
                    and state != "Pausing":
                self._set_state(ev.STREAMING, f"OctoPrint reports {state}")
            self._maybe_progress()
            return
        self._job_ended(job, state, file, progress, error, gone_for, ours)

    def _job_ended(self, job: JobRun, state: str, file: dict[str, Any],
                   progress: dict[str, Any], error: dict[str, Any], gone_for: float | None,
                   ours: bool) -> None:
        seen = Ending(state=state, file_name=file.get("name"), ours=ours,
                      completion=progress.get("completion"), error=error_text(state, error),
                      error_reason=str(error.get("reason") or ""), gone_for=gone_for,
                      stopping=job.stopping, where=f"after line {job.current_line}")
        outcome, reason = job_ending(seen)
        if outcome == ev.COMPLETED:
            job.ack(job.total - 1)
        elif outcome == ev.FAILED and ours and gone_for is None and state in READY_STATES \
                and not self._seen_printing \
                and time.monotonic() - self._started_at < START_GRACE_S:
            return  # OctoPrint has taken the file but not yet reported it printing
        if state in ERROR_STATES:
            self._emit(ev.FirmwareError(seen.error, fatal=True))
            self._set_state(ev.FAULT, f"OctoPrint reports a printer error: {seen.error}")
        self._finish_job(outcome, reason,
                         ev.IDLE if state in READY_STATES else ev.DISCONNECTED)
        if outcome == ev.CANCELLED:
            threading.Thread(target=self._cancel_sequence, daemon=True).start()

    def _idle_state(self, state: str, error: dict[str, Any]) -> None:
        if state in ERROR_STATES and self.state == ev.IDLE:
            self._set_state(ev.FAULT, f"OctoPrint reports a printer error: "
                            f"{error_text(state, error)}")
        elif state not in READY_STATES + PRINTING_STATES + PAUSED_STATES \
                and self.state == ev.IDLE:
            self._set_state(ev.DISCONNECTED, f"OctoPrint lost the printer ({state})")
            self._stop.set()

    def _finish_job(self, outcome: str, reason: str, settle: str = ev.IDLE) -> None:
        """Under the lock: end the job, then remove its file from OctoPrint's storage."""
        job, path = self._job, self._job_path
        super()._finish_job(outcome, reason, settle)
        if job is not None and job.result is not None and path is not None:
            self._job_path = None
            threading.Thread(target=self._remove_file, args=(path,), daemon=True).start()

    def _remove_file(self, path: str) -> None:
        try:
            self.api.request("DELETE", f"/api/files/local/{quote(path)}")
        except DriverError as exc:
            with self._lock:
                self._warn(f"the job's file {path} stays in OctoPrint's storage: {exc}")
            self._flush()

    def _cancel_sequence(self) -> None:
        for command in self.profile.commands.cancel:
            try:
                self.api.command("/api/printer/command", {"command": command})
            except DriverError as exc:
                with self._lock:
                    self._warn(f"cancel line {command!r} not sent: {exc}")
                self._flush()
                return

    def _maybe_progress(self) -> None:
        now = time.monotonic()
        if self._job is not None and now >= self._progress_at:
            self._progress_at = now + self.progress_interval_s
            self._emit(self._job.progress(self.state))


def _upload_name(source: JobSource) -> str:
    stem = Path(source).stem if isinstance(source, str | Path) else "job"
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:40] or "job"
    return f"fabhub-{uuid.uuid4().hex[:8]}-{safe}.gcode"
