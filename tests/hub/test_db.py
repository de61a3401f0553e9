"""Database helpers: pragmas, and scripts that stay inside the caller's transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fabhub.db import connect, execute_script


def test_pragmas(tmp_path: Path) -> None:
    db = connect(tmp_path / "x.db", busy_timeout_ms=1234)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 1234


def test_failed_script_rolls_back_whole(tmp_path: Path) -> None:
    db = connect(tmp_path / "x.db")
    with pytest.raises(sqlite3.OperationalError), db.atomic():
        execute_script(db, """
            CREATE TABLE a (x INTEGER);
            CREATE TRIGGER a_no_delete BEFORE DELETE ON a
            BEGIN SELECT RAISE(ABORT, 'append-only'); END;
            CREATE TABLE a (y INTEGER);
        """)
    assert db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def test_incomplete_script_is_an_error(tmp_path: Path) -> None:
    db = connect(tmp_path / "x.db")
    with pytest.raises(ValueError, match="incomplete SQL"):
        execute_script(db, "CREATE TABLE a (x INTEGER)")
