"""SQLite access: one connection per request or thread, WAL mode, foreign keys on.

Connections are never shared across threads: request handlers use :func:`get_db`,
which keeps one connection on Flask's ``g`` and closes it at teardown; background
work and the CLI call :func:`connect` and close what they open.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils
from flask import Flask, current_app, g


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


def get_db() -> sqlite_utils.Database:
    """The current request's connection, opened on first use."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"], current_app.config["SQLITE_BUSY_TIMEOUT_MS"])
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    """Close the request's connection, if one was opened."""
    db = g.pop("db", None)
    if db is not None:
        db.conn.close()


def init_app(app: Flask) -> None:
    """Register connection teardown on ``app``."""
    app.teardown_appcontext(close_db)
