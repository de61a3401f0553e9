"""Enough of Grbl 1.1's G-code block parser to give the error codes it would give."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LINE_BUFFER_SIZE = 80  # Grbl's LINE_BUFFER_SIZE; longer lines are error 11
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)")
MOTION = {0.0, 1.0, 2.0, 3.0, 38.2, 38.3, 38.4, 38.5, 80.0}
G_SUPPORTED = MOTION | {4.0, 10.0, 17.0, 18.0, 19.0, 20.0, 21.0, 28.0, 28.1, 30.0, 30.1, 40.0,
                       43.1, 49.0, 53.0, 54.0, 55.0, 56.0, 57.0, 58.0, 59.0, 61.0, 90.0, 91.0,
                       91.1, 92.0, 92.1, 93.0, 94.0}
M_SUPPORTED = {0, 1, 2, 3, 4, 5, 7, 8, 9, 30, 56}
VALUE_LETTERS = set("FIJKLNPRSTXYZ")


@dataclass
class ParserState:
    """Modal state that survives between blocks."""

    motion: float = 0.0
    feed: float = 0.0
    inverse_time: bool = False
    position: dict[str, float] = field(default_factory=lambda: {"X": 0.0, "Y": 0.0, "Z": 0.0})
    relative: bool = False
    spindle: float = 0.0


@dataclass(frozen=True)
class Block:
    """A parsed, accepted block: its motion (if any) and target."""

    motion: float | None
    target: dict[str, float]
    feed: float
    dwell_s: float = 0.0


def normalise(raw: str) -> tuple[str, int | None]:
    """Upper-case ``raw`` without spaces and comments; or an error code (11: too long)."""
    text = re.sub(r"\([^)]*\)", "", raw)
    text = text.split(";", 1)[0]
    text = "".join(text.split()).upper()
    if len(text) >= LINE_BUFFER_SIZE:
        return text, 11
    return text, None


def parse_block(text: str, state: ParserState) -> Block | int:
    """Parse a normalised block; return it, or Grbl's error code, updating ``state`` only
    when the block is accepted (Grbl executes a block whole or not at all)."""
    words: list[tuple[str, str]] = []
    at = 0
    while at < len(text):
        if not "A" <= text[at] <= "Z":
            return 1
        number = _NUMBER.match(text, at + 1)
        if number is None:
            return 2
        words.append((text[at], number.group()))
        at = number.end()
    seen: set[str] = set()
    g_codes: list[float] = []
    values: dict[str, float] = {}
    for letter, number in words:
        value = float(number)
        if letter == "G":
            if value not in G_SUPPORTED:
                return 20
            g_codes.append(value)
        elif letter == "M":
            if value != int(value) or int(value) not in M_SUPPORTED:
                return 20
        elif letter in VALUE_LETTERS:
            if letter in seen:
                return 25
            seen.add(letter)
            values[letter] = value
        else:
            return 20
    motions = [g for g in g_codes if g in MOTION]
    if len(motions) > 1:
        return 21
    motion = motions[0] if motions else state.motion
    axes = {a: v for a, v in values.items() if a in "XYZ"}
    feed = values.get("F", state.feed)
    if 4.0 in g_codes:
        if "P" not in values:
            return 28
        return Block(None, {}, feed, dwell_s=values["P"])
    moves = (bool(axes) and not {10.0, 28.0, 30.0, 92.0, 53.0} & set(g_codes)) or bool(motions)
    if moves and motion in (1.0, 2.0, 3.0) and feed <= 0:
        return 22
    if motion in (2.0, 3.0) and moves and not {"I", "J", "R"} & set(values):
        return 35
    if motions and motion != 80.0 and not axes:
        return 26
    state.feed = feed
    state.motion = motion
    state.relative = (state.relative or 91.0 in g_codes) and 90.0 not in g_codes
    state.spindle = values.get("S", state.spindle)
    if not moves:
        return Block(None, {}, feed)
    target = dict(state.position)
    for axis, value in axes.items():
        target[axis] = target[axis] + value if state.relative else value
    state.position = dict(target)
    return Block(motion, target, feed)
