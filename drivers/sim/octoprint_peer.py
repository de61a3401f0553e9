"""OctoPrint's own Virtual Printer as a second, independent Marlin peer.

:class:`OctoPrintPeer` runs ``octoprint_bridge.py`` with the python of a virtual
environment that has OctoPrint (``FABHUB_OCTOPRINT_PYTHON``; ``make octoprint-venv``
creates ``.venv-octoprint``) and exposes the pty it prints, the bridge's log, and
fault injection through the Virtual Printer's ``!!DEBUG:`` commands.
"""

from __future__ import annotations

import os
import select
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

BRIDGE = Path(__file__).with_name("octoprint_bridge.py")
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class LogEntry:
    """One thing that crossed the bridge: when (monotonic), what kind, and the text."""

    at: float
    kind: str  # RX (host to printer), TX (printer to host), INJECT or DISCONNECT
    text: str


class OctoPrintPeer:
    """A running Virtual Printer on a pty; use as a context manager."""

    def __init__(self, python: str, *, corrupt: float = 0.0, seed: int = 0,
                 disconnect_at: int | None = None) -> None:
        if not Path(python).exists():
            raise FileNotFoundError(f"no OctoPrint python at {python}; run "
                                    "'make octoprint-venv' or set FABHUB_OCTOPRINT_PYTHON")
        handle, self.log_path = tempfile.mkstemp(prefix="fabhub-vp-", suffix=".log")
        os.close(handle)
        command = [python, str(BRIDGE), "--log", self.log_path, "--corrupt", str(corrupt),
                   "--seed", str(seed)]
        if disconnect_at is not None:
            command += ["--disconnect-at", str(disconnect_at)]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)
        self.path = self._read_device_path()

    def _read_device_path(self) -> str:
        assert self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], START_TIMEOUT_S)
        line = self._process.stdout.readline() if ready else ""
        if not line.startswith("DEVICE "):
            self.close()
            error = self._process.stderr.read() if self._process.stderr else ""
            raise RuntimeError(f"OctoPrint's Virtual Printer did not start: {error[-2000:]}")
        return line.split(" ", 1)[1].strip()

    def _control(self, line: str) -> float:
        assert self._process.stdin is not None
        at = time.monotonic()
        self._process.stdin.write(line + "\n")
        self._process.stdin.flush()
        return at

    def inject(self, debug_command: str) -> float:
        """Send ``!!DEBUG:<debug_command>`` to the printer; return when it was asked."""
        return self._control(f"debug {debug_command}")

    def disconnect(self) -> float:
        """Pull the virtual cable; return when it was asked."""
        return self._control("disconnect")

    def log(self) -> list[LogEntry]:
        """Everything that crossed the bridge so far."""
        entries = []
        for raw in Path(self.log_path).read_text(encoding="utf-8").splitlines():
            at, kind, *text = raw.split(" ", 2)
            entries.append(LogEntry(float(at), kind, text[0] if text else ""))
        return entries

    def echoes(self) -> list[str]:
        """Texts the printer echoed (``echo:<text>``), in order, e.g. from ``M117 <text>``."""
        return [e.text[5:] for e in self.log() if e.kind == "TX" and e.text.startswith("echo:")]

    def close(self) -> None:
        """Stop the bridge process and remove its log."""
        if self._process.poll() is None:
            try:
                self._control("quit")
                self._process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait(timeout=5)
        for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        Path(self.log_path).unlink(missing_ok=True)
