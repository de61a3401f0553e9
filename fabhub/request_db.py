"""The request's own database connection, lent from the app's pool and returned at teardown.

Opening a SQLite connection (and its pragmas) and closing it cost more than a node's
whole report, so connections are kept: a request borrows one, nothing else uses it
meanwhile, and it goes back with no transaction open.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app, g

from fabhub.db import Database, connect

POOL_KEY = "fabhub_db_pool"


class ConnectionPool:
    """Idle connections to one database file, lent one request at a time."""

    def __init__(self, path: str, busy_timeout_ms: int, keep: int = 128) -> None:
        self.path, self.busy_timeout_ms, self.keep = path, busy_timeout_ms, keep
        self._idle: list[Database] = []
        self._lock = threading.Lock()

    def borrow(self) -> Database:
        """An idle connection, or a new one when none is idle."""
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return connect(self.path, self.busy_timeout_ms, shared=True)

    def give_back(self, db: Database) -> None:
        """Take a connection back (rolled back if a failure left a transaction open)."""
        if db.conn.in_transaction:
            db.conn.rollback()
        with self._lock:
            if len(self._idle) < self.keep:
                self._idle.append(db)
                return
        db.conn.close()

    def close(self) -> None:
        """Close every idle connection (borrowed ones close when given back after this)."""
        with self._lock:
            idle, self._idle, self.keep = self._idle, [], 0
        for db in idle:
            db.conn.close()


def get_db() -> Database:
    """The current request's connection, borrowed on first use."""
    if "db" not in g:
        g.db = current_app.extensions[POOL_KEY].borrow()
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    """Give the request's connection back, if it borrowed one."""
    db = g.pop("db", None)
    if db is not None:
        current_app.extensions[POOL_KEY].give_back(db)


def init_app(app: Flask) -> None:
    """Give ``app`` a connection pool and return connections at teardown."""
    app.extensions[POOL_KEY] = ConnectionPool(app.config["DATABASE"],
                                              app.config["SQLITE_BUSY_TIMEOUT_MS"])
    app.teardown_appcontext(close_db)
