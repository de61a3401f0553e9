"""Personal API tokens: shown once at creation, stored as a SHA-256 digest, revocable.

A token reads ``fhp_<id>_<secret>``. The id finds the row; the secret (256 bits of
randomness, so a fast hash is enough) is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlite_utils

from fabhub.clock import utc_now_iso
from fabhub.members import Member, MemberError, get_member

TOKEN_PREFIX = "fhp"


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token after its creation (never the secret)."""

    id: str
    label: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create_token(db: sqlite_utils.Database, member_id: int, label: str) -> tuple[TokenInfo, str]:
    """Create a token for a member; return its info and the full token (shown once)."""
    label = label.strip()
    if not label or len(label) > 100:
        raise MemberError("a token needs a label of 1-100 characters, e.g. 'slicer laptop'")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    created = utc_now_iso()
    with db.atomic():
        db.execute(
            "INSERT INTO api_tokens (id, member_id, label, secret_sha256, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [token_id, member_id, label, _digest(secret), created],
        )
    info = TokenInfo(token_id, label, created, None, None)
    return info, f"{TOKEN_PREFIX}_{token_id}_{secret}"


def authenticate_token(db: sqlite_utils.Database, token: str) -> Member | None:
    """The enabled member a valid, unrevoked token belongs to, or None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    _, token_id, secret = parts
    row = db.execute(
        "SELECT member_id, secret_sha256, revoked_at FROM api_tokens WHERE id = ?", [token_id]
    ).fetchone()
    if row is None or row["revoked_at"] is not None:
        return None
    if not hmac.compare_digest(row["secret_sha256"], _digest(secret)):
        return None
    member = get_member(db, row["member_id"])
    if member is None or member.disabled:
        return None
    with db.atomic():
        db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?",
                   [utc_now_iso(), token_id])
    return member


def list_tokens(db: sqlite_utils.Database, member_id: int) -> list[TokenInfo]:
    """A member's tokens, newest first, revoked ones included."""
    rows = db.execute(
        "SELECT id, label, created_at, last_used_at, revoked_at FROM api_tokens "
        "WHERE member_id = ? ORDER BY created_at DESC",
        [member_id],
    ).fetchall()
    return [TokenInfo(**dict(r)) for r in rows]


def revoke_token(db: sqlite_utils.Database, member_id: int, token_id: str) -> TokenInfo:
    """Revoke one of a member's tokens; an unknown id is a :class:`MemberError`."""
    row = db.execute(
        "SELECT id FROM api_tokens WHERE id = ? AND member_id = ?", [token_id, member_id]
    ).fetchone()
    if row is None:
        raise MemberError(f"you have no token with id {token_id!r}")
    with db.atomic():
        db.execute(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
            [utc_now_iso(), token_id],
        )
    return next(t for t in list_tokens(db, member_id) if t.id == token_id)
