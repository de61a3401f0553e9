"""The RepRap-dialect driver (Marlin, RepRapFirmware, Smoothieware): numbered,
checksummed lines acknowledged by ``ok``, with resend requests served from a bounded
history under OctoPrint's guards, temperature autoreport or polling, and ``M112``.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict

from fabhub.drivers import events as ev
from fabhub.drivers.driver import Driver
from fabhub.drivers.errors import DriverError
from fabhub.drivers.gcode import command_word, numbered
from fabhub.drivers.job import JobRun, Sent
from fabhub.drivers.telemetry import parse_position, parse_temperatures

_M110_N = re.compile(r"N\s*(-?\d+)")


class ReprapDriver(Driver):
    """Driver for firmware of the ``reprap`` dialect; see :mod:`fabhub.drivers`."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        replies = self.profile.replies
        self._re_resend = re.compile(replies.resend) if replies.resend else None
        self._re_busy = re.compile(replies.busy) if replies.busy else None
        self._re_line_error = re.compile(replies.line_error) if replies.line_error else None
        self._history: OrderedDict[int, bytes] = OrderedDict()
        self._epoch = 0
        self._resend_next: int | None = None
        self._resend_last = 0
        self._resend_target: int | None = None
        self._resend_counts: dict[int, int] = {}
        self._autoreport = False

    # -- framing and resends -------------------------------------------------------------
    def _frame(self, text: str, index: int) -> bytes:
        lines = self.profile.lines
        if not lines.line_numbers:
            return text.encode("ascii", "replace") + b"\n"
        if command_word(text) == "M110":
            found = _M110_N.search(text[4:])
            number = int(found.group(1)) if found else 0
        elif index >= 0:
            number = index + 1
        else:
            return text.encode("ascii", "replace") + b"\n"
        if lines.checksums:
            return numbered(number, text)
        return f"N{number} {text}\n".encode("ascii", "replace")

    def _make(self, text: str, kind: str, index: int = -1, reply: object = None) -> Sent:
        sent = super()._make(text, kind, index, reply)  # type: ignore[arg-type]
        if index >= 0 and self.profile.lines.line_numbers:
            sent.number = index + 1
        return sent

    def _peek_job(self) -> Sent | None:
        job = self._job
        if self._resend_next is None or job is None or job.result is not None:
            return super()._peek_job()
        if job.stopping or self.state != ev.STREAMING:
            return None
        number = self._resend_next
        index = number - 1
        return Sent(wire=self._history[number], kind="job", index=index, number=number,
                    epoch=self._epoch, long=command_word(job.commands[index].text) in self._long)

    def _took_job(self, item: Sent) -> None:
        item.epoch = self._epoch
        if self._resend_next is not None and item.number == self._resend_next:
            self._resend_next += 1
            if self._resend_next > self._resend_last:
                self._resend_next = None
            return
        super()._took_job(item)
        if item.number is not None:
            self._history[item.number] = item.wire
            if len(self._history) > self.profile.flow.resend_history_lines:
                self._history.popitem(last=False)

    def _begin_job(self, job: JobRun) -> None:
        self._history.clear()
        self._resend_next = self._resend_target = None
        self._resend_counts.clear()
        if self.profile.lines.line_numbers:
            self._queue_command("M110 N0", kind="ctl")

    def _on_resend(self, number: int) -> None:
        job = self._job
        if job is None or job.result is not None or job.stopping:
            return
        head = self._inflight[0] if self._inflight else None
        # "Resend: n" also says that every line before n was executed.
        self._acked_through(min(number, job.next_index + 1) - 2)
        if number == job.next_index + 1:
            return  # it has every line we sent; this answers a duplicate
        if number > job.next_index + 1:
            # The firmware's line counter is ahead of ours (a lost M110): resynchronise it
            # and send the rejected line again.
            if head is None or head.kind != "job" or head.number is None:
                return
            self._warn(f"the firmware asked for line {number}, not sent yet; resetting its "
                       f"line number to {head.number - 1}")
            self._queue_command(f"M110 N{head.number - 1}", kind="ctl")
            number = head.number
        if number == self._resend_target and head is not None and head.epoch < self._epoch:
            return  # answers a line sent before we went back to this one
        count = self._resend_counts[number] = self._resend_counts.get(number, 0) + 1
        limit = self.profile.flow.max_resends_per_line
        if count > limit:
            self._fail_comms(f"the firmware asked for line {number} more than {limit} times; "
                             "the serial link is too noisy or the baud rate is wrong")
            return
        if number not in self._history:
            self._fail_comms(f"the firmware asked for line {number}, older than the "
                             f"{len(self._history)} lines kept for resends")
            return
        job.resends += 1
        self._rewind(number)

    def _rewind(self, number: int) -> None:
        """Under the lock: send the job again from line ``number``."""
        assert self._job is not None
        self._epoch += 1
        self._resend_target = number
        for item in self._inflight:
            if item.kind == "job" and item.number is not None and item.number >= number:
                item.doomed = True
        self._resend_next, self._resend_last = number, self._job.next_index

    def _fail_comms(self, reason: str) -> None:
        self._drop_inflight(reason)
        self._set_state(ev.FAULT, reason)
        self._finish_job(ev.FAILED, reason)

    # -- replies -----------------------------------------------------------------------
    def _on_line(self, text: str) -> None:
        if self._re_ok.match(text):
            self._on_ok(text)
            return
        head = self._inflight[0] if self._inflight else None
        if self._re_resend is not None and (found := self._re_resend.match(text)):
            self._on_resend(int(found.group("line")))
        elif self._re_busy is not None and self._re_busy.match(text):
            self._last_activity = time.monotonic()
        elif found := self._re_error.match(text):
            self._on_error(found.group("message").strip() or text)
        elif self._re_startup.match(text) and self.state not in (ev.CONNECTING,):
            self._on_restart(text)
        else:
            temperatures = parse_temperatures(text)
            if temperatures and text.lstrip().startswith(("T", "B")):
                self._update_telemetry(temperatures=temperatures)
            elif text.startswith("X:"):
                self._update_telemetry(position=parse_position(text))
            else:
                self._emit(ev.FirmwareMessage(text))
            if head is not None and head.reply is not None:
                head.reply.lines.append(text)

    def _on_ok(self, text: str) -> None:
        temperatures = parse_temperatures(text) if "T:" in text else {}
        if temperatures and self._tickled and any(i.kind == "tickle" for i in self._inflight):
            self._tickle_answered()
        else:
            self._ack()
        if temperatures:
            self._update_telemetry(temperatures=temperatures)

    def _tickle_answered(self) -> None:
        """The firmware answered the tickle, so it has dealt with every line sent before;
        whether lost lines or lost acknowledgements caused the silence, numbered lines go
        out again (the firmware executes what it lacks and asks past what it has)."""
        uncertain: list[int] = []
        while self._inflight:
            item = self._ack(count=not self.profile.lines.line_numbers)
            if item is None or item.kind == "tickle":
                break
            if item.kind == "job" and not item.doomed and item.number is not None:
                uncertain.append(item.number)
        job = self._job
        if uncertain and job is not None and job.result is None and not job.stopping:
            self._rewind(min(uncertain))
            self._pump()

    def _on_error(self, message: str) -> None:
        if self._is_fatal(message):
            if self.state != ev.FAULT:
                self._firmware_fault(message)
            else:
                self._emit(ev.FirmwareError(message, fatal=True))
            return
        if self._re_line_error is not None and self._re_line_error.search(message):
            return  # a garbled line; the resend request that follows deals with it
        error = ev.FirmwareError(message, fatal=False)
        self._emit(error)
        if self._job is not None and self._job.result is None:
            self._job.add_error(error)

    def _on_restart(self, text: str) -> None:
        self._drop_inflight("the firmware restarted")
        if self._job is not None and self._job.result is None:
            self._finish_job(ev.FAILED, f"the firmware restarted (it printed {text!r}); "
                             f"last acknowledged line {self._job.current_line}")

    def _update_telemetry(self, **changes: object) -> None:
        merged = {**self.telemetry.__dict__, **changes}
        self.telemetry = ev.Telemetry(**merged)  # type: ignore[arg-type]
        self._emit(self.telemetry)

    # -- handshake, polling, status --------------------------------------------------------
    def _handshake(self) -> None:
        lines = self._identify()
        hs, status = self.profile.handshake, self.profile.status
        if hs.capability_pattern:
            pattern = re.compile(hs.capability_pattern)
            for line in lines:
                if found := pattern.search(line):
                    self.capabilities[found.group("name")] = found.group("value")
        for command in hs.init_commands:
            self.send_command(command, timeout=hs.timeout_s)
        if status.autoreport_capability and status.autoreport_command and \
                self.capabilities.get(status.autoreport_capability) == "1":
            seconds = max(1, round(status.poll_interval_s))
            self.send_command(status.autoreport_command.format(seconds=seconds),
                              timeout=hs.timeout_s)
            self._autoreport = True

    def _poll(self) -> None:
        query = self.profile.status.query
        if self._autoreport or not query or any(i.kind == "poll" for i in
                                                (*self._inflight, *self._queue)):
            return
        self._queue_command(query, kind="poll")
        self._pump()

    def query_status(self, timeout: float = 5.0) -> ev.Telemetry:
        """Ask for temperatures (and position, if the profile can) and return them."""
        status = self.profile.status
        self.send_command(status.query, timeout=timeout)
        if status.position_query:
            self.send_command(status.position_query, timeout=timeout)
        return self.telemetry

    # -- control -------------------------------------------------------------------------
    def _on_pause(self) -> None:
        self._set_state(ev.PAUSED, "paused by request")
        for line in self.profile.commands.pause:
            self._queue_command(line, kind="ctl")

    def _on_resume(self) -> None:
        for line in self.profile.commands.resume:
            self._queue_command(line, kind="ctl")
        self._set_state(ev.STREAMING, "resumed by request")

    def _stop_sequence(self) -> None:
        flow = self.profile.flow
        self._wait_for(lambda: not self._job_lines_in_flight() or self.state == ev.FAULT,
                       flow.long_command_timeout_s)
        with self._lock:
            self._resend_next = None
        try:
            for line in self.profile.commands.cancel:
                self.send_command(line)
        except DriverError as exc:
            with self._lock:
                self._finish_job(ev.FAILED, f"cancel sequence failed: {exc}")
        else:
            with self._lock:
                self._finish_job(ev.CANCELLED, "cancelled by request")
        self._flush()

