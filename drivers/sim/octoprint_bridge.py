"""Bridge OctoPrint's Virtual Printer to a pseudo-terminal (run by OctoPrint's python).

This script is not imported by fabhub: ``OctoPrintPeer`` runs it with the python of
the virtual environment that has the ``octoprint`` package. It prints
``DEVICE <path>`` once the pty is ready, then forwards every line from the pty to the
Virtual Printer and every line back. A log file records what crossed the bridge
(``<monotonic time> RX|TX|INJECT|DISCONNECT <text>``). Commands on standard input:
``debug <command>`` injects ``!!DEBUG:<command>`` at a line boundary; ``disconnect``
closes the pty as if the cable were pulled.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import select
import sys
import tempfile
import threading
import time
import tty

NUMBERED = re.compile(rb"^N\d+ ")


class Settings:
    """The few settings calls the Virtual Printer makes, answered from a dict."""

    def __init__(self, values: dict, base: str) -> None:
        self.values = values
        self.base = base

    def get(self, path: list, merged: bool = False) -> object:
        """The value at ``path`` (a list of keys), or None."""
        value: object = self.values
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def get_int(self, path: list) -> int:
        """The value at ``path`` as an integer."""
        return int(self.get(path) or 0)  # type: ignore[arg-type]

    def get_float(self, path: list) -> float:
        """The value at ``path`` as a number."""
        return float(self.get(path) or 0.0)  # type: ignore[arg-type]

    def get_boolean(self, path: list) -> bool:
        """The value at ``path`` as true or false."""
        return bool(self.get(path))

    def global_get_basefolder(self, name: str) -> str:
        """A folder of the bridge's own temporary directory."""
        folder = os.path.join(self.base, name)
        os.makedirs(folder, exist_ok=True)
        return folder


class ProfileManager:
    """The Virtual Printer only asks for a printer profile when reporting its area."""

    def get_current_or_default(self) -> dict:
        """No profile: the printer then reports no build area."""
        return {}


class Bridge:
    """One Virtual Printer on one pty."""

    def __init__(self, args: argparse.Namespace) -> None:
        from octoprint.plugin import plugin_manager
        from octoprint.plugins.virtual_printer import VirtualPrinterPlugin
        from octoprint.plugins.virtual_printer.virtual import VirtualPrinter

        plugin_manager(init=True, plugin_folders=[], plugin_entry_points=[],
                       plugin_disabled_list=[])
        values = VirtualPrinterPlugin().get_settings_defaults()
        # The default injects faults at lines 100-115 that desynchronise the printer's
        # own line counters; fabhub's tests inject faults themselves.
        values["simulated_errors"] = []
        values["sendWait"] = False
        self.base = tempfile.mkdtemp(prefix="fabhub-octoprint-vp-")
        self.printer = VirtualPrinter(Settings(values, self.base), ProfileManager(),
                                      data_folder=self.base, read_timeout=0.05)
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.log = open(args.log, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        self.random = random.Random(args.seed)
        self.corrupt = args.corrupt
        self.disconnect_at = args.disconnect_at
        self.lock = threading.Lock()
        self.pending: list[bytes] = []
        self.alive = True

    def record(self, kind: str, text: str) -> None:
        """Append one entry to the log."""
        self.log.write(f"{time.monotonic():.6f} {kind} {text}\n")

    def to_printer(self, line: bytes) -> None:
        """Hand one line from the host to the printer, after any injected fault."""
        if self.disconnect_at is not None and line.startswith(b"N%d " % self.disconnect_at):
            self.disconnect()
            return
        if self.corrupt and NUMBERED.match(line) and b"*" in line \
                and self.random.random() < self.corrupt:
            line = self.garble(line)
        self.record("RX", line.decode("latin-1").rstrip())
        self.printer.write(line)

    def garble(self, line: bytes) -> bytes:
        """``line`` with one byte before the checksum changed. Never the checksum field
        (the Virtual Printer's reader thread dies on one that is not a number, which real
        Marlin survives) and never into "M112", which its emergency parser would obey
        whatever the checksum says."""
        while True:
            where = self.random.randrange(line.rindex(b"*"))
            replacement = self.random.randrange(33, 127)
            if replacement in (line[where], 42):  # the same byte, or '*'
                continue
            garbled = line[:where] + bytes([replacement]) + line[where + 1:]
            if b"M112" not in garbled:
                return garbled

    def pty_to_printer(self) -> None:
        """Forward whole lines from the pty, and injected commands between them."""
        buffer = b""
        while self.alive:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.1)
                chunk = os.read(self.master, 4096) if ready else b""
            except OSError:
                return
            buffer += chunk
            with self.lock:
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    self.to_printer(line + b"\n")
                if not buffer:  # at a line boundary: injected commands go in now
                    for command in self.pending:
                        self.record("INJECT", command.decode().strip())
                        self.printer.write(command)
                    self.pending.clear()

    def printer_to_pty(self) -> None:
        """Forward every line the printer says to the pty."""
        while self.alive:
            line = self.printer.readline()
            if not line or not self.alive:
                continue
            self.record("TX", line.decode("latin-1").rstrip())
            if not line.endswith(b"\n"):  # the printer's replies carry no line ending
                line += b"\n"
            try:
                os.write(self.master, line)
            except OSError:
                return

    def disconnect(self) -> None:
        """Close the pty as if the cable were pulled."""
        self.record("DISCONNECT", "")
        self.alive = False
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def control(self) -> None:
        """Obey commands on standard input until it closes or says quit."""
        for raw in sys.stdin:
            word, _, rest = raw.strip().partition(" ")
            if word == "debug":
                with self.lock:
                    self.pending.append(f"!!DEBUG:{rest}\n".encode())
            elif word == "disconnect":
                with self.lock:
                    self.disconnect()
            elif word == "quit":
                break
        self.alive = False


def main() -> None:
    """Start the bridge and print the device path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", required=True)
    parser.add_argument("--corrupt", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--disconnect-at", type=int, default=None)
    bridge = Bridge(parser.parse_args())
    for loop in (bridge.pty_to_printer, bridge.printer_to_pty):
        threading.Thread(target=loop, daemon=True).start()
    print(f"DEVICE {bridge.path}", flush=True)
    bridge.control()
    os._exit(0)


if __name__ == "__main__":
    main()
