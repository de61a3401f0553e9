"""Machines: their profiles (with history), their state, and the state changes people make.

Gatekeepers create machines from a machine profile, edit the profile (every
version is kept), take machines into maintenance or to-check and back, and
confirm a bed cleared after an FDM job. Every state change goes through
:func:`fabhub.jobqueue.machine_state.move_machine` and its table.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from fabhub.clock import utc_now_iso
from fabhub.jobqueue.classes import require_machine_class
from fabhub.jobqueue.machine_state import move_machine, record_created
from fabhub.jobs.machine_profile import MachineProfile, ProfileError, dump_profile, load_profile
from fabhub.jobs.states import Actor, MachineState
from fabhub.problems import Problem

# States a person may ask for by name; the table in fabhub.jobs.states decides from where.
MANUAL_TARGETS = (MachineState.MAINTENANCE, MachineState.TO_CHECK, MachineState.IDLE)


@dataclass(frozen=True)
class Machine:
    """A machine of the trust, with its profile parsed."""

    id: int
    name: str
    machine_class: str
    kind: str
    state: MachineState
    state_reason: str
    state_changed_at: str | None
    loaded_material: str | None
    profile: MachineProfile
    profile_toml: str
    created_at: str


def _from_row(row: dict) -> Machine:
    return Machine(
        id=row["id"], name=row["name"], machine_class=row["machine_class"], kind=row["kind"],
        state=MachineState(row["state"]), state_reason=row["state_reason"],
        state_changed_at=row["state_changed_at"], loaded_material=row["loaded_material"],
        profile=load_profile(row["profile_toml"], source=f"machine {row['name']}"),
        profile_toml=row["profile_toml"], created_at=row["created_at"],
    )


def parse_profile(text: str) -> MachineProfile:
    """A profile from TOML, or a 422 whose message names the key that is wrong."""
    try:
        return load_profile(text, source="profile")
    except ProfileError as exc:
        raise Problem(422, "invalid_profile", str(exc), {
            "field": "profile", "reason": exc.code, "key": exc.key, "params": exc.params,
        }) from exc


def _check_class(db: sqlite_utils.Database, profile: MachineProfile) -> None:
    machine_class = require_machine_class(db, profile.machine_class)
    if machine_class.kind != profile.kind:
        raise Problem(422, "invalid_profile",
                      f"Machine class {machine_class.name!r} holds {machine_class.kind} "
                      f"machines, but the profile describes a {profile.kind} machine.",
                      {"field": "machine_class", "reason": "class_kind_mismatch",
                       "key": "machine_class", "params": {"machine_class": machine_class.name,
                                                          "class_kind": machine_class.kind,
                                                          "kind": profile.kind}})


def add_machine(db: sqlite_utils.Database, name: str, profile: MachineProfile,
                actor_member_id: int | None) -> Machine:
    """Create a machine (offline until its node reports) from a validated profile."""
    name = name.strip()
    if not 1 <= len(name) <= 60:
        raise Problem(422, "invalid_field", "A machine name has 1-60 characters.",
                      {"field": "name"})
    _check_class(db, profile)
    if db.execute("SELECT 1 FROM machines WHERE name = ?", [name]).fetchone():
        raise Problem(409, "conflict", f"A machine called {name!r} already exists.")
    text = dump_profile(profile)
    now = utc_now_iso()
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO machines (name, machine_class, kind, state, profile_toml, created_at, "
            "state_changed_at) VALUES (?, ?, ?, 'offline', ?, ?, ?)",
            [name, profile.machine_class, profile.kind, text, now, now])
        machine_id = cursor.lastrowid
        db.execute("INSERT INTO machine_profile_history (machine_id, at, actor_member_id, "
                   "profile_toml) VALUES (?, ?, ?, ?)", [machine_id, now, actor_member_id, text])
        record_created(db, machine_id, actor_member_id)
    return get_machine(db, machine_id)


def get_machine(db: sqlite_utils.Database, machine_id: int) -> Machine:
    """A machine by id, or a 404."""
    row = db.execute("SELECT * FROM machines WHERE id = ?", [machine_id]).fetchone()
    if row is None:
        raise Problem(404, "not_found", f"There is no machine {machine_id}.")
    return _from_row(dict(row))


def list_machines(db: sqlite_utils.Database) -> list[Machine]:
    """Every machine by class and name."""
    rows = db.execute("SELECT * FROM machines ORDER BY machine_class, name").fetchall()
    return [_from_row(dict(r)) for r in rows]


def update_profile(db: sqlite_utils.Database, machine_id: int, profile: MachineProfile,
                   actor_member_id: int | None) -> Machine:
    """Replace a machine's profile, keeping the old one in the history."""
    machine = get_machine(db, machine_id)
    if profile.machine_class != machine.machine_class:
        raise Problem(422, "invalid_profile",
                      "A profile edit cannot move a machine to another class; "
                      "create a new machine instead.", {"field": "machine_class"})
    _check_class(db, profile)
    text = dump_profile(profile)
    with db.atomic():
        db.execute("UPDATE machines SET profile_toml = ? WHERE id = ?", [text, machine_id])
        db.execute("INSERT INTO machine_profile_history (machine_id, at, actor_member_id, "
                   "profile_toml) VALUES (?, ?, ?, ?)",
                   [machine_id, utc_now_iso(), actor_member_id, text])
    return get_machine(db, machine_id)


