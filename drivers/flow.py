"""Acknowledgement flow: which line may go out now, what is in flight, and silence.

One rule serves every firmware, set by the profile's ``[flow]``: ``ping_pong`` keeps
one line in flight; ``window`` keeps up to ``window_lines`` lines and at most
``rx_buffer_bytes`` bytes; ``character_counting`` (Grbl) keeps as many lines as fit
in the receive buffer's free bytes. A send-and-wait command goes out alone. Every
acknowledgement frees the oldest line in flight.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING

from fabhub.drivers import events as ev
from fabhub.drivers.errors import DeviceGone
from fabhub.drivers.gcode import command_word
from fabhub.drivers.job import Reply, Sent

if TYPE_CHECKING:
    from fabhub.drivers.driver import Driver


class FlowMixin:
    """In-flight bookkeeping for :class:`~fabhub.drivers.driver.Driver`."""

    def _init_flow(self: Driver) -> None:
        flow = self.profile.flow
        self.rx_buffer_bytes = flow.rx_buffer_bytes
        self._send_and_wait = set(flow.send_and_wait)
        self._long = set(flow.long_commands)
        self._reset_flow()

    def _reset_flow(self: Driver) -> None:
        self._inflight: deque[Sent] = deque()
        self._inflight_bytes = 0
        self._queue: deque[Sent] = deque()
        self._alone = 0
        self._job_item: Sent | None = None
        self._last_activity = time.monotonic()
        self._tickled = False
        self._estop = False

    def _frame(self: Driver, text: str, index: int) -> bytes:
        """The bytes on the wire for ``text`` (job command ``index``, or -1)."""
        return text.encode("ascii", "replace") + b"\n"

    def _make(self: Driver, text: str, kind: str, index: int = -1,
              reply: Reply | None = None) -> Sent:
        word = command_word(text)
        return Sent(wire=self._frame(text, index), kind=kind, index=index,
                    long=word in self._long, alone=word in self._send_and_wait, reply=reply)

    def _queue_command(self: Driver, text: str, kind: str = "cmd") -> Sent:
        """Under the lock: queue a command ahead of job lines."""
        sent = self._make(text, kind, reply=Reply() if kind == "cmd" else None)
        self._queue.append(sent)
        return sent

    def _peek_job(self: Driver) -> Sent | None:
        """The job line that would go out next, if the job may send now."""
        job = self._job
        if (job is None or job.result is not None or job.stopping
                or self.state != ev.STREAMING or job.next_index >= job.total):
            return None
        if self._job_item is None or self._job_item.index != job.next_index:
            self._job_item = self._make(job.commands[job.next_index].text, "job", job.next_index)
        return self._job_item

    def _took_job(self: Driver, item: Sent) -> None:
        assert self._job is not None
        self._job.next_index = item.index + 1
        self._job_item = None

    def _fits(self: Driver, size: int) -> bool:
        if not self._inflight:
            return True
        flow = self.profile.flow
        if flow.mode == "ping_pong":
            return False
        if flow.mode == "window" and len(self._inflight) >= flow.window_lines:
            return False
        return self._inflight_bytes + size <= self.rx_buffer_bytes

    def _pump(self: Driver) -> None:
        """Under the lock: send every line the flow rule allows now."""
        transport = self._transport
        if transport is None or self._estop:
            return
        while not self._alone:
            from_queue = bool(self._queue)
            item = self._queue[0] if from_queue else self._peek_job()
            if item is None or (item.alone and self._inflight) or not self._fits(len(item.wire)):
                return
            if from_queue:
                self._queue.popleft()
            else:
                self._took_job(item)
            self._write(item)

    def _write(self: Driver, item: Sent) -> None:
        if not self._inflight:
            self._last_activity = time.monotonic()
        self._inflight.append(item)
        self._inflight_bytes += len(item.wire)
        self._alone += item.alone
        try:
            assert self._transport is not None
            self._transport.write(item.wire)
        except DeviceGone as exc:
            self._warn(str(exc))  # the reader thread notices too and closes the driver

    def _ack(self: Driver, error: str | None = None, count: bool = True) -> Sent | None:
        """Under the lock: the firmware answered the oldest line in flight (``count``:
        and so executed it, if it is a job line)."""
        if not self._inflight:
            self._warn("the firmware acknowledged a line that was not in flight; ignored")
            return None
        item = self._inflight.popleft()
        self._inflight_bytes -= len(item.wire)
        self._alone -= item.alone
        self._last_activity = time.monotonic()
        self._tickled = False
        if count and item.kind == "job" and not item.doomed:
            self._acked_through(item.index)
        if item.reply is not None:
            item.reply.error = error
            item.reply.done.set()
        self._changed.notify_all()
        self._pump()
        return item

    def _acked_through(self: Driver, index: int) -> None:
        """Under the lock: the firmware has executed the job's commands up to ``index``."""
        job = self._job
        if job is None or job.result is not None or index <= job.acked_index:
            return
        job.ack(index)
        if job.complete and not job.stopping:
            self._job_acked_all(job)

    def _job_acked_all(self: Driver, job: object) -> None:
        """Under the lock: the firmware acknowledged the job's last line."""
        self._finish_job(ev.COMPLETED, "every line acknowledged")

    def _job_lines_in_flight(self: Driver) -> bool:
        return any(item.kind == "job" for item in self._inflight)

    def _timeout_for(self: Driver, item: Sent) -> float:
        flow = self.profile.flow
        return flow.long_command_timeout_s if item.long else flow.response_timeout_s

    def _watchdog(self: Driver, now: float) -> None:
        """Under the lock: tickle a silent firmware once, then give up on it."""
        if not self._inflight or self._estop or self.state == ev.CONNECTING:
            return
        limit = max(self._timeout_for(item) for item in self._inflight)
        if now - self._last_activity < limit:
            return
        tickle = self.profile.flow.tickle
        if tickle and not self._tickled:
            self._tickled = True
            self._warn(f"no answer from the firmware for {limit:g} s; sending {tickle}")
            self._inflight.append(self._make(tickle, "tickle"))
            self._last_activity = now
            assert self._transport is not None
            try:
                self._transport.write(self._inflight[-1].wire)
            except DeviceGone as exc:
                self._warn(str(exc))
            return
        reason = (f"the firmware stopped answering: no reply for {limit:g} s"
                  + (f" even after {tickle}" if tickle else ""))
        self._drop_inflight(reason)
        if self._job is not None and self._job.result is None:
            self._set_state(ev.FAULT, reason)
            self._finish_job(ev.FAILED, f"{reason}; last acknowledged line "
                             f"{self._job.current_line}")

    def _drop_inflight(self: Driver, reason: str) -> None:
        """Under the lock: forget every line in flight or queued; fail their waiters."""
        for item in (*self._inflight, *self._queue):
            if item.reply is not None and not item.reply.done.is_set():
                item.reply.error = reason
                item.reply.done.set()
        self._inflight.clear()
        self._queue.clear()
        self._inflight_bytes = 0
        self._alone = 0
        self._tickled = False
        self._changed.notify_all()

    def _wait_for(self: Driver, predicate: object, timeout: float) -> bool:
        """Wait (not holding the lock) until ``predicate()`` holds under the lock."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)  # type: ignore[arg-type]
