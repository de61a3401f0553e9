"""Events a driver emits: plain, immutable data.

They are delivered to the ``events`` callback or queue given to
:func:`fabhub.drivers.open_driver`, from the driver's reader thread, in the order
they happen. A callback must return quickly; hand heavy work to another thread.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass, field

# Driver states (``Driver.state``).
DISCONNECTED = "disconnected"
CONNECTING = "connecting"
IDLE = "idle"
STREAMING = "streaming"
PAUSED = "paused"
HELD = "held"  # the firmware reported an error; the job waits for resume or cancel
STOPPING = "stopping"
FAULT = "fault"  # fatal firmware error or emergency stop; reconnect (or reset) to continue

# How a job ended (``JobFinished.outcome``).
COMPLETED = "completed"
CANCELLED = "cancelled"
FAILED = "failed"
EMERGENCY_STOPPED = "emergency_stopped"


@dataclass(frozen=True)
class Connected:
    """The handshake succeeded."""

    firmware: str
    capabilities: dict[str, str]
    profile: str


@dataclass(frozen=True)
class StateChanged:
    """The driver moved from one state to another, with the reason."""

    old: str
    new: str
    reason: str = ""


@dataclass(frozen=True)
class Progress:
    """How far the running job is; sent at most every ``progress_interval_s`` and at the end.

    ``current_line`` is the 1-based line of the job's file whose command the firmware
    acknowledged last (0 before the first).
    """

    lines_acked: int
    lines_total: int
    bytes_acked: int
    bytes_total: int
    current_line: int
    state: str


@dataclass(frozen=True)
class Telemetry:
    """What the machine reported about itself; fields it did not report are empty."""

    temperatures: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    position: dict[str, float] = field(default_factory=dict)
    work_position: dict[str, float] = field(default_factory=dict)
    machine_state: str = ""
    feed: float | None = None
    speed: float | None = None
    overrides: tuple[int, ...] = ()
    pins: str = ""
    buffer: tuple[int, ...] = ()


@dataclass(frozen=True)
class FirmwareMessage:
    """A line from the firmware that is neither an acknowledgement nor a report."""

    text: str


@dataclass(frozen=True)
class FirmwareError:
    """The firmware reported an error; ``fatal`` ones end the job."""

    message: str
    fatal: bool
    code: int | None = None
    line: int | None = None  # the job file's line it refers to, when known


@dataclass(frozen=True)
class DriverWarning:
    """Something odd but survivable, e.g. bytes that are not UTF-8, a resend."""

    message: str


@dataclass(frozen=True)
class JobFinished:
    """A job ended. ``last_acked_line`` is a 1-based line of the job's file (0: none);
    ``acked_s`` is the time from the start to the last acknowledgement."""

    outcome: str
    reason: str
    lines_acked: int
    lines_total: int
    last_acked_line: int
    duration_s: float
    acked_s: float = 0.0
    resends: int = 0
    errors: tuple[FirmwareError, ...] = ()


Event = (Connected | StateChanged | Progress | Telemetry | FirmwareMessage | FirmwareError
         | DriverWarning | JobFinished)
EventSink = Callable[[Event], None] | queue.Queue | None


def make_emitter(sink: EventSink) -> Callable[[Event], None]:
    """A function that delivers one event to ``sink`` (a callable, a queue, or nothing)."""
    if sink is None:
        return lambda event: None
    if isinstance(sink, queue.Queue):
        return sink.put
    if callable(sink):
        return sink
    raise TypeError(f"events must be a callable or a queue.Queue, not {type(sink).__name__}")
