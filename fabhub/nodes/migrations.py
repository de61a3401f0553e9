"""Tables owned by the nodes component (migration set ``nodes``)."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

from fabhub.db import execute_script

migrations = Migrations("nodes")


@migrations()
def n001_nodes(db: sqlite_utils.Database) -> None:
    """Nodes and their keys, job runs with leases and reports, commands, notifications."""
    execute_script(db, """
        CREATE TABLE nodes (
            id INTEGER PRIMARY KEY,
            machine_id INTEGER NOT NULL REFERENCES machines(id),
            name TEXT NOT NULL,
            code_sha256 TEXT UNIQUE,
            code_expires_epoch REAL,
            public_key BLOB,
            token_id TEXT UNIQUE,
            token_sha256 TEXT,
            hostname TEXT,
            agent_version TEXT,
            created_at TEXT NOT NULL,
            created_by INTEGER REFERENCES members(id),
            enrolled_at TEXT,
            revoked_at TEXT,
            last_seen_at TEXT,
            last_state TEXT,
            telemetry_json TEXT
        );
        CREATE INDEX nodes_machine ON nodes(machine_id);
        CREATE TABLE job_runs (
            job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
            node_id INTEGER NOT NULL REFERENCES nodes(id),
            claimed_at TEXT NOT NULL,
            lease_expires_epoch REAL NOT NULL,
            last_batch INTEGER NOT NULL DEFAULT 0,
            lines_acked INTEGER NOT NULL DEFAULT 0,
            lines_total INTEGER,
            percent REAL NOT NULL DEFAULT 0,
            progress_json TEXT,
            telemetry_json TEXT,
            outcome TEXT,
            end_reason TEXT,
            receipt_sha256 TEXT,
            ledger_index INTEGER
        );
        CREATE TABLE job_reports (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            batch INTEGER NOT NULL,
            type TEXT NOT NULL,
            at TEXT NOT NULL,
            data_json TEXT NOT NULL
        );
        CREATE INDEX job_reports_job ON job_reports(job_id, id);
        CREATE TABLE node_commands (
            id INTEGER PRIMARY KEY,
            node_id INTEGER NOT NULL REFERENCES nodes(id),
            job_id INTEGER REFERENCES jobs(id),
            type TEXT NOT NULL CHECK (type IN ('pause', 'resume', 'cancel', 'emergency_stop')),
            issued_at TEXT NOT NULL,
            issued_epoch REAL NOT NULL,
            issued_by INTEGER REFERENCES members(id),
            delivered_at TEXT,
            acked_at TEXT,
            result TEXT,
            detail TEXT
        );
        CREATE INDEX node_commands_pending ON node_commands(node_id, acked_at);
        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            machine_id INTEGER REFERENCES machines(id),
            job_id INTEGER REFERENCES jobs(id),
            message TEXT NOT NULL,
            read_at TEXT
        );
    """)
