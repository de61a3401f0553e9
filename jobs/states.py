"""Job and machine states, and the single table of allowed job transitions.

Only the transitions listed in :data:`JOB_TRANSITIONS` may happen; anything else
is an :class:`IllegalTransition`. The hub's queue records each change with time,
actor and reason; this module only decides what is allowed.
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """Where a job stands."""

    QUEUED = "queued"
    ASSIGNED = "assigned"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    REJECTED = "rejected"


class MachineState(StrEnum):
    """Where a machine stands; only an idle machine takes a new job."""

    IDLE = "idle"
    BUSY = "busy"
    PAUSED = "paused"
    NEEDS_CLEARING = "needs_clearing"
    MAINTENANCE = "maintenance"
    TO_CHECK = "to_check"
    OFFLINE = "offline"
    ERROR = "error"


class IllegalTransition(ValueError):
    """A job was asked to move between two states that the table does not connect."""


# from-state -> the states it may move to. ``None`` is "not yet a job" (submission).
JOB_TRANSITIONS: dict[JobState | None, frozenset[JobState]] = {
    None: frozenset({JobState.QUEUED, JobState.REJECTED}),
    JobState.QUEUED: frozenset({JobState.ASSIGNED, JobState.CANCELLED, JobState.REJECTED}),
    # An assignment can fall back to the queue (lease never claimed, machine went away).
    JobState.ASSIGNED: frozenset({JobState.RUNNING, JobState.QUEUED, JobState.CANCELLED,
                                  JobState.INTERRUPTED}),
    JobState.RUNNING: frozenset({JobState.PAUSED, JobState.COMPLETED, JobState.FAILED,
                                 JobState.CANCELLED, JobState.INTERRUPTED}),
    JobState.PAUSED: frozenset({JobState.RUNNING, JobState.COMPLETED, JobState.FAILED,
                                JobState.CANCELLED, JobState.INTERRUPTED}),
    # A node that returns may still report how an interrupted job really ended;
    # otherwise a person requeues or cancels it.
    JobState.INTERRUPTED: frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED,
                                     JobState.QUEUED}),
    JobState.COMPLETED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
    JobState.REJECTED: frozenset(),
}

TERMINAL_STATES: frozenset[JobState] = frozenset(
    state for state, targets in JOB_TRANSITIONS.items() if state is not None and not targets
)
WAITING_STATES: frozenset[JobState] = frozenset({JobState.QUEUED})
ACTIVE_STATES: frozenset[JobState] = frozenset(
    {JobState.ASSIGNED, JobState.RUNNING, JobState.PAUSED}
)


def check_transition(current: JobState | str | None, target: JobState | str) -> JobState:
    """Return ``target`` as a :class:`JobState` if the table allows the move, else raise."""
    source = JobState(current) if current is not None else None
    goal = JobState(target)
    if goal not in JOB_TRANSITIONS[source]:
        allowed = ", ".join(sorted(JOB_TRANSITIONS[source])) or "nothing (it has ended)"
        raise IllegalTransition(
            f"a {source or 'new'} job cannot become {goal}; it may become: {allowed}"
        )
    return goal
