"""One pass over a G-code file's bytes: positions, moves, bounds, filament and time.

Each block of lines is tokenised at once (:mod:`fabhub.jobs.gcode_tokens`); runs of plain
``G0``/``G1``/``G92`` lines are applied at once (:mod:`fabhub.jobs.gcode_runs`), short
runs through :meth:`Scanner.move`. Every other line goes through :meth:`Scanner.general`,
which tokenises it fully (line numbers, checksums, ``(...)`` comments, several commands on a
line) and dispatches to :mod:`fabhub.jobs.gcode_handlers`. Memory stays bounded: the
file is read in blocks, and the planner keeps bounded batches of moves.
"""

from __future__ import annotations

import re
from math import inf, nan, sqrt
from typing import BinaryIO

import numpy as np

from fabhub.jobs.analysis_model import AnalysisError
from fabhub.jobs.arcs import arc_move
from fabhub.jobs.firmware_families import FirmwareFamily
from fabhub.jobs.gcode_runs import LIMIT, apply_run
from fabhub.jobs.gcode_tokens import COMMENT, OTHER, PLAIN, Tokens, tokenize
from fabhub.jobs.motion_planner import Planner
from fabhub.jobs.scan_state import Box, Heater
from fabhub.jobs.slicer_comments import INTERESTING, SlicerComments

BLOCK_BYTES = 1 << 18
MAX_LINE_BYTES = 1 << 20
BGCODE_MAGIC = b"GCDE"
ARC_HEADS = {b"G2": 2, b"G02": 2, b"G3": 3, b"G03": 3}
ARC_CHARS = b"0123456789.-+ \t\rGXYZEFIJKR"
NUMBER = rb"[-+]?(?:\d+\.?\d*|\.\d+)"
# A word is a letter and a number; axis letters may stand alone (G28 X Y, M84 E).
WORD = re.compile(rb"([A-Z])\s*(" + NUMBER + rb")?")
WORDS_LINE = re.compile(rb"\s*(?:(?:[A-Z]\s*" + NUMBER + rb"|[XYZEABC])\s*)+")
LINE_NUMBER = re.compile(rb"\s*N\s*\d+")
CHECKSUM = re.compile(rb"\*\s*(\d+)\s*$")
PAREN_COMMENT = re.compile(rb"\([^)]*(?:\)|$)")
EXTENDED = re.compile(rb"\s*[A-Z][A-Z0-9]*_[A-Z0-9_]*(?:\s.*)?")
GRBL_SYSTEM = re.compile(rb"\$(\d+|[A-Z]{1,4}|[$#])?(=?)")
MAX_ARGUMENT = 1000
# Runs of at least this many plain lines are applied at once (see gcode_runs).
BATCH_LINES = 24
MAX_EXTENDED = 256  # distinct extended (Klipper-style) commands recorded
# Commands whose argument is free text (a file name, a message, a printer name).
TEXT_COMMANDS = frozenset({"M23", "M28", "M29", "M30", "M32", "M33", "M117", "M118", "M928",
                           "M862.1", "M862.2", "M862.3", "M862.4", "M862.5", "M862.6"})
# Heating and cooling rates in °C/s when no machine says otherwise.
HOTEND_RATE = 2.0
BED_RATE = 0.5


def read_blocks(stream: BinaryIO):
    """Yield blocks of about 256 KiB of whole lines, each ending with ``\\n``."""
    rest = b""
    first = True
    while True:
        block = stream.read(BLOCK_BYTES)
        if not block:
            break
        if first:
            first = False
            if block.startswith(BGCODE_MAGIC):
                raise AnalysisError(
                    "this is Prusa binary G-code (.bgcode); export plain G-code instead "
                    "(PrusaSlicer: Printer Settings > General > Firmware > Binary G-code off)",
                    "binary_gcode")
        if b"\x00" in block:
            raise AnalysisError("this is a binary file (it contains NUL bytes), not G-code text",
                                "binary_file")
        if rest:
            block = rest + block
        cut = block.rfind(b"\n") + 1
        block, rest = block[:cut], block[cut:]
        if len(rest) > MAX_LINE_BYTES:
            raise AnalysisError("a line is longer than 1 MiB; this is not a G-code file",
                                "line_too_long")
        if block:
            yield block
    if rest:
        yield rest + b"\n"