def profile_history(db: sqlite_utils.Database, machine_id: int) -> list[dict]:
    """Every version of a machine's profile, newest first, with who set it."""
    rows = db.execute(
        "SELECT h.at, h.profile_toml, m.username AS actor FROM machine_profile_history h "
        "LEFT JOIN members m ON m.id = h.actor_member_id WHERE h.machine_id = ? "
        "ORDER BY h.id DESC", [machine_id]).fetchall()
    return [dict(r) for r in rows]


def set_manual_state(db: sqlite_utils.Database, machine_id: int, target: str, reason: str,
                     actor_member_id: int) -> Machine:
    """A gatekeeper's state change: maintenance, to_check, or back to idle."""
    try:
        new = MachineState(target)
    except ValueError:
        new = None
    if new not in MANUAL_TARGETS:
        allowed = ", ".join(s.value for s in MANUAL_TARGETS)
        raise Problem(422, "invalid_field", f"A gatekeeper may set a machine to: {allowed}.",
                      {"field": "state"})
    move_machine(db, machine_id, new, actor=Actor.PERSON, actor_member_id=actor_member_id,
                 reason=reason.strip() or f"set to {new.value}")
    return get_machine(db, machine_id)


def confirm_cleared(db: sqlite_utils.Database, machine_id: int, actor_member_id: int) -> Machine:
    """A person confirms the bed is clear after a job: the machine may take the next one."""
    machine = get_machine(db, machine_id)
    if machine.state is not MachineState.NEEDS_CLEARING:
        raise Problem(409, "conflict", f"The machine is {machine.state.value}, not waiting "
                      "for its bed to be cleared.", {"state": machine.state.value})
    move_machine(db, machine_id, MachineState.IDLE, actor=Actor.PERSON,
                 actor_member_id=actor_member_id, reason="bed cleared")
    return get_machine(db, machine_id)


def set_loaded_material(db: sqlite_utils.Database, machine_id: int,
                        material: str | None) -> Machine:
    """Record which material is loaded (the matcher prefers machines with it loaded).

    A material the profile lists is stored under the profile's spelling ("pla" -> "PLA").
    """
    machine = get_machine(db, machine_id)
    material = (material or "").strip() or None
    known = machine.profile.material(material) if material else None
    if material and machine.profile.kind == "fdm" and known is None:
        accepted = ", ".join(m.name for m in machine.profile.materials)
        raise Problem(422, "invalid_field", f"This machine accepts: {accepted}.",
                      {"field": "loaded_material"})
    material = known.name if known else material
    with db.atomic():
        db.execute("UPDATE machines SET loaded_material = ? WHERE id = ?",
                   [material or None, machine_id])
    return get_machine(db, machine_id)
