"""Job and machine states, and the single table of allowed job transitions.

Only the transitions listed in :data:`JOB_TRANSITIONS` may happen; anything else
is an :class:`IllegalTransition`. The hub's queue records each change with time,
actor and reason; this module only decides what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
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


class Actor(StrEnum):
    """Who makes a machine move: a person (a gatekeeper), the machine's node, or the hub."""

    PERSON = "member"
    NODE = "node"
    HUB = "system"


class Guard(StrEnum):
    """A condition on a move besides who makes it, checked against :class:`MachineFacts`."""

    NO_CLAIMED_JOB = "no_claimed_job"


class IllegalMachineMove(ValueError):
    """The machine table does not allow this move, for this actor, or its guard fails."""


@dataclass(frozen=True)
class MachineFacts:
    """What the guards need to know about a machine when it is asked to move."""

    claimed_job_id: int | None = None


# States in which a machine may take, claim or start a job.
IN_SERVICE: frozenset[MachineState] = frozenset(
    {MachineState.IDLE, MachineState.BUSY, MachineState.PAUSED})
# States only a person leaves: no node report and no hub job moves a machine out of them.
STICKY: frozenset[MachineState] = frozenset(
    {MachineState.MAINTENANCE, MachineState.TO_CHECK, MachineState.NEEDS_CLEARING})

_P, _N, _H = Actor.PERSON, Actor.NODE, Actor.HUB
_ANY = frozenset({_P, _N, _H})
_WORKING = frozenset({_N})
_MACHINE = frozenset({_N, _H})


def _person(guard: Guard | None = None) -> tuple[frozenset[Actor], Guard | None]:
    return frozenset({_P}), guard


# from-state -> {to-state: (who may make the move, its guard)}. A node reports the
# working states; a job's end (node report or lease expiry, i.e. node or hub) may put a
# machine into needs_clearing or to_check; only a person leaves a sticky state, and a
# person takes a machine out of service only when no node holds a claimed job on it.
MACHINE_TRANSITIONS: dict[MachineState, dict[MachineState, tuple[frozenset[Actor], Guard | None]]]
MACHINE_TRANSITIONS = {
    MachineState.IDLE: {
        MachineState.BUSY: (_WORKING, None), MachineState.PAUSED: (_WORKING, None),
        MachineState.ERROR: (_WORKING, None), MachineState.OFFLINE: (_MACHINE, None),
        MachineState.NEEDS_CLEARING: (_MACHINE, None),
        MachineState.TO_CHECK: (_ANY, Guard.NO_CLAIMED_JOB),
        MachineState.MAINTENANCE: _person(Guard.NO_CLAIMED_JOB),
    },
    MachineState.BUSY: {
        MachineState.IDLE: (_WORKING, None), MachineState.PAUSED: (_WORKING, None),
        MachineState.ERROR: (_WORKING, None), MachineState.OFFLINE: (_MACHINE, None),
        MachineState.NEEDS_CLEARING: (_MACHINE, None), MachineState.TO_CHECK: (_MACHINE, None),
    },
    MachineState.PAUSED: {
        MachineState.IDLE: (_WORKING, None), MachineState.BUSY: (_WORKING, None),
        MachineState.ERROR: (_WORKING, None), MachineState.OFFLINE: (_MACHINE, None),
        MachineState.NEEDS_CLEARING: (_MACHINE, None), MachineState.TO_CHECK: (_MACHINE, None),
    },
    MachineState.ERROR: {
        MachineState.IDLE: (frozenset({_N, _P}), None), MachineState.BUSY: (_WORKING, None),
        MachineState.PAUSED: (_WORKING, None), MachineState.OFFLINE: (_MACHINE, None),
        MachineState.NEEDS_CLEARING: (_MACHINE, None),
        MachineState.TO_CHECK: (_ANY, Guard.NO_CLAIMED_JOB),
        MachineState.MAINTENANCE: _person(Guard.NO_CLAIMED_JOB),
    },
    MachineState.OFFLINE: {
        MachineState.IDLE: (frozenset({_N, _P}), None), MachineState.BUSY: (_WORKING, None),
        MachineState.PAUSED: (_WORKING, None), MachineState.ERROR: (_WORKING, None),
        MachineState.NEEDS_CLEARING: (_MACHINE, None),
        MachineState.TO_CHECK: (_ANY, Guard.NO_CLAIMED_JOB),
        MachineState.MAINTENANCE: _person(Guard.NO_CLAIMED_JOB),
    },
    MachineState.NEEDS_CLEARING: {
        MachineState.IDLE: _person(), MachineState.TO_CHECK: _person(Guard.NO_CLAIMED_JOB),
        MachineState.MAINTENANCE: _person(Guard.NO_CLAIMED_JOB),
    },
    MachineState.MAINTENANCE: {
        MachineState.IDLE: _person(), MachineState.TO_CHECK: _person(),
    },
    MachineState.TO_CHECK: {
        MachineState.IDLE: _person(), MachineState.MAINTENANCE: _person(),
    },
}


def check_machine_move(current: MachineState, target: MachineState, actor: Actor,
                       facts: MachineFacts) -> None:
    """Raise :class:`IllegalMachineMove` unless ``actor`` may move a machine from ``current``
    to ``target`` now; staying in the same state is always allowed (and changes nothing)."""
    if current is target:
        return
    move = MACHINE_TRANSITIONS[current].get(target)
    if move is None or actor not in move[0]:
        who = {Actor.PERSON: "a person", Actor.NODE: "its node", Actor.HUB: "the hub"}[actor]
        allowed = ", ".join(sorted(t.value for t, (actors, _) in
                                   MACHINE_TRANSITIONS[current].items() if actor in actors))
        raise IllegalMachineMove(
            f"{who} cannot move a machine from {current.value} to {target.value}; "
            f"from {current.value} {who} may choose: {allowed or 'nothing'}")
    if move[1] is Guard.NO_CLAIMED_JOB and facts.claimed_job_id is not None:
        raise IllegalMachineMove(
            f"the machine's node has claimed job {facts.claimed_job_id}; cancel it or wait "
            "for it to end before taking the machine out of service")
