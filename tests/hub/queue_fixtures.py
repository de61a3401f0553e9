"""Helpers to build a machine park and a queue directly in the database for tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

import sqlite_utils

from fabhub.clock import iso_from_epoch
from fabhub.jobqueue import classes, machines
from fabhub.jobs.machine_profile import dump_profile, example_profile


class FixedUsage:
    """A usage source with given decayed hours (the ledger's role in a pass)."""

    def __init__(self, decayed: Mapping[int, float] | None = None,
                 week: Mapping[tuple[int, str], float] | None = None) -> None:
        self.decayed = dict(decayed or {})
        self.week = dict(week or {})

    def decayed_hours(self, db, now, half_life_s, weights) -> dict[int, float]:
        return dict(self.decayed)

    def hours_since(self, db, since) -> dict[tuple[int, str], float]:
        return dict(self.week)


def add_park(db: sqlite_utils.Database, counts: Mapping[str, int]) -> dict[str, list[int]]:
    """Create example machines (idle) per example profile name; return their ids."""
    created: dict[str, list[int]] = {}
    for name, count in counts.items():
        profile = example_profile(name)
        if classes.get_machine_class(db, profile.machine_class) is None:
            classes.add_machine_class(db, profile.machine_class, profile.kind)
        for i in range(count):
            machine = machines.add_machine(db, f"{name}-{i}", profile, None)
            machines.set_manual_state(db, machine.id, "idle", "test", None)
            created.setdefault(name, []).append(machine.id)
    return created


def insert_job(db: sqlite_utils.Database, member_id: int, machine_class: str,
               submitted: datetime, estimated_s: float = 600.0, material: str | None = "PLA",
               sha: str = "0" * 64) -> int:
    """Insert a queued job row directly (bypassing upload and analysis)."""
    stamp = iso_from_epoch(submitted.timestamp())
    db.execute("INSERT OR IGNORE INTO files (sha256, size, analysis_json, analysis_version, "
               "created_at) VALUES (?, 1, ?, 0, ?)", [sha, json.dumps({}), stamp])
    cursor = db.execute(
        "INSERT INTO jobs (member_id, file_sha256, name, machine_class, material, state, "
        "estimated_s, analysis_version, submitted_at, submitted_epoch, updated_at) "
        "VALUES (?, ?, 'test', ?, ?, 'queued', ?, 0, ?, ?, ?)",
        [member_id, sha, machine_class, material, estimated_s, stamp, submitted.timestamp(),
         stamp])
    db.conn.commit()
    return cursor.lastrowid


__all__ = ["FixedUsage", "add_park", "dump_profile", "insert_job"]
