"""Schema migrations, applied in order by ``fabhub init``; never destructive.

Each component owns its tables and its own migration set (sqlite-utils keeps
sets apart by name); :data:`MIGRATION_SETS` lists them in the order they apply.
Each migration is a decorated function that runs in its own transaction. Add new
migrations at the end of their set; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

from fabhub.jobqueue.migrations import migrations as queue_migrations
from fabhub.ledger import schema as ledger_schema
from fabhub.nodes.migrations import migrations as node_migrations

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


@migrations()
def m002_machines(db: sqlite_utils.Database) -> None:
    """Machines: the resources the trust owns (the queue issue extends this table)."""
    db.execute(
        """
        CREATE TABLE machines (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            machine_class TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('fdm', 'laser', 'cnc')),
            state TEXT NOT NULL DEFAULT 'offline',
            profile_toml TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        )
        """
    )


# Component sets in the order they apply; a set may refer to tables of those before it.
MIGRATION_SETS: tuple[Migrations, ...] = (
    migrations, ledger_schema.migrations, queue_migrations, node_migrations,
)


def apply(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations of every set; return ``set/name`` of those applied."""
    applied: list[str] = []
    for migration_set in MIGRATION_SETS:
        applied.extend(f"{migration_set.name}/{m.name}" for m in migration_set.pending(db))
        migration_set.apply(db)
    return applied


def pending_names(db: sqlite_utils.Database) -> list[str]:
    """``set/name`` of every migration not yet applied to ``db``."""
    return [f"{s.name}/{m.name}" for s in MIGRATION_SETS for m in s.pending(db)]
