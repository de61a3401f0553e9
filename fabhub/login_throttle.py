"""Rate limits on failed logins, per account and per client address.

Failures are kept in the database, so limits hold across worker processes and
restarts. Only failures count: a member who types the password right is never
slowed down by someone else guessing at another account.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlite_utils


@dataclass(frozen=True)
class ThrottleLimits:
    """How many failures are allowed in how long."""

    max_per_account: int
    max_per_address: int
    window_s: int


def retry_after(
    db: sqlite_utils.Database, account: str, address: str, limits: ThrottleLimits,
    now: float | None = None,
) -> int:
    """Seconds until a login may be tried again for this account or address (0 if now)."""
    now = time.time() if now is None else now
    since = now - limits.window_s
    waits = [0.0]
    for column, key, limit in (
        ("account", account.lower(), limits.max_per_account),
        ("address", address, limits.max_per_address),
    ):
        rows = db.execute(
            f"SELECT at FROM login_failures WHERE {column} = ? AND at > ? "
            "ORDER BY at DESC LIMIT ?",
            [key, since, limit],
        ).fetchall()
        if len(rows) >= limit:
            oldest_counted = rows[-1]["at"]
            waits.append(oldest_counted + limits.window_s - now)
    return max(0, int(max(waits) + 0.999))


def record_failure(
    db: sqlite_utils.Database, account: str, address: str, now: float | None = None,
    window_s: int = 900,
) -> None:
    """Record one failed login, and forget failures older than the window."""
    now = time.time() if now is None else now
    with db.atomic():
        db.execute("INSERT INTO login_failures (account, address, at) VALUES (?, ?, ?)",
                   [account.lower(), address, now])
        db.execute("DELETE FROM login_failures WHERE at < ?", [now - window_s])


def clear_account(db: sqlite_utils.Database, account: str) -> None:
    """Forget an account's failures after a successful login."""
    with db.atomic():
        db.execute("DELETE FROM login_failures WHERE account = ?", [account.lower()])
