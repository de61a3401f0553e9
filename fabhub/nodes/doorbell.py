"""Wake the command long polls of every hub process when a command is issued.

A command is a row, so it reaches a node whichever process answers the node's long
poll. The process that issues a command wakes its own long polls at once; the other
workers of the server learn of it from a bell file beside the database that the issuer
rewrites: one watcher thread per process reads it every :data:`WATCH_S` while long
polls wait, and wakes them when it changed. Long polls still look at the table on
their own every few tenths of a second, so a lost ring only delays a command.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import sqlite_utils

WATCH_S = 0.05
IDLE_EXIT_S = 30.0

_rung = threading.Condition()
_generation = 0  # rings seen by this process; guarded by _rung
_lock = threading.Lock()
_bells: dict[Path, bytes] = {}  # bell file -> what it held when last read
_last_watch = 0.0
_watcher: threading.Thread | None = None


def bell_of(db: sqlite_utils.Database) -> Path | None:
    """The bell file of ``db``'s database (None for an in-memory database)."""
    file = db.execute("PRAGMA database_list").fetchone()[2]
    return Path(file + "-commands") if file else None


def _read(bell: Path) -> bytes:
    try:
        return bell.read_bytes()
    except FileNotFoundError:
        return b""


def _rang() -> None:
    global _generation
    with _rung:
        _generation += 1
        _rung.notify_all()


def ring(db: sqlite_utils.Database) -> None:
    """Wake long polls here at once, and in the other processes through the bell file."""
    bell = bell_of(db)
    if bell is not None:
        bell.write_bytes(str(time.time_ns()).encode())
    _rang()


def watch(bell: Path | None) -> int:
    """Listen to ``bell`` too (from now on); return the rings seen so far, for :func:`wait`.

    Call it before looking for commands, so a ring between the look and the wait
    is not lost.
    """
    global _last_watch, _watcher
    if bell is not None:
        with _lock:
            _last_watch = time.monotonic()
            if bell not in _bells:
                _bells[bell] = _read(bell)
            if _watcher is None:
                _watcher = threading.Thread(target=_watch, name="fabhub-doorbell",
                                            daemon=True)
                _watcher.start()
    with _rung:
        return _generation


def wait(seen: int, timeout_s: float) -> None:
    """Sleep until a ring after ``seen`` (from :func:`watch`), or ``timeout_s``."""
    with _rung:
        _rung.wait_for(lambda: _generation != seen, timeout=timeout_s)


def _watch() -> None:
    """Read the bells while someone listens; wake the waiters when one changed."""
    global _watcher
    while True:
        with _lock:
            if time.monotonic() - _last_watch > IDLE_EXIT_S:
                _bells.clear()
                _watcher = None
                return
            bells = list(_bells.items())
        changed = False
        for bell, seen in bells:
            now = _read(bell)
            if now != seen:
                with _lock:
                    _bells[bell] = now
                changed = True
        if changed:
            _rang()
        time.sleep(WATCH_S)
