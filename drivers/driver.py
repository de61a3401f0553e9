"""What every driver shares: the link, the reader thread, events, and the public calls.

A driver owns one :class:`~fabhub.drivers.transport.Transport` and one reader
thread. Every line from the firmware is handled on that thread under the driver's
lock; lines go out from whichever thread makes room for them (the reader when an
acknowledgement frees space, a caller when it queues work). Events are collected
under the lock and delivered, in order, after it is released.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable

from fabhub.drivers import events as ev
from fabhub.drivers.errors import (
    CommandTimeout,
    DeviceGone,
    DriverError,
    HandshakeError,
    JobError,
)
from fabhub.drivers.flow import FlowMixin
from fabhub.drivers.gcode import read_commands
from fabhub.drivers.job import JobRun
from fabhub.drivers.outbox import EventOutbox, JobSource
from fabhub.drivers.profiles import FirmwareProfile
from fabhub.drivers.transport import Transport

READ_WAIT_S = 0.05


class Driver(EventOutbox, FlowMixin):
    """Base of the dialect drivers; see :mod:`fabhub.drivers` for the interface."""

    def __init__(self, port: str, profile: FirmwareProfile, *, baud: int | None = None,
                 events: ev.EventSink = None, progress_interval_s: float = 0.25) -> None:
        self.port = port
        self.baud = baud or profile.default_baud
        self.progress_interval_s = progress_interval_s
        EventOutbox.__init__(self, events, profile)
        self._transport: Transport | None = None
        self._reader: threading.Thread | None = None
        self._running = False
        self._recent: deque[str] = deque(maxlen=5)
        self._not_text = 0
        self._progress_at = 0.0
        self._poll_at = 0.0
        replies = profile.replies
        self._re_ok = re.compile(replies.ok)
        self._re_error = re.compile(replies.error)
        self._re_startup = re.compile(replies.startup)
        self._re_fatal = [re.compile(p) for p in replies.fatal]
        self._init_flow()

    # -- connection ----------------------------------------------------------------------
    def connect(self) -> str:
        """Open the port, greet and identify the firmware; return its name.

        Raises :class:`~fabhub.drivers.errors.TransportError` if the port cannot be
        opened and :class:`~fabhub.drivers.errors.HandshakeError` if the device answers
        nothing, or nothing that the profile recognises, within the profile's attempts.
        """
        with self._lock:
            if self.state != ev.DISCONNECTED:
                raise JobError(f"already connected to {self.port}")
            self._transport = Transport(self.port, self.baud)
            self._reset_flow()
            self._set_state(ev.CONNECTING, f"opening {self.port} at {self.baud} baud")
        try:
            if self.profile.handshake.boot_wait_s:
                time.sleep(self.profile.handshake.boot_wait_s)
            self._transport.discard_input()
            self._running = True
            self._reader = threading.Thread(target=self._read_loop, daemon=True,
                                            name=f"fabhub-driver-{self.port}")
            self._reader.start()
            self._handshake()
        except BaseException:
            self._close(ev.DISCONNECTED, "handshake failed")
            raise
        return self._announce_connected()

    def _handshake(self) -> None:
        raise NotImplementedError

    def _identify(self) -> list[str]:
        hs = self.profile.handshake
        pattern = re.compile(hs.identify_pattern)
        for _ in range(hs.attempts):
            try:
                lines = self.send_command(hs.identify, timeout=hs.timeout_s)
            except DriverError:
                with self._lock:
                    self._drop_inflight("no identification")
                continue
            for line in lines:
                if found := pattern.search(line):
                    self.firmware = found.group("firmware").strip()
                    return lines
        raise HandshakeError(self._handshake_failure())

    def _handshake_failure(self) -> str:
        hs = self.profile.handshake
        base = (f"{self.port} did not identify itself as {self.profile.name} firmware to "
                f"{hs.identify!r} ({hs.attempts} attempts, {hs.timeout_s:g} s each)")
        if not self._recent:
            return (f"{base}: it sent nothing. Check that the board is powered and running "
                    f"its firmware, and the baud rate ({self.baud}).")
        hint = " Some of it was not text, which usually means a wrong baud rate." \
            if self._not_text else ""
        return (f"{base}: it answered {list(self._recent)!r}.{hint} Check the firmware "
                f"profile and the baud rate ({self.baud}).")

    def disconnect(self) -> None:
        """Stop any job (it fails with reason "disconnected") and close the port."""
        self._close(ev.DISCONNECTED, "disconnected by request")

    def _close(self, state: str, reason: str) -> None:
        with self._lock:
            self._running = False
            self._fail_everything(reason)
            transport, self._transport = self._transport, None
            self._set_state(state, reason)
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout=2)
        if transport is not None:
            transport.close()
        self._flush()

    def _fail_everything(self, reason: str) -> None:
        """Under the lock: end the job and every waiting command with ``reason``."""
        job = self._job
        if job is not None and job.result is None:
            self._finish_job(ev.FAILED, f"{reason}; last acknowledged line {job.current_line}")
        self._drop_inflight(reason)

    def _read_loop(self) -> None:
        transport = self._transport
        assert transport is not None
        while self._running:
            try:
                raw = transport.readline(READ_WAIT_S)
            except DeviceGone as exc:
                if self._running:
                    threading.Thread(target=self._close, args=(ev.DISCONNECTED, str(exc)),
                                     daemon=True).start()
                return
            with self._lock:
                if raw is not None:
                    self._on_raw(raw)
                self._periodic()
            if self._outbox:
                self._flush()

    def _on_raw(self, raw: bytes) -> None:
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            text = raw.decode("utf-8", "backslashreplace").strip()
            self._not_text += 1
            self._warn(f"{self.port} sent bytes that are not UTF-8 text ({text[:60]!r}); "
                       "a wrong baud rate or a noisy cable does this")
        if text:
            self._recent.append(text)
            self._on_line(text)

    def _on_line(self, text: str) -> None:
        raise NotImplementedError

    def _periodic(self) -> None:
        now = time.monotonic()
        self._watchdog(now)
        if self.state in (ev.IDLE, ev.STREAMING, ev.PAUSED, ev.HELD) and now >= self._poll_at:
            self._poll_at = now + self.profile.status.poll_interval_s
            self._poll()
        job = self._job
        if job is not None and job.result is None and now >= self._progress_at:
            self._progress_at = now + self.progress_interval_s
            self._emit(job.progress(self.state))

    def _poll(self) -> None:
        """Ask for telemetry if the firmware does not report it by itself."""

    # -- jobs ----------------------------------------------------------------------------
    def start_job(self, source: JobSource) -> None:
        """Start streaming a file (path) or an iterable of G-code lines; returns at once.

        Progress arrives as events; :meth:`wait_job` blocks until the job ends.
        Raises :class:`JobError` if a job runs already or the file cannot be streamed.
        """
        self._start_job(source, check_mode=False)

    def _start_job(self, source: JobSource, *, check_mode: bool) -> None:
        commands = read_commands(source, paren_comments=self.profile.lines.paren_comments,
                                 max_line_bytes=self._max_line_bytes())
        if not commands:
            raise JobError("the job has no commands (only comments or blank lines)")
        with self._lock:
            if self.state != ev.IDLE:
                raise JobError(f"cannot start a job while the driver is {self.state}")
            self._job = JobRun(commands, check_mode=check_mode)
            self._progress_at = 0.0
            self._set_state(ev.STREAMING, f"streaming {len(commands)} commands")
            self._begin_job(self._job)
            self._pump()
        self._flush()

    def _max_line_bytes(self) -> int:
        return min(self.profile.lines.max_line_bytes, self.rx_buffer_bytes)

    def _begin_job(self, job: JobRun) -> None:
        """Under the lock, before the first job line goes out."""

    def _control(self, allowed: tuple[str, ...], action: str,
                 body: Callable[[], None]) -> None:
        with self._lock:
            if self.state not in allowed:
                raise JobError(f"cannot {action} while the driver is {self.state}")
            body()
            self._pump()
        self._flush()

    def pause(self) -> None:
        """Stop feeding the job (and hold the machine if the firmware can)."""
        self._control((ev.STREAMING,), "pause", self._on_pause)

    def resume(self) -> None:
        """Continue a paused or held job."""
        self._control((ev.PAUSED, ev.HELD), "resume", self._on_resume)

    def cancel(self) -> None:
        """Stop the job safely (profile's stop mode); returns at once, see :meth:`wait_job`."""
        def begin() -> None:
            """Mark the job as stopping and run the profile's stop sequence."""
            assert self._job is not None
            self._job.stopping = True
            self._set_state(ev.STOPPING, "cancel requested")
            threading.Thread(target=self._stop_sequence, daemon=True,
                             name="fabhub-driver-cancel").start()
        self._control((ev.STREAMING, ev.PAUSED, ev.HELD), "cancel", begin)

    def _on_pause(self) -> None:
        raise NotImplementedError

    def _on_resume(self) -> None:
        raise NotImplementedError

    def _stop_sequence(self) -> None:
        raise NotImplementedError

    def emergency_stop(self) -> None:
        """Halt the machine now: the profile's emergency stop goes out ahead of every queue.

        Safe to call from any thread, in any state; the job ends as emergency_stopped
        and the driver stays in ``fault`` until reconnected.
        """
        self._estop = True
        command = self.profile.commands.emergency_stop
        data = command.encode("latin-1") if self.profile.commands.emergency_stop_is_realtime \
            else command.encode("ascii") + b"\n"
        transport = self._transport
        error: DriverError | None = None
        if transport is None:
            error = JobError(f"not connected to {self.port}: cannot send an emergency stop")
        else:
            try:
                transport.write(data)
            except DeviceGone as exc:
                error = exc
        self._emergency_stopped(error)

    def _on_emergency_stop(self) -> None:
        self._drop_inflight("emergency stop")

    # -- commands and status ---------------------------------------------------------------
    def send_command(self, command: str, timeout: float | None = None) -> list[str]:
        """Send one command outside any job, wait for its acknowledgement, and return
        the lines it printed. Raises :class:`CommandTimeout` or :class:`DriverError`."""
        with self._lock:
            if self._transport is None or self.state in (ev.DISCONNECTED, ev.FAULT):
                raise JobError(f"cannot send {command!r}: the driver is {self.state}")
            sent = self._queue_command(command)
            self._pump()
        self._flush()
        assert sent.reply is not None
        limit = timeout if timeout is not None else self._timeout_for(sent) * 2
        if not sent.reply.done.wait(limit):
            raise CommandTimeout(f"no answer to {command!r} from {self.port} within {limit:g} s")
        if sent.reply.error is not None:
            raise DriverError(f"{command!r} failed: {sent.reply.error}")
        return sent.reply.lines

    def query_status(self, timeout: float = 5.0) -> ev.Telemetry:
        """Ask the machine for its state now and return the telemetry it reports."""
        raise NotImplementedError

    def _is_fatal(self, message: str) -> bool:
        return any(pattern.search(message) for pattern in self._re_fatal)

    def _firmware_fault(self, message: str) -> None:
        """Under the lock: a fatal firmware error ends the job and faults the driver."""
        self._emit(ev.FirmwareError(message, fatal=True))
        self._drop_inflight(f"firmware error: {message}")
        self._set_state(ev.FAULT, f"firmware error: {message}")
        self._finish_job(ev.FAILED, f"firmware error: {message}")
