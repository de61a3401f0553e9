"""Members' pseudonyms: the stable salted commitments under which they appear in the log.

Each member gets a random 16-byte salt the first time they appear; the pseudonym is
a SHA-256 commitment to the member id under that salt. Names and e-mails never
enter the log; the salt lets a member (or the trust) show which pseudonym is theirs.
"""

from __future__ import annotations

import secrets

import sqlite_utils

from fabhub.clock import utc_now_iso
from fabhub.ledger.entries import member_commitment


def pseudonym_for(db: sqlite_utils.Database, member_id: int) -> str:
    """The member's pseudonym, created (within the caller's transaction) on first use."""
    row = db.execute("SELECT pseudonym FROM ledger_pseudonyms WHERE member_id = ?",
                     [member_id]).fetchone()
    if row is not None:
        return row[0]
    salt = secrets.token_bytes(16)
    pseudonym = member_commitment(salt, member_id)
    db.execute("INSERT INTO ledger_pseudonyms (member_id, salt, pseudonym, created_at) "
               "VALUES (?, ?, ?, ?)", [member_id, salt, pseudonym, utc_now_iso()])
    return pseudonym


def members_by_pseudonym(db: sqlite_utils.Database) -> dict[str, int]:
    """Every pseudonym and the member id it stands for."""
    return dict(db.execute("SELECT pseudonym, member_id FROM ledger_pseudonyms").fetchall())


def opening(db: sqlite_utils.Database, member_id: int) -> tuple[str, str] | None:
    """``(salt hex, pseudonym)`` for a member, so they can show the pseudonym is theirs."""
    row = db.execute("SELECT salt, pseudonym FROM ledger_pseudonyms WHERE member_id = ?",
                     [member_id]).fetchone()
    return (bytes(row[0]).hex(), row[1]) if row else None
