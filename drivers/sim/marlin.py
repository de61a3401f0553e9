"""A Marlin-like printer: N/checksum checking with resend requests, M115 capabilities,
temperatures and autoreport, busy keep-alive, the emergency parser, and faults."""

from __future__ import annotations

import re
import threading
import time

from fabhub.drivers.gcode import checksum, command_word
from fabhub.drivers.sim.device import PtyDevice
from fabhub.drivers.sim.faults import Faults

_NUMBERED = re.compile(rb"^\s*N(-?\d+)\s*(.*?)\s*(?:\*(\d+))?\s*$")
_PARAM = re.compile(r"([A-Z])\s*(-?\d*\.?\d+)")
CAPABILITIES = {"SERIAL_XON_XOFF": 0, "BINARY_FILE_TRANSFER": 0, "EEPROM": 1, "VOLUMETRIC": 1,
                "AUTOREPORT_POS": 0, "AUTOREPORT_TEMP": 1, "PROGRESS": 0, "PRINT_JOB": 1,
                "AUTOLEVEL": 0, "Z_PROBE": 0, "LEVELING_DATA": 0, "BUILD_PERCENT": 0,
                "SOFTWARE_POWER": 0, "TOGGLE_LIGHTS": 0, "CASE_LIGHT_BRIGHTNESS": 0,
                "EMERGENCY_PARSER": 1, "HOST_ACTION_COMMANDS": 0, "PROMPT_SUPPORT": 0,
                "SDCARD": 0, "AUTOREPORT_SD_STATUS": 0, "THERMAL_PROTECTION": 1}
BUSY_INTERVAL_S = 2.0  # Marlin's default HOST_KEEPALIVE_INTERVAL


