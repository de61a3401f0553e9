"""Balances and reports computed from the ledger's facts.

Corrections apply: an entry that a correction replaces no longer counts, and of
several corrections of one entry only the latest counts. Hours are machine time
(busy seconds) for ``use`` and contributed time for ``work``.
"""

from __future__ import annotations

import calendar
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlite_utils

from fabhub.jobs.receipts import parse_timestamp, utc_timestamp

# Rows that count: originals nobody corrected, and the latest correction of each.
EFFECTIVE = """
    FROM ledger_facts f
    WHERE NOT EXISTS (SELECT 1 FROM ledger_facts c
                      WHERE c.corrects = COALESCE(f.corrects, f.idx) AND c.idx > f.idx)
"""
# Decay factors below 2**-DECAY_HORIZON (about one in a million) are treated as zero.
DECAY_HORIZON = 20
PERIODS: tuple[str, ...] = ("day", "week", "month")


def _range(since: datetime | None, until: datetime | None) -> tuple[str, list[str]]:
    clauses, params = [], []
    if since is not None:
        clauses.append("f.ended_at >= ?")
        params.append(utc_timestamp(since))
    if until is not None:
        clauses.append("f.ended_at < ?")
        params.append(utc_timestamp(until))
    return "".join(f" AND {c}" for c in clauses), params


def _hours_by(db: sqlite_utils.Database, action: str, column: str,
              since: datetime | None, until: datetime | None) -> dict[int, dict[str, float]]:
    where, params = _range(since, until)
    rows = db.execute(f"SELECT f.member_id, f.{column}, SUM(f.seconds) {EFFECTIVE} "
                      f"AND f.action = ?{where} GROUP BY f.member_id, f.{column}",
                      [action, *params]).fetchall()
    out: dict[int, dict[str, float]] = defaultdict(dict)
    for member_id, key, seconds in rows:
        if seconds:
            out[member_id][key] = seconds / 3600
    return dict(out)


def usage_hours(db: sqlite_utils.Database, since: datetime | None = None,
                until: datetime | None = None) -> dict[int, dict[str, float]]:
    """Raw machine hours: member id → machine class → hours (jobs ending in the range)."""
    return _hours_by(db, "use", "machine_class", since, until)


def contributions(db: sqlite_utils.Database, since: datetime | None = None,
                  until: datetime | None = None) -> dict[int, dict[str, float]]:
    """Contributed hours: member id → work type (maintenance, training...) → hours."""
    return _hours_by(db, "work", "work_type", since, until)


def decayed_usage_by_class(db: sqlite_utils.Database, now: datetime,
                           half_life_s: float) -> dict[int, dict[str, float]]:
    """Machine hours with half-life decay by age: member id → machine class → hours.

    A job that ended ``age`` seconds before ``now`` counts ``2 ** (-age / half_life_s)``
    of its hours (a job ending after ``now`` counts fully).
    """
    if not half_life_s > 0:
        raise ValueError(f"the half-life must be a positive number of seconds, not {half_life_s}")
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime (UTC)")
    horizon = utc_timestamp(now - timedelta(seconds=half_life_s * DECAY_HORIZON))
    rows = db.execute(f"SELECT f.member_id, f.machine_class, f.seconds, f.ended_at {EFFECTIVE} "
                      "AND f.action = 'use' AND f.ended_at >= ?", [horizon]).fetchall()
    out: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    rate = math.log(2) / half_life_s
    for member_id, machine_class, seconds, ended_at in rows:
        age = max(0.0, (now - parse_timestamp(ended_at)).total_seconds())
        out[member_id][machine_class] += seconds / 3600 * math.exp(-rate * age)
    return {member: dict(classes) for member, classes in out.items()}


def decayed_usage_hours(db: sqlite_utils.Database, now: datetime, half_life_s: float,
                        class_weights: Mapping[str, float] | None = None) -> dict[int, float]:
    """Weighted decayed machine hours per member id: the scheduler's fair-share input.

    Each machine class's decayed hours are multiplied by its weight in
    ``class_weights`` (a class not listed weighs 1.0).
    """
    weights = class_weights or {}
    return {member: sum(hours * weights.get(cls, 1.0) for cls, hours in classes.items())
            for member, classes in decayed_usage_by_class(db, now, half_life_s).items()}


@dataclass(frozen=True)
class Utilisation:
    """How busy one machine was in one period."""

    machine_id: int
    machine_class: str
    period: str
    busy_hours: float
    fraction: float


def _period_of(moment: datetime, period: str) -> tuple[str, float]:
    if period == "day":
        return moment.strftime("%Y-%m-%d"), 86400.0
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}", 7 * 86400.0
    days = calendar.monthrange(moment.year, moment.month)[1]
    return moment.strftime("%Y-%m"), days * 86400.0


def machine_utilisation(db: sqlite_utils.Database, period: str = "month",
                        since: datetime | None = None,
                        until: datetime | None = None) -> list[Utilisation]:
    """Busy hours and busy fraction per machine per day, ISO week or month.

    A job's machine time counts in the period where the job began.
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    where, params = _range(since, until)
    rows = db.execute(f"SELECT f.machine_id, f.machine_class, f.began_at, f.seconds {EFFECTIVE} "
                      f"AND f.action = 'use'{where}", params).fetchall()
    busy: dict[tuple[int, str, str], float] = defaultdict(float)
    length: dict[str, float] = {}
    for machine_id, machine_class, began_at, seconds in rows:
        key, span = _period_of(parse_timestamp(began_at).astimezone(UTC), period)
        busy[(machine_id, machine_class, key)] += seconds
        length[key] = span
    return [Utilisation(m, c, p, s / 3600, s / length[p])
            for (m, c, p), s in sorted(busy.items())]
