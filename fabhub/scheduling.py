"""Glue between requests and the scheduling pass: settings from config, usage from the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlite_utils

from fabhub.clock import utc_now
from fabhub.jobqueue.scheduler import PassSummary, SchedulerSettings, UsageSource, run_pass
from fabhub.jobs.priority import PriorityWeights
from fabhub.ledger.usage import LedgerUsage


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
    """Run one scheduling pass now."""
    return run_pass(db, utc_now(), settings_from_config(config), usage_source())


def after_change(db: sqlite_utils.Database, config: Mapping[str, Any]) -> PassSummary | None:
    """Run a pass after an event that may change the queue, unless configured not to."""
    if config["SCHEDULE_ON_EVENTS"]:
        return run_now(db, config)
    return None