def _read_words(raw: bytes) -> list[float]:
    """X Y Z E F of a plain line read with ``float`` (NaN when absent)."""
    row = [nan] * 5
    semi = raw.find(b";")
    for word in (raw if semi < 0 else raw[:semi]).split()[1:]:
        row[b"XYZEF".index(word[:1])] = float(word[1:])
    return row


def command_name(letter: str, value: bytes) -> str | None:
    """``G``/``M``/``T`` and a number as a command name: ``G01`` -> ``G1``, ``T3`` -> ``T``.

    ``None`` for numbers no firmware uses (negative, 10000 or more, two decimals)."""
    if letter == "T":
        return "T"
    text = value.decode()
    if text.startswith(("-", "+")):
        return None  # no firmware has such a command
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    number = int(whole) if whole else 0
    if number >= 10000 or len(frac) > 1:
        return None
    return f"{letter}{number}" + (f".{frac}" if frac else "")


class Scanner:
    """The machine state while a file is read; see the module docstring."""

    def __init__(self, planner: Planner, family: FirmwareFamily | None,
                 heat_rates: tuple[float, float] = (HOTEND_RATE, BED_RATE)) -> None:
        self.planner = planner
        self.family = family
        self.comments = SlicerComments()
        self.line = 0
        self.x = self.y = self.z = self.e = 0.0
        self.relative = self.relative_e = False
        self.scale = 1.0
        self.feed = 25.0  # mm/s until a file sets F
        self.speed_factor = 1.0
        self.flow = 1.0
        self.tool = 0
        self.motion = 0
        self.plane = 17
        self.tool_on = False  # M3/M4 active
        self.spindle_s = 0.0
        # G0 at the machine's top speed (Grbl) or at the modal F (Marlin); None: decide
        # from the file (rapid until it shows it is for a printer).
        self.rapid_g0 = None if family is None else not family.supports_kinematics_commands
        self.boxes = {"extrude": Box(), "tool": Box(), "feed": Box(), "rapid": Box()}
        self.filament: dict[int, float] = {}
        self.hotends: dict[int, Heater] = {}
        self.bed = Heater(heat_rates[1])
        self.hotend_rate = heat_rates[0]
        self.heating_s = 0.0
        self.dwell_s = 0.0
        self.dwell_p = 0.0  # G4 P: milliseconds on printers, seconds on Grbl
        self.dwell_p_tool_on = 0.0
        self.dwell_s_tool_on = 0.0
        self.peaks: dict[str, tuple[float, int]] = {}
        self.commands: dict[str, int] = {}
        self.unknown: dict[str, int] = {}
        self.notes: dict[str, int] = {}  # warning text -> first line
        self.invalid_lines = 0
        self.extended = 0
        self.first_invalid = 0
        self.valid_lines = 0
        self.cut_length = 0.0
        self.feed_length = 0.0
        self.layers_z = 0
        self.layer_z = -inf
        self.extruded = False
        self.feed_below_zero = False
        self.tool_on_z_move = False
        self.extruding = False  # the last move extruded
        self.used = 0.0  # filament pushed by the current tool since the last command

    def invalid_line(self) -> None:
        """Count the current line as not G-code."""
        self.invalid_lines += 1
        if not self.first_invalid:
            self.first_invalid = self.line

    def note(self, text: str) -> None:
        """Record a warning once, with the first line it applies to."""
        self.notes.setdefault(text, self.line)

    def now(self) -> float:
        """Machine time so far, for the heater model (P dwells as milliseconds)."""
        self.planner.settle()
        return (self.planner.total_s + self.heating_s + self.dwell_s
                + self.dwell_p / 1000.0)

    def hotend(self, tool: int) -> Heater:
        """The heater of ``tool``'s hotend."""
        heater = self.hotends.get(tool)
        if heater is None:
            heater = self.hotends[tool] = Heater(self.hotend_rate)
        return heater

    def run(self, stream: BinaryIO) -> None:
        """Read the whole stream (see the module docstring)."""
        for block in read_blocks(stream):
            self._block(block, tokenize(block))
        self._flush_filament()

    def _flush_filament(self) -> None:
        if self.used:
            self.filament[self.tool] = self.filament.get(self.tool, 0.0) + self.used
            self.used = 0.0

    def _block(self, block: bytes, tokens: Tokens) -> None:
        """Apply one block of whole lines: runs of plain lines at once, others one by one."""
        base = self.line
        kind, starts, ends = tokens.kind, tokens.starts, tokens.ends
        for i in np.flatnonzero(kind == COMMENT).tolist():
            raw = block[starts[i]:ends[i]]
            if raw.startswith(INTERESTING):
                self.comments.feed(raw)
        others = np.flatnonzero(kind == OTHER)
        plain = np.flatnonzero(kind == PLAIN)
        # The plain lines before each other line, and after the last one.
        cuts = [*np.searchsorted(plain, others).tolist(), len(plain)]
        lo = 0
        for i, cut in zip([*others.tolist(), None], cuts, strict=True):
            if cut > lo:
                self._plain(block, tokens, plain[lo:cut], base)
                lo = cut
            if i is not None:
                self.line = base + i + 1
                self._general_line(block[starts[i]:ends[i]])
        self.line = base + len(kind)

    def _plain(self, block: bytes, tokens: Tokens, index: np.ndarray, base: int) -> None:
        """Plain lines (see :mod:`fabhub.jobs.gcode_tokens`): at once, or one by one when
        there are few of them or the run needs the line-by-line path."""
        head, values = tokens.head[index], tokens.values[index]
        if (len(index) >= BATCH_LINES and not tokens.long[index].any()
                and apply_run(self, head, values, index + base + 1)):
            return
        for i, code, row in zip(index.tolist(), head.tolist(), values.tolist(), strict=True):
            self.line = base + i + 1
            raw = block[tokens.starts[i]:tokens.ends[i]]
            if code > 1:
                self._general_line(raw)
                continue
            if tokens.long[i]:
                try:
                    row = _read_words(raw)
                except ValueError:
                    self._general_line(raw)
                    continue
            self.valid_lines += 1
            self.commands.setdefault(f"G{code}", self.line)
            self.motion = code
            self.move(code, *(None if v != v else v for v in row[:5]))

    def _general_line(self, raw: bytes) -> None:
        """Any line but a plain one; runs its move if it has one."""
        self._flush_filament()
        semi = raw.find(b";")
        code = raw if semi < 0 else raw[:semi]
        words = code.split()
        move = self.general(code, words) if words else None
        self.extruding = False
        if move is not None:
            self.move(*move)

    def move(self, motion: int, nx: float | None, ny: float | None, nz: float | None,
             ne: float | None, nf: float | None) -> None:
        """One straight move (axis words in file units, ``None`` when absent)."""
        scale = self.scale
        if nf is not None and 0 < nf < LIMIT:
            self.feed = nf * scale / 60.0
        x, y, z = self.x, self.y, self.z
        if self.relative:
            tx = x if nx is None else x + nx * scale
            ty = y if ny is None else y + ny * scale
            tz = z if nz is None else z + nz * scale
        else:
            tx = x if nx is None else nx * scale
            ty = y if ny is None else ny * scale
            tz = z if nz is None else nz * scale
        if not (-LIMIT < tx < LIMIT and -LIMIT < ty < LIMIT and -LIMIT < tz < LIMIT
                and (ne is None or -LIMIT < ne < LIMIT)):
            self.note("a move beyond 1000 km was skipped")
            return
        de = 0.0
        if ne is not None:
            if self.relative_e:
                de = ne * scale
                self.e += de
            else:
                de = ne * scale - self.e
                self.e = ne * scale
        dx, dy, dz = tx - x, ty - y, tz - z
        speed = self.feed * self.speed_factor
        if motion == 0 and self.rapid_g0:  # Grbl: G0 at top speed; F only sets G1
            speed = inf
        n = self.line
        tagging = self.tool_on and self.spindle_s > 0
        if dx or dy or dz:
            boxes = self.boxes
            if de > 0:
                self.extruded = True
                if self.rapid_g0 is None:
                    self.rapid_g0 = False
                box = boxes["extrude"]
                if not self.extruding:
                    box.add(x, y, z, n)
                    self.extruding = True
                box.add(tx, ty, tz, n)
                box.moves += 1
                if tz > self.layer_z + 1e-6:
                    self.layer_z = tz
                    self.layers_z += 1
            else:
                self.extruding = False
                if motion and self.tool_on:
                    box = boxes["tool"]
                    box.add(x, y, z, n)
                    self.tool_on_z_move = self.tool_on_z_move or bool(dz)
                    if tagging:
                        self.cut_length += sqrt(dx * dx + dy * dy + dz * dz)
                elif motion:
                    box = boxes["feed"]
                    self.feed_length += sqrt(dx * dx + dy * dy + dz * dz)
                    self.feed_below_zero = self.feed_below_zero or tz < 0
                else:
                    box = boxes["rapid"]
                box.add(tx, ty, tz, n)
                box.moves += 1
            self.x, self.y, self.z = tx, ty, tz
        if de:
            self.used += de * self.flow
        self.planner.add(dx, dy, dz, de, speed, tagging and motion > 0)

    def count_arc(self, points: list[tuple[float, float, float]], de: float, length: float,
                  rises: bool) -> None:
        """Count an arc's bounding points, length and kind of work (as in :meth:`move`)."""
        if de > 0:
            box = self.boxes["extrude"]
            self.extruded = True
            if self.rapid_g0 is None:
                self.rapid_g0 = False
        elif self.tool_on:
            box = self.boxes["tool"]
            self.tool_on_z_move = self.tool_on_z_move or rises
            if self.spindle_s > 0:
                self.cut_length += length
        else:
            box = self.boxes["feed"]
            self.feed_length += length
            self.feed_below_zero = self.feed_below_zero or min(p[2] for p in points) < 0
        for x, y, z in points:
            box.add(x, y, z, self.line)
        box.moves += 1
        if de:
            self.filament[self.tool] = self.filament.get(self.tool, 0.0) + de * self.flow

    def general(self, code: bytes, words: list[bytes]) -> tuple | None:
        """Any line but a plain one: returns a linear move for :meth:`move`, or None."""
        from fabhub.jobs.gcode_handlers import run_line

        motion = ARC_HEADS.get(words[0])
        if motion is not None and self._plain_arc(code, words, motion):
            return None

        if b"(" in code:
            code = PAREN_COMMENT.sub(b" ", code)
        code = code.upper()
        if b"*" in code:
            code = self._checksum(code)
        match = LINE_NUMBER.match(code)
        if match:
            code = code[match.end():]
        stripped = code.strip()
        if not stripped:
            return None
        if stripped[:1] == b"$":
            self._grbl_system(stripped)
            return None
        if WORDS_LINE.fullmatch(code):
            return run_line(self, [(letter.decode(), value)
                                   for letter, value in WORD.findall(code)])
        head = WORD.match(stripped)
        if head and head.group(2) and head.group(1) in (b"M", b"G"):
            name = command_name(head.group(1).decode(), head.group(2))
            if name is not None and name in TEXT_COMMANDS:
                self.valid_lines += 1
                self.commands.setdefault(name, self.line)
                return None
        if EXTENDED.fullmatch(code):
            self.valid_lines += 1
            name = stripped.split()[0].decode()
            if name in self.commands or self.extended < MAX_EXTENDED:
                self.extended += name not in self.commands
                self.commands.setdefault(name, self.line)
            else:
                self.note("too many different extended commands; not all are listed")
            return None
        self.invalid_line()
        return None

    def _plain_arc(self, code: bytes, words: list[bytes], motion: int) -> bool:
        """Run a plain ``G2``/``G3 X Y Z E F I J K R`` line without the full tokenizer;
        ``False`` if the line needs it."""
        if code.translate(None, ARC_CHARS) or code.count(b"E") != code.count(b" E"):
            return False
        try:
            params = {chr(word[0]): float(word[1:]) for word in words[1:]}
        except ValueError:
            return False
        if not all(-LIMIT < value < LIMIT for value in params.values()):
            return False
        self.valid_lines += 1
        self.commands.setdefault(f"G{motion}", self.line)
        self.motion = motion
        if params.get("F", 0) > 0:
            self.feed = params["F"] * self.scale / 60.0
        arc_move(self, params, clockwise=motion == 2)
        return True

    def _checksum(self, code: bytes) -> bytes:
        match = CHECKSUM.search(code)
        if not match:
            return code
        body = code[:match.start()]
        checksum = 0
        for byte in body:
            checksum ^= byte
        if checksum != int(match.group(1)):
            self.note("a line's checksum does not match its text")
        return body

    def _grbl_system(self, text: bytes) -> None:
        match = GRBL_SYSTEM.match(text)
        rest = text[match.end():] if match else b""
        if not match or (rest and not match.group(2)) or len(rest) > MAX_ARGUMENT:
            self.invalid_line()
            return
        key, assigns = (match.group(1) or b"").decode(), match.group(2).decode()
        name = "$" + ("<N>" if key.isdigit() else key) + assigns
        self.valid_lines += 1
        self.commands.setdefault(name, self.line)
        if name == "$H":
            self.planner.stop()
