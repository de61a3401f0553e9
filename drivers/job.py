"""Bookkeeping of one streamed job and of every line in flight."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from fabhub.drivers.events import FirmwareError, JobFinished, Progress
from fabhub.drivers.gcode import Command

MAX_ERRORS_KEPT = 100


@dataclass
class Reply:
    """What the firmware answered to one command sent with ``send_command``."""

    lines: list[str] = field(default_factory=list)
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


@dataclass(slots=True)
class Sent:
    """One line written to the firmware and not yet acknowledged."""

    wire: bytes
    kind: str  # "job", "cmd", "poll" or "tickle"
    index: int = -1  # the job command's index, for job lines
    number: int | None = None  # its N, when lines are numbered
    epoch: int = 0  # resend round it was sent in
    long: bool = False  # may legitimately take long (heating, homing, dwell)
    alone: bool = False  # send-and-wait: nothing else may be in flight with it
    reply: Reply | None = None
    doomed: bool = False  # the firmware will reject it (a resend request came before it)


class JobRun:
    """One job's commands and how far the firmware has acknowledged them."""

    def __init__(self, commands: list[Command], *, check_mode: bool = False) -> None:
        self.commands = commands
        self.bytes_total = sum(len(c.text) + 1 for c in commands)
        self.next_index = 0
        self.acked_index = -1
        self.bytes_acked = 0
        self.resends = 0
        self.errors: list[FirmwareError] = []
        self.check_mode = check_mode
        self.stopping = False
        self.started = time.monotonic()
        self.last_ack_at = self.started
        self.done = threading.Event()
        self.result: JobFinished | None = None

    @property
    def total(self) -> int:
        """Number of commands in the job."""
        return len(self.commands)

    @property
    def complete(self) -> bool:
        """Has the firmware acknowledged every command?"""
        return self.acked_index == len(self.commands) - 1

    @property
    def current_line(self) -> int:
        """1-based file line of the last acknowledged command (0 if none)."""
        return self.commands[self.acked_index].file_line if self.acked_index >= 0 else 0

    def ack(self, index: int) -> None:
        """The firmware acknowledged commands up to ``index``."""
        self.last_ack_at = time.monotonic()
        while self.acked_index < index:
            self.acked_index += 1
            self.bytes_acked += len(self.commands[self.acked_index].text) + 1

    def add_error(self, error: FirmwareError) -> None:
        """Remember a firmware error for the job's result (the first 100)."""
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(error)

    def progress(self, state: str) -> Progress:
        """A progress event for now."""
        return Progress(lines_acked=self.acked_index + 1, lines_total=len(self.commands),
                        bytes_acked=self.bytes_acked, bytes_total=self.bytes_total,
                        current_line=self.current_line, state=state)

    def finish(self, outcome: str, reason: str) -> JobFinished:
        """Close the job with ``outcome``; returns the event (only the first call counts)."""
        if self.result is None:
            self.result = JobFinished(
                outcome=outcome, reason=reason, lines_acked=self.acked_index + 1,
                lines_total=len(self.commands), last_acked_line=self.current_line,
                duration_s=time.monotonic() - self.started,
                acked_s=self.last_ack_at - self.started, resends=self.resends,
                errors=tuple(self.errors))
            self.done.set()
        return self.result
