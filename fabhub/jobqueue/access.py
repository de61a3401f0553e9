"""Who may use which machines when: certifications per machine class, reservations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from fabhub.clock import iso_from_epoch, utc_now_iso
from fabhub.jobqueue.classes import require_machine_class
from fabhub.problems import Problem


@dataclass(frozen=True)
class Certification:
    """A gatekeeper's statement that a member may use a machine class (until expiry)."""

    id: int
    member_id: int
    username: str
    machine_class: str
    granted_by: int
    granted_at: str
    expires_at: str | None
    revoked_at: str | None


@dataclass(frozen=True)
class Booking:
    """A reservation of one machine by one member for a time slot (UTC)."""

    id: int
    machine_id: int
    member_id: int
    starts_at: str
    ends_at: str
    start_epoch: float
    end_epoch: float
    created_by: int
    created_at: str
    cancelled_at: str | None


_CERT_SELECT = (
    "SELECT c.id, c.member_id, m.username, c.machine_class, c.granted_by, c.granted_at, "
    "c.expires_at, c.revoked_at FROM certifications c JOIN members m ON m.id = c.member_id"
)


def certify(db: sqlite_utils.Database, member_id: int, machine_class: str, granted_by: int,
            expires_at: datetime | None = None) -> Certification:
    """Certify a member for a machine class; an earlier live certification is replaced."""
    require_machine_class(db, machine_class)
    now = utc_now_iso()
    expiry = iso_from_epoch(expires_at.timestamp()) if expires_at else None
    if expiry is not None and expiry <= now:
        raise Problem(422, "invalid_field", "The expiry must be in the future.",
                      {"field": "expires_at"})
    with db.atomic():
        db.execute("UPDATE certifications SET revoked_at = ? WHERE member_id = ? AND "
                   "machine_class = ? AND revoked_at IS NULL", [now, member_id, machine_class])
        cursor = db.execute(
            "INSERT INTO certifications (member_id, machine_class, granted_by, granted_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?)",
            [member_id, machine_class, granted_by, now, expiry])
    return get_certification(db, cursor.lastrowid)


def get_certification(db: sqlite_utils.Database, cert_id: int) -> Certification:
    """One certification by id, or a 404."""
    row = db.execute(_CERT_SELECT + " WHERE c.id = ?", [cert_id]).fetchone()
    if row is None:
        raise Problem(404, "not_found", f"There is no certification {cert_id}.")
    return Certification(**dict(row))


def revoke_certification(db: sqlite_utils.Database, cert_id: int) -> Certification:
    """Revoke a certification (kept, with the time it ended)."""
    get_certification(db, cert_id)
    with db.atomic():
        db.execute("UPDATE certifications SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
                   [utc_now_iso(), cert_id])
    return get_certification(db, cert_id)


def list_certifications(db: sqlite_utils.Database, member_id: int | None = None,
                        live_only: bool = False) -> list[Certification]:
    """Certifications, newest first, optionally one member's and only those valid now."""
    sql, params = _CERT_SELECT + " WHERE 1=1", []
    if member_id is not None:
        sql += " AND c.member_id = ?"
        params.append(member_id)
    if live_only:
        sql += " AND c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > ?)"
        params.append(utc_now_iso())
    rows = db.execute(sql + " ORDER BY c.granted_at DESC, c.id DESC", params).fetchall()
    return [Certification(**dict(r)) for r in rows]


def certified_classes(db: sqlite_utils.Database, now_iso: str) -> dict[int, frozenset[str]]:
    """Member id -> the machine classes they are certified for at ``now_iso``."""
    result: dict[int, set[str]] = {}
    for row in db.execute(
        "SELECT member_id, machine_class FROM certifications WHERE revoked_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > ?)", [now_iso]):
        result.setdefault(row[0], set()).add(row[1])
    return {member: frozenset(classes) for member, classes in result.items()}


def reserve(db: sqlite_utils.Database, machine_id: int, member_id: int, start: datetime,
            end: datetime, created_by: int, now: datetime) -> Booking:
    """Book a machine for ``[start, end)``; refuses the past and overlaps with a clear 4xx."""
    if end <= start:
        raise Problem(422, "invalid_field", "A reservation must end after it starts.",
                      {"field": "ends_at"})
    if start < now:
        raise Problem(422, "invalid_field", "A reservation cannot start in the past.",
                      {"field": "starts_at"})
    if end.timestamp() - start.timestamp() > 7 * 24 * 3600:
        raise Problem(422, "invalid_field", "A reservation lasts at most 7 days.",
                      {"field": "ends_at"})
    if db.execute("SELECT 1 FROM machines WHERE id = ?", [machine_id]).fetchone() is None:
        raise Problem(404, "not_found", f"There is no machine {machine_id}.")
    with db.atomic():
        clash = db.execute(
            "SELECT id, starts_at, ends_at FROM reservations WHERE machine_id = ? AND "
            "cancelled_at IS NULL AND start_epoch < ? AND end_epoch > ?",
            [machine_id, end.timestamp(), start.timestamp()]).fetchone()
        if clash is not None:
            raise Problem(409, "reservation_overlap",
                          f"The machine is already reserved from {clash['starts_at']} to "
                          f"{clash['ends_at']}; choose another slot.",
                          {"reservation_id": clash["id"]})
        cursor = db.execute(
            "INSERT INTO reservations (machine_id, member_id, starts_at, ends_at, start_epoch, "
            "end_epoch, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [machine_id, member_id, iso_from_epoch(start.timestamp()),
             iso_from_epoch(end.timestamp()), start.timestamp(), end.timestamp(), created_by,
             utc_now_iso()])
    return get_booking(db, cursor.lastrowid)


def get_booking(db: sqlite_utils.Database, booking_id: int) -> Booking:
    """One reservation by id, or a 404."""
    row = db.execute("SELECT * FROM reservations WHERE id = ?", [booking_id]).fetchone()
    if row is None:
        raise Problem(404, "not_found", f"There is no reservation {booking_id}.")
    return Booking(**dict(row))


def cancel_booking(db: sqlite_utils.Database, booking_id: int) -> Booking:
    """Cancel a reservation (kept, with the time it was cancelled)."""
    get_booking(db, booking_id)
    with db.atomic():
        db.execute("UPDATE reservations SET cancelled_at = COALESCE(cancelled_at, ?) "
                   "WHERE id = ?", [utc_now_iso(), booking_id])
    return get_booking(db, booking_id)


def list_bookings(db: sqlite_utils.Database, after_epoch: float,
                  machine_id: int | None = None) -> list[Booking]:
    """Live reservations that end after ``after_epoch``, soonest first."""
    sql = "SELECT * FROM reservations WHERE cancelled_at IS NULL AND end_epoch > ?"
    params: list[object] = [after_epoch]
    if machine_id is not None:
        sql += " AND machine_id = ?"
        params.append(machine_id)
    rows = db.execute(sql + " ORDER BY start_epoch", params).fetchall()
    return [Booking(**dict(r)) for r in rows]
