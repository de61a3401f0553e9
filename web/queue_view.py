"""What the queue pages show about a waiting job: the reason, and an estimated start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from fabhub.clock import parse_utc, utc_now
from fabhub.jobqueue.jobs import Job

WORKING = ("idle", "busy", "paused", "needs_clearing")


@dataclass(frozen=True)
class Estimate:
    """When a job may start, or why no estimate can be given."""

    at: datetime | None
    note: str = ""


def _remaining(job: Job, now: datetime) -> float:
    if job.started_at:
        elapsed = (now - parse_utc(job.started_at)).total_seconds()
        return max(job.estimated_s - elapsed, 0.0)
    return job.estimated_s


def estimated_start(db: sqlite_utils.Database, job: Job, class_jobs: list[Job]) -> Estimate:
    """Spread the work ahead of ``job`` over the class's working machines.

    Work ahead is the remaining time of the class's assigned and running jobs and
    the estimated time of the queued jobs with a smaller queue position. A class
    with no working machine has no estimate.
    """
    now = utc_now()
    machines = db.execute(
        f"SELECT count(*) FROM machines WHERE machine_class = ? AND state IN "
        f"({', '.join('?' for _ in WORKING)})", [job.machine_class, *WORKING]).fetchone()[0]
    if not machines:
        return Estimate(None, "no machine of the class is in service")
    ahead = 0.0
    for other in class_jobs:
        if other.id == job.id or other.machine_class != job.machine_class:
            continue
        if other.state.value in ("assigned", "running", "paused"):
            ahead += _remaining(other, now)
        elif (other.state.value == "queued" and other.queue_position is not None
              and job.queue_position is not None and other.queue_position < job.queue_position):
            ahead += other.estimated_s
    return Estimate(now + timedelta(seconds=ahead / machines))
