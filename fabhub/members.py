"""Members of the trust, their roles, and password handling.

Passwords are hashed with Argon2id (argon2-cffi); the clear text is never stored
or logged. Role order: maker < gatekeeper < admin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from fabhub.clock import utc_now_iso

ROLES: tuple[str, ...] = ("maker", "gatekeeper", "admin")
ROLE_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()
# Verified against when the account does not exist, so that an unknown username
# costs the same time as a wrong password and reveals nothing.
_DUMMY_HASH = _hasher.hash("fabhub-timing-equaliser")


class MemberError(ValueError):
    """A member operation was refused; the message says why and what to do."""


@dataclass(frozen=True)
class Member:
    """A member as the rest of the hub sees one (never with the password hash)."""

    id: int
    username: str
    display_name: str
    email: str | None
    role: str
    disabled: bool
    created_at: str

    def has_role(self, role: str) -> bool:
        """True if this member's role is ``role`` or above it."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def _from_row(row: dict) -> Member:
    return Member(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        email=row["email"],
        role=row["role"],
        disabled=bool(row["disabled"]),
        created_at=row["created_at"],
    )


def check_role(role: str) -> str:
    """Return ``role`` if it is known, else raise :class:`MemberError`."""
    if role not in ROLE_RANK:
        raise MemberError(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}")
    return role


def check_password_strength(password: str) -> None:
    """Refuse passwords that are too short to resist guessing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise MemberError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")


def add_member(
    db: sqlite_utils.Database,
    username: str,
    password: str,
    role: str = "maker",
    display_name: str | None = None,
    email: str | None = None,
) -> Member:
    """Create a member; raise :class:`MemberError` on a bad or taken username."""
    if not USERNAME_PATTERN.match(username):
        raise MemberError(
            "username must be 2-64 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    check_role(role)
    check_password_strength(password)
    if find_by_username(db, username) is not None:
        raise MemberError(f"username {username!r} is already taken")
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO members (username, display_name, email, role, password_hash, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [username, display_name or username, email, role, _hasher.hash(password),
             utc_now_iso()],
        )
        member_id = cursor.lastrowid
    member = get_member(db, member_id)
    assert member is not None
    return member


def get_member(db: sqlite_utils.Database, member_id: int) -> Member | None:
    """The member with this id, or None."""
    row = db.execute("SELECT * FROM members WHERE id = ?", [member_id]).fetchone()
    return _from_row(dict(row)) if row else None


def find_by_username(db: sqlite_utils.Database, username: str) -> Member | None:
    """The member with this username (case-insensitive), or None."""
    row = db.execute("SELECT * FROM members WHERE username = ?", [username]).fetchone()
    return _from_row(dict(row)) if row else None


def require_member(db: sqlite_utils.Database, username: str) -> Member:
    """The member with this username, or :class:`MemberError` naming it."""
    member = find_by_username(db, username)
    if member is None:
        raise MemberError(f"no member named {username!r}; see `fabhub user list`")
    return member


def list_members(db: sqlite_utils.Database) -> list[Member]:
    """Every member, by username."""
    rows = db.execute("SELECT * FROM members ORDER BY username COLLATE NOCASE").fetchall()
    return [_from_row(dict(r)) for r in rows]


def authenticate(db: sqlite_utils.Database, username: str, password: str) -> Member | None:
    """The member if the username and password match an enabled account, else None.

    Takes the same time whether or not the account exists; upgrades old hashes.
    """
    row = db.execute("SELECT * FROM members WHERE username = ?", [username]).fetchone()
    stored = row["password_hash"] if row else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row["disabled"]:
        return None
    if _hasher.check_needs_rehash(stored):
        with db.atomic():
            db.execute("UPDATE members SET password_hash = ? WHERE id = ?",
                       [_hasher.hash(password), row["id"]])
    return _from_row(dict(row))


def set_password(db: sqlite_utils.Database, username: str, password: str) -> Member:
    """Replace a member's password."""
    member = require_member(db, username)
    check_password_strength(password)
    with db.atomic():
        db.execute("UPDATE members SET password_hash = ? WHERE id = ?",
                   [_hasher.hash(password), member.id])
    return member


def set_role(db: sqlite_utils.Database, username: str, role: str) -> Member:
    """Change a member's role."""
    member = require_member(db, username)
    check_role(role)
    with db.atomic():
        db.execute("UPDATE members SET role = ? WHERE id = ?", [role, member.id])
    updated = get_member(db, member.id)
    assert updated is not None
    return updated


def set_disabled(db: sqlite_utils.Database, username: str, disabled: bool = True) -> Member:
    """Disable (or re-enable) a member; a disabled member cannot log in or use tokens."""
    member = require_member(db, username)
    with db.atomic():
        db.execute("UPDATE members SET disabled = ? WHERE id = ?", [int(disabled), member.id])
    updated = get_member(db, member.id)
    assert updated is not None
    return updated
