"""A simulated serial device on a real pseudo-terminal, with an emulated link speed.

The driver opens ``path`` (the pty's slave side) exactly as it would open
``/dev/ttyACM0``. Bytes from the host arrive no faster than the baud rate allows,
land in a receive buffer of the firmware's real size (excess bytes are lost and
counted, as on a microcontroller), and complete lines go to :meth:`handle_line`.
Subclasses may pick bytes off on arrival (real-time commands, emergency parser).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import threading
import time
import tty
from collections import deque
from typing import Self

from fabhub.drivers.sim.faults import Faults


def bytes_per_second(baud: int) -> float:
    """Payload bytes per second of an 8N1 serial link (10 bits per byte)."""
    return baud / 10.0


class PtyDevice:
    """Base of the simulators: pty, pacing, receive buffer, worker thread, faults."""

    line_ending = b"\n"

    def __init__(self, *, baud: int | None = None, faults: Faults | None = None,
                 rx_buffer_bytes: int = 127, command_time_s: float = 0.0) -> None:
        self.faults = faults or Faults()
        self.rate = bytes_per_second(baud) if baud else None
        self.rx_capacity = rx_buffer_bytes
        self.command_time_s = command_time_s
        self.executed: list[str] = []
        self.overflows = 0
        self.max_rx_fill = 0
        self.bytes_received = 0
        self.emergency_at: float | None = None
        self.connected = True
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        flags = fcntl.fcntl(self._master, fcntl.F_GETFL)
        fcntl.fcntl(self._master, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self.path = os.ttyname(self._slave)
        self._rx = bytearray()
        self._rx_cond = threading.Condition()
        self._stop = threading.Event()
        self._rx_clock = 0.0
        self._tx_lock = threading.Lock()
        self._tx_queue: deque[tuple[float, bytes]] = deque()
        self._tx_cond = threading.Condition()
        self._threads: list[threading.Thread] = []

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> Self:
        """Run the device in background threads; returns ``self``."""
        loops = [self._rx_loop, self._work_loop] + ([self._tx_loop] if self.rate else [])
        for loop in loops:
            thread = threading.Thread(target=loop, name=f"sim-{loop.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.on_start()
        return self

    def close(self) -> None:
        """Stop the threads and close the pty."""
        self._stop.set()
        with self._rx_cond:
            self._rx_cond.notify_all()
        with self._tx_cond:
            self._tx_cond.notify_all()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=2)
        self._close_fds()

    def disconnect(self) -> None:
        """Vanish like an unplugged board: the host's next read fails."""
        self.connected = False
        self._stop.set()
        self._close_fds()

    def _close_fds(self) -> None:
        for name in ("_master", "_slave"):
            fd = getattr(self, name)
            if fd >= 0:
                setattr(self, name, -1)
                with contextlib.suppress(OSError):
                    os.close(fd)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def serve_forever(self) -> None:
        """Block until :meth:`close` or a disconnect fault."""
        while not self._stop.wait(0.5):
            pass

    # -- hooks for subclasses ---------------------------------------------------------
    def on_start(self) -> None:
        """Called once the threads run (e.g. to print a boot banner)."""

    def on_arrival(self, data: bytes) -> bytes:
        """Bytes just off the wire; return those that go into the receive buffer."""
        return data

    def handle_line(self, line: bytes) -> None:
        """Execute one complete line (without its line ending)."""
        raise NotImplementedError

    # -- output -----------------------------------------------------------------------
    def send(self, text: str) -> None:
        """Send one reply line to the host (paced at the link speed if one is set)."""
        data = text.encode("latin-1", "replace") + self.line_ending
        if self.rate:
            with self._tx_cond:
                self._tx_queue.append((time.monotonic(), data))
                self._tx_cond.notify()
        else:
            self._write(data)

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are, unpaced (boot noise, garbage)."""
        self._write(data)

    def _write(self, data: bytes) -> None:
        with self._tx_lock:
            if self._master < 0:
                return
            # A host that is not reading must not stall the firmware: drop what does not fit.
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._master, data)

    def _tx_loop(self) -> None:
        clock = 0.0
        assert self.rate
        while not self._stop.is_set():
            with self._tx_cond:
                while not self._tx_queue and not self._stop.is_set():
                    self._tx_cond.wait(0.1)
                if self._stop.is_set():
                    return
                queued_at, data = self._tx_queue.popleft()
            # The wire is busy until ``clock``; oversleeping must not slow the link down.
            clock = max(clock, queued_at) + len(data) / self.rate
            delay = clock - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._write(data)

    # -- input ------------------------------------------------------------------------
    def _rx_loop(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.05)
                if not ready:
                    continue
                chunk = os.read(self._master, 4096)
            except (OSError, ValueError):
                if self._stop.wait(0.05):
                    return
                continue
            if chunk:
                self._arrive(chunk)

    def _arrive(self, chunk: bytes) -> None:
        if not self.rate:
            self._buffer(self.on_arrival(chunk))
            return
        sent_at = time.monotonic()
        step = 16
        for start in range(0, len(chunk), step):
            piece = chunk[start:start + step]
            self._rx_clock = max(self._rx_clock, sent_at) + len(piece) / self.rate
            delay = self._rx_clock - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._buffer(self.on_arrival(piece))

    def _buffer(self, data: bytes) -> None:
        if not data:
            return
        self.bytes_received += len(data)
        with self._rx_cond:
            room = self.rx_capacity - len(self._rx)
            if len(data) > room:
                self.overflows += len(data) - max(room, 0)
                data = data[:max(room, 0)]
            self._rx += data
            self.max_rx_fill = max(self.max_rx_fill, len(self._rx))
            if b"\n" in data or b"\r" in data:
                self._rx_cond.notify()

    def _next_line(self) -> bytes | None:
        with self._rx_cond:
            while not self._stop.is_set():
                cut = min((i for i in (self._rx.find(b"\n"), self._rx.find(b"\r")) if i >= 0),
                          default=-1)
                if cut >= 0:
                    line = bytes(self._rx[:cut])
                    del self._rx[:cut + 1]
                    return line
                self._rx_cond.wait(0.1)
        return None

    def clear_rx(self) -> None:
        """Forget everything in the receive buffer (soft reset, EEPROM write stall)."""
        with self._rx_cond:
            self._rx.clear()

    def rx_free(self) -> int:
        """Free bytes in the receive buffer now."""
        with self._rx_cond:
            return self.rx_capacity - len(self._rx)

    def _work_loop(self) -> None:
        while not self._stop.is_set():
            line = self._next_line()
            if line is None:
                return
            if not line.strip():
                continue
            if self.command_time_s:
                time.sleep(self.command_time_s)
            self.handle_line(line)
