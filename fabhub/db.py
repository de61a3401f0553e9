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


class Database(sqlite_utils.Database):
    """A sqlite-utils database whose outermost :meth:`atomic` block is a write transaction.

    Every ``atomic()`` outside a transaction goes through :func:`write_lock`, so a
    transaction that reads and then writes never fails to upgrade its lock, and the
    hub's threads take turns in one queue instead of SQLite's coarse busy handler.
    Nested blocks stay savepoints.
    """

    busy_timeout_s: float = 5.0

    @contextmanager
    def atomic(self) -> Iterator[Database]:  # type: ignore[override]
        """A write transaction (BEGIN IMMEDIATE), or a savepoint inside one."""
        with write_transaction(self):
            yield self


def connect(path: str | Path, busy_timeout_ms: int = 5000, *,
            shared: bool = False) -> Database:
    """Open the database at ``path`` with fabhub's pragmas applied.

    ``shared`` connections may be handed from thread to thread (a pool does that,
    one user at a time); others stay with the thread that opened them.
    """
    conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000,
                           check_same_thread=not shared)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA journal_mode = WAL")
    # NORMAL is durable against application crashes (kill -9) in WAL mode; only a
    # power cut can lose the last transactions, never consistency.
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    db = Database(conn)
    db.busy_timeout_s = busy_timeout_ms / 1000
    return db


@contextmanager
def opened(path: str | Path, busy_timeout_ms: int = 5000) -> Iterator[Database]:
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
def writer_turn(db: sqlite_utils.Database) -> Iterator[None]:
    """This thread's turn among the process's writers; the caller begins its transaction."""
    wait_s = getattr(db, "busy_timeout_s", None)
    if wait_s is None:
        wait_s = db.conn.execute("PRAGMA busy_timeout").fetchone()[0] / 1000
    if not _WRITERS.acquire(timeout=wait_s):
        raise sqlite3.OperationalError("database is locked")
    try:
        yield
    finally:
        _WRITERS.release()


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """A :func:`write_lock` transaction, or a savepoint inside the caller's transaction."""
    if db.conn.in_transaction:
        with sqlite_utils.Database.atomic(db):
            yield
    else:
        with write_lock(db):
            yield


@contextmanager
def write_lock(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A transaction that takes SQLite's write lock at once (``BEGIN IMMEDIATE``).

    Work that reads and then writes on what it read (a scheduling pass) runs
    inside one, so two such passes, in threads or processes, never interleave.
    """
    with writer_turn(db):
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")
