"""The demo lab: three members, three machines with their nodes, a few sample jobs.

Everything here is idempotent, so ``make demo`` can run again on the same
instance: existing members get new passwords, existing machines are kept, nodes
are registered afresh (older demo nodes are revoked), sample jobs are queued once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from fabhub import members
from fabhub.clock import utc_now_iso
from fabhub.jobqueue import access, classes, fit, machines
from fabhub.jobqueue.jobs import Submission, submit_job
from fabhub.jobs.machine_profile import example_profile
from fabhub.nodes import registry

DEMO_MEMBERS: tuple[tuple[str, str, str], ...] = (
    ("steward", "gatekeeper", "Sam Steward"),
    ("ada", "maker", "Ada Maker"),
    ("linus", "maker", "Linus Maker"),
)


@dataclass(frozen=True)
class DemoMachine:
    """A demo machine: its name, example profile and the simulator that plays it."""

    name: str
    profile: str
    simulator: str


DEMO_MACHINES: tuple[DemoMachine, ...] = (
    DemoMachine("Prusa-like printer", "fdm-marlin", "marlin"),
    DemoMachine("Laser cutter", "laser-grbl", "grbl"),
    DemoMachine("CNC mill", "cnc-grbl", "grbl"),
)
# (sample file in shared/gcode, example profile of the machine, material, owner)
DEMO_JOBS: tuple[tuple[str, str, str | None, str], ...] = (
    ("prusaslicer-plant-sign.gcode", "fdm-marlin", "PLA", "ada"),
    ("grbl-laser-tball-engrave.gcode", "laser-grbl", None, "linus"),
    ("grbl-cnc-jsdc.gcode", "cnc-grbl", None, "ada"),
    ("prusaslicer-vase.gcode", "fdm-marlin", "PLA", "linus"),
)


def reset_members(db: sqlite_utils.Database) -> list[tuple[str, str, str]]:
    """Create the demo members or give them new passwords; return (role, name, password)."""
    logins = []
    for username, role, name in DEMO_MEMBERS:
        password = secrets.token_urlsafe(9)
        if members.find_by_username(db, username) is None:
            members.add_member(db, username, password, role, display_name=name)
        else:
            members.set_password(db, username, password)
        logins.append((role, username, password))
    return logins


def ensure_park(db: sqlite_utils.Database) -> dict[str, machines.Machine]:
    """The demo machines by example-profile name, created (with their classes) if missing."""
    steward = members.require_member(db, "steward")
    park = {}
    for demo in DEMO_MACHINES:
        profile = example_profile(demo.profile)
        if classes.get_machine_class(db, profile.machine_class) is None:
            classes.add_machine_class(db, profile.machine_class, profile.kind,
                                      profile.class_weight)
        existing = next((m for m in machines.list_machines(db) if m.name == demo.name), None)
        park[demo.profile] = existing or machines.add_machine(db, demo.name, profile,
                                                              steward.id)
        for username in ("ada", "linus"):
            maker = members.require_member(db, username)
            certified = access.certified_classes(db, utc_now_iso())
            if profile.machine_class not in certified.get(maker.id, ()):
                access.certify(db, maker.id, profile.machine_class, steward.id)
    return park


def register_nodes(db: sqlite_utils.Database, park: dict[str, machines.Machine]
                   ) -> dict[str, str]:
    """One-time enrolment codes for a fresh node per demo machine (older ones revoked)."""
    steward = members.require_member(db, "steward")
    codes = {}
    for name, machine in park.items():
        for node in registry.list_nodes(db):
            if node.machine_id == machine.id and node.revoked_at is None:
                registry.revoke(db, node.id)
        codes[name] = registry.register(db, machine.id, f"demo node: {machine.name}",
                                        steward.id)[1]
    return codes


def queue_samples(db: sqlite_utils.Database, park: dict[str, machines.Machine], samples: Path,
                  files_dir: Path, max_bytes: int) -> list[str]:
    """Queue the sample jobs once each (idempotency keys); return what was queued."""
    queued = []
    for filename, profile_name, material, owner in DEMO_JOBS:
        path = samples / filename
        if not path.exists():
            continue
        member = members.require_member(db, owner)
        with open(path, "rb") as upload:
            job, created = submit_job(
                db, files_dir, member, upload,
                Submission(machine_class=park[profile_name].machine_class, filename=filename,
                           material=material, idempotency_key=f"demo-{filename}"),
                max_bytes)
        if created:
            queued.append(f"job {job.id}: {filename} for {owner} on {job.machine_class}")
    for machine in park.values():
        fit.refresh_class(db, machine.machine_class)
    return queued
