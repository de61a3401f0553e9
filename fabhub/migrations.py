"""Schema migrations, applied in order by ``fabhub init``; never destructive.

Each migration is a decorated function that runs in its own transaction. Add new
migrations at the end; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

migrations = Migrations("fabhub")


@migrations()
def m001_members(db: sqlite_utils.Database) -> None:
    """Members, their roles, API tokens and the login-failure log."""
    db.execute(
        """
        CREATE TABLE members (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE COLLATE NOCASE,
            display_name TEXT NOT NULL,
            email TEXT,
            role TEXT NOT NULL CHECK (role IN ('maker', 'gatekeeper', 'admin')),
            password_hash TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            member_id INTEGER NOT NULL REFERENCES members(id),
            label TEXT NOT NULL,
            secret_sha256 TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        )
        """
    )
    db.execute("CREATE INDEX api_tokens_member ON api_tokens(member_id)")
    db.execute(
        """
        CREATE TABLE login_failures (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            address TEXT NOT NULL,
            at REAL NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX login_failures_account ON login_failures(account, at)")
    db.execute("CREATE INDEX login_failures_address ON login_failures(address, at)")


def apply(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations; return the names of those applied (empty if none)."""
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    return pending


def pending_names(db: sqlite_utils.Database) -> list[str]:
    """Names of migrations not yet applied to ``db``."""
    return [m.name for m in migrations.pending(db)]
