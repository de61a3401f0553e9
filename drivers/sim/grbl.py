"""A Grbl-1.1-like controller: 128-byte receive ring (127 usable), 15-block planner,
real-time ? ! ~ and soft reset, $ system commands, check mode, alarms, and faults."""

from __future__ import annotations

import threading
import time
from collections import deque

from fabhub.drivers.sim.device import PtyDevice
from fabhub.drivers.sim.faults import Faults
from fabhub.drivers.sim.grbl_parser import Block, ParserState, normalise, parse_block

BANNER = "Grbl 1.1h ['$' for help]"
PLANNER_BLOCKS = 15
EEPROM_WRITE_S = 0.02
SETTINGS = {0: "10", 1: "25", 2: "0", 3: "0", 10: "1", 11: "0.010", 12: "0.002", 13: "0",
            20: "0", 21: "0", 22: "0", 30: "1000", 31: "0", 32: "1", 100: "250.000",
            101: "250.000", 102: "250.000", 110: "500.000", 111: "500.000", 112: "500.000"}


class GrblSim(PtyDevice):
    """Grbl 1.1h as a host sees it over USB serial."""

    line_ending = b"\r\n"

    def __init__(self, *, baud: int | None = None, faults: Faults | None = None,
                 command_time_s: float = 0.0, motion_time_scale: float = 0.0,
                 rx_buffer_bytes: int = 127) -> None:
        super().__init__(baud=baud, faults=faults, rx_buffer_bytes=rx_buffer_bytes,
                         command_time_s=command_time_s)
        self.motion_time_scale = motion_time_scale
        self.state = "Idle"
        self.parser = ParserState()
        self.position = {"X": 0.0, "Y": 0.0, "Z": 0.0}
        self.planner: deque[Block] = deque()
        self.planner_cond = threading.Condition()
        self.block_count = 0
        self.settings = dict(SETTINGS)
        self.status_queries: list[float] = []
        self.resets: list[float] = []
        self.eeprom_losses = 0
        self.errors_sent: list[tuple[int, int]] = []  # (block number, code)
        self._eeprom_busy = False
        self._hold_since: float | None = None

    def on_start(self) -> None:
        """Print the boot banner and start the motion executor."""
        self.send("")
        self.send(BANNER)
        threading.Thread(target=self._execute_loop, name="sim-grbl-motion", daemon=True).start()

    # -- real-time characters are picked off as they arrive ----------------------------
    def on_arrival(self, data: bytes) -> bytes:
        """Act on real-time characters at once; the rest goes to the buffer."""
        if self._eeprom_busy:
            self.eeprom_losses += len(data)
            return b""
        if not any(c in data for c in b"?!~\x18") and max(data, default=0) < 0x80:
            return data
        kept = bytearray()
        for byte in data:
            if byte == 0x3F:
                self.status_queries.append(time.monotonic())
                self.send(self.status_report())
            elif byte == 0x21:
                self._feed_hold()
            elif byte == 0x7E:
                self._cycle_start()
            elif byte == 0x18:
                self._soft_reset()
            elif byte < 0x80:
                kept.append(byte)
        return bytes(kept)

    def status_report(self) -> str:
        """A Grbl 1.1 status report, e.g. ``<Idle|MPos:0.000,0.000,0.000|Bf:15,127|...>``."""
        x, y, z = (self.position[a] for a in "XYZ")
        with self.planner_cond:
            free_blocks = PLANNER_BLOCKS - len(self.planner)
        return (f"<{self.state}|MPos:{x:.3f},{y:.3f},{z:.3f}|Bf:{free_blocks},{self.rx_free()}"
                f"|FS:{self.parser.feed:.0f},{self.parser.spindle:.0f}|Ov:100,100,100>")

    def _feed_hold(self) -> None:
        with self.planner_cond:
            if self.state == "Run":
                self.state = "Hold:1"
                self._hold_since = time.monotonic()
            self.planner_cond.notify_all()

    def _cycle_start(self) -> None:
        with self.planner_cond:
            if self.state.startswith("Hold"):
                self.state = "Run" if self.planner else "Idle"
            self.planner_cond.notify_all()

    def _soft_reset(self) -> None:
        now = time.monotonic()
        self.resets.append(now)
        if self.emergency_at is None:
            self.emergency_at = now
        with self.planner_cond:
            moving = self.state == "Run" and bool(self.planner)
            self.planner.clear()
            self.state = "Alarm" if moving or self.state == "Alarm" else "Idle"
            self.planner_cond.notify_all()
        self.clear_rx()
        self.parser = ParserState(position=dict(self.position))
        if moving:
            self.send("ALARM:3")
        self.send("")
        self.send(BANNER)
        if self.state == "Alarm":
            self.send("[MSG:'$H'|'$X' to unlock]")

    # -- the motion executor --------------------------------------------------------------
    def _execute_loop(self) -> None:
        while not self._stop.is_set():
            with self.planner_cond:
                if self.state == "Hold:1" and self._hold_since is not None and (
                        time.monotonic() - self._hold_since > 0.05 or not self.planner):
                    self.state = "Hold:0"
                if not self.planner or self.state.startswith("Hold"):
                    if self.state == "Run" and not self.planner:
                        self.state = "Idle"
                    self.planner_cond.wait(0.01)
                    continue
                block = self.planner[0]
            duration = self._duration(block)
            end = time.monotonic() + duration
            while time.monotonic() < end and not self._stop.is_set():
                if self.state.startswith("Hold") or self.state == "Alarm":
                    break
                time.sleep(min(0.005, max(end - time.monotonic(), 0)))
            with self.planner_cond:
                if self.state.startswith("Hold") or self.state == "Alarm" or not self.planner:
                    continue
                if self.planner[0] is block:
                    self.planner.popleft()
                    self.position.update(block.target)
                self.planner_cond.notify_all()

    def _duration(self, block: Block) -> float:
        if block.dwell_s:
            return block.dwell_s * self.motion_time_scale
        if not self.motion_time_scale or not block.target or block.feed <= 0:
            return 0.0
        distance = sum((block.target[a] - self.position[a]) ** 2 for a in "XYZ") ** 0.5
        return distance / (block.feed / 60.0) * self.motion_time_scale

    # -- lines ------------------------------------------------------------------------------
    def reply_ok(self) -> None:
        """Acknowledge a line (garbled on the way back if that fault strikes)."""
        if self.faults.hit(self.faults.corrupt_replies):
            self.send(self.faults.garble(b"ok").decode("latin-1"))
        else:
            self.send("ok")

    def reply_error(self, code: int) -> None:
        """Reject a line with ``error:<code>``."""
        self.errors_sent.append((self.block_count, code))
        self.send(f"error:{code}")

    def handle_line(self, line: bytes) -> None:
        """Parse and plan one block, or run a $ command; answer ok or error."""
        text, too_long = normalise(line.decode("ascii", "replace"))
        if text.startswith("$"):
            self._system_command(text)
            return
        if not text:
            self.reply_ok()
            return
        self.block_count += 1
        number = self.block_count
        if self.faults.disconnect_at == number:
            self.disconnect()
            return
        if self.state == "Alarm":
            self.reply_error(9)
            return
        if number in self.faults.alarm_at:
            self._alarm(self.faults.alarm_at[number])
            return
        code = too_long or self.faults.error_at.get(number)
        block = parse_block(text, self.parser) if code is None else code
        if isinstance(block, int):
            self.reply_error(block)
            return
        self.executed.append(text)
        if self.state != "Check" and (block.target or block.dwell_s):
            self._plan(block)
        if self.state != "Check" and not self.motion_time_scale and block.target:
            self.position.update(block.target)
        self.reply_ok()

    def _plan(self, block: Block) -> None:
        with self.planner_cond:
            while len(self.planner) >= PLANNER_BLOCKS and not self._stop.is_set():
                self.planner_cond.wait(0.05)
            self.planner.append(block)
            if self.state == "Idle":
                self.state = "Run"
            self.planner_cond.notify_all()

    def _alarm(self, code: int) -> None:
        with self.planner_cond:
            self.planner.clear()
            self.state = "Alarm"
        self.clear_rx()
        self.send(f"ALARM:{code}")

    def _system_command(self, text: str) -> None:
        if text == "$I":
            self.send("[VER:1.1h.20190825:]")
            self.send(f"[OPT:V,{PLANNER_BLOCKS},{self.rx_capacity + 1}]")
        elif text == "$$":
            for key, value in self.settings.items():
                self.send(f"${key}={value}")
        elif text == "$G":
            self.send(f"[GC:G{self.parser.motion:g} G54 G17 G21 G90 G94 M5 M9 T0 "
                      f"F{self.parser.feed:g} S{self.parser.spindle:g}]")
        elif text == "$X":
            if self.state == "Alarm":
                self.state = "Idle"
                self.send("[MSG:Caution: Unlocked]")
        elif text == "$C":
            self._toggle_check_mode()
            return
        elif text == "$H":
            self.position.update({"X": 0.0, "Y": 0.0, "Z": 0.0})
            self.state = "Idle"
        elif "=" in text and text[1:text.index("=")].isdigit():
            self._write_setting(int(text[1:text.index("=")]), text[text.index("=") + 1:])
        elif not text.startswith("$J=") and text not in ("$N", "$#", "$SLP", "$RST=*"):
            self.reply_error(3)
            return
        self.executed.append(text)
        self.reply_ok()

    def _write_setting(self, key: int, value: str) -> None:
        # Grbl disables interrupts while writing EEPROM: bytes arriving now are lost.
        self._eeprom_busy = True
        time.sleep(EEPROM_WRITE_S)
        self._eeprom_busy = False
        self.settings[key] = value

    def _toggle_check_mode(self) -> None:
        if self.state == "Check":
            self.send("[MSG:Disabled]")
            self.reply_ok()
            self._soft_reset()
            self.state = "Idle"
        elif self.state == "Idle":
            self.state = "Check"
            self.send("[MSG:Enabled]")
            self.reply_ok()
        else:
            self.reply_error(8)
