"""SQLite access: WAL mode, foreign keys on, a busy timeout; free of Flask.

Connections are never shared across threads: request handlers use
``fabhub.request_db.get_db``; background work and the CLI use :func:`opened`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils


def connect(path: str | Path, busy_timeout_ms: int = 5000) -> sqlite_utils.Database:
    """Open the database at ``path`` with fabhub's pragmas applied."""
    conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA journal_mode = WAL")
    # NORMAL is durable against application crashes (kill -9) in WAL mode; only a
    # power cut can lose the last transactions, never consistency.
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return sqlite_utils.Database(conn)


@contextmanager
def opened(path: str | Path, busy_timeout_ms: int = 5000) -> Iterator[sqlite_utils.Database]:
    """Open the database for a block of work outside a request, and close it after."""
    db = connect(path, busy_timeout_ms)
    try:
        yield db
    finally:
        db.conn.close()


def execute_script(db: sqlite_utils.Database, script: str) -> None:
    """Run several SQL statements inside the caller's transaction.

    Unlike ``sqlite3.Connection.executescript``, this never commits first, so a
    migration stays all-or-nothing. Statements are split where SQLite itself
    says one is complete, so triggers with inner semicolons stay whole.
    """
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            db.execute(pending)
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement at the end of a script: {pending.strip()!r}")


# Threads of one process queue for the write lock here instead of in SQLite's busy handler,
# which sleeps in coarse steps (up to 100 ms) while it waits.
_WRITERS = threading.RLock()


@contextmanager
def write_lock(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A transaction that takes SQLite's write lock at once (``BEGIN IMMEDIATE``).

    Work that reads and then writes on what it read (a scheduling pass) runs
    inside one, so two such passes, in threads or processes, never interleave.
    """
    wait_s = db.conn.execute("PRAGMA busy_timeout").fetchone()[0] / 1000
    if not _WRITERS.acquire(timeout=wait_s):
        raise sqlite3.OperationalError("database is locked")
    try:
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")
    finally:
        _WRITERS.release()
