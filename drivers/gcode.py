"""G-code line handling: comments, checksums, numbered lines, loading a job's commands."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fabhub.drivers.errors import JobError

_PAREN_COMMENT = re.compile(r"\([^)]*\)")


@dataclass(frozen=True)
class Command:
    """One command of a job: the text to send and the 1-based line of the file it came from."""

    file_line: int
    text: str


def strip_comment(line: str, paren_comments: bool) -> str:
    """``line`` without its ``;`` comment (and ``( )`` comments if the dialect has them)."""
    if paren_comments and "(" in line:
        line = _PAREN_COMMENT.sub("", line)
    cut = line.find(";")
    if cut >= 0:
        line = line[:cut]
    return line.strip()


def checksum(payload: bytes) -> int:
    """The RepRap checksum: XOR of every byte before the ``*``."""
    value = 0
    for byte in payload:
        value ^= byte
    return value


def numbered(number: int, command: str) -> bytes:
    """``N<number> <command>*<checksum>`` plus newline, as bytes for the wire."""
    payload = f"N{number} {command}".encode("ascii", "replace")
    return payload + b"*" + str(checksum(payload)).encode() + b"\n"


def read_commands(source: str | os.PathLike[str] | Iterable[str], *, paren_comments: bool,
                  max_line_bytes: int) -> list[Command]:
    """The commands of a job: from a file path, or from an iterable of lines.

    Comments and blank lines are dropped. A command that is not ASCII or is longer
    than ``max_line_bytes`` is a :class:`JobError` naming its line, because the
    firmware would reject or garble it.
    """
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            with path.open("rb") as handle:
                raw_lines = [raw.decode("utf-8", "replace") for raw in handle]
        except OSError as exc:
            raise JobError(f"cannot read job file {path}: {exc.strerror or exc}") from exc
        origin = str(path)
    else:
        raw_lines = list(source)
        origin = "job"
    commands: list[Command] = []
    for number, raw in enumerate(raw_lines, start=1):
        text = strip_comment(raw, paren_comments)
        if not text:
            continue
        if not text.isascii():
            raise JobError(f"{origin} line {number}: not plain ASCII ({text[:40]!r}); "
                           "firmware cannot take it. Fix the file and queue it again.")
        if len(text) + 1 > max_line_bytes:
            raise JobError(f"{origin} line {number}: {len(text) + 1} bytes, more than the "
                           f"{max_line_bytes} bytes the firmware accepts in one line")
        commands.append(Command(number, text))
    return commands


_WORD = re.compile(r"\s*(?:[Nn]\d+\s*)?(?:(\$)|([A-Za-z])\s*(\d+)(?:\.(\d+))?)")


def command_word(text: str) -> str:
    """The command word of a line, normalised: ``M109`` for ``m109 S200``, ``G1`` for
    ``N7 G01 X1``, ``G28.1`` for ``G28.1``, ``$`` for any Grbl system command."""
    match = _WORD.match(text)
    if not match:
        return ""
    if match.group(1):
        return "$"
    word = f"{match.group(2).upper()}{int(match.group(3))}"
    return f"{word}.{match.group(4)}" if match.group(4) else word
