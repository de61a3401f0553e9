"""The request's own database connection, kept on Flask's ``g`` and closed at teardown."""

from __future__ import annotations

import sqlite_utils
from flask import Flask, current_app, g

from fabhub.db import connect


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
