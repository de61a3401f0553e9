"""Glue between the hub and the scheduling pass: the signal, settings, usage from the ledger.

Request handlers and node reports never run a pass: they call :func:`request_pass`,
which rings the schedule bell (a file beside the database, :class:`fabhub.bells.Bell`)
and returns. The scheduler loop (:class:`fabhub.dispatcher.Dispatcher`, in the
process that holds the periodic lock) hears the rings of every worker, coalesces
them and makes the assignments at once (:func:`assign_now`, which reads only the
classes with an idle machine); when the rings pause, a second thread rewrites why
every other job waits (:func:`explain_now`). :func:`run_now` does both in turn.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import sqlite_utils

from fabhub.bells import Bell
from fabhub.clock import utc_now
from fabhub.jobqueue.scheduler import (
    PassSummary,
    SchedulerSettings,
    UsageSource,
    assign_pass,
    explain_pass,
    run_pass,
)
from fabhub.jobs.priority import PriorityWeights
from fabhub.ledger import reports, store

SCHEDULE = Bell("-schedule", watch_s=0.02)  # one reader (the loop): a cheap, quick ear
log = logging.getLogger("fabhub.scheduling")


class LedgerUsage:
    """Past machine use read from the commons ledger (corrections applied).

    Decayed usage is cached for a minute per ledger size: the ledger only grows
    (corrections are new entries), so a cached value is exact until the next
    append, and a minute's decay at a half-life of days changes it by less than
    one part in ten thousand.
    """

    _cache: ClassVar[dict[tuple, dict[int, float]]] = {}
    CACHE_SLOT_S: ClassVar[int] = 60

    def decayed_hours(self, db: sqlite_utils.Database, now: datetime, half_life_s: float,
                      weights: Mapping[str, float]) -> dict[int, float]:
        """Member id -> decayed machine-hours weighted by machine class."""
        database = db.execute("PRAGMA database_list").fetchone()[2]
        key = (database, store.tree_size(db), int(now.timestamp() // self.CACHE_SLOT_S),
               half_life_s, tuple(sorted(weights.items())))
        cached = self._cache.get(key)
        if cached is None:
            cached = reports.decayed_usage_hours(db, now, half_life_s, weights)
            self._cache.clear()
            self._cache[key] = cached
        return dict(cached)

    def hours_since(self, db: sqlite_utils.Database, since: datetime
                    ) -> dict[tuple[int, str], float]:
        """(member id, machine class) -> raw machine-hours of jobs that ended since ``since``."""
        return {(member, cls): hours
                for member, classes in reports.usage_hours(db, since=since).items()
                for cls, hours in classes.items()}


def settings_from_config(config: Mapping[str, Any]) -> SchedulerSettings:
    """The scheduler's tuning from the hub's configuration."""
    weights = PriorityWeights(
        fair_share=config["PRIORITY_WEIGHT_FAIR_SHARE"], age=config["PRIORITY_WEIGHT_AGE"],
        size=config["PRIORITY_WEIGHT_SIZE"], boost=config["PRIORITY_WEIGHT_BOOST"],
        share_hours=config["FAIRSHARE_SHARE_HOURS"],
    )
    return SchedulerSettings(weights=weights, half_life_s=config["FAIRSHARE_HALF_LIFE_S"])


def usage_source() -> UsageSource:
    """Where passes read past machine use: the commons ledger."""
    return LedgerUsage()


def run_now(db: sqlite_utils.Database, config: Mapping[str, Any]) -> PassSummary:
    """Run one full scheduling pass now (assignments and every waiting job's reason)."""
    return run_pass(db, utc_now(), settings_from_config(config), usage_source())


def assign_now(db: sqlite_utils.Database, config: Mapping[str, Any]) -> PassSummary:
    """Make a full pass's assignments now, leaving the reasons to :func:`explain_now`."""
    return assign_pass(db, utc_now(), settings_from_config(config), usage_source())


def explain_now(db: sqlite_utils.Database, config: Mapping[str, Any]) -> PassSummary:
    """Rewrite why every waiting job waits, now (assigning nothing)."""
    return explain_pass(db, utc_now(), settings_from_config(config), usage_source())


def request_pass(db: sqlite_utils.Database) -> None:
    """Ask the scheduler for a pass soon: something changed that may start or stop a job.

    Cheap (one small file write) and never raises into the caller: a failure is
    logged, and the scheduler's periodic tick still runs the pass.
    """
    try:
        SCHEDULE.ring(db)
    except Exception:
        log.exception("could not signal the scheduler; its next periodic pass will run instead")