class MarlinSim(PtyDevice):
    """Marlin 2.1 as a host sees it over USB serial (128-byte receive buffer)."""

    def __init__(self, *, baud: int | None = None, faults: Faults | None = None,
                 command_time_s: float = 0.0, motion_time_scale: float = 0.0,
                 capabilities: dict[str, int] | None = None,
                 busy_interval_s: float = BUSY_INTERVAL_S) -> None:
        super().__init__(baud=baud, faults=faults, rx_buffer_bytes=127,
                         command_time_s=command_time_s)
        self.capabilities = dict(CAPABILITIES if capabilities is None else capabilities)
        self.motion_time_scale = motion_time_scale
        self.busy_interval_s = busy_interval_s
        self.last_n = 0
        self.halted = False
        self.resend_requests = 0
        self.position = {"X": 0.0, "Y": 0.0, "Z": 0.0, "E": 0.0}
        self.feed = 1500.0
        self.temps = {"T": [21.0, 0.0], "B": [21.0, 0.0]}
        self.autoreport_s = 0
        self.received_commands: list[str] = []
        self.executed_numbered: list[tuple[int, str]] = []
        self._eparse = bytearray()
        self._report_timer: threading.Thread | None = None

    def on_start(self) -> None:
        """Print Marlin's boot lines."""
        for line in ("start", "echo:Marlin 2.1.2.1 (fabhub simulator)",
                     "echo: Free Memory: 4096  PlannerBufferBytes: 1344"):
            self.send(line)

    # -- the emergency parser sees bytes as they arrive, ahead of every queue ----------
    def on_arrival(self, data: bytes) -> bytes:
        """The emergency parser: M112 kills the firmware as soon as it arrives."""
        if self.capabilities.get("EMERGENCY_PARSER"):
            for byte in data:
                if byte in b"\r\n":
                    if self._eparse.strip() == b"M112":
                        self._kill("Printer halted. kill() called!")
                    self._eparse.clear()
                elif len(self._eparse) < 16:
                    self._eparse.append(byte)
        return data

    def _kill(self, reason: str) -> None:
        if self.emergency_at is None:
            self.emergency_at = time.monotonic()
        if not self.halted:
            self.halted = True
            self.clear_rx()
            self.send(f"Error:{reason}")

    # -- line protocol ------------------------------------------------------------------
    def _line_error(self, message: str) -> None:
        self.resend_requests += 1
        self.send(f"Error:{message}, Last Line: {self.last_n}")
        self.send(f"Resend: {self.last_n + 1}")
        self.send("ok")

    def handle_line(self, line: bytes) -> None:
        """Check line number and checksum, then execute, or ask for a resend."""
        if self.halted:
            return
        match = _NUMBERED.match(line)
        if match is None:
            self.execute(line.decode("ascii", "replace").strip())
            return
        number = int(match.group(1))
        if self.faults.hit(self.faults.drop):
            return
        if self.faults.hit(self.faults.corrupt):
            line = self.faults.garble(line)
            match = _NUMBERED.match(line)
            if match is None:
                self._line_error("No Line Number with checksum")
                return
            number = int(match.group(1))
        body, star = match.group(2), match.group(3)
        if star is None:
            self._line_error("No Checksum with line number")
            return
        if checksum(line[:line.rindex(b"*")].strip()) != int(star):
            self._line_error("checksum mismatch")
            return
        text = body.decode("ascii", "replace")
        if command_word(text) == "M110":
            value = re.search(r"N(-?\d+)", text[4:])
            self.last_n = int(value.group(1)) if value else number
            self.received_commands.append(text)
            self.send("ok")
            return
        if number != self.last_n + 1:
            self._line_error("Line Number is not Last Line Number+1")
            return
        self.last_n = number
        if self.faults.disconnect_at == number:
            self.disconnect()
            return
        if number in self.faults.error_at:
            self.send("Error:Thermal Runaway, system stopped! Heater_ID: 0")
            self._kill("Printer halted. kill() called!")
            return
        self.execute(text, acknowledge=number not in self.faults.lose_ok, number=number)

    def execute(self, text: str, acknowledge: bool = True, number: int | None = None) -> None:
        """Run one command (line ``number``, if numbered) and reply to it."""
        self.received_commands.append(text)
        word = command_word(text)
        params = {k: float(v) for k, v in _PARAM.findall(text.upper()[len(word):])}
        reply = self._run(word, text, params)
        if word == "M112":
            return
        self.executed.append(text)
        if number is not None:
            self.executed_numbered.append((number, text))
        if acknowledge:
            self.send("ok" + (f" {reply}" if reply else ""))

    def _run(self, word: str, text: str, params: dict[str, float]) -> str:
        if word in ("G0", "G1", "G2", "G3"):
            self._move(params)
        elif word in ("G4",):
            self._busy_wait(params.get("S", 0.0) + params.get("P", 0.0) / 1000.0)
        elif word == "G28":
            self.position.update({axis: 0.0 for axis in "XYZ"})
        elif word == "G92":
            self.position.update({a: v for a, v in params.items() if a in self.position})
        elif word in ("M104", "M109", "M140", "M190"):
            self._set_temperature(word, params)
        elif word == "M105":
            return self.temperature_report()
        elif word == "M114":
            self.send(" ".join(f"{a}:{v:.2f}" for a, v in self.position.items())
                      + " Count X:0 Y:0 Z:0")
        elif word == "M115":
            self._report_firmware()
        elif word == "M155":
            self.autoreport_s = int(params.get("S", 0))
            self._start_autoreport()
        elif word == "M112":
            self._kill("Printer halted. kill() called!")
        elif word[:1] in "GM" and word not in KNOWN:
            self.send(f'echo:Unknown command: "{text}"')
        return ""

    def _move(self, params: dict[str, float]) -> None:
        self.feed = params.get("F", self.feed)
        distance = sum((params[a] - self.position[a]) ** 2 for a in "XYZ" if a in params) ** 0.5
        self.position.update({a: v for a, v in params.items() if a in self.position})
        if self.motion_time_scale and self.feed > 0:
            time.sleep(distance / (self.feed / 60.0) * self.motion_time_scale)

    def _busy_wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, self.busy_interval_s))
            if end - time.monotonic() > 0:
                self.send("echo:busy: processing")

    def _set_temperature(self, word: str, params: dict[str, float]) -> None:
        heater = "T" if word in ("M104", "M109") else "B"
        target = params.get("S", params.get("R", 0.0))
        self.temps[heater] = [target if target > 0 else 21.0, target]

    def temperature_report(self) -> str:
        """Marlin's temperature line, e.g. ``T:210.00 /210.00 B:60.00 /60.00 @:0 B@:0``."""
        (t, tt), (b, bt) = self.temps["T"], self.temps["B"]
        return f"T:{t:.2f} /{tt:.2f} B:{b:.2f} /{bt:.2f} @:0 B@:0"

    def _report_firmware(self) -> None:
        self.send("FIRMWARE_NAME:Marlin 2.1.2.1 (fabhub simulator) SOURCE_CODE_URL:"
                  "github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 MACHINE_TYPE:"
                  "3D Printer EXTRUDER_COUNT:1 UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff")
        for name, value in self.capabilities.items():
            self.send(f"Cap:{name}:{value}")

    def _start_autoreport(self) -> None:
        if self._report_timer is not None or not self.autoreport_s:
            return

        def report() -> None:
            """Send the temperatures every ``autoreport_s`` seconds."""
            while not self._stop.wait(max(self.autoreport_s, 1)):
                if self.autoreport_s and not self.halted:
                    self.send(" " + self.temperature_report())

        self._report_timer = threading.Thread(target=report, name="sim-autoreport", daemon=True)
        self._report_timer.start()


KNOWN = {"G0", "G1", "G2", "G3", "G4", "G10", "G11", "G20", "G21", "G28", "G29", "G90", "G91",
         "G92", "M0", "M1", "M17", "M18", "M82", "M83", "M84", "M104", "M105", "M106", "M107",
         "M109", "M110", "M114", "M115", "M117", "M140", "M155", "M190", "M201", "M203",
         "M204", "M205", "M220", "M221", "M400", "M500", "M501", "M502", "M503", "M900"}
