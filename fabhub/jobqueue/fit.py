"""Static fit: which machines of a class can run an analysed file at all.

Decided once per job and machine by the G-code validator (kind, envelope,
material, temperatures, power, forbidden commands) and stored in ``job_unfit``,
so a scheduling pass never re-reads a file. Recomputed for waiting jobs when a
machine is added or its profile changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils

from fabhub.jobs.analysis import Analysis, Finding, validate
from fabhub.jobs.machine_profile import load_profile


@dataclass(frozen=True)
class FitResult:
    """The machines of a class checked for one file, and the blocking findings per machine."""

    machine_ids: tuple[int, ...]
    blocking: dict[int, tuple[Finding, ...]]

    @property
    def reasons(self) -> dict[int, str]:
        """Machine id -> the first blocking finding, as the maker reads it."""
        return {machine_id: _sentence(findings[0])
                for machine_id, findings in self.blocking.items()}

    @property
    def all_unfit(self) -> bool:
        """True when the class has machines and none of them can run the file."""
        return bool(self.machine_ids) and len(self.blocking) == len(self.machine_ids)

    def summary(self) -> str:
        """One message that says why no machine of the class can run the file."""
        first = next(iter(self.blocking.values()))
        return "No machine of this class can run the file: " + _sentence(first[0])

    def findings_json(self) -> list[dict[str, object]]:
        """The blocking findings of the first machine, for the API and the upload page."""
        first = next(iter(self.blocking.values()))
        return [{"severity": f.severity, "code": f.code, "line": f.line, "message": f.message,
                 "params": f.params} for f in first]


def _sentence(finding: Finding) -> str:
    where = f" (line {finding.line})" if finding.line else ""
    return finding.message + where


def check_against(analysis: Analysis, profiles: dict[int, object],
                  material: str | None) -> FitResult:
    """Validate one analysis against several machine profiles."""
    blocking: dict[int, tuple[Finding, ...]] = {}
    for machine_id, profile in profiles.items():
        errors = tuple(f for f in validate(analysis, profile, material) if f.severity == "error")
        if errors:
            blocking[machine_id] = errors
    return FitResult(tuple(profiles), blocking)


def class_profiles(db: sqlite_utils.Database, machine_class: str) -> dict[int, object]:
    """Machine id -> parsed profile, for every machine of ``machine_class``."""
    rows = db.execute("SELECT id, name, profile_toml FROM machines WHERE machine_class = ? "
                      "ORDER BY id", [machine_class]).fetchall()
    return {r["id"]: load_profile(r["profile_toml"], source=f"machine {r['name']}") for r in rows}


def material_spelling(profiles: dict[int, object], material: str) -> str:
    """``material`` as the profiles spell it ("pla" -> "PLA"), else as typed.

    The matcher compares a job's material with a machine's loaded material exactly,
    so both are stored under the profile's spelling.
    """
    for profile in profiles.values():
        known = profile.material(material)  # type: ignore[attr-defined]
        if known is not None:
            return known.name
    return material.strip()


def unfit_machines(db: sqlite_utils.Database, analysis: Analysis, machine_class: str,
                   material: str | None) -> FitResult:
    """Check an analysed file against every machine of ``machine_class``."""
    return check_against(analysis, class_profiles(db, machine_class), material)


def refresh_class(db: sqlite_utils.Database, machine_class: str) -> int:
    """Recompute the stored fit of every queued job of a class; return how many jobs."""
    profiles = class_profiles(db, machine_class)
    rows = db.execute(
        "SELECT j.id, j.material, f.analysis_json FROM jobs j JOIN files f "
        "ON f.sha256 = j.file_sha256 WHERE j.state = 'queued' AND j.machine_class = ?",
        [machine_class]).fetchall()
    with db.atomic():
        for row in rows:
            analysis = Analysis.from_dict(json.loads(row["analysis_json"]))
            result = check_against(analysis, profiles, row["material"])
            db.execute("DELETE FROM job_unfit WHERE job_id = ?", [row["id"]])
            db.conn.executemany(
                "INSERT INTO job_unfit (job_id, machine_id, reason) VALUES (?, ?, ?)",
                [(row["id"], machine_id, reason) for machine_id, reason in result.reasons.items()])
    return len(rows)


def job_blocking_findings(db: sqlite_utils.Database, job_id: int) -> tuple[Finding, ...]:
    """Why a job's file fits no machine of its class: the first unfit machine's findings.

    Recomputed from the stored analysis (the stored reason is English text), for
    pages that show the reason in the reader's language; empty if every machine fits.
    """
    row = db.execute(
        "SELECT j.machine_class, j.material, f.analysis_json FROM jobs j JOIN files f "
        "ON f.sha256 = j.file_sha256 WHERE j.id = ?", [job_id]).fetchone()
    if row is None:
        return ()
    analysis = Analysis.from_dict(json.loads(row["analysis_json"]))
    result = unfit_machines(db, analysis, row["machine_class"], row["material"])
    return next(iter(result.blocking.values()), ())
