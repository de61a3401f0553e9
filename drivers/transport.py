"""The serial link: the only module that imports pyserial.

Opens a device path (``/dev/ttyACM0``, a pseudo-terminal) or a pyserial URL
(``socket://host:port``, ``rfc2217://...``, ``loop://``), reads whole lines with a
timeout, writes atomically (so a real-time byte never lands inside a line), and
turns every failure into a :class:`TransportError` that says what to do.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import threading
import time

import serial

from fabhub.drivers.errors import DeviceGone, PortBusy, PortNotFound, TransportError

READ_SLICE_S = 0.05  # how long one low-level read waits; bounds every blocking call
MAX_LINE_BYTES = 4096  # a longer run without a newline is handed up as one (garbage) line


def _open_error(port: str, exc: Exception) -> TransportError:
    text = str(exc)
    code = getattr(exc, "errno", None)
    if code == errno.ENOENT or "[Errno 2]" in text or "No such file" in text:
        return PortNotFound(f"serial port {port} does not exist: check the cable and the "
                            "device path (ls /dev/serial/by-id/)")
    if code == errno.EBUSY or "lock" in text.lower() or "[Errno 16]" in text:
        return PortBusy(f"serial port {port} is in use by another program (OctoPrint, a "
                        "terminal, another fabhub node?); close it and try again")
    if code == errno.EACCES or "[Errno 13]" in text:
        return TransportError(f"no permission to open {port}: add this user to the "
                              "'dialout' group, or run the node as a user who may")
    return TransportError(f"cannot open serial port {port}: {text}")


class Transport:
    """One open serial link with line-oriented reads."""

    def __init__(self, port: str, baud: int) -> None:
        self.port = port
        self.baud = baud
        self._write_lock = threading.Lock()
        self._buffer = bytearray()
        is_url = "://" in port
        try:
            if is_url:
                self._serial = serial.serial_for_url(port, baudrate=baud, timeout=READ_SLICE_S,
                                                     write_timeout=5.0)
            else:
                self._serial = serial.Serial(port, baudrate=baud, timeout=READ_SLICE_S,
                                             write_timeout=5.0, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise _open_error(port, exc) from exc
        self.bytes_written = 0
        # Device paths read straight from the descriptor: all waiting bytes in one call.
        self._fd: int | None = None if is_url else self._serial.fileno()

    def write(self, data: bytes) -> None:
        """Write ``data`` whole; raise :class:`DeviceGone` if the link is gone."""
        with self._write_lock:
            try:
                self._serial.write(data)
            except serial.SerialTimeoutException as exc:
                raise DeviceGone(f"{self.port} stopped accepting data for 5 s; the device "
                                 "is hung or gone") from exc
            except (serial.SerialException, OSError) as exc:
                raise DeviceGone(f"{self.port} vanished while writing: {exc}") from exc
            self.bytes_written += len(data)

    def readline(self, timeout: float) -> bytes | None:
        """One line without its line ending, or ``None`` if none came within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            cut = self._buffer.find(b"\n")
            if cut >= 0 or len(self._buffer) >= MAX_LINE_BYTES:
                end = cut if cut >= 0 else MAX_LINE_BYTES
                line = bytes(self._buffer[:end]).rstrip(b"\r")
                del self._buffer[:end + 1 if cut >= 0 else end]
                return line
            try:
                chunk = self._read_some(max(deadline - time.monotonic(), 0.0))
            except (serial.SerialException, OSError, TypeError, ValueError) as exc:
                raise DeviceGone(f"{self.port} vanished (unplugged, powered off or reset?): "
                                 f"{exc}") from exc
            if chunk:
                self._buffer += chunk
            elif time.monotonic() >= deadline:
                return None

    def _read_some(self, wait: float) -> bytes:
        if self._fd is None:
            return self._serial.read(self._serial.in_waiting or 1)
        ready, _, _ = select.select([self._fd], [], [], min(wait, READ_SLICE_S))
        if not ready:
            return b""
        chunk = os.read(self._fd, 4096)
        if not chunk:
            raise OSError("the device reports data but none came (disconnected?)")
        return chunk

    def discard_input(self) -> None:
        """Forget whatever the device sent that was not read yet."""
        self._buffer.clear()
        try:
            self._serial.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            raise DeviceGone(f"{self.port} vanished: {exc}") from exc

    def close(self) -> None:
        """Close the link; safe to call twice."""
        with contextlib.suppress(serial.SerialException, OSError):
            self._serial.close()
