"""The Grbl-dialect driver: character counting against the receive buffer, $ commands
sent alone, ``?`` status at no more than 5 Hz, ``!``/``~`` pause and resume, bCNC's
safe stop (feed hold, wait for the hold, soft reset, unlock, report), decoded
``error:N``/``ALARM:N``, and a ``$C`` check-mode dry run of a whole file.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from fabhub.drivers import events as ev
from fabhub.drivers.driver import Driver, JobSource
from fabhub.drivers.errors import DriverError, JobError
from fabhub.drivers.grbl_codes import describe_alarm, describe_error
from fabhub.drivers.job import JobRun
from fabhub.drivers.telemetry import parse_grbl_status

MIN_QUERY_INTERVAL_S = 0.2  # Grbl's documentation: status queries at no more than 5 Hz
GARBLED_ACK_MAX_CHARS = 8  # "ok" and "error:NN" are short; longer unknown lines are messages


@dataclass(frozen=True)
class CheckIssue:
    """A line that Grbl's check mode rejected."""

    line: int
    text: str
    code: int | None
    message: str


class GrblDriver(Driver):
    """Driver for firmware of the ``grbl`` dialect; see :mod:`fabhub.drivers`."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        replies = self.profile.replies
        self._re_alarm = re.compile(replies.alarm) if replies.alarm else None
        self._last_query = 0.0
        self._status_count = 0
        self._startups = 0
        self._await_idle = False

    # -- real-time characters ------------------------------------------------------------
    def _realtime(self, char: str) -> None:
        if char and self._transport is not None:
            self._transport.write(char.encode("latin-1"))

    def _query(self) -> None:
        """Send the status query if the 5 Hz limit allows it now."""
        now = time.monotonic()
        if now - self._last_query >= MIN_QUERY_INTERVAL_S:
            self._last_query = now
            self._realtime(self.profile.status.query)

    def _poll(self) -> None:
        self._query()

    # -- replies -----------------------------------------------------------------------
    def _on_line(self, text: str) -> None:
        if self._re_ok.match(text):
            self._ack()
        elif found := self._re_error.match(text):
            code = found.groupdict().get("code")
            self._on_error(describe_error(int(code)) if code else found.group("message"),
                           int(code) if code else None)
        elif self._re_alarm is not None and (found := self._re_alarm.match(text)):
            self._on_alarm(int(found.group("code")))
        elif (telemetry := parse_grbl_status(text)) is not None:
            self._on_status(telemetry)
        elif self._re_startup.match(text):
            self._on_startup(text)
        elif self._inflight and len(text) <= GARBLED_ACK_MAX_CHARS:
            self._warn(f"unreadable reply {text!r} taken as the acknowledgement it stands for")
            self._ack()
        else:
            self._emit(ev.FirmwareMessage(text))
            head = self._inflight[0] if self._inflight else None
            if head is not None and head.reply is not None:
                head.reply.lines.append(text)

    def _on_error(self, message: str, code: int | None) -> None:
        head = self._inflight[0] if self._inflight else None
        job = self._job
        in_job = head is not None and head.kind == "job" and job is not None \
            and job.result is None
        line = job.commands[head.index].file_line if in_job else None  # type: ignore[union-attr]
        error = ev.FirmwareError(message, fatal=False, code=code, line=line)
        self._emit(error)
        self._ack(error=message)
        if in_job and job is not None:
            job.add_error(error)
            if not job.check_mode and self.state == ev.STREAMING:
                self._realtime(self.profile.commands.pause_realtime)
                self._set_state(ev.HELD, f"line {line}: {message}")

    def _on_alarm(self, code: int) -> None:
        message = describe_alarm(code)
        job = self._job
        # The controller empties its receive buffer on an alarm: nothing more will be answered.
        self._drop_inflight(message)
        if job is not None and job.result is None and job.stopping:
            self._emit(ev.FirmwareError(message, fatal=False, code=code))
            return
        self._emit(ev.FirmwareError(message, fatal=True, code=code))
        self._set_state(ev.FAULT, f"{message}; unlock ({self.profile.commands.unlock}) "
                        "after checking the machine")
        self._finish_job(ev.FAILED, message)

    def _on_status(self, telemetry: ev.Telemetry) -> None:
        self.telemetry = telemetry
        self._status_count += 1
        self._emit(telemetry)
        self._changed.notify_all()
        job = self._job
        if self._await_idle and job is not None and job.result is None \
                and telemetry.machine_state in ("Idle", "Check"):
            self._await_idle = False
            self._finish_job(ev.COMPLETED, "every line acknowledged and the machine is idle")

    def _on_startup(self, text: str) -> None:
        self._startups += 1
        self._drop_inflight("the controller reset")
        job = self._job
        if job is not None and job.result is None and not job.stopping:
            self._set_state(ev.FAULT, f"the controller reset itself ({text!r})")
            self._finish_job(ev.FAILED, f"the controller reset itself ({text!r}); last "
                             f"acknowledged line {job.current_line}")
        self._changed.notify_all()

    def _job_acked_all(self, job: object) -> None:
        self._await_idle = True
        self._last_query = 0.0
        self._query()

    # -- handshake and status -------------------------------------------------------------
    def _handshake(self) -> None:
        lines = self._identify()
        hs = self.profile.handshake
        if hs.buffer_pattern:
            pattern = re.compile(hs.buffer_pattern)
            for line in lines:
                if found := pattern.search(line):
                    self.capabilities.update(planner_blocks=found.group("blocks"),
                                             rx_buffer_bytes=found.group("bytes"))
                    if self.profile.flow.rx_buffer_from_firmware:
                        # A ring buffer of N bytes holds N - 1.
                        self.rx_buffer_bytes = int(found.group("bytes")) - 1
        for command in hs.init_commands:
            self.send_command(command, timeout=hs.timeout_s)

    def query_status(self, timeout: float = 5.0) -> ev.Telemetry:
        """Send ``?`` (respecting 5 Hz) and return the next status report."""
        with self._lock:
            seen = self._status_count
            wait = MIN_QUERY_INTERVAL_S - (time.monotonic() - self._last_query)
        if wait > 0:
            time.sleep(wait)
        with self._lock:
            self._query()
        if not self._wait_for(lambda: self._status_count > seen, timeout):
            raise DriverError(f"no status report from {self.port} within {timeout:g} s")
        return self.telemetry

    # -- control -------------------------------------------------------------------------
    def _on_pause(self) -> None:
        self._realtime(self.profile.commands.pause_realtime)
        self._set_state(ev.PAUSED, "feed hold by request")

    def _on_resume(self) -> None:
        self._realtime(self.profile.commands.resume_realtime)
        self._set_state(ev.STREAMING, "resumed by request")

    def _stop_sequence(self) -> None:
        commands = self.profile.commands
        timeout = self.profile.flow.response_timeout_s
        try:
            with self._lock:
                self._realtime(commands.pause_realtime)
            deadline = time.monotonic() + self.profile.flow.long_command_timeout_s
            while self.telemetry.machine_state not in commands.hold_complete_states:
                if time.monotonic() > deadline:
                    raise DriverError("the feed hold did not complete")
                self.query_status(timeout)
            with self._lock:
                startups = self._startups
                self._realtime(commands.reset_realtime)
            if not self._wait_for(lambda: self._startups > startups, timeout):
                raise DriverError("the controller did not restart after the soft reset")
            telemetry = self.query_status(timeout)
            if telemetry.machine_state == "Alarm" and commands.unlock:
                self.send_command(commands.unlock, timeout=timeout)
                telemetry = self.query_status(timeout)
        except DriverError as exc:
            with self._lock:
                self._finish_job(ev.FAILED, f"safe stop failed: {exc}")
        else:
            where = ", ".join(f"{a}{v:.3f}" for a, v in telemetry.position.items())
            with self._lock:
                self._finish_job(ev.CANCELLED, f"cancelled: feed hold, reset, machine "
                                 f"{telemetry.machine_state} at {where}")
        self._flush()

    def check_file(self, source: JobSource, timeout: float | None = None) -> list[CheckIssue]:
        """Dry-run a whole file in the firmware's check mode; return every rejected line."""
        toggle = self.profile.commands.check_mode
        if not toggle:
            raise JobError(f"the {self.profile.name} profile has no check mode")
        self.send_command(toggle)
        try:
            self._start_job(source, check_mode=True)
            result = self.wait_job(timeout)
        finally:
            with self._lock:
                startups = self._startups
            self.send_command(toggle)  # leaving check mode soft-resets the controller
            self._wait_for(lambda: self._startups > startups,
                           self.profile.flow.response_timeout_s)
        job: JobRun | None = self._job
        assert job is not None
        texts = {c.file_line: c.text for c in job.commands}
        return [CheckIssue(e.line or 0, texts.get(e.line or 0, ""), e.code, e.message)
                for e in result.errors]
