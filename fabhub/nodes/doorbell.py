"""Wake the command long polls of every hub process when a command is issued.

A command is a row, so it reaches a node whichever process answers the node's long
poll. The process that issues a command wakes its own long polls at once; the other
workers of the server learn of it from a bell file beside the database that the issuer
rewrites (:class:`fabhub.bells.Bell`, suffix ``-commands``). Long polls still look at
the table on their own every few tenths of a second, so a lost ring only delays a command.
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from fabhub.bells import Bell

COMMANDS = Bell("-commands")


def bell_of(db: sqlite_utils.Database) -> Path | None:
    """The command bell file of ``db``'s database (None for an in-memory database)."""
    return COMMANDS.path_of(db)


def ring(db: sqlite_utils.Database) -> None:
    """Wake long polls here at once, and in the other processes through the bell file."""
    COMMANDS.ring(db)


def watch(bell: Path | None) -> int:
    """Listen to ``bell`` too (from now on); return the rings seen so far, for :func:`wait`.

    Call it before looking for commands, so a ring between the look and the wait
    is not lost.
    """
    return COMMANDS.watch(bell)


def wait(seen: int, timeout_s: float) -> None:
    """Sleep until a ring after ``seen`` (from :func:`watch`), or ``timeout_s``."""
    COMMANDS.wait(seen, timeout_s)
