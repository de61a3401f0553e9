"""The ledger's tables (migration set ``ledger``): append-only, enforced by triggers.

``ledger_entries`` holds each entry's canonical bytes; ``ledger_nodes`` every perfect
subtree hash keyed by ``level << 48 | index`` (leaves are level 0, so a leaf's key
is its index); ``ledger_facts`` what reports read, derived from each entry and
re-checked by ``verify``. Triggers refuse every UPDATE and DELETE on these tables:
the application never edits the ledger (a test can drop the triggers to simulate
tampering).
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

migrations = Migrations("ledger")

APPEND_ONLY_TABLES: tuple[str, ...] = (
    "ledger_entries", "ledger_nodes", "ledger_facts", "ledger_pseudonyms",
    "ledger_checkpoints", "ledger_receipts", "ledger_flags",
)


def protect(db: sqlite_utils.Database, table: str) -> None:
    """Install the triggers that make ``table`` append-only."""
    for action in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} BEFORE {action} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: record a correction "
            "instead'); END"
        )


@migrations()
def m001_ledger(db: sqlite_utils.Database) -> None:
    """Entries, tree nodes, report facts, pseudonyms, checkpoints, receipts and flags."""
    db.execute("CREATE TABLE ledger_entries (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL)")
    db.execute("CREATE TABLE ledger_nodes (id INTEGER PRIMARY KEY, hash BLOB NOT NULL)")
    db.execute(
        """
        CREATE TABLE ledger_facts (
            idx INTEGER PRIMARY KEY REFERENCES ledger_entries(idx),
            kind TEXT NOT NULL,
            action TEXT NOT NULL,
            member_id INTEGER NOT NULL REFERENCES members(id),
            machine_id INTEGER REFERENCES machines(id),
            machine_class TEXT,
            seconds INTEGER NOT NULL,
            milligrams INTEGER NOT NULL,
            began_at TEXT,
            ended_at TEXT,
            job_id INTEGER,
            corrects INTEGER REFERENCES ledger_entries(idx),
            work_type TEXT
        )
        """
    )
    db.execute("CREATE INDEX ledger_facts_member ON ledger_facts(member_id, action)")
    db.execute("CREATE INDEX ledger_facts_corrects ON ledger_facts(corrects)")
    db.execute("CREATE INDEX ledger_facts_ended ON ledger_facts(action, ended_at)")
    db.execute(
        """
        CREATE TABLE ledger_pseudonyms (
            member_id INTEGER PRIMARY KEY REFERENCES members(id),
            salt BLOB NOT NULL,
            pseudonym TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE ledger_checkpoints (
            id INTEGER PRIMARY KEY,
            size INTEGER NOT NULL,
            root BLOB NOT NULL,
            note TEXT NOT NULL,
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE ledger_receipts (
            job_id INTEGER PRIMARY KEY,
            receipt_sha256 TEXT NOT NULL,
            entry_idx INTEGER NOT NULL REFERENCES ledger_entries(idx),
            node_id INTEGER NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE ledger_flags (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL,
            node_id INTEGER NOT NULL,
            reason TEXT NOT NULL,
            receipt TEXT NOT NULL,
            created_at TEXT NOT NULL
        )
        """
    )
    for table in APPEND_ONLY_TABLES:
        protect(db, table)
