"""Machine classes (what members are certified for) and member classes (quotas)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlite_utils

from fabhub.members import Member, require_member
from fabhub.problems import Problem

KINDS = ("fdm", "laser", "cnc")
CLASS_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class MachineClass:
    """A class of interchangeable machines, e.g. ``fdm-small`` or ``laser-co2``."""

    name: str
    kind: str
    weight: float
    description: str


@dataclass(frozen=True)
class MemberClass:
    """Limits shared by a group of members; ``None`` means no limit."""

    name: str
    weekly_hours_per_class: float | None
    max_job_s: float | None
    max_queued_jobs: int | None
    description: str


def _check_name(name: str, what: str) -> str:
    if not CLASS_NAME.match(name):
        raise Problem(422, "invalid_field",
                      f"A {what} name is 1-40 lower-case letters, digits, '-' or '_'.",
                      {"field": "name"})
    return name


def add_machine_class(db: sqlite_utils.Database, name: str, kind: str, weight: float = 1.0,
                      description: str = "") -> MachineClass:
    """Create a machine class; ``weight`` scales its hours in fair share."""
    _check_name(name, "machine class")
    if kind not in KINDS:
        raise Problem(422, "invalid_field", f"kind must be one of {', '.join(KINDS)}.",
                      {"field": "kind"})
    if not weight > 0:
        raise Problem(422, "invalid_field", "weight must be more than zero.", {"field": "weight"})
    if get_machine_class(db, name) is not None:
        raise Problem(409, "conflict", f"Machine class {name!r} already exists.")
    with db.atomic():
        db.execute("INSERT INTO machine_classes (name, kind, weight, description) "
                   "VALUES (?, ?, ?, ?)", [name, kind, weight, description])
    return MachineClass(name, kind, weight, description)


def get_machine_class(db: sqlite_utils.Database, name: str) -> MachineClass | None:
    """The machine class called ``name``, or None."""
    row = db.execute("SELECT * FROM machine_classes WHERE name = ?", [name]).fetchone()
    return MachineClass(**dict(row)) if row else None


def require_machine_class(db: sqlite_utils.Database, name: str) -> MachineClass:
    """The machine class called ``name``, or a 422 that lists the classes there are."""
    found = get_machine_class(db, name)
    if found is None:
        known = ", ".join(c.name for c in list_machine_classes(db)) or "none yet"
        raise Problem(422, "unknown_machine_class",
                      f"There is no machine class {name!r}; known classes: {known}.",
                      {"field": "machine_class"})
    return found


def list_machine_classes(db: sqlite_utils.Database) -> list[MachineClass]:
    """Every machine class by name."""
    rows = db.execute("SELECT * FROM machine_classes ORDER BY name").fetchall()
    return [MachineClass(**dict(r)) for r in rows]


def class_weights(db: sqlite_utils.Database) -> dict[str, float]:
    """Machine class -> its fair-share weight."""
    return {r["name"]: r["weight"] for r in db.execute("SELECT name, weight FROM machine_classes")}


def set_member_class(
    db: sqlite_utils.Database, name: str, weekly_hours_per_class: float | None = None,
    max_job_s: float | None = None, max_queued_jobs: int | None = None, description: str = "",
) -> MemberClass:
    """Create or replace a member class and its limits."""
    _check_name(name, "member class")
    for field, value in (("weekly_hours_per_class", weekly_hours_per_class),
                         ("max_job_s", max_job_s), ("max_queued_jobs", max_queued_jobs)):
        if value is not None and value < (0 if field == "weekly_hours_per_class" else 1):
            raise Problem(422, "invalid_field", f"{field} must be positive, or empty for no limit.",
                          {"field": field})
    with db.atomic():
        db.execute(
            "INSERT INTO member_classes (name, weekly_hours_per_class, max_job_s, "
            "max_queued_jobs, description) VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE "
            "SET weekly_hours_per_class = excluded.weekly_hours_per_class, "
            "max_job_s = excluded.max_job_s, max_queued_jobs = excluded.max_queued_jobs, "
            "description = excluded.description",
            [name, weekly_hours_per_class, max_job_s, max_queued_jobs, description],
        )
    return MemberClass(name, weekly_hours_per_class, max_job_s, max_queued_jobs, description)


def list_member_classes(db: sqlite_utils.Database) -> list[MemberClass]:
    """Every member class by name."""
    rows = db.execute("SELECT * FROM member_classes ORDER BY name").fetchall()
    return [MemberClass(**dict(r)) for r in rows]


def member_class_of(db: sqlite_utils.Database, member_id: int) -> MemberClass:
    """The class (and so the limits) of a member."""
    row = db.execute(
        "SELECT c.* FROM member_classes c JOIN members m ON m.member_class = c.name "
        "WHERE m.id = ?", [member_id]).fetchone()
    assert row is not None, "every member has a class"
    return MemberClass(**dict(row))


def assign_member_class(db: sqlite_utils.Database, username: str, class_name: str) -> Member:
    """Put a member into a member class."""
    member = require_member(db, username)
    if class_name not in {c.name for c in list_member_classes(db)}:
        raise Problem(422, "unknown_member_class", f"There is no member class {class_name!r}.",
                      {"field": "member_class"})
    with db.atomic():
        db.execute("UPDATE members SET member_class = ? WHERE id = ?", [class_name, member.id])
    return member
