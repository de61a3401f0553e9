"""Tables owned by the queue component (migration set ``queue``)."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

from fabhub.db import execute_script

migrations = Migrations("queue")


@migrations()
def q001_queue(db: sqlite_utils.Database) -> None:
    """Machine and member classes, files, jobs with their history, access rules."""
    execute_script(db,
        """
        CREATE TABLE machine_classes (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('fdm', 'laser', 'cnc')),
            weight REAL NOT NULL DEFAULT 1.0 CHECK (weight > 0),
            description TEXT NOT NULL DEFAULT ''
        );
        ALTER TABLE machines ADD COLUMN loaded_material TEXT;
        ALTER TABLE machines ADD COLUMN state_reason TEXT NOT NULL DEFAULT '';
        ALTER TABLE machines ADD COLUMN state_changed_at TEXT;
        CREATE TABLE machine_events (
            id INTEGER PRIMARY KEY,
            machine_id INTEGER NOT NULL REFERENCES machines(id),
            at TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            actor_member_id INTEGER REFERENCES members(id),
            actor_kind TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE machine_profile_history (
            id INTEGER PRIMARY KEY,
            machine_id INTEGER NOT NULL REFERENCES machines(id),
            at TEXT NOT NULL,
            actor_member_id INTEGER REFERENCES members(id),
            profile_toml TEXT NOT NULL
        );
        CREATE TABLE member_classes (
            name TEXT PRIMARY KEY,
            weekly_hours_per_class REAL CHECK (weekly_hours_per_class >= 0),
            max_job_s REAL CHECK (max_job_s > 0),
            max_queued_jobs INTEGER CHECK (max_queued_jobs > 0),
            description TEXT NOT NULL DEFAULT ''
        );
        INSERT INTO member_classes (name, description) VALUES ('member', 'Default: no limits');
        ALTER TABLE members ADD COLUMN member_class TEXT NOT NULL DEFAULT 'member'
            REFERENCES member_classes(name);
        CREATE TABLE files (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            analysis_json TEXT NOT NULL,
            analysis_version INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            member_id INTEGER NOT NULL REFERENCES members(id),
            file_sha256 TEXT NOT NULL REFERENCES files(sha256),
            name TEXT NOT NULL,
            machine_class TEXT NOT NULL REFERENCES machine_classes(name),
            material TEXT,
            preferred_machine_id INTEGER REFERENCES machines(id),
            state TEXT NOT NULL,
            machine_id INTEGER REFERENCES machines(id),
            estimated_s REAL NOT NULL,
            analysis_version INTEGER NOT NULL,
            boost REAL NOT NULL DEFAULT 0,
            submitted_at TEXT NOT NULL,
            submitted_epoch REAL NOT NULL,
            updated_at TEXT NOT NULL,
            assigned_at TEXT,
            started_at TEXT,
            ended_at TEXT,
            idempotency_key TEXT,
            UNIQUE (member_id, idempotency_key)
        );
        CREATE INDEX jobs_state ON jobs(state);
        CREATE INDEX jobs_member ON jobs(member_id, state);
        CREATE UNIQUE INDEX jobs_one_per_machine ON jobs(machine_id)
            WHERE state IN ('assigned', 'running', 'paused');
        CREATE TABLE wait_reasons (
            key TEXT PRIMARY KEY,
            code TEXT NOT NULL,
            message TEXT NOT NULL,
            details TEXT NOT NULL
        );
        CREATE TABLE job_waits (
            job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
            position INTEGER NOT NULL,
            reason_key TEXT NOT NULL REFERENCES wait_reasons(key),
            ahead INTEGER NOT NULL
        );
        CREATE TABLE job_events (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            at TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            actor_kind TEXT NOT NULL,
            actor_member_id INTEGER REFERENCES members(id),
            reason TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX job_events_job ON job_events(job_id);
        CREATE TABLE job_unfit (
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            machine_id INTEGER NOT NULL REFERENCES machines(id),
            reason TEXT NOT NULL,
            PRIMARY KEY (job_id, machine_id)
        );
        CREATE TABLE certifications (
            id INTEGER PRIMARY KEY,
            member_id INTEGER NOT NULL REFERENCES members(id),
            machine_class TEXT NOT NULL REFERENCES machine_classes(name),
            granted_by INTEGER NOT NULL REFERENCES members(id),
            granted_at TEXT NOT NULL,
            expires_at TEXT,
            revoked_at TEXT
        );
        CREATE INDEX certifications_member ON certifications(member_id);
        CREATE TABLE reservations (
            id INTEGER PRIMARY KEY,
            machine_id INTEGER NOT NULL REFERENCES machines(id),
            member_id INTEGER NOT NULL REFERENCES members(id),
            starts_at TEXT NOT NULL,
            ends_at TEXT NOT NULL,
            start_epoch REAL NOT NULL,
            end_epoch REAL NOT NULL CHECK (end_epoch > start_epoch),
            created_by INTEGER NOT NULL REFERENCES members(id),
            created_at TEXT NOT NULL,
            cancelled_at TEXT
        );
        CREATE INDEX reservations_machine ON reservations(machine_id, end_epoch);
        """
    )
